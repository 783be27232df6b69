/**
 * The connections of one server, from `accept()` to close: our own accept
 * loop over one or more listeners, each connection served natively (h1, and
 * h2 by ALPN or prior knowledge) by Deno's internal `serveHttpOnConnection`,
 * and every connection held to the deadlines of its {@linkcode ConnectionLimits}.
 *
 * Why not `Deno.serve`: in Deno 2.9.6 its accept loop runs in Rust
 * (`op_http_serve`, `ext/http/http_next.rs`) and ends at the first failed
 * `accept()`; out of file descriptors, that error rejects the server's
 * `finished` promise inside `ext:deno_http/00_serve.ts` and the process dies.
 * Here a failed accept backs off and tries again, and the shared
 * {@linkcode DescriptorGuard} keeps a reserve of descriptors for the control
 * server and for reloads.
 *
 * One sweep a second closes what is past its deadline: a TLS handshake or a
 * first request that takes too long, a keep-alive connection idle too long, a
 * request body that stopped arriving. A stop closes idle connections at once,
 * lets requests in flight finish within the grace period, then cuts the rest.
 *
 * @module
 */

import { every, sleep, within } from "../ground/timer.ts";
import type { ConnectionLimits } from "./connection_limits.ts";

/**
 * Which of the two servers a connection, an address or an error belongs to.
 *
 * @example
 * ```ts ignore
 * if (!started.ok && started.error.kind === "listen") console.error(started.error.error.server);
 * ```
 */
export type ServerName = "app" | "control";

/** One served connection, as `serveHttpOnConnection` returns it. */
export interface ServedConnection {
  /** Settles when the connection ends; rejects when the client goes away early. */
  readonly finished: Promise<void>;
  /** Shuts the connection down gracefully: requests in flight finish first. */
  shutdown(): Promise<void>;
}

/** Deno's internal `serveHttpOnConnection`: serves one accepted connection (h1 or h2) natively. */
export type ServeOnConnection = (
  conn: Deno.Conn,
  signal: AbortSignal | undefined,
  // deno-lint-ignore no-explicit-any
  handler: Deno.ServeHandler<any>,
  onError: (error: unknown) => Response,
  onListen: (scheme: string) => void,
) => ServedConnection;

/** Deno's internal `serveHttpOnConnection`, or `undefined` in a Deno that does not have it. */
export function serveOnConnection(): ServeOnConnection | undefined {
  const internal = Reflect.get(Deno, Reflect.get(Deno, "internal") as symbol) as unknown;
  const serve = typeof internal === "object" && internal !== null
    ? Reflect.get(internal, "serveHttpOnConnection")
    : undefined;
  return typeof serve === "function" ? serve as ServeOnConnection : undefined;
}

/** Why a connection was closed by the server rather than by its client. */
export type CloseReason =
  | "handshake_timeout"
  | "header_timeout"
  | "idle_timeout"
  | "body_timeout"
  | "shed"
  | "stop_idle"
  | "stop_cut";

/** Every {@linkcode CloseReason}, in the order metrics list them. */
export const CLOSE_REASONS: readonly CloseReason[] = [
  "handshake_timeout",
  "header_timeout",
  "idle_timeout",
  "body_timeout",
  "shed",
  "stop_idle",
  "stop_cut",
];

/** Why an `accept()` failed: out of file descriptors (EMFILE, ENFILE), or anything else. */
export type AcceptFailure = "descriptors" | "other";

/** Counters of one server's connections, read by `/metrics`. */
export class ConnectionStats {
  /** Connections open now. */
  open = 0;
  /** Connections accepted since the start. */
  accepted = 0;
  /** Failed `accept()` calls, by why. */
  readonly refused: Record<AcceptFailure, number> = { descriptors: 0, other: 0 };
  /** Connections the server closed, by why. */
  readonly closed: Record<CloseReason, number> = {
    handshake_timeout: 0,
    header_timeout: 0,
    idle_timeout: 0,
    body_timeout: 0,
    shed: 0,
    stop_idle: 0,
    stop_cut: 0,
  };
}

/**
 * What the descriptor guard tells its operator: the process ran out of descriptors, or accepts
 * again (after {@linkcode RECOVERY_QUIET_MS} without a failed accept); one of each per episode.
 */
export type DescriptorEvent =
  | {
    readonly kind: "exhausted";
    /** The server whose accept failed first. */
    readonly server: ServerName;
    /** App connections open at that moment. */
    readonly open: number;
    /** App connections allowed from now on, leaving a reserve for the control server and reloads. */
    readonly ceiling: number;
  }
  | {
    readonly kind: "recovered";
    readonly server: ServerName;
    /** Accepts refused since the `exhausted` notice, on every server. */
    readonly refused: number;
  };

/** The notice of the descriptor guard: one when descriptors run out, one when accepts work again. */
export interface DescriptorNotice {
  /** Discriminant. */
  readonly kind: "descriptors";
  /** What happened. */
  readonly event: DescriptorEvent;
}

/** Renders a descriptor event as the line an operator reads. */
export function formatDescriptorNotice(event: DescriptorEvent): string {
  if (event.kind === "recovered") {
    return `accepting connections again on the ${event.server} server after ${event.refused} ` +
      `refused accept${event.refused === 1 ? "" : "s"}`;
  }
  return `out of file descriptors: the ${event.server} server could not accept a connection ` +
    `(${event.open} app connections open); accepting backs off, idle app connections beyond ` +
    `${event.ceiling} are closed and the rest are kept for the control server and reloads; ` +
    "raise LimitNOFILE (ulimit -n) if this was not an attack";
}

/** Descriptors kept free for the control server, reloads and the runtime once the limit was hit. */
export const DESCRIPTOR_RESERVE = 32;
/** How long opening a spare descriptor may take (a FIFO in the file's place would block it). */
const SPARE_OPEN_MS = 2_000;
/**
 * Accepting counts as working again (one notice) once no accept failed for this long: refilling
 * the spares can run the process out again at once, and that must not flood the log.
 */
export const RECOVERY_QUIET_MS = 2_000;
/** After this long without running out, the learned ceiling is forgotten. */
const CEILING_RESET_MS = 60_000;

/**
 * The process's file descriptors, shared by its servers. Deno 2.9.6 has no
 * getrlimit, and reading /proc needs --allow-all, so the limit is learned the
 * moment an accept fails: the app may then keep {@linkcode DESCRIPTOR_RESERVE}
 * fewer connections than it had, its idle ones beyond that are closed, and the
 * freed descriptors stay for the control server and the reloader.
 */
export class DescriptorGuard {
  readonly #onEvent: (event: DescriptorEvent) => void;
  readonly #sheddable = new Set<Sheddable>();
  #ceiling = Infinity;
  #exhaustedAt = -Infinity;
  #episode: { server: ServerName; refused: number } | undefined;
  #spares: { close(): void }[] = [];
  #spareCount = 0;
  #openSpare: (() => Promise<{ close(): void }>) | undefined;
  #refilling = false;
  #probing = false;
  #closed = false;
  /** Whether the operator was told descriptors ran out, and accepts refused since. */
  #told = false;
  #refused = 0;

  /** A guard reporting to `onEvent` (one event when descriptors run out, one when accepts work again). */
  constructor(onEvent: (event: DescriptorEvent) => void = () => {}) {
    this.#onEvent = onEvent;
  }

  /** The app connections allowed now (`Infinity` until the limit was hit). */
  get ceiling(): number {
    if (performance.now() - this.#exhaustedAt > CEILING_RESET_MS) this.#ceiling = Infinity;
    return this.#ceiling;
  }

  /**
   * Keeps `count` spare descriptors opened by `open` (any file the process may read): they are
   * closed the moment descriptors run out, so the control server and reloads have some even
   * when the app's connections cannot be closed (a TLS handshake that never starts), and
   * opened again once accepting works.
   */
  keepSpares(open: () => Promise<{ close(): void }>, count = DESCRIPTOR_RESERVE): void {
    this.#openSpare = open;
    this.#spareCount = count;
    void this.#refillSpares();
  }

  async #refillSpares(): Promise<void> {
    const open = this.#openSpare;
    if (open === undefined || this.#refilling) return;
    this.#refilling = true;
    try {
      while (
        this.#spares.length < this.#spareCount && this.#episode === undefined && !this.#closed
      ) {
        const opening = open();
        const spare = await within(opening, SPARE_OPEN_MS);
        if (spare === undefined) {
          opening.then((late) => late.close(), () => {});
          return;
        }
        if (this.#episode !== undefined || this.#closed) return spare.close();
        this.#spares.push(spare);
      }
    } catch {
      // Out of descriptors or the file is gone: the next recovery tries again.
    } finally {
      this.#refilling = false;
    }
  }

  /**
   * Whether the process is out of descriptors now, for an accept loop that cannot see its own
   * failures (the node front's): opens and closes one more spare. False while a probe is still
   * pending (a FIFO in the file's place blocks its open), or when there are no spares to open.
   */
  async outOfDescriptors(): Promise<boolean> {
    const open = this.#openSpare;
    if (open === undefined || this.#probing || this.#closed) return false;
    this.#probing = true;
    const opening = open();
    const settled = opening.then((spare) => spare.close(), (error) => {
      if (!OUT_OF_DESCRIPTORS.test(String(error))) return;
      return "out" as const;
    }).finally(() => this.#probing = false);
    return await within(settled, SPARE_OPEN_MS) === "out";
  }

  /** Closes the spare descriptors for good (the servers stopped). */
  close(): void {
    this.#closed = true;
    for (const spare of this.#spares.splice(0)) _closeQuietly(spare);
  }

  /** Registers the app's connections: they are capped and shed when descriptors run out. */
  shedFrom(connections: Sheddable): void {
    this.#sheddable.add(connections);
  }

  /** Told by an accept loop that `accept()` failed for want of descriptors. */
  exhausted(server: ServerName): void {
    this.#exhaustedAt = performance.now();
    for (const spare of this.#spares.splice(0)) _closeQuietly(spare);
    let open = 0;
    for (const connections of this.#sheddable) open += connections.stats.open;
    this.#ceiling = Math.max(1, Math.min(this.#ceiling, open - DESCRIPTOR_RESERVE));
    for (const connections of this.#sheddable) connections.shed(this.#ceiling);
    if (this.#episode === undefined) this.#episode = { server, refused: 0 };
    this.#refused += 1;
    if (!this.#told) {
      this.#told = true;
      this.#onEvent({ kind: "exhausted", server, open, ceiling: this.#ceiling });
    }
  }

  /** Told by an accept loop that `accept()` worked. */
  accepted(server: ServerName): void {
    if (this.#told && performance.now() - this.#exhaustedAt >= RECOVERY_QUIET_MS) {
      this.#onEvent({ kind: "recovered", server, refused: this.#refused });
      this.#told = false;
      this.#refused = 0;
    }
    if (this.#episode?.server !== server) return;
    this.#episode = undefined;
    void this.#refillSpares();
  }
}

/** Connections the descriptor guard counts and sheds: {@linkcode Connections}, or the node front's. */
export interface Sheddable {
  /** Their counters (`open` is read). */
  readonly stats: ConnectionStats;
  /** Closes connections that are not serving a request, down to `ceiling`. */
  shed(ceiling: number): void;
}

/** What a stop did: connections cut with a request still in flight after the grace period. */
export interface StopReport {
  /** Connections cut after the grace period. */
  readonly cut: number;
}

/** What a {@linkcode Connections} serves and under which limits. */
export interface ConnectionsOptions {
  /** Which server these are, for metrics and notices. */
  readonly server: ServerName;
  /** The request handler. */
  // deno-lint-ignore no-explicit-any
  readonly handler: Deno.ServeHandler<any>;
  /** The answer when the handler throws. */
  readonly onError: (error: unknown) => Response;
  /** Timeouts, the cap, and the stop's grace period. */
  readonly limits: ConnectionLimits;
  /** The process's descriptor guard. */
  readonly guard: DescriptorGuard;
  /** Deno's `serveHttpOnConnection`. */
  readonly serve: ServeOnConnection;
  /** Takes a connection away before it is served (the native front's migration probe); true if taken. */
  readonly claims?: (conn: Deno.Conn) => boolean;
  /**
   * Every answer of `handler` is whole when it is returned (a string or bytes body, never a
   * stream): a request without a body then ends as its handler returns, without a `completed`
   * promise per request. False by default.
   */
  readonly wholeAnswers?: boolean;
}

/** One open connection and its deadlines (`performance.now()` milliseconds, as the sweep's clock). */
interface Tracked {
  readonly conn: Deno.Conn;
  readonly abort: AbortController;
  /** Since when no request is in flight (the accept, or the end of the last request). */
  idleSince: number;
  served: ServedConnection | undefined;
  /** Requests in flight. */
  inFlight: number;
  /** Whether a request ever reached the handler. */
  seen: boolean;
  /** Whether its TLS handshake is still going on (it cannot be closed then). */
  handshaking: boolean;
  /** When the connection is closed for `reason`, unless something happens first. */
  deadline: number;
  reason: CloseReason;
  /** While the handler waits for a chunk of a request body: when it is cut if none arrives. */
  bodyDeadline: number;
  closed: boolean;
  /** Ends a request that has no body to watch (one function per connection, not per request). */
  done: () => void;
}

/** A connection idle (or waiting for its first request) for less than this is never shed. */
export const SHED_MIN_IDLE_MS = 2_000;
/** A request body as the handler reads it: whether it ended, and how to drop the rest. */
interface WatchedBody {
  ended: boolean;
  cancel: () => void;
}

/** How often deadlines are checked: timeouts fire up to this much late. */
export const SWEEP_MS = 1_000;
/** First pause after a failed accept; it doubles up to {@linkcode ACCEPT_BACKOFF_MAX_MS}. */
const ACCEPT_BACKOFF_MIN_MS = 10;
/** Longest pause between accepts while they keep failing. */
const ACCEPT_BACKOFF_MAX_MS = 1_000;
/** During a stop, how long a connection whose last request ended stays open to write its answer. */
const STOP_LINGER_MS = 500;
/** How often a stop checks for connections to close. */
const STOP_SWEEP_MS = 100;
/** How long a stop waits for cut connections to be released. */
const CUT_WAIT_MS = 2_000;
/** Errors a closed listener's `accept()` ends with. */
const LISTENER_CLOSED = [Deno.errors.BadResource, Deno.errors.Interrupted];
/** `accept()` failures for want of descriptors: EMFILE (24) and ENFILE (23). */
const OUT_OF_DESCRIPTORS = /\(os error 2[34]\)/;

/** The connections of one server: accepted from its listeners, served, held to deadlines, stopped. */
export class Connections {
  /** Counters for `/metrics`. */
  readonly stats: ConnectionStats = new ConnectionStats();
  readonly #options: ConnectionsOptions;
  readonly #listeners = new Set<Deno.Listener>();
  readonly #open = new Set<Tracked>();
  readonly #sweeper = new AbortController();
  #stopping = false;
  #changed: (() => void)[] = [];
  /**
   * The time for the deadlines of requests and new connections: the last sweep's
   * `performance.now()` plus the sweep period, so never earlier than now until the next sweep,
   * and a deadline counted from it fires at the sweep that the exact time would fire at. A
   * `performance.now()` per request costs ~700 instructions in Deno 2.9.6 (callgrind), as much
   * as the rest of this loop's work on a request.
   */
  #clock = performance.now() + SWEEP_MS;

  /** Starts the deadline sweep; add listeners with {@linkcode Connections.add}. */
  constructor(options: ConnectionsOptions) {
    this.#options = options;
    void every(SWEEP_MS, () => this.#sweep(), this.#sweeper.signal);
  }

  /** Accepts from a listener until it is closed (by a swap, or by {@linkcode Connections.stop}). */
  add(listener: Deno.Listener): void {
    this.#listeners.add(listener);
    void this.#acceptFrom(listener);
  }

  /** Stops accepting from a listener and closes it; its connections go on. */
  remove(listener: Deno.Listener): void {
    this.#listeners.delete(listener);
    _closeQuietly(listener);
    this.#notify();
  }

  /**
   * Closes connections with no request in flight, oldest first, down to `ceiling` (the cap, or
   * the descriptor guard's ceiling): those that never sent a request (a flood's) first, then
   * idle keep-alive ones; only those idle for {@linkcode SHED_MIN_IDLE_MS} at least, since a
   * client may be sending a request on a connection that just became idle (or was accepted).
   */
  shed(ceiling: number): void {
    let excess = this.stats.open - ceiling;
    const before = performance.now() - SHED_MIN_IDLE_MS;
    for (const seen of [false, true]) {
      for (const tracked of this.#open) {
        if (excess <= 0) return;
        if (tracked.seen !== seen || !_sheddable(tracked, before)) continue;
        this.#close(tracked, "shed");
        excess -= 1;
      }
    }
  }

  /**
   * Stops accepting and closes idle connections at once; requests in flight may
   * finish within the grace period, then their connections are cut.
   */
  async stop(): Promise<StopReport> {
    if (!this.#stopping) {
      this.#stopping = true;
      for (const listener of this.#listeners) _closeQuietly(listener);
      this.#listeners.clear();
      for (const tracked of this.#open) {
        if (tracked.inFlight === 0) this.#close(tracked, "stop_idle");
      }
      this.#notify();
      void every(STOP_SWEEP_MS, () => this.#sweep(), this.#sweeper.signal);
    }
    await within(this.#drained(), this.#options.limits.stopGraceMs);
    let cut = 0;
    for (const tracked of this.#open) {
      if (tracked.closed) continue;
      this.#close(tracked, "stop_cut");
      cut += 1;
    }
    await within(this.#drained(), CUT_WAIT_MS);
    this.#sweeper.abort();
    return { cut };
  }

  async #acceptFrom(listener: Deno.Listener): Promise<void> {
    const { server, guard, claims } = this.#options;
    let backoff = ACCEPT_BACKOFF_MIN_MS;
    while (this.#listeners.has(listener)) {
      // At the cap, accept only if an idle connection can make room for the one accepted.
      if (this.stats.open >= this.#allowance() && !this.#hasIdle()) {
        await this.#nextChange();
        continue;
      }
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (LISTENER_CLOSED.some((closed) => error instanceof closed)) return;
        if (!this.#listeners.has(listener)) return;
        const failure: AcceptFailure = OUT_OF_DESCRIPTORS.test(String(error))
          ? "descriptors"
          : "other";
        this.stats.refused[failure] += 1;
        if (failure === "descriptors") guard.exhausted(server);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, ACCEPT_BACKOFF_MAX_MS);
        continue;
      }
      backoff = ACCEPT_BACKOFF_MIN_MS;
      guard.accepted(server);
      if (claims?.(conn)) continue;
      this.#track(conn);
      if (this.stats.open > this.#allowance()) this.shed(this.#allowance());
    }
  }

  #hasIdle(): boolean {
    const before = performance.now() - SHED_MIN_IDLE_MS;
    for (const tracked of this.#open) if (_sheddable(tracked, before)) return true;
    return false;
  }

  #allowance(): number {
    const { limits, guard } = this.#options;
    return this.#options.server === "app"
      ? Math.min(limits.maxConnections, guard.ceiling)
      : limits.maxConnections;
  }

  #track(conn: Deno.Conn): void {
    const now = this.#clock;
    const { limits } = this.#options;
    const tls = "handshake" in conn;
    const tracked: Tracked = {
      conn,
      abort: new AbortController(),
      idleSince: now,
      served: undefined,
      inFlight: 0,
      seen: false,
      // No deadline during a TLS handshake: see #track's comment.
      deadline: tls ? Infinity : now + limits.headerTimeoutMs,
      reason: "header_timeout",
      handshaking: tls,
      bodyDeadline: Infinity,
      closed: false,
      done: () => this.#requestDone(tracked, false),
    };
    this.#open.add(tracked);
    this.stats.open += 1;
    this.stats.accepted += 1;
    if (!tls) return this.#serve(tracked);
    // The handshake first, to know when it is done. It cannot be cut short: in Deno 2.9.6 the
    // server handshake runs in a task of its own (rustls-tokio-stream 0.8.0), and a TlsStream
    // dropped while handshaking waits for that task before it lets the socket go, so neither
    // closing the TlsConn nor aborting its serving frees the descriptor. A connection that never
    // sends its ClientHello stays open, and counted, until its client goes away; the cap and the
    // descriptor guard bound how many there can be.
    (conn as Deno.TlsConn).handshake().then(
      () => {
        tracked.handshaking = false;
        this.#serve(tracked);
      },
      () => {
        _closeQuietly(conn);
        this.#forget(tracked);
      },
    );
  }

  #serve(tracked: Tracked): void {
    if (tracked.closed) {
      _closeQuietly(tracked.conn);
      this.#forget(tracked);
      return;
    }
    const { serve, onError, limits } = this.#options;
    tracked.deadline = this.#clock + limits.headerTimeoutMs;
    tracked.reason = "header_timeout";
    // deno-lint-ignore no-explicit-any
    const handler = (request: Request, info: Deno.ServeHandlerInfo<any>) =>
      this.#request(tracked, request, info);
    try {
      tracked.served = serve(tracked.conn, tracked.abort.signal, handler, onError, () => {});
    } catch {
      _closeQuietly(tracked.conn);
      this.#forget(tracked);
      return;
    }
    // `finished` rejects when a client goes away early; that ends the connection all the same.
    const served = tracked.served;
    const forget = () => this.#forget(tracked);
    tracked.served.finished.then(forget, () => {
      _release(served);
      forget();
    });
  }

  // deno-lint-ignore no-explicit-any
  #request(tracked: Tracked, request: Request, info: Deno.ServeHandlerInfo<any>) {
    tracked.inFlight += 1;
    tracked.seen = true;
    tracked.deadline = Infinity;
    const method = request.method;
    if (
      method !== "GET" && method !== "HEAD" && request.headers.get("content-length") !== "0"
    ) {
      const stream = request.body;
      if (stream !== null) return this.#requestWithBody(tracked, request, stream, info);
    }
    const { handler, wholeAnswers } = this.#options;
    if (!wholeAnswers) {
      info.completed.then(tracked.done, tracked.done);
      return handler(request, info);
    }
    let answer;
    try {
      answer = handler(request, info);
    } catch (error) {
      tracked.done();
      throw error;
    }
    if (answer instanceof Promise) answer.then(tracked.done, tracked.done);
    else tracked.done();
    return answer;
  }

  /** A request with a body: the body is watched for the body timeout, and dropped if left unread. */
  #requestWithBody(
    tracked: Tracked,
    request: Request,
    stream: ReadableStream<Uint8Array>,
    // deno-lint-ignore no-explicit-any
    info: Deno.ServeHandlerInfo<any>,
  ) {
    const body: WatchedBody = { ended: false, cancel: () => {} };
    const done = () => {
      const unread = !body.ended;
      // The rest of an unread body is not waited for: its stream would keep the socket open.
      if (unread) body.cancel();
      this.#requestDone(tracked, unread);
    };
    info.completed.then(done, done);
    return this.#options.handler(this.#watchBody(tracked, request, stream, body), info);
  }

  /** Ends a request; `unreadBody`: its body did not end, and Deno now discards what still comes. */
  #requestDone(tracked: Tracked, unreadBody: boolean): void {
    tracked.inFlight -= 1;
    if (tracked.inFlight > 0) return;
    tracked.bodyDeadline = Infinity;
    tracked.idleSince = this.#clock;
    const { idleTimeoutMs, bodyTimeoutMs } = this.#options.limits;
    if (this.#stopping) {
      // `completed` settles as the response is handed to Deno, before it is written: closing
      // now would lose it. The stop's sweep closes the connection a moment later.
      tracked.deadline = tracked.idleSince + STOP_LINGER_MS;
      tracked.reason = "stop_idle";
      return;
    }
    // Deno reads an unread body to its end before the connection goes on (or closes), with no
    // limit of its own: the rest of the body must come within the body timeout.
    tracked.deadline = tracked.idleSince + (unreadBody ? bodyTimeoutMs : idleTimeoutMs);
    tracked.reason = unreadBody ? "body_timeout" : "idle_timeout";
    // An accept loop waiting at the cap may now make room by closing this connection.
    if (this.#changed.length > 0) this.#notify();
  }

  /**
   * The request with a body that is read only as the handler reads it (a read left pending
   * after the answer would hold the socket beyond Deno's reach), each read held to the body
   * timeout. Built from the parts, not from `request`: copying a Request reads its `signal`,
   * and Deno then warns about its legacy abort behaviour; the copy has no abort signal.
   */
  #watchBody(
    tracked: Tracked,
    request: Request,
    stream: ReadableStream<Uint8Array>,
    body: WatchedBody,
  ): Request {
    const timeout = this.#options.limits.bodyTimeoutMs;
    const reader = stream.getReader();
    body.cancel = () => void reader.cancel().catch(() => {});
    const end = () => {
      body.ended = true;
      tracked.bodyDeadline = Infinity;
    };
    const watched = new ReadableStream<Uint8Array>({
      async pull(controller) {
        tracked.bodyDeadline = performance.now() + timeout;
        const chunk = await reader.read();
        tracked.bodyDeadline = Infinity;
        if (chunk.done) {
          end();
          controller.close();
          return;
        }
        controller.enqueue(chunk.value);
      },
      cancel(reason) {
        end();
        return reader.cancel(reason);
      },
    }, { highWaterMark: 0 });
    return new Request(request.url, {
      method: request.method,
      headers: request.headers,
      body: watched,
      duplex: "half",
    } as RequestInit);
  }

  #sweep(): void {
    const now = performance.now();
    this.#clock = now + (this.#stopping ? STOP_SWEEP_MS : SWEEP_MS);
    // An accept loop waiting at the cap may make room now that more connections are idle long enough.
    if (this.#changed.length > 0) this.#notify();
    for (const tracked of this.#open) {
      if (tracked.closed) continue;
      if (now >= tracked.deadline) this.#close(tracked, tracked.reason);
      else if (tracked.inFlight > 0 && now >= tracked.bodyDeadline) {
        this.#close(tracked, "body_timeout");
      }
    }
  }

  /** Closes a connection: aborts its serving, or closes it when it is not served yet. */
  #close(tracked: Tracked, reason: CloseReason): void {
    if (tracked.closed) return;
    tracked.closed = true;
    this.stats.closed[reason] += 1;
    // Not served yet: a TLS handshake is pending, and its end forgets the connection.
    if (tracked.served === undefined) _closeQuietly(tracked.conn);
    else _abortQuietly(tracked.abort);
  }

  #forget(tracked: Tracked): void {
    if (!this.#open.delete(tracked)) return;
    tracked.closed = true;
    this.stats.open -= 1;
    this.#notify();
  }

  #notify(): void {
    const waiting = this.#changed;
    this.#changed = [];
    for (const wake of waiting) wake();
  }

  #nextChange(): Promise<void> {
    return new Promise((resolve) => this.#changed.push(resolve));
  }

  async #drained(): Promise<void> {
    while (this.#open.size > 0) await this.#nextChange();
  }
}

function _sheddable(tracked: Tracked, idleBefore: number): boolean {
  return !tracked.closed && !tracked.handshaking && tracked.inFlight === 0 &&
    tracked.idleSince <= idleBefore;
}

/**
 * Releases the server resource of a connection whose `finished` rejected. In Deno 2.9.6
 * `serveHttpOn` (`ext/http/00_serve.ts`) rethrows the error of `op_http_wait` as
 * `Deno.errors.Http` before it reaches `op_http_close`, so the connection's `HttpJoinHandle`
 * (`ext/http/http_next.rs`: its callback's v8 handles, its server state) stays in the resource
 * table for the life of the process: ~500 bytes for every connection that a client ended
 * early, a handshake or a request cut short. `shutdown()` calls `op_http_close`, which takes the
 * resource out of the table; the connection itself is gone already.
 */
function _release(served: ServedConnection): void {
  served.shutdown().catch(() => {});
}

function _closeQuietly(closable: { close(): void }): void {
  try {
    closable.close();
  } catch {
    // Already closed.
  }
}

/**
 * Aborts a served connection. Deno's abort listener (`op_http_cancel`) throws
 * BadResource, as an uncaught error that would end the process, when the
 * connection ended on its own a moment before: that one error is swallowed.
 */
function _abortQuietly(abort: AbortController): void {
  _installQuietAborts();
  quietAbort = true;
  try {
    abort.abort();
  } finally {
    quietAbort = false;
  }
}

let quietAbort = false;
let quietAbortsInstalled = false;

function _installQuietAborts(): void {
  if (quietAbortsInstalled) return;
  quietAbortsInstalled = true;
  globalThis.addEventListener("error", (event) => {
    if (quietAbort && event.error instanceof Deno.errors.BadResource) event.preventDefault();
  });
}
