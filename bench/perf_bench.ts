/**
 * signal-server's performance against a bare `Deno.serve` measured in the same
 * run: `/hello` CPU time per request and throughput (servers pinned to CPU 0,
 * wrk to CPU 1, alternating rounds), the reload round trip over a keep-alive
 * client (p50/p99; a fresh server's first 1,000 reloads apart, while V8 still compiles), RSS
 * after 300, 10,300 and 20,300 reloads against the bare
 * server after as many requests, RSS when ready (and that of bench/floor_server.ts, the least a
 * checking reloadable server does at startup), and start-to-answering time.
 *
 * ```sh
 * deno task bench                       # this, then the HTTPS benchmark, then deno bench
 * deno run --no-prompt --allow-read --allow-write --allow-run --allow-net=127.0.0.1,localhost \
 *   bench/perf_bench.ts --markdown      # the README's table, with date, Deno and machine
 * ```
 *
 * All traffic goes to 127.0.0.1; every run stops by itself.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { freePort, mintCertificate, mintChain, TempDir } from "../tests/_fixtures.ts";
import { serverFlags } from "../tests/_server.ts";
import { DEFAULT_OPTIONS } from "../lib/cli/options.ts";
import { permissionFlags } from "../lib/cli/permissions.ts";
import {
  ALL_CPUS,
  available,
  CLIENT_CPU,
  cpuMicros,
  enablePinning,
  median,
  percentile,
  pin,
  rssMiB,
  run,
  spawnBaseline,
  untilAnswering,
  wrkParse,
} from "./_measure.ts";

const CONNECTIONS = 50;
const WARMUP_SECONDS = 2;
const RSS_CHECKPOINTS = [300, 10_300, 20_300];
const START_RUNS = 5;
/**
 * A fresh server's first reloads, timed apart: V8 is still compiling the reload path then (p99
 * 2-2.5 ms over the first 1,000, 0.5-0.8 ms over each later 1,000 in one measured run).
 */
const WARM_UP_RELOADS = 1000;

/** A server under test: its pid, its port, and how to stop it. */
interface Running {
  readonly pid: number;
  readonly port: number;
  readonly controlPort?: number;
  stop(): Promise<void>;
}

/** Spawns the bare baseline, `Deno.serve((_request) => new Response("Hello, world!"))`, on a port. */
function spawnBare(port: number): Deno.ChildProcess {
  return spawnBaseline(
    "bare_server.ts",
    [`--allow-net=127.0.0.1:${port}`],
    [String(port)],
    "null",
  );
}

/** A started server as the benchmark holds it: stopped with SIGTERM. */
function running(child: Deno.ChildProcess, port: number): Running {
  return {
    pid: child.pid,
    port,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/** Starts the bare baseline and waits until it has answered `/hello`, as signal-server is ready once both of its servers have answered. */
async function startBare(): Promise<Running> {
  const port = freePort();
  const child = spawnBare(port);
  await untilAnswering(child, [`http://127.0.0.1:${port}/hello`]);
  await pin(child.pid);
  return running(child, port);
}

/**
 * Starts bench/floor_server.ts (the least any certificate-checking, reloadable server does at
 * startup, in one module) on `cert` and waits until both of its servers answer.
 */
async function startFloor(cert: string): Promise<Running> {
  const [port, controlPort] = [freePort(), freePort()];
  const child = spawnBaseline(
    "floor_server.ts",
    [`--allow-read=${cert}`, `--allow-net=127.0.0.1:${port},127.0.0.1:${controlPort}`],
    [cert, String(port), String(controlPort)],
    "null",
  );
  await untilAnswering(child, readyUrls(port, controlPort));
  return running(child, port);
}

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/**
 * Spawns signal-server with exactly the flags `deno task start` derives, on free ports. Its log
 * goes to /dev/null: parsing 20,000 log lines here would load the benchmark's own process, which
 * times the reloads.
 */
function spawnOurs(dir: TempDir): { child: Deno.ChildProcess; port: number; controlPort: number } {
  const options = {
    ...DEFAULT_OPTIONS,
    cert: dir.path("cert.pem"),
    port: freePort(),
    controlPort: freePort(),
  };
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissionFlags(options), MAIN, ...serverFlags(options)],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  return { child, port: options.port, controlPort: options.controlPort };
}

/** The URLs that answer once signal-server is ready. */
function readyUrls(port: number, controlPort: number): string[] {
  return [`http://127.0.0.1:${port}/hello`, `http://127.0.0.1:${controlPort}/healthz`];
}

/** Starts signal-server as `deno task start` does, on a certificate in `dir`. */
async function startOurs(dir: TempDir): Promise<Running & { controlPort: number }> {
  const { child, port, controlPort } = spawnOurs(dir);
  await untilAnswering(child, readyUrls(port, controlPort));
  await pin(child.pid);
  return { ...running(child, port), controlPort };
}

/** `/hello` under wrk: CPU µs per request and req/s, for each server, in alternating rounds. */
async function hello(dir: TempDir, rounds: number, seconds: number) {
  const results = {
    bare: { cpu: [] as number[], rps: [] as number[] },
    ours: { cpu: [] as number[], rps: [] as number[] },
  };
  for (let round = 1; round <= rounds; round++) {
    for (const name of ["bare", "ours"] as const) {
      const running = name === "bare" ? await startBare() : await startOurs(dir);
      const url = `http://127.0.0.1:${running.port}/hello`;
      await run("wrk", ["-t1", `-c${CONNECTIONS}`, `-d${WARMUP_SECONDS}s`, url]);
      const before = await cpuMicros(running.pid);
      const measured = wrkParse(
        await run("wrk", ["-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, url]),
      );
      const cpu = (await cpuMicros(running.pid) - before) / measured.requests;
      await running.stop();
      if (measured.failed > 0) throw new Error(`${name}: ${measured.failed} failed requests`);
      results[name].cpu.push(cpu);
      results[name].rps.push(measured.rps);
      console.error(
        `round ${round} ${name}: ${cpu.toFixed(2)} µs CPU/request, ${
          Math.round(measured.rps)
        } req/s`,
      );
    }
  }
  return results;
}

const RELOAD_REQUEST = new TextEncoder().encode(
  "POST /reload_certs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
);

/**
 * A minimal keep-alive HTTP/1.1 client for `POST /reload_certs`: one connection, one request at a
 * time. `fetch` would add its own work to every round trip on a machine whose two cores the
 * client and the server share (measured: p50 0.46 ms, p99 1.45 ms with fetch where this client
 * sees p50 0.33 ms, p99 1.0 ms, same server, same run).
 */
class ReloadClient implements Disposable {
  readonly #conn: Deno.TcpConn;
  readonly #buffer = new Uint8Array(64 * 1024);
  readonly #decoder = new TextDecoder();

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  static async connect(port: number): Promise<ReloadClient> {
    return new ReloadClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Sends one POST and reads the whole answer; returns its status. */
  async reload(): Promise<number> {
    await this.#conn.write(RELOAD_REQUEST);
    let text = "";
    let bytes = 0;
    while (true) {
      const read = await this.#conn.read(this.#buffer);
      if (read === null) throw new Error("the control server closed the connection");
      bytes += read;
      text += this.#decoder.decode(this.#buffer.subarray(0, read), { stream: true });
      // The head is ASCII, so its end is at the same offset in text and in bytes; the body is
      // UTF-8 (the shortened fingerprint ends in "…"), so Content-Length counts bytes.
      const head = text.indexOf("\r\n\r\n");
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? NaN);
      if (head !== -1 && bytes - head - 4 >= length) return Number(text.slice(9, 12));
    }
  }

  [Symbol.dispose](): void {
    this.#conn.close();
  }
}

/** Writes one of two files' contents to cert.pem, alternately, and times each POST /reload_certs. */
async function reloadRoundTrips(
  dir: TempDir,
  controlPort: number,
  contents: readonly [string, string],
  count: number,
): Promise<number[]> {
  const times: number[] = [];
  // This process is the reload client here: keep it off the server's CPU, like wrk, and give it
  // back every CPU after (servers it spawns later inherit its affinity).
  await pin(Deno.pid, CLIENT_CPU);
  try {
    using client = await ReloadClient.connect(controlPort);
    for (let i = 0; i < count; i++) {
      Deno.writeTextFileSync(dir.path("cert.pem"), contents[i % 2] as string);
      const started = performance.now();
      const status = await client.reload();
      times.push(performance.now() - started);
      if (status !== 200) throw new Error(`reload ${i}: ${status}`);
    }
  } finally {
    await pin(Deno.pid, ALL_CPUS);
  }
  return times;
}

/** Time from spawning a server to its answering every URL, in ms (median of a few starts). */
async function startToReady(start: () => { child: Deno.ChildProcess; urls: string[] }) {
  const times: number[] = [];
  for (let i = 0; i < START_RUNS; i++) {
    const started = performance.now();
    const { child, urls } = start();
    await untilAnswering(child, urls);
    times.push(performance.now() - started);
    child.kill("SIGTERM");
    await child.status;
  }
  return median(times);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "5" },
      seconds: { type: "string", default: "5" },
      reloads: { type: "string", default: "2000" },
      markdown: { type: "boolean", default: false },
    },
  });
  if (!(await available("wrk"))) {
    console.error("wrk not found: apt-get install -y wrk");
    Deno.exit(1);
  }
  const pinned = await enablePinning();
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const reloads = Number(values.reloads);
  await using dir = await TempDir.create();
  const one = [await mintCertificate(), await mintCertificate()];
  const chains = [await mintChain(), await mintChain()].map(({ leaf, intermediate, root }) =>
    leaf.certificatePem + intermediate.certificatePem + root.certificatePem
  );
  await Deno.writeTextFile(dir.path("cert.pem"), one[0]?.certificatePem ?? "");

  const helloResults = await hello(dir, rounds, seconds);

  const ours = await startOurs(dir);
  const warmUp = await reloadRoundTrips(
    dir,
    ours.controlPort,
    [one[0]?.certificatePem ?? "", chains[0] ?? ""],
    WARM_UP_RELOADS,
  );
  const single = await reloadRoundTrips(
    dir,
    ours.controlPort,
    [
      one[0]?.certificatePem ?? "",
      one[1]?.certificatePem ?? "",
    ],
    reloads,
  );
  const chained = await reloadRoundTrips(
    dir,
    ours.controlPort,
    [chains[0] ?? "", chains[1] ?? ""],
    reloads,
  );
  await ours.stop();

  // RSS: ours after N reloads, bare after N requests, each from a fresh start.
  await Deno.writeTextFile(dir.path("cert.pem"), one[0]?.certificatePem ?? "");
  const fresh = await startOurs(dir);
  const oursReady = await rssMiB(fresh.pid);
  const oursRss: number[] = [];
  let done = 0;
  for (const checkpoint of RSS_CHECKPOINTS) {
    await reloadRoundTrips(
      dir,
      fresh.controlPort,
      [chains[0] ?? "", one[1]?.certificatePem ?? ""],
      checkpoint - done,
    );
    done = checkpoint;
    oursRss.push(await rssMiB(fresh.pid));
  }
  await fresh.stop();
  const bare = await startBare();
  const bareReady = await rssMiB(bare.pid);
  const bareRss: number[] = [];
  done = 0;
  for (const checkpoint of RSS_CHECKPOINTS) {
    for (; done < checkpoint; done++) {
      await (await fetch(`http://127.0.0.1:${bare.port}/hello`)).arrayBuffer();
    }
    bareRss.push(await rssMiB(bare.pid));
  }
  await bare.stop();
  const floor = await startFloor(dir.path("cert.pem"));
  const floorReady = await rssMiB(floor.pid);
  await floor.stop();

  await Deno.writeTextFile(dir.path("cert.pem"), one[0]?.certificatePem ?? "");
  const oursStart = await startToReady(() => {
    const { child, port, controlPort } = spawnOurs(dir);
    return { child, urls: readyUrls(port, controlPort) };
  });
  const bareStart = await startToReady(() => {
    const port = freePort();
    return { child: spawnBare(port), urls: [`http://127.0.0.1:${port}/hello`] };
  });

  const cpuBare = median(helloResults.bare.cpu);
  const cpuOurs = median(helloResults.ours.cpu);
  const rpsBare = median(helloResults.bare.rps);
  const rpsOurs = median(helloResults.ours.rps);
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  const mib = (value: number) => `${value.toFixed(1)} MiB`;
  const rows = [
    [
      "`/hello` CPU per request (bare / ours, median of " + rounds + " pinned rounds)",
      `${cpuBare.toFixed(2)} µs / ${cpuOurs.toFixed(2)} µs`,
      `${(cpuBare / cpuOurs).toFixed(2)}×`,
      "≥ 0.97×",
    ],
    [
      "`/hello` throughput (ours / bare)",
      `${Math.round(rpsOurs)} / ${Math.round(rpsBare)} req/s`,
      `${(rpsOurs / rpsBare).toFixed(2)}×`,
      "–",
    ],
    [
      `reload round trip, a fresh server's first ${WARM_UP_RELOADS} reloads (JIT warm-up)`,
      `p50 ${ms(percentile(warmUp, 50))}, p99 ${ms(percentile(warmUp, 99))}`,
      "–",
      "–",
    ],
    [
      `reload round trip, 1-certificate files (${reloads} reloads after those)`,
      `p50 ${ms(percentile(single, 50))}, p99 ${ms(percentile(single, 99))}`,
      "–",
      "p99 ≤ 1 ms",
    ],
    [
      `reload round trip, 3-certificate chains (${reloads} reloads after those)`,
      `p50 ${ms(percentile(chained, 50))}, p99 ${ms(percentile(chained, 99))}`,
      "–",
      "p99 ≤ 1 ms",
    ],
    [
      "RSS when ready (ours / bare)",
      `${mib(oursReady)} / ${mib(bareReady)}`,
      `${(oursReady / bareReady).toFixed(2)}×`,
      "≤ 1.2×",
    ],
    [
      "RSS when ready, the floor (bench/floor_server.ts) / bare",
      `${mib(floorReady)} / ${mib(bareReady)}`,
      `${(floorReady / bareReady).toFixed(2)}×`,
      "–",
    ],
    ...RSS_CHECKPOINTS.map((checkpoint, i) => [
      `RSS after ${checkpoint.toLocaleString("en")} reloads (ours) / requests (bare)`,
      `${mib(oursRss[i] ?? NaN)} / ${mib(bareRss[i] ?? NaN)}`,
      `${((oursRss[i] ?? NaN) / (bareRss[i] ?? NaN)).toFixed(2)}×`,
      i === RSS_CHECKPOINTS.length - 1 ? "≤ 1.5×; the last 10,000 reloads add ≤ 2 MiB" : "–",
    ]),
    [
      "RSS added by the last 10,000 reloads",
      mib((oursRss[2] ?? NaN) - (oursRss[1] ?? NaN)),
      "–",
      "≤ 2 MiB",
    ],
    [
      "start to both servers answering (median of " + START_RUNS + "; bare: its one server)",
      `${ms(oursStart)} / ${ms(bareStart)}`,
      "–",
      "≤ 200 ms",
    ],
  ];
  const header = values.markdown
    ? [
      `Measured ${
        new Date().toISOString().slice(0, 10)
      } with Deno ${Deno.version.deno} (V8 ${Deno.version.v8}) on ` +
      `${navigator.hardwareConcurrency} cores (${Deno.build.target})${
        pinned ? ", servers pinned to CPU 0 and wrk to CPU 1" : ""
      }; ` +
      "reproduce with `deno run --no-prompt --allow-read --allow-write --allow-run --allow-net=127.0.0.1,localhost bench/perf_bench.ts --markdown`.",
      "",
    ]
    : [];
  console.log([
    ...header,
    "| what | measured | ratio | target |",
    "| --- | --- | ---: | --- |",
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ].join("\n"));
}

if (import.meta.main) await main();
