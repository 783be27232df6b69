/**
 * The `node:https` HTTPS front: one listener whose certificate and key are
 * swapped as one pair with `setSecureContext()`, serving any web-standard
 * handler: each request becomes a real `Request`, and the handler's
 * `Response` is written back faithfully. HTTP/1.1 only. It is the fallback
 * when the native front cannot run (see `lib/serve/tls/tls_front.ts`).
 *
 * @module
 */

import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { Readable } from "node:stream";
import type { TLSSocket } from "node:tls";
import type { Certificate } from "../../certificate/certificate.ts";
import {
  handlerFailed,
  type ListenAddress,
  type ListenError,
  listenError,
  type ServeLimits,
} from "../listen.ts";
import { hostPort } from "../../ground/address.ts";
import { err, ok, type Result } from "../../ground/result.ts";
import { type TlsFront, tlsRejected } from "./tls_front.ts";
import { ConnectionStats, SHED_MIN_IDLE_MS, SWEEP_MS } from "../connections.ts";
import { every } from "../../ground/timer.ts";

/** The protocols the node front offers. */
export const NODE_PROTOCOLS: readonly string[] = ["http/1.1"];
/** node's default listen backlog, given again when the listener is woken (it is ignored then). */
const NODE_BACKLOG = 511;
/** The message of the error node's TLS server emits when a handshake takes too long. */
const NODE_HANDSHAKE_TIMEOUT = "TLS handshake timeout";

/** Starts a `node:https` listener serving `handler` with a validated certificate and key. */
export async function listenNodeTls(
  address: ListenAddress,
  certificate: Certificate,
  handler: Deno.ServeHandler<Deno.NetAddr>,
  { limits, guard }: ServeLimits,
): Promise<Result<TlsFront, ListenError>> {
  const where = hostPort(address.hostname, address.port);
  // node:net reports a missing --allow-net asynchronously as an uncaught error: ask first.
  const permission = await Deno.permissions.query({ name: "net", host: where });
  if (permission.state !== "granted") {
    return err({ kind: "permission_denied", server: "app", address: where, deniedBy: "deno" });
  }
  const server = https.createServer(
    {
      cert: certificate.certificatePem,
      key: certificate.keyPem,
      handshakeTimeout: limits.handshakeTimeoutMs,
      headersTimeout: limits.headerTimeoutMs,
      keepAliveTimeout: limits.idleTimeoutMs,
    },
    (request, response) => void _serve(handler, request, response),
  );
  // node's own limits: the cap, and the whole request (headers and body) within the body timeout
  // past the header timeout; node has no per-chunk body timeout.
  server.maxConnections = limits.maxConnections;
  server.requestTimeout = limits.headerTimeoutMs + limits.bodyTimeoutMs;
  const stats = new ConnectionStats();
  const sockets = new Set<Socket>();
  // TCP connections whose TLS handshake has not completed, and when they were accepted: node's
  // close() would wait for them (up to its 120 s handshake timeout), no request can be in flight
  // on them, and they are the ones shed when descriptors run out.
  const handshaking = new Map<Socket, number>();
  server.on("connection", (socket: Socket) => {
    handshaking.set(socket, performance.now());
    sockets.add(socket);
    stats.open += 1;
    stats.accepted += 1;
    guard.accepted("app");
    socket.once("close", () => {
      handshaking.delete(socket);
      sockets.delete(socket);
      stats.open -= 1;
    });
  });
  // node words a handshake that ran out of time so, and nothing else so (`_handleTimeout`).
  server.on("tlsClientError", (error: Error, socket: TLSSocket) => {
    if (error.message !== NODE_HANDSHAKE_TIMEOUT) return;
    stats.closed.handshake_timeout += 1;
    socket.destroy();
  });
  const shed = (ceiling: number) => {
    let excess = stats.open - ceiling;
    const before = performance.now() - SHED_MIN_IDLE_MS;
    for (const [socket, since] of handshaking) {
      if (excess <= 0) return;
      if (since > before) continue;
      handshaking.delete(socket);
      socket.destroy();
      stats.closed.shed += 1;
      excess -= 1;
    }
  };
  guard.shedFrom({ stats, shed });
  server.on("secureConnection", (tls: TLSSocket & { _parent?: Socket }) => {
    if (tls._parent !== undefined) handshaking.delete(tls._parent);
  });
  const bound = await new Promise<Result<Deno.NetAddr, ListenError>>((resolve) => {
    server.once("error", (error) => resolve(err(listenError("app", where, error))));
    server.listen(address.port, address.hostname, () => {
      const info = server.address();
      const port = typeof info === "object" && info !== null ? info.port : address.port;
      resolve(ok({ transport: "tcp", hostname: address.hostname, port }));
    });
  });
  if (!bound.ok) return bound;
  const watch = new AbortController();
  void every(SWEEP_MS, () => void _keepAccepting(server, stats, guard, limits), watch.signal);
  return ok({
    name: "node",
    protocols: NODE_PROTOCOLS,
    addr: bound.value,
    swap(next) {
      try {
        server.setSecureContext({ cert: next.certificatePem, key: next.keyPem });
        return ok(undefined);
      } catch (error) {
        return err(tlsRejected(next, error));
      }
    },
    stats,
    shutdown() {
      watch.abort();
      return new Promise((resolve) => {
        let cut = 0;
        const force = setTimeout(() => {
          cut = sockets.size;
          stats.closed.stop_cut += cut;
          for (const socket of sockets) socket.destroy();
        }, limits.stopGraceMs);
        server.close(() => {
          clearTimeout(force);
          resolve({ cut });
        });
        server.closeIdleConnections();
        for (const socket of handshaking.keys()) socket.destroy();
      });
    },
  });
}

/**
 * Keeps node's listener accepting when descriptors run out. In Deno 2.9.6 its accept loop
 * (`poll_tcp_handle`, `libs/core/uv_compat/tcp.rs`) stops at the first failed `accept()`
 * without an `error` event and is never polled again: the app port goes deaf for good. Once
 * a second this asks the guard whether descriptors ran out (counted as a refused accept, and
 * the guard's notice, reserve and shedding follow), caps node at the guard's ceiling, and
 * listens again on the same socket, which only wakes the accept loop.
 */
async function _keepAccepting(
  server: https.Server,
  stats: ConnectionStats,
  guard: ServeLimits["guard"],
  limits: ServeLimits["limits"],
): Promise<void> {
  if (await guard.outOfDescriptors()) {
    stats.refused.descriptors += 1;
    guard.exhausted("app");
  }
  server.maxConnections = Math.min(limits.maxConnections, guard.ceiling);
  const handle = Reflect.get(server, "_handle") as { listen?: (backlog: number) => number } | null;
  if (server.listening && typeof handle?.listen === "function") handle.listen(NODE_BACKLOG);
}

/** Runs the handler for one node request and writes its response; never rejects. */
async function _serve(
  handler: Deno.ServeHandler<Deno.NetAddr>,
  incoming: IncomingMessage,
  outgoing: ServerResponse,
): Promise<void> {
  const { promise: completed, resolve, reject } = Promise.withResolvers<void>();
  completed.catch(() => {});
  outgoing.once("finish", () => resolve());
  outgoing.once("close", () => reject(new Deno.errors.Interrupted("response not completed")));
  let response: Response;
  try {
    response = await handler(_toRequest(incoming), {
      remoteAddr: {
        transport: "tcp",
        hostname: incoming.socket.remoteAddress ?? "",
        port: incoming.socket.remotePort ?? 0,
      },
      completed,
    });
  } catch (error) {
    response = handlerFailed(error);
  }
  try {
    await _writeResponse(response, incoming.method === "HEAD", outgoing);
  } catch {
    // The client went away while the body was written: nothing is left to answer.
    outgoing.destroy();
  }
}

/** A web-standard `Request` for a node request: full https URL, every header, the body streamed. */
function _toRequest(incoming: IncomingMessage): Request {
  const headers = new Headers();
  const raw = incoming.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    headers.append(raw[i] as string, raw[i + 1] as string);
  }
  const method = incoming.method ?? "GET";
  const host = incoming.headers.host ?? hostPort(incoming.socket.localAddress ?? "localhost", 443);
  const hasBody = method !== "GET" && method !== "HEAD";
  const aborted = new AbortController();
  incoming.once("close", () => {
    if (!incoming.complete) aborted.abort();
  });
  return new Request(`https://${host}${incoming.url ?? "/"}`, {
    method,
    headers,
    body: hasBody ? Readable.toWeb(incoming) as ReadableStream<Uint8Array> : null,
    signal: aborted.signal,
  });
}

/** Writes status, every header (each `set-cookie` apart) and the body, honouring backpressure. */
async function _writeResponse(
  response: Response,
  isHead: boolean,
  outgoing: ServerResponse,
): Promise<void> {
  outgoing.statusCode = response.status;
  if (response.statusText !== "") outgoing.statusMessage = response.statusText;
  for (const [name, value] of response.headers) {
    if (name !== "set-cookie") outgoing.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) outgoing.setHeader("set-cookie", cookies);
  if (response.body === null || isHead) {
    await response.body?.cancel();
    outgoing.end();
    return;
  }
  const reader = response.body.getReader();
  const first = await reader.read();
  if (first.done) {
    outgoing.end();
    return;
  }
  const second = await reader.read();
  if (second.done) {
    // A body of one chunk (every string or bytes body) goes out with a Content-Length.
    if (!outgoing.hasHeader("content-length")) {
      outgoing.setHeader("content-length", first.value.byteLength);
    }
    outgoing.end(first.value);
    return;
  }
  let chunk: ReadableStreamReadResult<Uint8Array> = second;
  if (!outgoing.write(first.value)) await _drained(outgoing);
  for (; !chunk.done; chunk = await reader.read()) {
    if (!outgoing.write(chunk.value)) await _drained(outgoing);
  }
  outgoing.end();
}

function _drained(outgoing: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const onClose = () => reject(new Deno.errors.Interrupted("connection closed"));
    outgoing.once("close", onClose);
    outgoing.once("drain", () => {
      outgoing.off("close", onClose);
      resolve();
    });
  });
}
