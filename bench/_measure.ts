/**
 * What the benchmarks share: pinning processes to CPUs, reading a process's
 * CPU time and RSS from /proc (through `cat`: Deno reads /proc only under
 * --allow-all), running a load generator on the other CPU, medians, and
 * parsing wrk's output; and how baseline servers are started.
 *
 * @module
 */

import { NO_CONFIG } from "../lib/cli/permissions.ts";
import { ServerProcess, type SpawnOptions } from "../tests/_server.ts";

/**
 * Spawns a baseline server script of `bench/` as `deno run --no-prompt --no-config <flags> <script>
 * <args>`. Like signal-server (and like a one-file server in a directory of its own) a baseline
 * reads no `deno.json`: this project's, with its npm imports for the tests, would add ~2 MiB.
 */
export function spawnBaseline(
  script: string,
  flags: readonly string[],
  args: readonly string[],
  stdout: "piped" | "null",
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      NO_CONFIG,
      ...flags,
      new URL(`./${script}`, import.meta.url).pathname,
      ...args,
    ],
    stdout,
    stderr: "inherit",
  }).spawn();
}

/** A baseline server that printed its one "listening" line, pinned; `stop()` ends it. */
export interface RunningBaseline {
  /** Its process id. */
  readonly pid: number;
  /** Sends SIGTERM and waits for the exit. */
  stop(): Promise<void>;
}

/** Spawns a baseline with {@linkcode spawnBaseline}, waits for its first line and pins it. */
export async function startBaseline(
  script: string,
  flags: readonly string[],
  args: readonly string[],
): Promise<RunningBaseline> {
  const child = spawnBaseline(script, flags, args, "piped");
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  await reader.read(); // its one "listening" line
  reader.releaseLock();
  await pin(child.pid);
  return {
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

/** A server under measurement: its app port, its process id, and how to stop it. */
export interface RunningServer {
  /** Its app port. */
  readonly port: number;
  /** Its process id. */
  readonly pid: number;
  /** Sends SIGTERM and waits for the exit. */
  stop(): Promise<void>;
}

/** Starts signal-server as the tests do (`tests/_server.ts`) and pins it to the server CPU. */
export async function startPinnedServer(spawn: SpawnOptions): Promise<RunningServer> {
  const server = await ServerProcess.start(spawn);
  await pin(server.child.pid);
  return {
    port: server.options.port,
    pid: server.child.pid,
    async stop() {
      server.signal("SIGTERM");
      await server.exited();
    },
  };
}

/** The CPU servers run on. */
export const SERVER_CPU = 0;
/** The CPU load generators run on. */
export const CLIENT_CPU = 1;
const CLOCK_TICKS_PER_SECOND = 100;

/** Whether processes are pinned (2+ cores and taskset); set once by the benchmark. */
export const pinning = { on: false };

/** Turns pinning on when the machine has 2 cores and taskset; returns whether it did. */
export async function enablePinning(): Promise<boolean> {
  pinning.on = navigator.hardwareConcurrency >= 2 && await available("taskset");
  return pinning.on;
}

/** Every CPU of the machine, as taskset names them. */
export const ALL_CPUS = `0-${navigator.hardwareConcurrency - 1}`;

/** Pins every thread of a process to one CPU (or a taskset list), when pinning is on. */
export async function pin(pid: number, cpu: number | string = SERVER_CPU): Promise<void> {
  if (pinning.on) await run("taskset", ["-a", "-c", "-p", String(cpu), String(pid)], false);
}

/** User + system CPU time of a process so far, in microseconds (from /proc/<pid>/stat). */
export async function cpuMicros(pid: number): Promise<number> {
  const stat = await run("cat", [`/proc/${pid}/stat`], false);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime and stime: fields 14 and 15
  return (ticks / CLOCK_TICKS_PER_SECOND) * 1e6;
}

/** Resident set size of a process, in MiB. */
export async function rssMiB(pid: number): Promise<number> {
  const status = await run("cat", [`/proc/${pid}/status`], false);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

/** Runs a tool (on the client CPU when pinned) and returns its stdout and stderr. */
export async function run(tool: string, args: string[], pinned = true): Promise<string> {
  const [command, allArgs] = pinned && pinning.on
    ? ["taskset", ["-c", String(CLIENT_CPU), tool, ...args]]
    : [tool, args];
  const output = await new Deno.Command(command, {
    args: allArgs,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  return new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
}

/** Whether a tool can be run. */
export async function available(tool: string): Promise<boolean> {
  try {
    await new Deno.Command(tool, { args: ["--version"], stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

/** The median of some numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** The value at a percentile (0–100) of some numbers. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** One load generator run: requests per second, requests completed, and requests that failed. */
export interface Measurement {
  readonly rps: number;
  readonly requests: number;
  readonly failed: number;
  readonly protocol: string;
}

const WRK_ERRORS = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/;

/** Reads wrk's output. */
export function wrkParse(output: string): Measurement {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? NaN);
  const requests = Number(/(\d+) requests in/.exec(output)?.[1] ?? NaN);
  const socket = WRK_ERRORS.exec(output)?.slice(1).reduce((sum, n) => sum + Number(n), 0) ?? 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  return { rps, requests, failed: socket + non2xx, protocol: "http/1.1" };
}

/** How often readiness is polled, in ms: often, since start-to-ready is timed with it. */
const READY_POLL_MS = 2;
/** How long a server may take to answer before the benchmark gives up on it. */
const READY_TIMEOUT_MS = 30_000;

/** Waits until every URL answers 200; throws when the server exits first or is not ready in time, so the benchmark always stops. */
export async function untilAnswering(
  child: Deno.ChildProcess,
  urls: readonly string[],
): Promise<void> {
  let exited: Deno.CommandStatus | undefined;
  void child.status.then((status) => exited = status);
  const deadline = performance.now() + READY_TIMEOUT_MS;
  for (const url of urls) {
    while (true) {
      if (exited !== undefined) {
        throw new Error(`the server exited (code ${exited.code}) before ${url} answered`);
      }
      if (performance.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`${url} did not answer within ${READY_TIMEOUT_MS} ms`);
      }
      try {
        const response = await fetch(url);
        await response.arrayBuffer();
        if (response.status === 200) break;
      } catch {
        // Not listening yet.
      }
      await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
    }
  }
}
