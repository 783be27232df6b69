/**
 * What `wholeAnswers` changes in the accept loop: a request without a body
 * ends as its handler returns (no `completed` promise per request), so the
 * connection is idle from then on; without it, a request ends when Deno has
 * sent the answer, so a streamed answer keeps its connection in flight. In
 * process, on raw sockets, with short timeouts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DescriptorGuard } from "../lib/serve/connections.ts";
import { type ConnectionLimits, DEFAULT_LIMITS } from "../lib/serve/connection_limits.ts";
import { serveListener, type Server } from "../lib/serve/listen.ts";
import { test } from "./_time_limit.ts";

const LIMITS: ConnectionLimits = { ...DEFAULT_LIMITS, idleTimeoutMs: 1_000, stopGraceMs: 5_000 };
const GET = new TextEncoder().encode("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n");
/** A streamed answer: a chunk every 300 ms for 3 s, longer than the idle timeout. */
const CHUNKS = 10;
const CHUNK_MS = 300;

function streamed(): Response {
  let sent = 0;
  return new Response(
    new ReadableStream<Uint8Array>({
      async pull(controller) {
        await new Promise((resolve) => setTimeout(resolve, CHUNK_MS));
        controller.enqueue(new TextEncoder().encode(`chunk ${sent}\n`));
        sent += 1;
        if (sent === CHUNKS) controller.close();
      },
    }),
  );
}

/** Serves `handler` on a free port as the app server is served, with `wholeAnswers` as given. */
function start(handler: Deno.ServeHandler<Deno.NetAddr>, wholeAnswers: boolean): Server {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return serveListener("app", listener, handler, {
    limits: LIMITS,
    guard: new DescriptorGuard(),
    wholeAnswers,
  });
}

/** Sends one GET on a keep-alive connection and reads until the server closes it: the text read, and when. */
async function getUntilClosed(port: number): Promise<{ text: string; closedAfterMs: number }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const started = performance.now();
  let text = "";
  try {
    await conn.write(GET);
    const buffer = new Uint8Array(4096);
    const decoder = new TextDecoder();
    for (let read = await conn.read(buffer); read !== null; read = await conn.read(buffer)) {
      text += decoder.decode(buffer.subarray(0, read), { stream: true });
    }
  } catch {
    // Reset by the server: closed all the same.
  } finally {
    conn.close();
  }
  return { text, closedAfterMs: performance.now() - started };
}

test("without wholeAnswers, a streamed answer longer than the idle timeout is sent whole: its request is in flight until Deno has sent it", async () => {
  const server = start(() => streamed(), false);
  try {
    const { text } = await getUntilClosed(server.addr.port);
    assert.ok(text.includes(`chunk ${CHUNKS - 1}\n`), `the whole stream arrived: ${text}`);
    assert.equal(server.stats.closed.idle_timeout, 1, "closed by the idle timeout once sent");
  } finally {
    await server.shutdown();
  }
});

test("with wholeAnswers, a request ends as its handler returns: a streamed answer counts as sent at once, and the idle timeout cuts it", async () => {
  const server = start(() => streamed(), true);
  try {
    const { text, closedAfterMs } = await getUntilClosed(server.addr.port);
    assert.ok(!text.includes(`chunk ${CHUNKS - 1}\n`), `the stream was cut: ${text}`);
    assert.ok(closedAfterMs < CHUNKS * CHUNK_MS, `cut after ${closedAfterMs} ms`);
    assert.equal(server.stats.closed.idle_timeout, 1);
  } finally {
    await server.shutdown();
  }
});

test("with wholeAnswers, an async handler's request is in flight until its promise settles: a stop waits for it and its answer arrives", async () => {
  const { promise: answering, resolve: answered } = Promise.withResolvers<void>();
  const server = start(async () => {
    answered();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    return new Response("late but whole");
  }, true);
  const reading = getUntilClosed(server.addr.port);
  await answering;
  const report = await server.shutdown();
  const { text } = await reading;
  assert.ok(text.endsWith("late but whole"), `the answer arrived: ${text}`);
  assert.equal(report.cut, 0);
  assert.equal(server.stats.closed.stop_idle, 1, "closed after its answer, as idle");
});

test("with wholeAnswers, a whole answer's connection is idle once the handler returned: a stop closes it at once, and a handler that throws ends its request too", async () => {
  let calls = 0;
  const server = start(() => {
    calls += 1;
    if (calls === 2) throw new Error("planted");
    return new Response("hello");
  }, true);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  try {
    const buffer = new Uint8Array(4096);
    for (const expected of ["hello", "Internal Server Error"]) {
      await conn.write(GET);
      const read = await conn.read(buffer);
      assert.ok(read !== null);
      const text = new TextDecoder().decode(buffer.subarray(0, read));
      assert.ok(text.endsWith(expected), `answered ${expected}: ${text}`);
    }
    const started = performance.now();
    const report = await server.shutdown();
    assert.equal(report.cut, 0);
    assert.equal(server.stats.closed.stop_idle, 1);
    assert.ok(performance.now() - started < LIMITS.stopGraceMs, "not held for the grace period");
  } finally {
    conn.close();
  }
});
