/**
 * A baseline for the flood RSS benchmark: signal-server's plain serving path
 * with none of signal-server around it. One `Deno.listen` listener, a bare
 * accept loop, and Deno's internal `serveHttpOnConnection` for each
 * connection, with the app handler: no deadlines, no tracking. Next to a bare
 * `Deno.serve` it shows what serving connections from a JavaScript accept
 * loop costs in Deno itself.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1:8082 bench/plain_accept_loop_server.ts 8082
 * ```
 *
 * @module
 */

import { appHandler } from "../lib/serve/app_server.ts";
import { handlerFailed } from "../lib/serve/listen.ts";
import { serveOnConnection } from "../lib/serve/connections.ts";

if (import.meta.main) {
  const port = Number(Deno.args[0] ?? 8082);
  const serve = serveOnConnection();
  if (serve === undefined) throw new Error("this Deno has no serveHttpOnConnection");
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  console.log(`plain accept loop baseline listening on 127.0.0.1:${port}`);
  for await (const conn of listener) {
    // `finished` rejects when a client goes away early; nothing to do then.
    serve(conn, undefined, appHandler, handlerFailed, () => {}).finished.catch(() => {});
  }
}
