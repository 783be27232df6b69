/**
 * Runs the README's walk-through as written: every `$ command` of its `console` blocks, in order,
 * in a copy of the project, against the real server started by the walk-through's own
 * `deno task start` (real curl, real `kill -HUP`). What differs from a reader's terminal:
 * `npx -y deno@2.9.6` is this Deno, ports 8080 and 3000 are free ones (the copy's `start` task is
 * moved with them), the README's pid is the server's, and curl's progress meter is off, as it
 * is on a terminal.
 *
 * Outputs are compared after naming what changes from run to run: times, fingerprints and day
 * counts become labels in order of appearance, so structure and wording are compared exactly.
 * Lines that look like log lines are looked for in the server's log, in order (the README leaves
 * out the `[POST /reload_certs]` lines a reader's server terminal also shows); `deno task`'s own
 * `Task …` line is left out on both sides.
 *
 * `deno run -A tests/_walkthrough.ts` prints the walk-through's outputs as they come out today;
 * with `--write` it puts them into the README (run it when the wording changes, then read the diff).
 *
 * @module
 */

import { copyProject, freePort, TempDir } from "./_fixtures.ts";

const REPO = new URL("..", import.meta.url).pathname;
const WAIT_MS = 15_000;
const LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[[^\]]+\] /;
const README_PORTS = { app: 8080, control: 3000 };
const NPX_DENO = "npx -y deno@2.9.6";

/** One `$ command` of the walk-through and the lines shown after it. */
export interface Step {
  /** The command as written, without the `$ `. */
  readonly command: string;
  /** The lines shown after it, up to the next command or the end of its block. */
  readonly expected: readonly string[];
}

/** What one step printed, beside what the README shows. */
export interface StepResult {
  /** The step. */
  readonly step: Step;
  /** The output lines, and the log lines matched (or, when missing, the log lines seen). */
  readonly actual: readonly string[];
  /** The README's lines, normalized. */
  readonly want: readonly string[];
  /** The actual lines, normalized. */
  readonly got: readonly string[];
}

/** The steps of the README's "Walk-through" section. */
export function walkthroughSteps(readme: string): Step[] {
  const start = readme.search(/^## Walk-through/m);
  if (start === -1) throw new Error("the README has no ## Walk-through section");
  const end = readme.slice(start + 1).search(/^## /m);
  const section = readme.slice(start, end === -1 ? undefined : start + 1 + end);
  const steps: { command: string; expected: string[] }[] = [];
  for (const block of section.matchAll(/^```console\n([\s\S]*?)^```$/gm)) {
    for (const line of (block[1] as string).split("\n").slice(0, -1)) {
      if (line.startsWith("$ ")) steps.push({ command: line.slice(2), expected: [] });
      else if (steps.length > 0) steps.at(-1)?.expected.push(line);
    }
  }
  return steps;
}

/** Names what changes between runs, consistently within one transcript. */
class Normalizer {
  readonly #labels = new Map<string, string>();
  readonly #counts = new Map<string, number>();
  readonly #pid: string;

  constructor(pid: string) {
    this.#pid = pid;
  }

  #label(kind: string, value: string): string {
    const key = `${kind}\0${value}`;
    let label = this.#labels.get(key);
    if (label === undefined) {
      const next = (this.#counts.get(kind) ?? 0) + 1;
      this.#counts.set(kind, next);
      label = `<${kind} ${next}>`;
      this.#labels.set(key, label);
    }
    return label;
  }

  /** The line with its pid, fingerprints, times and day counts named. */
  line(text: string): string {
    return text
      .replace(new RegExp(`\\b${this.#pid}\\b`, "g"), "<pid>")
      // A whole fingerprint (/certs, JSON) or its first 8 bytes and "…" (the one-line outcomes).
      .replace(
        /(?:[0-9A-F]{2}:){31}[0-9A-F]{2}|(?:[0-9A-F]{2}:){7}[0-9A-F]{2}…/g,
        (fp) => this.#label("fingerprint", fp),
      )
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/g, "<time>")
      .replace(
        /\((\d+) days? left\)/g,
        (_all, days: string) => `(${this.#label("days", days)} left)`,
      );
  }
}

/** The same line with everything that varies masked alike, to find a log line among others. */
function _mask(text: string, pid: string): string {
  return new Normalizer(pid).line(text).replace(/<(fingerprint|days) \d+>/g, "<$1>");
}

/** The README's pid: the one its startup lines print. */
function _readmePid(steps: readonly Step[]): string {
  for (const step of steps) {
    for (const line of step.expected) {
      const pid = /\[startup\] pid (\d+)$/.exec(line)?.[1];
      if (pid) return pid;
    }
  }
  throw new Error("the walk-through shows no [startup] pid line");
}

/**
 * Runs every step in a fresh copy of the project; returns each step's normalized lines. With
 * `discover`, a step the README shows no lines for collects the log lines it caused (the startup
 * lines up to `ready`, or what a signal logged), for printing.
 */
export async function runWalkthrough(
  steps: readonly Step[],
  discover = false,
): Promise<StepResult[]> {
  await using dir = await TempDir.create();
  await copyProject(dir);
  const ports = { app: freePort(), control: freePort() };
  const config = JSON.parse(await Deno.readTextFile(dir.path("deno.json")));
  config.tasks.start.command = _movePorts(config.tasks.start.command, ports) +
    ` --port ${ports.app} --control-port ${ports.control}`;
  await Deno.writeTextFile(dir.path("deno.json"), JSON.stringify(config, null, 2));
  await Deno.writeTextFile(dir.path(".curlrc"), "no-progress-meter\n");
  const env = {
    PATH: `${Deno.execPath().replace(/\/[^/]+$/, "")}:/usr/bin:/bin`,
    NO_COLOR: "1",
    CURL_HOME: dir.dir,
    ..._passed(["HOME", "DENO_DIR", "XDG_CACHE_HOME"]), // where Deno's cache is
  };
  const readmePid = _readmePid(steps);
  const want = new Normalizer(readmePid);
  let got: Normalizer | undefined;
  let server: _Server | undefined;
  const results: StepResult[] = [];
  try {
    for (const step of steps) {
      let command = _movePorts(step.command.replaceAll(NPX_DENO, "deno"), ports);
      const wantLines = step.expected.map((line) => want.line(line));
      const expectedLogs = step.expected.filter((line) => LOG_LINE.test(line));
      const expectedOutput = step.expected.filter((line) => !LOG_LINE.test(line));
      let output: string[] = [];
      if (/\btask start\b/.test(command)) {
        server = new _Server(command, dir.dir, env);
        const pid = await server.pid();
        got = new Normalizer(pid);
      } else {
        if (server === undefined || got === undefined) {
          throw new Error(`"${step.command}" runs before the walk-through starts the server`);
        }
        command = command.replace(new RegExp(`\\b${readmePid}\\b`, "g"), await server.pid());
        output = await _shell(command, dir.dir, env);
      }
      const logs = server === undefined
        ? []
        : discover
        ? await server.discover(/\btask start\b/.test(command), /\bkill\b/.test(command))
        : await server.find(
          expectedLogs.map((line) => _mask(line, readmePid)),
          (line, pid) => _mask(_moveBack(line, ports), pid),
        );
      const actual = [...output, ...logs];
      const ordered = discover || step.expected.length === 0
        ? actual
        : _inReadmeOrder(step.expected, output, logs, expectedOutput.length);
      const normalizer = got as Normalizer;
      results.push({
        step,
        actual: ordered.map((line) => _moveBack(line, ports)),
        want: wantLines,
        got: ordered.map((line) => normalizer.line(_moveBack(line, ports))),
      });
    }
  } finally {
    await server?.stop();
  }
  return results;
}

/** Puts output and log lines in the README's order (output where it shows output, logs where logs). */
function _inReadmeOrder(
  expected: readonly string[],
  output: readonly string[],
  logs: readonly string[],
  outputCount: number,
): string[] {
  const ordered: string[] = [];
  let [o, l] = [0, 0];
  for (const line of expected) {
    if (LOG_LINE.test(line)) ordered.push(logs[l++] ?? "<missing log line>");
    else ordered.push(output[o++] ?? "<no more output>");
  }
  if (output.length > outputCount) ordered.push(...output.slice(outputCount));
  return ordered;
}

function _passed(names: readonly string[]): Record<string, string> {
  const passed: Record<string, string> = {};
  for (const name of names) {
    const value = Deno.env.get(name);
    if (value !== undefined) passed[name] = value;
  }
  return passed;
}

function _movePorts(text: string, ports: { app: number; control: number }): string {
  return text.replaceAll(`:${README_PORTS.app}`, `:${ports.app}`)
    .replaceAll(`:${README_PORTS.control}`, `:${ports.control}`);
}

function _moveBack(text: string, ports: { app: number; control: number }): string {
  return text.replaceAll(`:${ports.app}`, `:${README_PORTS.app}`)
    .replaceAll(`:${ports.control}`, `:${README_PORTS.control}`);
}

async function _shell(command: string, cwd: string, env: Record<string, string>) {
  const output = await new Deno.Command("bash", {
    args: ["-c", `{ ${command}\n} 2>&1`],
    cwd,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return _lines(new TextDecoder().decode(output.stdout));
}

function _lines(text: string): string[] {
  return text.split("\n").filter((line, i, all) => !(i === all.length - 1 && line === ""))
    .filter((line) => !line.startsWith("Task "));
}

/** The walk-through's server: its log lines as they come, searched in order. */
class _Server {
  readonly #child: Deno.ChildProcess;
  readonly #lines: string[] = [];
  #cursor = 0;
  #pid: string | undefined;
  #done: Promise<void>;

  constructor(command: string, cwd: string, env: Record<string, string>) {
    const child = new Deno.Command("bash", {
      args: ["-c", `exec ${command} 2>&1`],
      cwd,
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#child = child;
    this.#done = (async () => {
      let rest = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        const parts = rest.split("\n");
        rest = parts.pop() ?? "";
        this.#lines.push(...parts.filter((line) => !line.startsWith("Task ")));
      }
    })();
  }

  async #wait(test: () => boolean): Promise<boolean> {
    const until = Date.now() + WAIT_MS;
    while (!test()) {
      if (Date.now() > until) return false;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return true;
  }

  /** The server's pid, from its first log line. */
  async pid(): Promise<string> {
    const find = () => this.#lines.map((l) => /\[startup\] pid (\d+)$/.exec(l)?.[1]).find(Boolean);
    if (!(await this.#wait(() => find() !== undefined))) {
      throw new Error(`the server printed no pid:\n${this.#lines.join("\n")}`);
    }
    this.#pid = find() as string;
    return this.#pid;
  }

  /** Finds each masked line among the log lines after the last one found (masked alike), in order. */
  async find(
    masked: readonly string[],
    mask: (line: string, pid: string) => string,
  ): Promise<string[]> {
    const found: string[] = [];
    for (const want of masked) {
      let at = -1;
      await this.#wait(() => {
        at = this.#lines.findIndex((line, i) =>
          i >= this.#cursor && mask(line, this.#pid ?? "\0") === want
        );
        return at !== -1;
      });
      if (at === -1) {
        found.push(...this.#lines.slice(this.#cursor));
        return found;
      }
      found.push(this.#lines[at] as string);
      this.#cursor = at + 1;
    }
    return found;
  }

  /** The log lines a step caused: up to `ready` at startup, else those of a signal, once settled. */
  async discover(startup: boolean, signalled: boolean): Promise<string[]> {
    if (!startup && !signalled) return [];
    const logged = (line: string) => LOG_LINE.test(line) && !line.includes("[POST ");
    const fresh = () => this.#lines.slice(this.#cursor).filter(logged);
    await this.#wait(() =>
      startup ? fresh().some((line) => line.includes("] ready: ")) : fresh().length > 0
    );
    if (!startup) await new Promise((resolve) => setTimeout(resolve, 500));
    const found = fresh();
    this.#cursor = this.#lines.length;
    return found;
  }

  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already exited, as the walk-through's last step stops it.
    }
    await this.#child.status;
    await this.#done;
  }
}

/**
 * The README with its walk-through's outputs replaced by `results` (and the README's pid in
 * commands by the one the server printed): what `--write` saves.
 */
export function withOutputs(readme: string, results: readonly StepResult[]): string {
  const pid = /\[startup\] pid (\d+)$/m.exec(results.flatMap((r) => r.actual).join("\n"))?.[1];
  const oldPid = _readmePid(results.map((result) => result.step));
  const start = readme.search(/^## Walk-through/m);
  const lines = readme.slice(start).split("\n");
  const out: string[] = [];
  let [inBlock, skipping, next] = [false, false, 0];
  for (const [index, line] of lines.entries()) {
    if (index > 0 && line.startsWith("## ")) {
      out.push(...lines.slice(index));
      break;
    }
    if (line === "```console") inBlock = true;
    else if (line === "```") [inBlock, skipping] = [false, false];
    else if (inBlock && line.startsWith("$ ")) {
      const result = results[next++];
      const command = pid ? line.replace(new RegExp(`\\b${oldPid}\\b`, "g"), pid) : line;
      out.push(command, ...(result?.actual ?? []));
      skipping = true;
      continue;
    } else if (skipping) continue;
    out.push(line);
  }
  return readme.slice(0, start) + out.join("\n");
}

if (import.meta.main) {
  const readme = await Deno.readTextFile(`${REPO}README.md`);
  const results = await runWalkthrough(walkthroughSteps(readme), true);
  if (Deno.args.includes("--write")) {
    await Deno.writeTextFile(`${REPO}README.md`, withOutputs(readme, results));
    console.log("README.md: walk-through outputs written");
  } else {
    for (const result of results) {
      console.log(`$ ${result.step.command}`);
      for (const line of result.actual) console.log(line);
    }
  }
}
