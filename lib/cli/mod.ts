/**
 * The command line, on top of `mod.ts`: flags (`options.ts`, `args.ts`),
 * the least-privilege Deno flags they need (`permissions.ts`), the
 * reload/status client (`control_client.ts`), the pid file (`pid_file.ts`),
 * the log (`log.ts`, written through the bounded `line_sink.ts`), the tasks
 * that start it and their words (`tasks.ts`, `task_words.ts`, and
 * `parent_watch.ts`, which stops a task's server with its task), the offline
 * check (`validate.ts`) and the demo certificate generator (`gen_cert.ts`).
 * Only `main.ts` and this folder import it.
 *
 * May import: `mod.ts` and every layer of `lib/`.
 *
 * @module
 */
export {};
