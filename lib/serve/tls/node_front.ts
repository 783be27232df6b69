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
import { ConnectionStats } from "../connections.ts";

/** The protocols the node front offers. */
export const NODE_PROTOCOLS: readonly string[] = ["http/1.1"];

/** Starts a `node:https` listener serving `handler` with a validated certificate and key. */
export async function listenNodeTls(
  address: ListenAddress,
  certificate: Certificate,
  handler: Deno.ServeHandler<Deno.NetAddr>,
  { limits }: ServeLimits,
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
  // TCP connections whose TLS handshake has not completed: node's close() would wait for them
  // (up to its 120 s handshake timeout), and no request can be in flight on them.
  const handshaking = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    handshaking.add(socket);
    sockets.add(socket);
    stats.open += 1;
    stats.accepted += 1;
    socket.once("close", () => {
      handshaking.delete(socket);
      sockets.delete(socket);
      stats.open -= 1;
    });
  });
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
        for (const socket of handshaking) socket.destroy();
      });
    },
  });
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
