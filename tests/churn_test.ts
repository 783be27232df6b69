/**
 * Connection churn leaves nothing behind: every connection the native front's
 * accept loop serves gives its server resource back when it ends, also when
 * Deno's serving of it fails (issue 18, point 5). Counted in Deno's resource
 * table, in process, rather than as RSS: a leaked resource is ~500 bytes,
 * which RSS shows only after ~100,000 connections (bench/churn_bench.ts).
 *
 * @module
 */

import assert from "node:assert/strict";
import { Connections, DescriptorGuard, serveOnConnection } from "../lib/serve/connections.ts";
import { DEFAULT_LIMITS } from "../lib/serve/connection_limits.ts";
import { handlerFailed } from "../lib/serve/listen.ts";
import { NATIVE_PROTOCOLS } from "../lib/serve/tls/native_front.ts";
import { freePort, mintCertificate } from "./_fixtures.ts";
import { test } from "./_time_limit.ts";

/** Connections of each kind; a leak leaves one resource for each. */
const CONNECTIONS = 200;
const ENCODER = new TextEncoder();
/** Bytes that are no HTTP/2 connection preface: Deno's HTTP/2 server fails the connection. */
const BAD_PREFACE = ENCODER.encode("NOT A PREFACE\r\n\r\n");
const REQUEST = ENCODER.encode(
  "GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
);

/** How many resources named `name` Deno's resource table holds now. */
function resources(name: string): number {
  const internal = Reflect.get(Deno, Reflect.get(Deno, "internal") as symbol) as {
    core: { resources(): Record<number, string> };
  };
  return Object.values(internal.core.resources()).filter((each) => each === name).length;
}

/** Opens one connection, sends `bytes` after the handshake, reads until the server closes. */
async function _connect(
  port: number,
  caCerts: string[],
  alpn: string,
  bytes: Uint8Array,
): Promise<void> {
  const conn = await Deno.connectTls({
    hostname: "localhost",
    port,
    caCerts,
    alpnProtocols: [alpn],
  });
  try {
    await conn.handshake();
    await conn.write(bytes);
    const buffer = new Uint8Array(4096);
    while ((await conn.read(buffer)) !== null) {
      // Until the server closes.
    }
  } catch {
    // Reset by the server: the connection ended all the same.
  } finally {
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  }
}

async function _drained(connections: Connections): Promise<void> {
  while (connections.stats.open > 0) await new Promise((resolve) => setTimeout(resolve, 20));
}

test("connections whose serving fails (HTTP/2 with a bad preface) leave no server resource behind, as complete ones do", async () => {
  const serve = serveOnConnection();
  assert.ok(serve !== undefined, "this Deno has serveHttpOnConnection");
  const pair = await mintCertificate();
  const port = freePort();
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port,
    alpnProtocols: [...NATIVE_PROTOCOLS],
    cert: pair.certificatePem,
    key: pair.keyPem,
  });
  const connections = new Connections({
    server: "app",
    handler: () => new Response("hello\n"),
    onError: handlerFailed,
    limits: DEFAULT_LIMITS,
    guard: new DescriptorGuard(),
    serve,
  });
  connections.add(listener);
  const caCerts = [pair.certificatePem];
  try {
    const before = resources("http");
    for (const [alpn, bytes] of [["http/1.1", REQUEST], ["h2", BAD_PREFACE]] as const) {
      for (let i = 0; i < CONNECTIONS; i++) await _connect(port, caCerts, alpn, bytes);
      await _drained(connections);
      // A released resource leaves the table a tick after its connection is forgotten.
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(
        resources("http") - before,
        0,
        `server resources left after ${CONNECTIONS} ${alpn} connections`,
      );
    }
    assert.equal(connections.stats.accepted, 2 * CONNECTIONS);
  } finally {
    await connections.stop();
  }
});
