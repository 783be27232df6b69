/**
 * Command-line options: parses flags into one typed {@linkcode Options}
 * object and holds the `--help` text.
 *
 * @module
 */

import { err, ok, type Result } from "../ground/result.ts";
import { parseFlags, unexpectedArgument } from "./args.ts";
import { DEFAULT_ADDRESSES, isLoopback, MAX_PORT } from "../api/serve_options.ts";
import { TLS_FRONT_CHOICES, type TlsFrontChoice } from "../serve/tls/tls_front.ts";
import { DEFAULT_WARN_DAYS } from "../reload/expiry.ts";
import { LOG_FORMATS, type LogFormat } from "./log.ts";
import { isServerTask, SERVER_TASK_NAMES, type ServerTaskName } from "./tasks.ts";
import { type ConnectionLimits, DEFAULT_LIMITS, MAX_LIMIT } from "../serve/connection_limits.ts";

/** Everything the server is configured with. */
export interface Options {
  /** PEM file with the leaf certificate, then its chain. */
  readonly cert: string;
  /** PEM private key of the leaf; when given the app server serves HTTPS. */
  readonly key: string | undefined;
  /** Address the app server listens on. */
  readonly hostname: string;
  /** Port the app server listens on. */
  readonly port: number;
  /** Address the control server listens on; must be loopback. */
  readonly controlHostname: string;
  /** Port the control server listens on. */
  readonly controlPort: number;
  /** The HTTPS front: native (needs --unstable-net), node, or auto. */
  readonly tlsFront: TlsFrontChoice;
  /** File holding the bearer token every control request must carry. */
  readonly controlTokenFile: string | undefined;
  /** Absolute path of a Unix socket for the control server, instead of TCP. */
  readonly controlSocket: string | undefined;
  /** Reload when the certificate or key changes on disk. */
  readonly watch: boolean;
  /** Warn when the certificate expires within this many days. */
  readonly warnDays: number;
  /** The log format. */
  readonly logFormat: LogFormat;
  /** Where to write the server's pid, locked while it runs. */
  readonly pidFile: string | undefined;
  /** Answer `GET /healthz` without the control token, for probes that send none. */
  readonly healthzWithoutToken: boolean;
  /** The deno.json task that started the server (set by the task's own command), if any. */
  readonly task: ServerTaskName | undefined;
  /** Let reloads (POST, SIGHUP, watch) take a renewal that drops names the served certificate covers. */
  readonly allowDroppedNames: boolean;
  /** Timeouts, the cap on open app connections, the stop's grace period. */
  readonly limits: ConnectionLimits;
}

/** The values used for flags that are not given. */
export const DEFAULT_OPTIONS: Options = {
  cert: "cert.pem",
  key: undefined,
  ...DEFAULT_ADDRESSES,
  tlsFront: "auto",
  controlTokenFile: undefined,
  controlSocket: undefined,
  watch: false,
  warnDays: DEFAULT_WARN_DAYS,
  logFormat: "text",
  pidFile: undefined,
  healthzWithoutToken: false,
  task: undefined,
  allowDroppedNames: false,
  limits: DEFAULT_LIMITS,
};

/** The flag of each connection limit, and whether it takes seconds (else a count). */
export const LIMIT_FLAGS: Readonly<
  Record<keyof ConnectionLimits, { readonly flag: string; readonly seconds: boolean }>
> = {
  handshakeTimeoutMs: { flag: "handshake-timeout", seconds: true },
  headerTimeoutMs: { flag: "header-timeout", seconds: true },
  idleTimeoutMs: { flag: "idle-timeout", seconds: true },
  bodyTimeoutMs: { flag: "body-timeout", seconds: true },
  maxConnections: { flag: "max-connections", seconds: false },
  stopGraceMs: { flag: "stop-grace", seconds: true },
};

const MS_PER_SECOND = 1000;

/** What parsing the command line asks for: run with options, print the `deno run` line for them, or print help. */
export type Command =
  | { readonly kind: "run"; readonly options: Options }
  | { readonly kind: "print_command"; readonly options: Options }
  | { readonly kind: "help" };

/** The `--help` text. */
export const USAGE = `signal-server: serves GET /hello and reloads its TLS certificate on demand,
telling the operator whether the reload worked.

Usage: deno task start [options]        (deno task start:tls [options] adds --key key.pem)
       deno task start --print-command [options]   prints the deno run line with exactly the
                                                   permissions these options need

Options:
  --cert <path>              certificate PEM file, leaf first (default: ${DEFAULT_OPTIONS.cert})
  --key <path>               private key PEM file; when given, the app server serves HTTPS
  --hostname <address>       app server address (default: ${DEFAULT_OPTIONS.hostname})
  --port <port>              app server port (default: ${DEFAULT_OPTIONS.port})
  --control-hostname <addr>  control server address; loopback only unless a token file is given
                             (default: ${DEFAULT_OPTIONS.controlHostname})
  --control-port <port>      control server port (default: ${DEFAULT_OPTIONS.controlPort})
  --control-token-file <path>  every control request must send "Authorization: Bearer <token>"
                             with the token in this file (read once at startup)
  --control-socket <path>    serve the control API on this Unix socket (absolute path, mode 0600)
                             instead of TCP
  --healthz-without-token    answer GET /healthz without the token (for liveness probes); every
                             other control path still needs it
  --watch                    reload when the certificate or key changes on disk (within 2 s)
  --warn-days <days>         warn when any certificate of the chain expires within this many days
                             (default: ${DEFAULT_OPTIONS.warnDays})
  --allow-dropped-names      let every reload (POST, SIGHUP, --watch) take a renewal that no longer
                             covers a name the served certificate covers (refused by default)
  --log-format <format>      text (default) or json (one JSON object per line)
  --pid-file <path>          write the server's pid here, locked while it runs, removed at exit
  --tls-front <front>        HTTPS front: native (HTTP/2 and 1.1, needs --unstable-net), node
                             (node:https, HTTP/1.1), or auto: native when it can run (default: auto)
  --print-command            print the least-privilege deno run line for the other flags, and exit
  --task <name>              set by deno.json's start tasks: names the task in messages, and stops
                             the server when the task runner that started it is gone

Limits (seconds may have decimals; see docs/hardening.md):
  --handshake-timeout <s>    close a TLS connection whose handshake takes longer (default: ${
  _seconds(DEFAULT_LIMITS.handshakeTimeoutMs)
})
  --header-timeout <s>       close a connection whose first request's headers take longer (default: ${
  _seconds(DEFAULT_LIMITS.headerTimeoutMs)
})
  --idle-timeout <s>         close a keep-alive connection idle this long (default: ${
  _seconds(DEFAULT_LIMITS.idleTimeoutMs)
})
  --body-timeout <s>         cut a request whose body sends nothing for this long (default: ${
  _seconds(DEFAULT_LIMITS.bodyTimeoutMs)
})
  --max-connections <n>      app connections open at once; more wait in the kernel's queue (default: ${DEFAULT_LIMITS.maxConnections})
  --stop-grace <s>           on SIGTERM, wait this long for requests in flight, then cut them (default: ${
  _seconds(DEFAULT_LIMITS.stopGraceMs)
})

  -h, --help                 print this help

Reload the certificate:
  curl -X POST http://127.0.0.1:3000/reload_certs    answers 200 with the new certificate, or 500 with why
  curl -X POST 'http://127.0.0.1:3000/reload_certs?dry_run=1'   the same checks, nothing swapped
  kill -HUP <pid>                                    logs the same line the POST would answer
Inspect it:
  curl http://127.0.0.1:3000/certs                   the certificate and the last reloads (JSON with
                                                     -H 'Accept: application/json')
  curl http://127.0.0.1:3000/metrics                 Prometheus metrics; /healthz: 200 or 503
`;

/** Parses command-line arguments; a usage error comes back as its message. */
export function parseOptions(args: readonly string[]): Result<Command, string> {
  const parsed = parseFlags(args, {
    cert: { type: "string" },
    key: { type: "string" },
    hostname: { type: "string" },
    port: { type: "string" },
    "control-hostname": { type: "string" },
    "control-port": { type: "string" },
    "control-token-file": { type: "string" },
    "control-socket": { type: "string" },
    "tls-front": { type: "string" },
    watch: { type: "boolean" },
    "warn-days": { type: "string" },
    "log-format": { type: "string" },
    "pid-file": { type: "string" },
    "healthz-without-token": { type: "boolean" },
    "print-command": { type: "boolean" },
    task: { type: "string" },
    "allow-dropped-names": { type: "boolean" },
    "handshake-timeout": { type: "string" },
    "header-timeout": { type: "string" },
    "idle-timeout": { type: "string" },
    "body-timeout": { type: "string" },
    "max-connections": { type: "string" },
    "stop-grace": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (!parsed.ok) return parsed;
  const { values } = parsed.value;
  const unexpected = unexpectedArgument(parsed.value);
  if (unexpected !== undefined) return err(unexpected);
  if (values.help) return ok({ kind: "help" });
  const port = _port("--port", values.port, DEFAULT_OPTIONS.port);
  if (!port.ok) return port;
  const controlPort = _port("--control-port", values["control-port"], DEFAULT_OPTIONS.controlPort);
  if (!controlPort.ok) return controlPort;
  const controlHostname = values["control-hostname"] ?? DEFAULT_OPTIONS.controlHostname;
  const controlTokenFile = values["control-token-file"];
  const controlSocket = values["control-socket"];
  if (!isLoopback(controlHostname) && controlTokenFile === undefined) {
    return err(
      `--control-hostname must be a loopback address (127.0.0.1, ::1 or localhost) unless ` +
        `--control-token-file is given, got "${controlHostname}": without a token, anyone who ` +
        "can reach the control server could reload its certificates and read their details",
    );
  }
  const healthzWithoutToken = values["healthz-without-token"] ?? false;
  if (healthzWithoutToken && controlTokenFile === undefined) {
    return err(
      "--healthz-without-token needs --control-token-file: without a token every control path " +
        "answers without one already",
    );
  }
  const task = values.task;
  if (task !== undefined && !isServerTask(task)) {
    return err(`--task must be one of ${SERVER_TASK_NAMES.join(", ")}, got "${task}"`);
  }
  if (controlSocket !== undefined && !controlSocket.startsWith("/")) {
    return err(
      `--control-socket must be an absolute path (Deno grants Unix sockets by absolute path), ` +
        `got "${controlSocket}"`,
    );
  }
  const tlsFront = values["tls-front"] ?? DEFAULT_OPTIONS.tlsFront;
  if (!(TLS_FRONT_CHOICES as readonly string[]).includes(tlsFront)) {
    return err(`--tls-front must be one of ${TLS_FRONT_CHOICES.join(", ")}, got "${tlsFront}"`);
  }
  const warnDays = values["warn-days"] ?? String(DEFAULT_OPTIONS.warnDays);
  if (!/^\d+$/.test(warnDays)) {
    return err(`--warn-days must be a whole number of days ≥ 0, got "${warnDays}"`);
  }
  const logFormat = values["log-format"] ?? DEFAULT_OPTIONS.logFormat;
  if (!(LOG_FORMATS as readonly string[]).includes(logFormat)) {
    return err(`--log-format must be one of ${LOG_FORMATS.join(", ")}, got "${logFormat}"`);
  }
  for (const flag of ["cert", "key", "hostname", "control-token-file", "pid-file"] as const) {
    if (values[flag] === "") return err(`--${flag} must not be empty`);
  }
  const limits: Record<keyof ConnectionLimits, number> = { ...DEFAULT_LIMITS };
  for (const [name, { flag, seconds }] of Object.entries(LIMIT_FLAGS)) {
    const value = values[flag as keyof typeof values] as string | undefined;
    if (value === undefined) continue;
    const parsed = _limit(flag, value, seconds);
    if (!parsed.ok) return parsed;
    limits[name as keyof ConnectionLimits] = parsed.value;
  }
  return ok({
    kind: values["print-command"] ? "print_command" : "run",
    options: {
      cert: values.cert ?? DEFAULT_OPTIONS.cert,
      key: values.key ?? DEFAULT_OPTIONS.key,
      hostname: values.hostname ?? DEFAULT_OPTIONS.hostname,
      port: port.value,
      controlHostname,
      controlPort: controlPort.value,
      tlsFront: tlsFront as TlsFrontChoice,
      controlTokenFile,
      controlSocket,
      watch: values.watch ?? false,
      warnDays: Number(warnDays),
      logFormat: logFormat as LogFormat,
      pidFile: values["pid-file"],
      healthzWithoutToken,
      task,
      allowDroppedNames: values["allow-dropped-names"] ?? false,
      limits,
    },
  });
}

function _limit(flag: string, value: string, seconds: boolean): Result<number, string> {
  const pattern = seconds ? /^\d+(\.\d+)?$/ : /^\d+$/;
  const number = Number(value) * (seconds ? MS_PER_SECOND : 1);
  const max = seconds ? MAX_LIMIT / MS_PER_SECOND : MAX_LIMIT;
  if (!pattern.test(value) || Math.round(number) < 1 || number > MAX_LIMIT) {
    return err(
      seconds
        ? `--${flag} must be a number of seconds above 0 and up to ${max}, got "${value}"`
        : `--${flag} must be a whole number from 1 to ${max}, got "${value}"`,
    );
  }
  return ok(Math.round(number));
}

function _seconds(ms: number): string {
  return `${ms / MS_PER_SECOND} s`;
}

function _port(flag: string, value: string | undefined, fallback: number): Result<number, string> {
  if (value === undefined) return ok(fallback);
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > MAX_PORT) {
    return err(`${flag} must be a port number from 0 to ${MAX_PORT}, got "${value}"`);
  }
  return ok(port);
}
