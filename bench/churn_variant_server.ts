/**
 * The minimal servers the TLS churn bisect compared (docs/performance.md,
 * "TLS connection churn"), one per variant, each printing one "listening"
 * line and then, every 2 s on stderr, how many resources of each name Deno's
 * resource table holds. `serve` under a client whose handshakes fail, or
 * `hs_serve` under HTTP/2 clients with a bad preface (`bench/churn_client.ts
 * <port> <cert> h2-bad-preface`), show Deno 2.9.6 leaving one `http`
 * resource per connection; `serve_shutdown` shows the workaround.
 *
 * Variants: `static` (`Deno.serve`), `accept_close`, `hs_close` (handshake,
 * close), `serve` (`serveHttpOnConnection` on the accepted connection),
 * `serve_signal` (with an `AbortSignal`), `serve_shutdown` (`shutdown()` and
 * `close()` after `finished`), `hs_serve` (handshake, then serve), and over
 * plain TCP `static_tcp`, `tcp_serve`.
 *
 * ```sh
 * deno run --unstable-net --allow-read=cert.pem,key.pem --allow-net=127.0.0.1:8443 bench/churn_variant_server.ts hs_serve cert.pem key.pem 8443
 * ```
 *
 * @module
 */

import { serveOnConnection } from "../lib/serve/connections.ts";
import { NATIVE_PROTOCOLS } from "../lib/serve/tls/native_front.ts";

/** How often the resource counts are printed. */
const COUNT_EVERY_MS = 2_000;

const handler = (_request: Request) => new Response("hello\n");
const onError = () => new Response("error\n", { status: 500 });

function _closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}

function _countResources(): void {
  const internal = Reflect.get(Deno, Reflect.get(Deno, "internal") as symbol) as {
    core: { resources(): Record<number, string> };
  };
  setInterval(() => {
    const counts: Record<string, number> = {};
    for (const name of Object.values(internal.core.resources())) {
      counts[name] = (counts[name] ?? 0) + 1;
    }
    console.error(JSON.stringify(counts));
  }, COUNT_EVERY_MS);
}

if (import.meta.main) {
  const [variant = "static", cert = "cert.pem", key = "key.pem", port = "8443"] = Deno.args;
  const serve = serveOnConnection();
  if (serve === undefined) throw new Error("this Deno has no serveHttpOnConnection");
  const pair = { cert: await Deno.readTextFile(cert), key: await Deno.readTextFile(key) };
  const address = { hostname: "127.0.0.1", port: Number(port) };
  const listening = () => console.log(`${variant} listening on 127.0.0.1:${port}`);
  const served = (conn: Deno.Conn, signal?: AbortSignal) =>
    serve(conn, signal, handler, onError, () => {});
  _countResources();
  if (variant === "static") Deno.serve({ ...address, ...pair, onListen: listening }, handler);
  else if (variant === "static_tcp") Deno.serve({ ...address, onListen: listening }, handler);
  else if (variant === "tcp_serve") {
    const listener = Deno.listen(address);
    listening();
    for await (const conn of listener) served(conn).finished.catch(() => {});
  } else {
    const listener = Deno.listenTls({
      ...address,
      ...pair,
      alpnProtocols: [...NATIVE_PROTOCOLS],
    });
    listening();
    for await (const conn of listener) {
      switch (variant) {
        case "accept_close":
          conn.close();
          break;
        case "hs_close":
          conn.handshake().then(() => conn.close(), () => _closeQuietly(conn));
          break;
        case "serve":
          served(conn).finished.catch(() => {});
          break;
        case "serve_signal":
          served(conn, new AbortController().signal).finished.catch(() => {});
          break;
        case "serve_shutdown": {
          const connection = served(conn);
          const release = () => {
            connection.shutdown().catch(() => {});
            _closeQuietly(conn);
          };
          connection.finished.then(release, release);
          break;
        }
        case "hs_serve":
          conn.handshake().then(
            () => void served(conn).finished.catch(() => {}),
            () => _closeQuietly(conn),
          );
          break;
        default:
          throw new Error(`unknown variant "${variant}"`);
      }
    }
  }
}
