/**
 * The native HTTPS front: Deno's own HTTP server (hyper: h2 and http/1.1 by
 * ALPN) on connections from our own `Deno.listenTls` accept loop.
 *
 * A swap binds a new listener with the new pair on the same port
 * (`SO_REUSEPORT`), then closes the old *listener* only: connections it
 * accepted go on with the certificate they shook hands with, and every
 * connection accepted after the swap returns presents the new one. A pair
 * rustls refuses throws before anything is bound, so the old listener stays.
 *
 * Each accepted connection is served by `serveHttpOnConnection`, which Deno
 * 2.9.6 keeps internal (`ext/http/00_serve.ts`); {@linkcode nativeFrontUnavailable}
 * says when it (or `--unstable-net`, which `reusePort` needs) is missing, and
 * the caller falls back to the `node:https` front.
 *
 * @module
 */

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
import { type NativeFrontUnavailable, type TlsFront, tlsRejected } from "./tls_front.ts";
import { within } from "../../ground/timer.ts";
import { Connections, serveOnConnection } from "../connections.ts";

/** What `net.ipv4.tcp_migrate_req` was found to be, by watching the kernel rather than reading /proc. */
export type ConnectionMigration = "on" | "off" | "unknown";

/** The notice of whether connections waiting in a closed listener's queue move to the new one. */
export interface ConnectionMigrationNotice {
  /** Discriminant. */
  readonly kind: "connection_migration";
  /** What `net.ipv4.tcp_migrate_req` was found to be. */
  readonly migration: ConnectionMigration;
}

/** The protocols the native front offers, in order of preference. */
export const NATIVE_PROTOCOLS: readonly string[] = ["h2", "http/1.1"];

/** How long the migration check waits for either sign before it gives up. */
const MIGRATION_CHECK_MS = 2_000;

/** Why the native front cannot run in this process, or `undefined` when it can. */
export function nativeFrontUnavailable(): NativeFrontUnavailable | undefined {
  // Deno.listenDatagram exists only under --unstable-net, which reusePort needs; without the flag
  // a reusePort listen ends the process at once, so it must be known before.
  if (!("listenDatagram" in Deno)) return "no_unstable_net";
  return serveOnConnection() === undefined ? "no_internal_api" : undefined;
}

/**
 * Starts the native front. `onMigration` is told, before this resolves, whether
 * the kernel hands connections waiting in a closed listener's queue to the next
 * one (`net.ipv4.tcp_migrate_req`), found by a test connection at startup (it
 * takes a few milliseconds, at most 2 s).
 */
export async function listenNativeTls(
  address: ListenAddress,
  certificate: Certificate,
  handler: Deno.ServeHandler<Deno.NetAddr>,
  onMigration: (migration: ConnectionMigration) => void,
  { limits, guard, wholeAnswers }: ServeLimits,
): Promise<Result<TlsFront, ListenError>> {
  const serve = serveOnConnection();
  const where = hostPort(address.hostname, address.port);
  if (serve === undefined) {
    return err({ kind: "other", server: "app", address: where, reason: "no native front" });
  }
  let stopping = false;
  const bind = (port: number, pair: Certificate) =>
    Deno.listenTls({
      hostname: address.hostname,
      port,
      reusePort: true,
      alpnProtocols: [...NATIVE_PROTOCOLS],
      cert: pair.certificatePem,
      key: pair.keyPem ?? "",
    });

  let port: number;
  let listener: Deno.TlsListener;
  let migrationProbe: MigrationProbe;
  try {
    // SO_REUSEPORT would let a second instance bind the same port silently. A plain bind
    // fails while any listener holds the port, so it tells whether the port is ours to take.
    const probe = Deno.listen({ hostname: address.hostname, port: address.port });
    port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    migrationProbe = await MigrationProbe.start(address.hostname, port);
    listener = bind(port, certificate);
  } catch (error) {
    return err(listenError("app", where, error));
  }

  const connections = new Connections({
    server: "app",
    handler: (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) =>
      _overH2Head(request) ? _headOverH2(handler(request, info)) : handler(request, info),
    onError: handlerFailed,
    limits,
    guard,
    serve,
    claims: (conn) => migrationProbe.claims(conn),
    wholeAnswers,
  });
  guard.shedFrom(connections);
  connections.add(listener);
  // Reported before the front is handed back, so that every startup line comes before "ready".
  await migrationProbe.finish(onMigration);

  return ok({
    name: "native",
    protocols: NATIVE_PROTOCOLS,
    addr: { transport: "tcp", hostname: address.hostname, port },
    swap(next) {
      if (stopping) return err(tlsRejected(next, new Error("the server is shutting down")));
      let fresh: Deno.TlsListener;
      try {
        fresh = bind(port, next);
      } catch (error) {
        return err(tlsRejected(next, error));
      }
      const old = listener;
      listener = fresh;
      connections.add(fresh);
      connections.remove(old);
      return ok(undefined);
    },
    stats: connections.stats,
    shutdown() {
      stopping = true;
      return connections.stop();
    },
  });
}

/**
 * Whether a request is a HEAD over HTTP/2. Over HTTP/2, Deno 2.9.6 resets the stream
 * (`RST_STREAM PROTOCOL_ERROR`, curl exit 92) when the handler's response to a HEAD has a body,
 * even though it sends none; a response built with no body goes through. The protocol is told by
 * the `Host` header, which costs nothing per connection: an HTTP/2 request carries the host in
 * `:authority`, and its clients should send no `Host` (RFC 9113, 8.3.1), while every HTTP/1.1
 * request must carry one (RFC 9112, 3.2), and for those Deno drops the body itself and counts its
 * length. (Asking the connection for its ALPN protocol instead means finishing the handshake before
 * serving it: measured at 6–9% more CPU per new connection.) An HTTP/1.0 HEAD without `Host` is
 * taken for HTTP/2 and gets `content-length: 0`; an HTTP/2 client that sends `Host` meets Deno's
 * reset as before.
 */
function _overH2Head(request: Request): boolean {
  return request.method === "HEAD" && !request.headers.has("host");
}

/** The response to a HEAD over HTTP/2: the app's status and headers, its body dropped. */
async function _headOverH2(answer: Response | Promise<Response>): Promise<Response> {
  const response = await answer;
  if (response.body === null) return response;
  await response.body.cancel();
  return new Response(null, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

/**
 * Finds out whether `net.ipv4.tcp_migrate_req` is on without reading /proc
 * (Deno 2.9.6 allows /proc only under --allow-all): a test connection waits
 * in a plain listener's queue; the real listener is bound and the plain one
 * closed. With migration on, the kernel hands the connection to the real
 * listener; with it off, the connection is reset.
 */
class MigrationProbe {
  readonly #listener: Deno.Listener | undefined;
  readonly #client: Deno.Conn | undefined;
  #claimPort: number | undefined;
  #migrated: (() => void) | undefined;

  private constructor(listener?: Deno.Listener, client?: Deno.Conn) {
    this.#listener = listener;
    this.#client = client;
  }

  /** Opens the plain listener and connects to it, before the real listener is bound. */
  static async start(hostname: string, port: number): Promise<MigrationProbe> {
    let listener: Deno.Listener | undefined;
    try {
      listener = Deno.listen({ hostname, port, reusePort: true });
      return new MigrationProbe(listener, await Deno.connect({ hostname, port }));
    } catch {
      listener?.close();
      return new MigrationProbe();
    }
  }

  /** Whether an accepted connection is the probe's (then it is closed, not served). */
  claims(conn: Deno.Conn): boolean {
    if (this.#claimPort === undefined) return false; // Every connection after the first seconds.
    if ((conn.remoteAddr as Deno.NetAddr).port !== this.#claimPort) return false;
    this.#migrated?.();
    conn.close();
    return true;
  }

  /** Closes the plain listener now that the real one is bound, and reports what happened. */
  async finish(report: (migration: ConnectionMigration) => void): Promise<void> {
    const [listener, client] = [this.#listener, this.#client];
    if (listener === undefined || client === undefined) return report("unknown");
    this.#claimPort = (client.localAddr as Deno.NetAddr).port;
    const { promise: migrated, resolve } = Promise.withResolvers<ConnectionMigration>();
    this.#migrated = () => resolve("on");
    listener.close();
    const answer = await within(
      Promise.race([
        migrated,
        client.read(new Uint8Array(1)).then(() => "off" as const, () => "off" as const),
      ]),
      MIGRATION_CHECK_MS,
    ) ?? "unknown";
    this.#claimPort = undefined;
    try {
      client.close();
    } catch {
      // Already closed.
    }
    report(answer);
  }
}

/** Renders whether swaps are safe for clients that open a connection per request. */
export function formatMigration(migration: ConnectionMigration): string {
  if (migration === "on") {
    return "net.ipv4.tcp_migrate_req is on: connections waiting to be accepted move to the " +
      "new listener on a certificate swap";
  }
  return `net.ipv4.tcp_migrate_req ${migration === "off" ? "is 0" : "could not be checked"}: ` +
    "clients that open a connection per request may see a reset during a certificate swap " +
    "(connections still waiting in the old listener's queue); set it to 1 with " +
    "sysctl -w net.ipv4.tcp_migrate_req=1 (persist it in /etc/sysctl.d/, or set it in the " +
    "pod's securityContext.sysctls on Kubernetes)";
}
