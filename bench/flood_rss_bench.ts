/**
 * RSS before, during and after connection floods (issue 18, point 2: "RSS
 * returns near its level after they end"): 1,300 slowloris connections and
 * 10,000 idle keep-alive connections (one `GET /hello` each, then idle)
 * against the plain server with short timeouts (3 s: the server closes them
 * itself), with the timeouts at their defaults (held until the client lets
 * go), with glibc's `MALLOC_MMAP_THRESHOLD_=16384`, and, in the same run, two
 * baselines: the same serving path without signal-server around it (a bare
 * accept loop and `serveHttpOnConnection`), and a bare `Deno.serve`. Each row starts a fresh server pinned to
 * CPU 0 (the flood runs on CPU 1), warms it with 200 requests, floods it
 * twice (each flood held {@linkcode HOLD_MS}, then closed by the client), and
 * reads RSS {@linkcode AFTER_MS} after each flood ended.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-run --allow-env --allow-net=127.0.0.1,localhost bench/flood_rss_bench.ts
 * ```
 *
 * @module
 */

import { freePort, mintCertificate, TempDir } from "../tests/_fixtures.ts";
import { flood, type FloodFlavour } from "../tests/_flood.ts";
import { DEFAULT_OPTIONS, type Options } from "../lib/cli/options.ts";
import { V8_FLAGS } from "../lib/cli/permissions.ts";
import {
  enablePinning,
  rssMiB,
  type RunningServer,
  startBaseline,
  startPinnedServer,
} from "./_measure.ts";

/** How long the flood client holds its connections before it closes them all. */
const HOLD_MS = 8_000;
/** How often RSS is sampled during a flood. */
const SAMPLE_MS = 250;
/** When RSS is read after a flood ended. */
const AFTER_MS = 5_000;
/** Floods per server: a second one shows whether the first's memory is reused or added to. */
const ROUNDS = 2;
/** Requests before the "before" reading: the first ones load code that stays. */
const WARMUP_REQUESTS = 200;
/** The short header and idle timeouts: the server closes the flood's connections itself. */
const SHORT_MS = 3_000;
/** glibc serves allocations from this size up with mmap, and so returns them when freed. */
const MMAP_THRESHOLD = "16384";

/** A server under test: ours with some timeouts and environment, or the bare baseline. */
type Subject =
  | {
    readonly name: string;
    readonly kind: "ours";
    readonly limits: Options["limits"];
    readonly env?: Record<string, string>;
  }
  | { readonly name: string; readonly kind: "baseline"; readonly script: string };

const SHORT: Options["limits"] = {
  ...DEFAULT_OPTIONS.limits,
  headerTimeoutMs: SHORT_MS,
  idleTimeoutMs: SHORT_MS,
};

const SUBJECTS: readonly Subject[] = [
  { name: "signal-server, 3 s timeouts", kind: "ours", limits: SHORT },
  { name: "signal-server, default timeouts", kind: "ours", limits: DEFAULT_OPTIONS.limits },
  {
    name: `signal-server, 3 s, MALLOC_MMAP_THRESHOLD_=${MMAP_THRESHOLD}`,
    kind: "ours",
    limits: SHORT,
    env: { MALLOC_MMAP_THRESHOLD_: MMAP_THRESHOLD },
  },
  {
    name: "plain accept loop + serveHttpOnConnection (no timeouts)",
    kind: "baseline",
    script: "plain_accept_loop_server.ts",
  },
  { name: "bare Deno.serve (no timeouts)", kind: "baseline", script: "bare_server.ts" },
];

const FLOODS: readonly {
  readonly name: string;
  readonly flavour: FloodFlavour;
  readonly count: number;
}[] = [
  { name: "1,300 slowloris", flavour: "slowloris", count: 1_300 },
  { name: "10,000 idle keep-alive", flavour: "keepalive", count: 10_000 },
];

async function _start(subject: Subject, cert: string): Promise<RunningServer> {
  if (subject.kind === "baseline") {
    const port = freePort();
    const running = await startBaseline(
      subject.script,
      [V8_FLAGS, `--allow-net=127.0.0.1:${port}`],
      [String(port)],
    );
    return { port, pid: running.pid, stop: () => running.stop() };
  }
  // The server inherits this process's environment (ServerProcess adds NO_COLOR only).
  for (const [name, value] of Object.entries(subject.env ?? {})) Deno.env.set(name, value);
  try {
    return await startPinnedServer({ options: { cert, limits: subject.limits } });
  } finally {
    for (const name of Object.keys(subject.env ?? {})) Deno.env.delete(name);
  }
}

async function _row(
  subject: Subject,
  cert: string,
  { name, flavour, count }: (typeof FLOODS)[number],
): Promise<string> {
  const server = await _start(subject, cert);
  try {
    const hello = `http://127.0.0.1:${server.port}/hello`;
    for (let i = 0; i < WARMUP_REQUESTS; i++) await (await fetch(hello)).text();
    const before = await rssMiB(server.pid);
    let peak = before;
    let closedByServer = 0;
    const after: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const flooding = flood({ port: server.port }, count, flavour);
      const end = performance.now() + HOLD_MS;
      while (performance.now() < end) {
        await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
        peak = Math.max(peak, await rssMiB(server.pid));
      }
      closedByServer += (await flooding.close()).closedByServer;
      await new Promise((resolve) => setTimeout(resolve, AFTER_MS));
      after.push(await rssMiB(server.pid));
    }
    const last = after.at(-1) ?? NaN;
    return `| ${name} | ${subject.name} | ${closedByServer} of ${count * ROUNDS} | ` +
      `${before.toFixed(1)} | ${peak.toFixed(1)} | ${
        after.map((mib) => mib.toFixed(1)).join(" | ")
      } | ` +
      `${(last - before).toFixed(1)} |`;
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  await enablePinning();
  await using dir = await TempDir.create();
  const pair = await mintCertificate();
  const cert = await dir.write("cert.pem", pair.certificatePem);
  console.log(
    `RSS (MiB) of the plain server under connection floods, each held ${HOLD_MS / 1000} s by ` +
      `the client, then closed; read ${AFTER_MS / 1000} s after each flood; before = after ` +
      `${WARMUP_REQUESTS} GET /hello\n`,
  );
  const rounds = Array.from({ length: ROUNDS }, (_, i) => `after flood ${i + 1}`);
  console.log(
    `| flood | server | closed by the server | before | peak | ${rounds.join(" | ")} | ` +
      "last − before |",
  );
  console.log(`| --- | --- | ---: | ---: | ---: | ${"---: | ".repeat(ROUNDS)}---: |`);
  for (const floodRow of FLOODS) {
    for (const subject of SUBJECTS) console.log(await _row(subject, cert, floodRow));
  }
}

if (import.meta.main) await main();
