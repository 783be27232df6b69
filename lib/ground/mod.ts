/**
 * The ground layer: what every other layer stands on and that knows nothing
 * of certificates, reloads or HTTP: the `Result` type (`result.ts`), timers on
 * `AbortSignal.timeout` (`timer.ts`), DER and PEM readers (`der.ts`,
 * `pem.ts`), how times and addresses are written (`time.ts`, `address.ts`),
 * outside text made safe to print on one line (`printable.ts`),
 * the process's exit codes (`exit_code.ts`) and the shape of a refused
 * option (`option_error.ts`).
 *
 * May import: nothing but web and Deno APIs.
 *
 * @module
 */
export {};
