/**
 * The limits every server connection lives under: how long a TLS handshake,
 * the first request's headers, an idle keep-alive gap and a stalled request
 * body may take, how many connections may be open at once, and how long a
 * stop waits for requests in flight before it cuts them. The defaults are
 * meant to go unnoticed by any well-behaved client.
 *
 * @module
 */

/**
 * The limits of one server's connections, in milliseconds and connections.
 *
 * @example Shorter timeouts for a test
 * ```ts
 * const limits: ConnectionLimits = { ...DEFAULT_LIMITS, idleTimeoutMs: 1_000 };
 * ```
 */
export interface ConnectionLimits {
  /** A TLS connection must finish its handshake within this time of being accepted. */
  readonly handshakeTimeoutMs: number;
  /** A connection must deliver its first request's headers within this time (after the handshake). */
  readonly headerTimeoutMs: number;
  /** A connection with no request in flight is closed after this time (keep-alive; it covers the next request's headers). */
  readonly idleTimeoutMs: number;
  /** A request body being read is cut when no byte of it arrives for this time. */
  readonly bodyTimeoutMs: number;
  /** At most this many connections are open at once; more wait in the kernel's accept queue. */
  readonly maxConnections: number;
  /** A stop waits this long for requests in flight, then cuts their connections. */
  readonly stopGraceMs: number;
}

/** The app server's defaults: nginx-like timeouts, and a cap far above what one client needs. */
export const DEFAULT_LIMITS: ConnectionLimits = {
  handshakeTimeoutMs: 10_000,
  headerTimeoutMs: 20_000,
  idleTimeoutMs: 75_000,
  bodyTimeoutMs: 30_000,
  maxConnections: 10_000,
  stopGraceMs: 10_000,
};

/** The control server's cap: a handful of tools and a scraper, never thousands. */
export const CONTROL_MAX_CONNECTIONS = 512;

/** The names of the limits, for options and messages. */
export const LIMIT_NAMES: readonly (keyof ConnectionLimits)[] = [
  "handshakeTimeoutMs",
  "headerTimeoutMs",
  "idleTimeoutMs",
  "bodyTimeoutMs",
  "maxConnections",
  "stopGraceMs",
];

/** The largest value a limit takes (a day of milliseconds, or a million connections). */
export const MAX_LIMIT = 86_400_000;
