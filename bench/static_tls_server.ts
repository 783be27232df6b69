/**
 * The baseline the HTTPS benchmark compares against: a static
 * `Deno.serve({ cert, key })` hello server that never reloads.
 *
 * ```sh
 * deno run --allow-read=cert.pem,key.pem --allow-net=127.0.0.1:8443 bench/static_tls_server.ts cert.pem key.pem 8443
 * ```
 *
 * @module
 */

import { appHandler } from "../lib/serve/app_server.ts";

if (import.meta.main) {
  const [cert = "cert.pem", key = "key.pem", port = "8443"] = Deno.args;
  Deno.serve({
    hostname: "127.0.0.1",
    port: Number(port),
    cert: await Deno.readTextFile(cert),
    key: await Deno.readTextFile(key),
    onListen: ({ port }) => console.log(`static TLS baseline listening on 127.0.0.1:${port}`),
  }, appHandler);
}
