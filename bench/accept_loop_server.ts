/**
 * A second baseline for the HTTPS benchmark: the native front's serving path
 * with none of signal-server around it. One static `Deno.listenTls` listener
 * (`reusePort`, ALPN h2 and http/1.1, as the native front binds), a bare
 * accept loop, and Deno's internal `serveHttpOnConnection` for each
 * connection, with the same app handler. Next to the static `Deno.serve`
 * baseline it shows what serving connections from a JavaScript accept loop
 * costs in Deno itself, whatever the front does around it.
 *
 * ```sh
 * deno run --unstable-net --allow-read=cert.pem,key.pem --allow-net=127.0.0.1:8443 bench/accept_loop_server.ts cert.pem key.pem 8443
 * ```
 *
 * @module
 */

import { appHandler } from "../lib/serve/app_server.ts";
import { handlerFailed } from "../lib/serve/listen.ts";
import { serveOnConnection } from "../lib/serve/connections.ts";
import { NATIVE_PROTOCOLS } from "../lib/serve/tls/native_front.ts";

if (import.meta.main) {
  const [cert = "cert.pem", key = "key.pem", port = "8443"] = Deno.args;
  const serve = serveOnConnection();
  if (serve === undefined) throw new Error("this Deno has no serveHttpOnConnection");
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: Number(port),
    reusePort: true,
    alpnProtocols: [...NATIVE_PROTOCOLS],
    cert: await Deno.readTextFile(cert),
    key: await Deno.readTextFile(key),
  });
  console.log(`accept loop baseline listening on 127.0.0.1:${port}`);
  for await (const conn of listener) {
    // `finished` rejects when a client goes away early; nothing to do then.
    serve(conn, undefined, appHandler, handlerFailed, () => {}).finished.catch(() => {});
  }
}
