/**
 * Integration harness: spawns the real server (`main.ts`) with exactly the
 * least-privilege flags `deno task start` would use for its options, reads its
 * log lines, and always kills it and awaits its exit on dispose.
 *
 * @module
 */

import { DEFAULT_OPTIONS, LIMIT_FLAGS, type Options } from "../lib/cli/options.ts";
import { permissionFlags } from "../lib/cli/permissions.ts";
import { freePort } from "./_fixtures.ts";
import { killIfOutOfTime } from "./_time_limit.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const REPO = new URL("..", import.meta.url).pathname;
const WAIT_MS = 15_000;
const LOG_LINE = /^\S+ \[([^\]]+)\] (.*)$/;

/** A log line split into its tag and text. */
export interface LogLine {
  /** What it is about, e.g. `SIGHUP`. */
  readonly tag: string;
  /** The text after the prefix. */
  readonly text: string;
}

/** Options of a spawned server: its flags, plus permission flags to use instead of the derived ones. */
export interface SpawnOptions {
  /** Certificate and key paths; ports default to fresh free ones. */
  readonly options: Partial<Options> & Pick<Options, "cert">;
  /** Replaces `permissionFlags(options)`, e.g. to run with `deno task start`'s own flags. */
  readonly permissions?: readonly string[];
  /** The program to run, relative to the repository; defaults to `main.ts`. */
  readonly entry?: string;
  /** Its arguments; default to the flags of `options` as `main.ts` takes them. */
  readonly args?: (options: Options) => string[];
  /** Its working directory; defaults to the repository. */
  readonly cwd?: string;
  /** The stdout line that says it is ready; defaults to main.ts's `[startup] ready`. */
  readonly ready?: RegExp;
  /** A command that runs Deno, e.g. `["setpriv", "--bounding-set=-dac_override"]`. */
  readonly wrap?: readonly string[];
}

/** A running (or failed) server process. */
export class ServerProcess implements AsyncDisposable {
  /** The configuration it was started with. */
  readonly options: Options;
  /** Its process. */
  readonly child: Deno.ChildProcess;
  /** Every stdout line so far. */
  readonly lines: string[] = [];
  #stderr = "";
  #waiters: (() => void)[] = [];
  #done: Promise<void>;
  #status: Deno.CommandStatus | undefined;

  private constructor(options: Options, spawn: SpawnOptions) {
    this.options = options;
    const permissions = spawn.permissions ?? permissionFlags(options);
    const entry = spawn.entry === undefined ? MAIN : `${REPO}${spawn.entry}`;
    const [command, ...wrapArgs] = [...(spawn.wrap ?? []), Deno.execPath()];
    this.child = new Deno.Command(command as string, {
      args: [...wrapArgs, "run", ...permissions, entry, ...(spawn.args ?? serverFlags)(options)],
      cwd: spawn.cwd ?? REPO,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const forget = killIfOutOfTime(() => this.#kill());
    this.#done = Promise.all([
      this.#collect(this.child.stdout, (line) => this.lines.push(line)),
      this.#collect(this.child.stderr, (line) => this.#stderr += line + "\n"),
    ]).then(async () => {
      this.#status = await this.child.status;
      forget();
      this.#notify();
    });
  }

  /** Spawns the server; ports default to free loopback ports. */
  static spawn(spawn: SpawnOptions): ServerProcess {
    const options: Options = {
      ...DEFAULT_OPTIONS,
      port: freePort(),
      controlPort: freePort(),
      ...spawn.options,
    };
    return new ServerProcess(options, spawn);
  }

  /** Spawns the server and waits until it says it is ready. */
  static async start(spawn: SpawnOptions): Promise<ServerProcess> {
    const server = ServerProcess.spawn(spawn);
    await server.waitForLine(spawn.ready ?? /\[startup\] ready/);
    return server;
  }

  /** URL of `GET /hello`. */
  get helloUrl(): string {
    return `http://127.0.0.1:${this.options.port}/hello`;
  }

  /** URL of `POST /reload_certs`. */
  get reloadUrl(): string {
    return this.controlUrl("/reload_certs");
  }

  /** URL of a control server path over TCP. */
  controlUrl(path: string): string {
    return `http://127.0.0.1:${this.options.controlPort}${path}`;
  }

  /** Everything the process wrote to stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Waits for the first stdout line (from `from` on) matching `pattern`; fails if the process exits first. */
  async waitForLine(pattern: RegExp, from = 0): Promise<string> {
    const deadline = Date.now() + WAIT_MS;
    while (true) {
      const line = this.lines.slice(from).find((candidate) => pattern.test(candidate));
      if (line !== undefined) return line;
      if (this.#status !== undefined) {
        throw new Error(`server exited before printing ${pattern}:\n${this.#output()}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`no line ${pattern} within ${WAIT_MS} ms:\n${this.#output()}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the next log line with a tag, after the lines seen so far, and splits it. */
  async nextLogLine(tag: string, from: number): Promise<LogLine> {
    const escaped = tag.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    const line = await this.waitForLine(new RegExp(`^\\S+ \\[${escaped}\\] `), from);
    const match = LOG_LINE.exec(line);
    return { tag: match?.[1] ?? "", text: match?.[2] ?? "" };
  }

  /** Sends a signal to the server. */
  signal(signal: Deno.Signal): void {
    this.child.kill(signal);
  }

  /** Waits for the process to exit and for its output to be read. */
  async exited(): Promise<Deno.CommandStatus> {
    await this.#done;
    return this.#status as Deno.CommandStatus;
  }

  /** Kills the process if it still runs and waits for it. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#kill();
    await this.#done;
  }

  #kill(): void {
    if (this.#status !== undefined) return;
    try {
      this.child.kill("SIGKILL");
    } catch {
      // It exited between the check and the kill.
    }
  }

  #output(): string {
    return `stdout:\n${this.lines.join("\n")}\nstderr:\n${this.#stderr}`;
  }

  #notify(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  async #collect(
    stream: ReadableStream<Uint8Array>,
    onLine: (line: string) => void,
  ): Promise<void> {
    let buffered = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      for (const line of parts) onLine(line);
      this.#notify();
    }
    if (buffered !== "") onLine(buffered);
  }
}

/** The command-line flags of `main.ts` (and of the JSON API example) for a configuration. */
export function serverFlags(options: Options): string[] {
  const flags = [
    `--cert=${options.cert}`,
    `--hostname=${options.hostname}`,
    `--port=${options.port}`,
    `--control-hostname=${options.controlHostname}`,
    `--control-port=${options.controlPort}`,
  ];
  if (options.tlsFront !== "auto") flags.push(`--tls-front=${options.tlsFront}`);
  if (options.controlTokenFile !== undefined) {
    flags.push(`--control-token-file=${options.controlTokenFile}`);
  }
  if (options.controlSocket !== undefined) flags.push(`--control-socket=${options.controlSocket}`);
  if (options.watch) flags.push("--watch");
  if (options.warnDays !== DEFAULT_OPTIONS.warnDays) flags.push(`--warn-days=${options.warnDays}`);
  if (options.logFormat !== "text") flags.push(`--log-format=${options.logFormat}`);
  if (options.pidFile !== undefined) flags.push(`--pid-file=${options.pidFile}`);
  if (options.healthzWithoutToken) flags.push("--healthz-without-token");
  if (options.task !== undefined) flags.push(`--task=${options.task}`);
  if (options.allowDroppedNames) flags.push("--allow-dropped-names");
  for (const [name, { flag, seconds }] of Object.entries(LIMIT_FLAGS)) {
    const value = options.limits[name as keyof Options["limits"]];
    if (value === DEFAULT_OPTIONS.limits[name as keyof Options["limits"]]) continue;
    flags.push(`--${flag}=${seconds ? value / 1000 : value}`);
  }
  return options.key === undefined ? flags : [...flags, `--key=${options.key}`];
}

/** POSTs to the reload URL and returns the status and body; rejects after `deadlineMs` if given. */
export async function postReload(
  server: ServerProcess,
  deadlineMs?: number,
): Promise<{ status: number; body: string }> {
  const signal = deadlineMs === undefined ? undefined : AbortSignal.timeout(deadlineMs);
  const response = await fetch(server.reloadUrl, { method: "POST", signal });
  return { status: response.status, body: await response.text() };
}
