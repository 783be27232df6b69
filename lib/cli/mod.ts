/**
 * The command line, on top of `mod.ts`: flags (`options.ts`, `args.ts`),
 * the least-privilege Deno flags they need (`permissions.ts`), the
 * reload/status client (`control_client.ts`), the pid file (`pid_file.ts`),
 * the log (`log.ts`) and the demo certificate generator (`gen_cert.ts`).
 * Only `main.ts` and this folder import it.
 *
 * May import: `mod.ts` and every layer of `lib/`.
 *
 * @module
 */
export {};
