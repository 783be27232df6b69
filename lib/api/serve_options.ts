/**
 * The options of {@linkcode serveWithReload}, their defaults, and the checks
 * that turn options that make no sense into an error value naming the option,
 * before anything reads a file or listens.
 *
 * @module
 */

import type { ReloadOutcome } from "../reload/reloader.ts";
import { err, ok, type Result } from "../ground/result.ts";
import type { StopEvent } from "../serve/signals.ts";
import type { OptionError } from "../ground/option_error.ts";
import type { Notice } from "./notice.ts";
import { TLS_FRONT_CHOICES, type TlsFrontChoice } from "../serve/tls/tls_front.ts";
import { DEFAULT_WARN_DAYS } from "../reload/expiry.ts";
import {
  type ConnectionLimits,
  DEFAULT_LIMITS,
  LIMIT_NAMES,
  MAX_LIMIT,
} from "../serve/connection_limits.ts";

/**
 * Where the control server listens.
 *
 * @example
 * ```ts
 * const control: ControlAddress = { hostname: "127.0.0.1", port: 3000 };
 * ```
 */
export interface ControlAddress {
  /** Address: loopback (`127.0.0.1`, the default, `::1`, `localhost`), or any address with a `token`. */
  readonly hostname?: string;
  /** Port; 0 picks a free one. Defaults to 3000. */
  readonly port?: number;
  /** A bearer token every control request must carry (`Authorization: Bearer <token>`). */
  readonly token?: string;
  /** An absolute path: serve the control API on this Unix socket (mode 0600) instead of TCP. */
  readonly socket?: string;
  /**
   * Answer `GET /healthz` without the token, for liveness probes that send none (as Prometheus's
   * `/-/healthy` does); every other path still needs it. Needs `token`; defaults to `false`.
   */
  readonly healthzWithoutToken?: boolean;
}

/**
 * What {@linkcode serveWithReload} serves and how it reloads.
 *
 * @example
 * ```ts
 * const options: ServeWithReloadOptions = {
 *   cert: "/etc/tls/tls.crt",
 *   key: "/etc/tls/tls.key",
 *   hostname: "0.0.0.0",
 *   port: 8443,
 *   handler: () => new Response("ok"),
 *   control: { port: 3000 },
 * };
 * ```
 */
export interface ServeWithReloadOptions {
  /** Path of the PEM certificate file: the leaf first, then its chain. */
  readonly cert: string;
  /** Path of the PEM private key; with it the app is served over HTTPS, without it over plain HTTP. */
  readonly key?: string | undefined;
  /** Address the app listens on; defaults to `127.0.0.1`. */
  readonly hostname?: string;
  /** Port the app listens on; 0 picks a free one. Defaults to 8080. */
  readonly port?: number;
  /** The app: any web-standard handler, as for `Deno.serve`. */
  readonly handler: Deno.ServeHandler<Deno.NetAddr>;
  /**
   * Every answer of `handler` is whole when it is returned: its body is a string, bytes or none,
   * never a stream. A request without a body then ends, for the timeouts and the stop, as the
   * handler returns, which saves a promise per request. An answer streamed under it counts as
   * sent at once: the idle timeout, a shed or a stop may cut it. Defaults to `false`.
   */
  readonly wholeAnswers?: boolean;
  /** The control server's address, or `false` for none. Defaults to `127.0.0.1:3000`. */
  readonly control?: ControlAddress | false;
  /** Whether SIGHUP reloads and SIGINT/SIGTERM stop gracefully; defaults to `true`. */
  readonly signals?: boolean;
  /**
   * Whether a second SIGINT/SIGTERM during a graceful stop ends the process at once with
   * `Deno.exit(3)` (the default, `true`, as Ctrl-C twice does in most servers); `false` ignores
   * it, so the stop finishes and the app's code after `await finished` runs.
   */
  readonly exitOnSecondSignal?: boolean;
  /** Called with every outcome (startup load, POST, SIGHUP, `reload()`), e.g. to log it. */
  readonly onReload?: (outcome: ReloadOutcome) => void;
  /** Called at each step of a stop (signal received, stopped, forced exit), e.g. to log it. */
  readonly onStop?: (event: StopEvent) => void;
  /** Called with what the operator should know: the HTTPS front in use, connection migration. */
  readonly onNotice?: (notice: Notice) => void;
  /** The HTTPS front: `native` (h2, needs `--unstable-net`), `node`, or `auto` (default: native when it can run). */
  readonly tlsFront?: TlsFrontChoice;
  /** Reload when the certificate or key changes on disk (trigger `watch`); defaults to `false`. */
  readonly watch?: boolean;
  /** Warn (an `expiry` notice) when the certificate's chain expires within this many days; defaults to 14. */
  readonly warnDays?: number;
  /**
   * Let every reload (POST, SIGHUP, watch, `reload()`) take a renewal that drops names the served
   * certificate covers; the drop is still reported. Defaults to `false`: such a renewal fails as
   * `names_dropped`.
   */
  readonly allowDroppedNames?: boolean;
  /** Timeouts, the cap on open app connections and the stop's grace period; each defaults to {@linkcode DEFAULT_LIMITS}. */
  readonly limits?: Partial<ConnectionLimits>;
  /** How many log lines your log had to drop, shown in `/metrics` (`signal_server_log_lines_dropped_total`). */
  readonly droppedLogLines?: () => number;
}

/** The options with every default filled in, checked. */
export interface ResolvedServeOptions {
  /** Certificate path. */
  readonly cert: string;
  /** Key path, when the app is served over HTTPS. */
  readonly key: string | undefined;
  /** App address. */
  readonly hostname: string;
  /** App port. */
  readonly port: number;
  /** The app's handler. */
  readonly handler: Deno.ServeHandler<Deno.NetAddr>;
  /** Whether the handler's answers are whole when returned. */
  readonly wholeAnswers: boolean;
  /** Control server address (TCP, or a Unix socket when `socket` is set) and token, or `undefined` for none. */
  readonly control: ResolvedControl | undefined;
  /** Whether to install signal listeners. */
  readonly signals: boolean;
  /** Whether a second stop signal exits at once. */
  readonly exitOnSecondSignal: boolean;
  /** Outcome callback. */
  readonly onReload: (outcome: ReloadOutcome) => void;
  /** Stop callback. */
  readonly onStop: (event: StopEvent) => void;
  /** Notice callback. */
  readonly onNotice: (notice: Notice) => void;
  /** The HTTPS front asked for. */
  readonly tlsFront: TlsFrontChoice;
  /** Whether to watch the files. */
  readonly watch: boolean;
  /** The expiry warning window, in days. */
  readonly warnDays: number;
  /** Whether reloads may drop names. */
  readonly allowDroppedNames: boolean;
  /** The connection limits, every one filled in. */
  readonly limits: ConnectionLimits;
  /** The caller's count of dropped log lines. */
  readonly droppedLogLines: () => number;
}

/** The control server's checked settings. */
export interface ResolvedControl {
  /** TCP address (unused with a socket). */
  readonly hostname: string;
  /** TCP port (unused with a socket). */
  readonly port: number;
  /** Bearer token, if any. */
  readonly token: string | undefined;
  /** Unix socket path, if any. */
  readonly socket: string | undefined;
  /** Whether `/healthz` answers without the token. */
  readonly healthzWithoutToken: boolean;
}

/** Default app and control addresses of the library and of the CLI. */
export const DEFAULT_ADDRESSES = {
  hostname: "127.0.0.1",
  port: 8080,
  controlHostname: "127.0.0.1",
  controlPort: 3000,
} as const;

/** Highest TCP port number. */
export const MAX_PORT = 65535;

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/;

/** Whether an address is a loopback address (`127.x.x.x`, `::1`, `localhost`). */
export function isLoopback(hostname: string): boolean {
  return LOOPBACK.test(hostname);
}

/** Checks the options and fills in the defaults; the first problem comes back naming its option. */
export function resolveServeOptions(
  options: ServeWithReloadOptions,
): Result<ResolvedServeOptions, OptionError> {
  const problem = (option: string, text: string) => err({ option, problem: text });
  if (typeof options.handler !== "function") {
    return problem("handler", "must be a function (request, info) => Response");
  }
  if (typeof options.cert !== "string" || options.cert === "") {
    return problem("cert", "must be the path of the certificate file");
  }
  if (options.key !== undefined && (typeof options.key !== "string" || options.key === "")) {
    return problem("key", "must be the path of the key file, or left out for plain HTTP");
  }
  const hostname = options.hostname ?? DEFAULT_ADDRESSES.hostname;
  if (hostname === "") return problem("hostname", "must not be empty");
  const port = options.port ?? DEFAULT_ADDRESSES.port;
  if (!isPort(port)) return problem("port", portProblem(port));
  const tlsFront = options.tlsFront ?? "auto";
  if (!TLS_FRONT_CHOICES.includes(tlsFront)) {
    return problem("tlsFront", `must be one of ${TLS_FRONT_CHOICES.join(", ")}, got "${tlsFront}"`);
  }
  const warnDays = options.warnDays ?? DEFAULT_WARN_DAYS;
  if (!Number.isInteger(warnDays) || warnDays < 0) {
    return problem("warnDays", `must be a whole number of days ≥ 0, got ${warnDays}`);
  }
  const limits: Record<keyof ConnectionLimits, number> = { ...DEFAULT_LIMITS };
  for (const name of LIMIT_NAMES) {
    const value = options.limits?.[name] ?? DEFAULT_LIMITS[name];
    if (!Number.isInteger(value) || value < 1 || value > MAX_LIMIT) {
      return problem(
        `limits.${name}`,
        `must be a whole number from 1 to ${MAX_LIMIT}, got ${value}`,
      );
    }
    limits[name] = value;
  }
  let control: ResolvedServeOptions["control"];
  if (options.control !== false) {
    const controlHostname = options.control?.hostname ?? DEFAULT_ADDRESSES.controlHostname;
    const controlPort = options.control?.port ?? DEFAULT_ADDRESSES.controlPort;
    const token = options.control?.token;
    const socket = options.control?.socket;
    if (token !== undefined && (typeof token !== "string" || token.trim() === "")) {
      return problem("control.token", "must not be empty (leave it out for no token)");
    }
    if (socket !== undefined && (typeof socket !== "string" || !socket.startsWith("/"))) {
      return problem(
        "control.socket",
        `must be an absolute path (Deno grants Unix sockets by absolute path), got "${socket}"`,
      );
    }
    if (socket === undefined && token === undefined && !isLoopback(controlHostname)) {
      return problem(
        "control.hostname",
        `must be a loopback address (127.0.0.1, ::1 or localhost) unless a token protects it, ` +
          `got "${controlHostname}": the control server can reload certificates`,
      );
    }
    if (!isPort(controlPort)) return problem("control.port", portProblem(controlPort));
    const healthzWithoutToken = options.control?.healthzWithoutToken ?? false;
    if (healthzWithoutToken && token === undefined) {
      return problem(
        "control.healthzWithoutToken",
        "needs control.token: without a token every control path answers without one already",
      );
    }
    control = { hostname: controlHostname, port: controlPort, token, socket, healthzWithoutToken };
  }
  return ok({
    cert: options.cert,
    key: options.key,
    hostname,
    port,
    handler: options.handler,
    wholeAnswers: options.wholeAnswers ?? false,
    control,
    signals: options.signals ?? true,
    exitOnSecondSignal: options.exitOnSecondSignal ?? true,
    onReload: _neverThrows(options.onReload),
    onStop: _neverThrows(options.onStop),
    onNotice: _neverThrows(options.onNotice),
    tlsFront,
    watch: options.watch ?? false,
    warnDays,
    allowDroppedNames: options.allowDroppedNames ?? false,
    limits,
    droppedLogLines: options.droppedLogLines ?? (() => 0),
  });
}

/**
 * A callback that cannot fail what called it: an exception from the caller's `onReload` (a log
 * that cannot write, say) must not turn a reload that worked into a 500.
 */
function _neverThrows<T>(callback: ((value: T) => void) | undefined): (value: T) => void {
  if (callback === undefined) return () => {};
  return (value) => {
    try {
      callback(value);
    } catch {
      // The outcome stands; what the callback did with it is the caller's concern.
    }
  };
}

/** Whether a value is a TCP port number (0 picks a free one). */
export function isPort(port: unknown): port is number {
  return Number.isInteger(port) && (port as number) >= 0 && (port as number) <= MAX_PORT;
}

/** The problem text for a value that is not a port number. */
export function portProblem(value: unknown): string {
  const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
  return `must be a port number from 0 to ${MAX_PORT}, got ${shown}`;
}
