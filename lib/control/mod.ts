/**
 * The control layer: the control server's routes (`control_server.ts`), who
 * may use them (`control_access.ts`, `token.ts`), and the read-only views of
 * the reload core: status (`status_view.ts`) and metrics (`metrics.ts`, the connection and
 * log counters in `server_metrics.ts`).
 *
 * May import: `lib/ground/`, `lib/certificate/`, `lib/reload/`, `lib/serve/`.
 *
 * @module
 */
export {};
