/**
 * The operator's client of the control server, like `caddy reload` or
 * `nginx -s reload` but with the answer:
 *
 * ```sh
 * deno task reload            # POST /reload_certs; prints the server's line
 * deno task status            # the active certificate and the last reloads
 * deno run --no-prompt --allow-read=/run/s/control.sock,/etc/s/token \
 *   --allow-write=/run/s/control.sock --allow-net=unix:/run/s/control.sock,localhost:80 \
 *   lib/cli/control_client.ts reload --socket /run/s/control.sock --token-file /etc/s/token
 * ```
 *
 * `reload` exits 0 when the certificate was reloaded or was already current,
 * 1 when the reload failed, and 2 when no server answered, the server refused
 * the request, or the command line is wrong.
 *
 * @module
 */

import { parseFlags, unexpectedArgument } from "./args.ts";
import { hostPort } from "../ground/address.ts";
import { escapeControl } from "../ground/printable.ts";
import { EXIT_CODE } from "../ground/exit_code.ts";
import { OUTCOME_EXIT_CODE } from "../reload/outcome_words.ts";
import type { ReloadOutcomeKind } from "../reload/reloader.ts";
import { err, ok, type Result } from "../ground/result.ts";
import { DEFAULT_ADDRESSES } from "../api/serve_options.ts";
import { statusText, type StatusView } from "../control/status_view.ts";
import { describeTokenError, readTokenFile } from "../control/token.ts";

/** The client's usage text. */
export const CLIENT_USAGE =
  `Usage: deno task reload [options]    reload the certificate and print the answer
       deno task status [options]    print the active certificate and the last reloads
       lib/cli/control_client.ts health  exit 0 while the certificate is valid, 1 once it is not
                                     (GET /healthz; for probes that cannot reach loopback)

Options:
  --host <address>      control server address (default: ${DEFAULT_ADDRESSES.controlHostname})
  --port <port>         control server port (default: ${DEFAULT_ADDRESSES.controlPort})
  --socket <path>       use the control server's Unix socket instead of TCP
  --token-file <path>   send the token in this file as Authorization: Bearer
  --json                print the server's JSON answer
  --dry-run             reload: only ask what a reload would do (POST /reload_certs?dry_run=1);
                        same words in a "would" form, same exit codes, nothing swapped
  --allow-dropped-names reload: let this renewal drop names the served certificate covers
  -h, --help            print this help

Exit codes of reload: 0 reloaded or unchanged, 1 the reload failed, 2 no answer or a bad command line.
`;

/** Where and how to reach the control server. */
interface Target {
  readonly url: (path: string) => string;
  readonly where: string;
  readonly grant: string;
  /** Makes the HTTP client for a Unix socket (which Deno checks the grants of); undefined for TCP. */
  readonly connect: () => Deno.HttpClient | undefined;
}

/** Runs `reload` or `status`; returns the exit code. */
export async function runClient(args: readonly string[]): Promise<number> {
  const parsed = _parse(args);
  if (!parsed.ok) {
    console.error(`signal-server: ${escapeControl(parsed.error)} (see --help)`);
    return EXIT_CODE.usage;
  }
  const { command, values } = parsed.value;
  if (command === "help") {
    console.log(CLIENT_USAGE);
    return EXIT_CODE.stopped;
  }
  const headers: Record<string, string> = {};
  if (values["token-file"] !== undefined) {
    const token = await readTokenFile(values["token-file"]);
    if (!token.ok) {
      console.error(`signal-server: ${escapeControl(describeTokenError(token.error))}`);
      return EXIT_CODE.usage;
    }
    headers.authorization = `Bearer ${token.value}`;
  }
  const target = _target(values);
  let client: Deno.HttpClient | undefined;
  try {
    client = target.connect();
    switch (command) {
      case "reload":
        return await _reload(target, client, headers, values);
      case "status":
        return await _status(target, client, headers, values.json ?? false);
      default:
        return await _health(target, client, headers);
    }
  } catch (error) {
    console.error(`signal-server: ${escapeControl(_unreachable(error, target))}`);
    return EXIT_CODE.usage;
  } finally {
    client?.close();
  }
}

async function _reload(
  target: Target,
  client: Deno.HttpClient | undefined,
  headers: Record<string, string>,
  values: { json?: boolean; "dry-run"?: boolean; "allow-dropped-names"?: boolean },
): Promise<number> {
  if (values.json) headers.accept = "application/json";
  const query = new URLSearchParams();
  if (values["dry-run"]) query.set("dry_run", "1");
  if (values["allow-dropped-names"]) query.set("allow_dropped_names", "1");
  const search = query.size === 0 ? "" : `?${query}`;
  const response = await fetch(target.url(`/reload_certs${search}`), {
    method: "POST",
    headers,
    client,
  });
  const body = await response.text();
  const outcome = response.headers.get("x-reload-outcome") as ReloadOutcomeKind | null;
  if (outcome === null || !(outcome in OUTCOME_EXIT_CODE)) {
    console.error(_refused(target, body));
    return EXIT_CODE.usage;
  }
  (outcome === "failed" ? console.error : console.log)(
    values.json ? body.trimEnd() : escapeControl(body.trimEnd()),
  );
  return OUTCOME_EXIT_CODE[outcome];
}

async function _status(
  target: Target,
  client: Deno.HttpClient | undefined,
  headers: Record<string, string>,
  json: boolean,
): Promise<number> {
  const response = await fetch(target.url("/certs"), {
    headers: { ...headers, accept: "application/json" },
    client,
  });
  const body = await response.text();
  if (response.status !== 200) {
    console.error(_refused(target, body));
    return EXIT_CODE.usage;
  }
  if (json) {
    console.log(body.trimEnd());
    return EXIT_CODE.stopped;
  }
  const view = JSON.parse(
    body,
    (key, value) => typeof value === "string" && DATE_KEYS.has(key) ? new Date(value) : value,
  ) as StatusView;
  const color = Deno.stdout.isTerminal() && !Deno.noColor;
  console.log(statusText(view, { color }).trimEnd());
  return EXIT_CODE.stopped;
}

async function _health(
  target: Target,
  client: Deno.HttpClient | undefined,
  headers: Record<string, string>,
): Promise<number> {
  const response = await fetch(target.url("/healthz"), { headers, client });
  const body = escapeControl((await response.text()).trimEnd());
  if (response.status === 200) {
    console.log(body);
    return EXIT_CODE.stopped;
  }
  console.error(body);
  return response.status === 503 ? EXIT_CODE.startupFailed : EXIT_CODE.usage;
}

/** The host of URLs sent over the Unix socket, as curl --unix-socket writes them; Deno checks it. */
const SOCKET_URL_HOST = "localhost:80";

const DATE_KEYS = new Set(["now", "notBefore", "notAfter", "loadedAt", "at"]);

function _parse(args: readonly string[]): Result<
  {
    command: "reload" | "status" | "health" | "help";
    values: {
      host?: string;
      port?: string;
      socket?: string;
      "token-file"?: string;
      json?: boolean;
      "dry-run"?: boolean;
      "allow-dropped-names"?: boolean;
    };
  },
  string
> {
  const flags = parseFlags(args, {
    host: { type: "string" },
    port: { type: "string" },
    socket: { type: "string" },
    "token-file": { type: "string" },
    json: { type: "boolean" },
    "dry-run": { type: "boolean" },
    "allow-dropped-names": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (!flags.ok) return flags;
  const parsed = flags.value;
  if (parsed.values.help) return ok({ command: "help", values: parsed.values });
  const [command] = parsed.positionals;
  if (command !== "reload" && command !== "status" && command !== "health") {
    return err(
      `expected the command reload, status or health, got ${JSON.stringify(command ?? "")}`,
    );
  }
  const unexpected = unexpectedArgument(parsed, 1);
  if (unexpected !== undefined) return err(unexpected);
  for (const flag of ["dry-run", "allow-dropped-names"] as const) {
    if (parsed.values[flag] && command !== "reload") {
      return err(`--${flag} is an option of reload, not of ${command}`);
    }
  }
  const port = parsed.values.port;
  if (port !== undefined && !/^\d+$/.test(port)) {
    return err(`--port must be a port number, got "${port}"`);
  }
  const socket = parsed.values.socket;
  if (socket !== undefined && !socket.startsWith("/")) {
    return err(`--socket must be an absolute path, got "${socket}"`);
  }
  return ok({ command, values: parsed.values });
}

function _target(values: { host?: string; port?: string; socket?: string }): Target {
  if (values.socket !== undefined) {
    const path = values.socket;
    return {
      url: (route) => `http://${SOCKET_URL_HOST}${route}`,
      where: `unix:${path}`,
      // Deno checks the socket (read, write, unix:) for the client and the URL's host for fetch.
      grant:
        `--allow-read=${path} --allow-write=${path} --allow-net=unix:${path},${SOCKET_URL_HOST}`,
      connect: () => Deno.createHttpClient({ proxy: { transport: "unix", path } }),
    };
  }
  const address = hostPort(
    values.host ?? DEFAULT_ADDRESSES.controlHostname,
    Number(values.port ?? DEFAULT_ADDRESSES.controlPort),
  );
  return {
    url: (route) => `http://${address}${route}`,
    where: address,
    grant: `--allow-net=${address}`,
    connect: () => undefined,
  };
}

/** The line for an answer that is not a reload outcome (a refusal), its control characters escaped. */
function _refused(target: Target, body: string): string {
  return `signal-server: the control server at ${escapeControl(target.where)} refused: ` +
    escapeControl(body.trim());
}

function _unreachable(error: unknown, target: Target): string {
  if (error instanceof Deno.errors.NotCapable) {
    return `Deno denied access to ${target.where}; grant it with ${target.grant}`;
  }
  const reason = error instanceof Error
    ? `${error.message}${error.cause instanceof Error ? `: ${error.cause.message}` : ""}`
    : String(error);
  return `no server answered at ${target.where} (${reason}); check that signal-server is ` +
    "running and that its control server listens there (--control-hostname, --control-port or " +
    "--control-socket; here --host, --port or --socket)";
}

if (import.meta.main) {
  Deno.exit(await runClient(Deno.args));
}
