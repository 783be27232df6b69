/**
 * HTTPS reload benchmark: sustained load against signal-server in HTTPS mode,
 * native front and `node:https` front, each without swaps and while its
 * certificate is swapped every 200 ms, next to a static `Deno.serve({ cert, key })`
 * baseline measured in the same run. Servers run pinned to CPU 0 and the load
 * generator to CPU 1 (when `taskset` exists). Prints a table of req/s and CPU
 * time per request (medians of the rounds), their ratios to the baseline, and
 * every failed request and failed reload; then the native front's RSS over
 * 10,000+ short connections and 1,000 swaps. Sets `net.ipv4.tcp_migrate_req=1`
 * for the run when the machine allows it (and restores it), and says so.
 *
 * ```sh
 * apt-get install -y wrk nghttp2-client   # wrk and h2load
 * deno task bench                         # 5 s per run, 3 rounds
 * deno task bench --seconds 10 --rounds 1
 * ```
 *
 * All traffic goes to 127.0.0.1; every run stops by itself.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { freePort, mintCertificate, type MintedCertificate, TempDir } from "../tests/_fixtures.ts";
import { postReload, ServerProcess } from "../tests/_server.ts";
import { readMigration, withMigration } from "../tests/_sysctl.ts";
import type { TlsFrontName } from "../lib/serve/tls/tls_front.ts";
import {
  available,
  CLIENT_CPU,
  cpuMicros,
  enablePinning,
  type Measurement,
  median,
  pin,
  pinning,
  rssMiB,
  run,
  SERVER_CPU,
  startBaseline,
  wrkParse,
} from "./_measure.ts";

const CONNECTIONS = 50;
const H2_STREAMS = 10;
const WARMUP_SECONDS = 2;
const BASELINE = "static Deno.serve TLS";
const ACCEPT_LOOP = "bare accept loop + serveHttpOnConnection, static";

/** A load client: how to run it against a URL for some seconds, and how to read its output. */
interface Client {
  readonly name: string;
  readonly tool: string;
  args(url: string, seconds: number): string[];
  parse(output: string): Measurement;
}

const CLIENTS: readonly Client[] = [
  {
    name: "wrk keep-alive",
    tool: "wrk",
    args: (url, s) => ["-t1", `-c${CONNECTIONS}`, `-d${s}s`, url],
    parse: wrkParse,
  },
  {
    name: "wrk new connection per request",
    tool: "wrk",
    args: (url, s) => ["-t1", `-c${CONNECTIONS}`, `-d${s}s`, "-H", "Connection: close", url],
    parse: wrkParse,
  },
  {
    name: `h2load -m${H2_STREAMS}`,
    tool: "h2load",
    args: (url, s) => [`-c${CONNECTIONS}`, `-m${H2_STREAMS}`, "-D", String(s), url],
    parse: (output) => {
      const rps = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(output)?.[1] ?? NaN);
      const counts = /(\d+) failed, (\d+) errored, (\d+) timeout/.exec(output)?.slice(1) ?? [];
      const failed = counts.reduce((sum, n) => sum + Number(n), 0);
      const protocol = /Application protocol: (\S+)/.exec(output)?.[1] ?? "none";
      const requests = Number(
        /requests: \d+ total, \d+ started, (\d+) done/.exec(output)?.[1] ?? NaN,
      );
      return { rps, requests, failed, protocol: protocol === "h2" ? "h2" : "http/1.1 (pipelined)" };
    },
  },
];

/** A server under test, started fresh for every measurement. */
interface Scenario {
  readonly name: string;
  readonly reloadEveryMs: number | undefined;
  start(
    dir: TempDir,
    pair: MintedCertificate,
  ): Promise<{ port: number; pid: number; stop(): Promise<void>; server?: ServerProcess }>;
}

const SWAP_EVERY_MS = 200;

function _signalServer(front: TlsFrontName, reloadEveryMs: number | undefined): Scenario {
  const swaps = reloadEveryMs === undefined ? "no swaps" : `swap every ${reloadEveryMs} ms`;
  return {
    name: `signal-server ${front} front, ${swaps}`,
    reloadEveryMs,
    start: (dir, pair) => _startSignalServer(dir, pair, front),
  };
}

const SCENARIOS: readonly Scenario[] = [
  {
    name: BASELINE,
    reloadEveryMs: undefined,
    start: (dir, pair) => _startBaseline(dir, pair, "static_tls_server.ts"),
  },
  {
    name: ACCEPT_LOOP,
    reloadEveryMs: undefined,
    start: (dir, pair) => _startBaseline(dir, pair, "accept_loop_server.ts", ["--unstable-net"]),
  },
  _signalServer("native", undefined),
  _signalServer("native", SWAP_EVERY_MS),
  _signalServer("node", undefined),
  _signalServer("node", SWAP_EVERY_MS),
];

/** Starts one of the baseline servers in bench/, which never reload. */
async function _startBaseline(
  dir: TempDir,
  pair: MintedCertificate,
  script: string,
  flags: readonly string[] = [],
) {
  const [cert, key] = [
    await dir.write("static-cert.pem", pair.certificatePem),
    await dir.write("static-key.pem", pair.keyPem),
  ];
  const port = freePort();
  const running = await startBaseline(
    script,
    [...flags, `--allow-read=${cert},${key}`, `--allow-net=127.0.0.1:${port}`],
    [cert, key, String(port)],
  );
  return { port, pid: running.pid, stop: () => running.stop() };
}

async function _startSignalServer(dir: TempDir, pair: MintedCertificate, tlsFront: TlsFrontName) {
  const cert = await dir.write("cert.pem", pair.certificatePem);
  const key = await dir.write("key.pem", pair.keyPem);
  const server = await ServerProcess.start({ options: { cert, key, tlsFront } });
  await pin(server.child.pid);
  return {
    port: server.options.port,
    pid: server.child.pid,
    server,
    async stop() {
      server.signal("SIGTERM");
      await server.exited();
    },
  };
}

/** Swaps between two pairs every `everyMs` until stopped; counts good and failed reloads. */
function _reloadLoop(
  server: ServerProcess,
  dir: TempDir,
  pairs: readonly MintedCertificate[],
  everyMs: number,
) {
  let stopped = false;
  const counts = { ok: 0, failed: 0 };
  const start = performance.now();
  const done = (async () => {
    for (let round = 1; !stopped; round++) {
      const next = pairs[round % pairs.length] as MintedCertificate;
      await dir.write("cert.pem", next.certificatePem);
      await dir.write("key.pem", next.keyPem);
      const answer = await postReload(server);
      if (answer.status === 200 && answer.body.startsWith("reloaded:")) counts.ok++;
      else counts.failed++;
      // Keep to the schedule (start + n × everyMs) however long the reload itself took.
      const wait = start + round * everyMs - performance.now();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await done;
      return counts;
    },
  };
}

/** Runs every scenario with every available client and prints the table. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "5" },
      rounds: { type: "string", default: "3" },
    },
  });
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const clients: Client[] = [];
  for (const client of CLIENTS) {
    if (await available(client.tool)) clients.push(client);
    else {console.error(
        `skipping "${client.name}": ${client.tool} not found (apt-get install -y wrk nghttp2-client)`,
      );}
  }
  if (clients.length === 0) Deno.exit(1);
  await enablePinning();
  const migrated = await withMigration(1, () => _measure(clients, seconds, rounds));
  if (!migrated) await _measure(clients, seconds, rounds);
}

async function _measure(clients: readonly Client[], seconds: number, rounds: number) {
  const migration = await readMigration();
  console.error(
    `${rounds} round(s) of ${seconds} s per run, ${CONNECTIONS} connections, on ` +
      `${navigator.hardwareConcurrency} cores; ${
        pinning.on ? `servers pinned to CPU ${SERVER_CPU}, load to CPU ${CLIENT_CPU}` : "not pinned"
      }; net.ipv4.tcp_migrate_req=${migration ?? "unknown"}`,
  );
  await using dir = await TempDir.create();
  const pairs = [await mintCertificate(), await mintCertificate()];
  const results = new Map<string, {
    rps: number[];
    cpu: number[];
    failed: number;
    protocol: string;
    reloads: { ok: number; failed: number };
  }>();
  for (let round = 1; round <= rounds; round++) {
    for (const client of clients) {
      for (const scenario of SCENARIOS) {
        const running = await scenario.start(dir, pairs[0] as MintedCertificate);
        const url = `https://127.0.0.1:${running.port}/hello`;
        await run(client.tool, client.args(url, WARMUP_SECONDS));
        const reloader = scenario.reloadEveryMs !== undefined && running.server
          ? _reloadLoop(running.server, dir, pairs, scenario.reloadEveryMs)
          : undefined;
        const cpuBefore = await cpuMicros(running.pid);
        const measured = client.parse(await run(client.tool, client.args(url, seconds)));
        const cpu = (await cpuMicros(running.pid) - cpuBefore) / measured.requests;
        const reloads = (await reloader?.stop()) ?? { ok: 0, failed: 0 };
        await running.stop();
        const key = `${scenario.name}|${client.name}`;
        const entry = results.get(key) ??
          {
            rps: [],
            cpu: [],
            failed: 0,
            protocol: measured.protocol,
            reloads: { ok: 0, failed: 0 },
          };
        entry.rps.push(measured.rps);
        entry.cpu.push(cpu);
        entry.failed += measured.failed;
        entry.reloads.ok += reloads.ok;
        entry.reloads.failed += reloads.failed;
        results.set(key, entry);
        console.error(
          `round ${round}: ${scenario.name} / ${client.name}: ${Math.round(measured.rps)} req/s, ` +
            `${cpu.toFixed(1)} µs CPU/request, ${measured.failed} failed, ${reloads.ok} reloads`,
        );
      }
    }
  }

  console.log(
    `\n| client | server | protocol | req/s (median of ${rounds}) | vs baseline | CPU µs/request | ` +
      "CPU vs baseline | failed requests | reloads ok / failed |",
  );
  console.log("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const client of clients) {
    const baseline = results.get(`${BASELINE}|${client.name}`);
    const [baseRps, baseCpu] = [median(baseline?.rps ?? []), median(baseline?.cpu ?? [])];
    for (const scenario of SCENARIOS) {
      const entry = results.get(`${scenario.name}|${client.name}`);
      if (entry === undefined) continue;
      const [rps, cpu] = [median(entry.rps), median(entry.cpu)];
      const reloads = scenario.reloadEveryMs === undefined
        ? "–"
        : `${entry.reloads.ok} / ${entry.reloads.failed}`;
      console.log(
        `| ${client.name} | ${scenario.name} | ${entry.protocol} | ${Math.round(rps)} | ` +
          `${(rps / baseRps).toFixed(2)}× | ${cpu.toFixed(1)} | ${(baseCpu / cpu).toFixed(2)}× | ` +
          `${entry.failed} | ${reloads} |`,
      );
    }
  }
  if (clients.some((client) => client.tool === "wrk")) await _memory(dir, pairs, seconds);
}

const SWAPS_PER_BATCH = 1_000;

/** RSS of the native front over short connections and swaps: it must level off, not climb. */
async function _memory(dir: TempDir, pairs: MintedCertificate[], seconds: number) {
  const running = await _startSignalServer(dir, pairs[0] as MintedCertificate, "native");
  const url = `https://127.0.0.1:${running.port}/hello`;
  const rows: string[] = [`| ready | – | – | ${(await rssMiB(running.pid)).toFixed(1)} |`];
  let connections = 0;
  let swaps = 0;
  for (let batch = 1; batch <= 2; batch++) {
    const output = await run("wrk", [
      "-t1",
      `-c${CONNECTIONS}`,
      `-d${seconds * 2}s`,
      "-H",
      "Connection: close",
      url,
    ]);
    const measured = wrkParse(output);
    connections += measured.requests;
    rows.push(
      `| short connections, batch ${batch} | ${connections} | ${swaps} | ${
        (await rssMiB(running.pid)).toFixed(1)
      } |`,
    );
    for (let i = 0; i < SWAPS_PER_BATCH; i++) {
      const next = pairs[(swaps + 1) % pairs.length] as MintedCertificate;
      await dir.write("cert.pem", next.certificatePem);
      await dir.write("key.pem", next.keyPem);
      const answer = await postReload(running.server);
      if (answer.status === 200) swaps++;
    }
    rows.push(
      `| swaps, batch ${batch} | ${connections} | ${swaps} | ${
        (await rssMiB(running.pid)).toFixed(1)
      } |`,
    );
  }
  await running.stop();
  console.log("\n| native front, after | short connections | swaps | RSS MiB |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const row of rows) console.log(row);
}

if (import.meta.main) await main();
