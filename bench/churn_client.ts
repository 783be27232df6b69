/**
 * The load generator of the churn benchmark: opens `count` short HTTPS
 * connections to 127.0.0.1:<port>, `concurrency` at a time, each either a
 * complete one (handshake, `GET /hello` with `Connection: close`, the answer,
 * close), a handshake only (handshake, close), or a partial one (handshake,
 * half a request, close: a client that gives up) or an HTTP/2 one that fails
 * (ALPN h2, bytes that are no connection preface, read until the server closes). It prints `done <n>` after
 * every `every` connections and at the end, so that the benchmark can read
 * the server's RSS at those points.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read=cert.pem bench/churn_client.ts 8443 cert.pem full 200000 20000
 * ```
 *
 * @module
 */

/** How many connections are open at once. */
const CONCURRENCY = 8;
const REQUEST = new TextEncoder().encode(
  "GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
);
/** The start of a request that a client gives up on before its end. */
const PARTIAL = new TextEncoder().encode("GET /hello HTTP/1.1\r\nHost: localhost\r\n");
/** Bytes that are no HTTP/2 connection preface: Deno's HTTP/2 server fails the connection. */
const BAD_PREFACE = new TextEncoder().encode("NOT A PREFACE\r\n\r\n");

/** What one connection does after its handshake: a request, nothing, half a request, a bad h2 start. */
type Mode = "full" | "handshake" | "partial" | "h2-bad-preface";

async function _one(port: number, caCerts: string[], mode: Mode): Promise<boolean> {
  let conn: Deno.TlsConn | undefined;
  try {
    conn = await Deno.connectTls({
      hostname: "localhost",
      port,
      caCerts,
      alpnProtocols: [mode === "h2-bad-preface" ? "h2" : "http/1.1"],
    });
    await conn.handshake();
    if (mode === "partial") await conn.write(PARTIAL);
    if (mode === "h2-bad-preface") await conn.write(BAD_PREFACE);
    if (mode === "full") await conn.write(REQUEST);
    if (mode === "full" || mode === "h2-bad-preface") {
      const buffer = new Uint8Array(4096);
      while ((await conn.read(buffer)) !== null) {
        // Read the answer until the server closes.
      }
    }
    return true;
  } catch {
    return false;
  } finally {
    try {
      conn?.close();
    } catch {
      // Closed by the server already.
    }
  }
}

if (import.meta.main) {
  const [port = "8443", cert = "cert.pem", mode = "full", count = "200000", every = "20000"] =
    Deno.args;
  const caCerts = [await Deno.readTextFile(cert)];
  const total = Number(count);
  const step = Number(every);
  let started = 0;
  let done = 0;
  let failed = 0;
  const worker = async () => {
    while (started < total) {
      started += 1;
      if (!await _one(Number(port), caCerts, mode as Mode)) failed += 1;
      done += 1;
      if (done % step === 0 && done < total) console.log(`done ${done} failed ${failed}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  console.log(`done ${done} failed ${failed}`);
}
