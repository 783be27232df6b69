/**
 * HTTPS reload benchmark: sustained load against signal-server in HTTPS mode
 * while its certificate is swapped every 2 s and every 200 ms, next to a static
 * `Deno.serve({ cert, key })` baseline measured in the same run. Prints a table
 * of req/s (median of the rounds), the ratio to the baseline, and every failed
 * request and failed reload.
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

const CONNECTIONS = 50;
const H2_STREAMS = 10;
const WARMUP_SECONDS = 2;
const BASELINE = "static Deno.serve TLS";

/** One load generator run: requests per second and requests that failed. */
interface Measurement {
  readonly rps: number;
  readonly failed: number;
  readonly protocol: string;
}

/** A load client: how to run it against a URL for some seconds, and how to read its output. */
interface Client {
  readonly name: string;
  readonly tool: string;
  args(url: string, seconds: number): string[];
  parse(output: string): Measurement;
}

const WRK_ERRORS = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/;

function _wrkParse(output: string): Measurement {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? NaN);
  const socket = WRK_ERRORS.exec(output)?.slice(1).reduce((sum, n) => sum + Number(n), 0) ?? 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  return { rps, failed: socket + non2xx, protocol: "http/1.1" };
}

const CLIENTS: readonly Client[] = [
  {
    name: "wrk keep-alive",
    tool: "wrk",
    args: (url, s) => ["-t1", `-c${CONNECTIONS}`, `-d${s}s`, url],
    parse: _wrkParse,
  },
  {
    name: "wrk new connection per request",
    tool: "wrk",
    args: (url, s) => ["-t1", `-c${CONNECTIONS}`, `-d${s}s`, "-H", "Connection: close", url],
    parse: _wrkParse,
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
      return { rps, failed, protocol: protocol === "h2" ? "h2" : "http/1.1 (pipelined)" };
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
  ): Promise<{ port: number; stop(): Promise<void>; server?: ServerProcess }>;
}

const SCENARIOS: readonly Scenario[] = [
  { name: BASELINE, reloadEveryMs: undefined, start: _startStatic },
  { name: "signal-server HTTPS, no reload", reloadEveryMs: undefined, start: _startSignalServer },
  { name: "signal-server HTTPS, reload every 2 s", reloadEveryMs: 2000, start: _startSignalServer },
  {
    name: "signal-server HTTPS, reload every 200 ms",
    reloadEveryMs: 200,
    start: _startSignalServer,
  },
];

async function _startStatic(dir: TempDir, pair: MintedCertificate) {
  const [cert, key] = [
    await dir.write("static-cert.pem", pair.certificatePem),
    await dir.write("static-key.pem", pair.keyPem),
  ];
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      `--allow-read=${cert},${key}`,
      `--allow-net=127.0.0.1:${port}`,
      new URL("./static_tls_server.ts", import.meta.url).pathname,
      cert,
      key,
      String(port),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  await reader.read(); // its one "listening" line
  reader.releaseLock();
  return {
    port,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

async function _startSignalServer(dir: TempDir, pair: MintedCertificate) {
  const cert = await dir.write("cert.pem", pair.certificatePem);
  const key = await dir.write("key.pem", pair.keyPem);
  const server = await ServerProcess.start({ options: { cert, key } });
  return {
    port: server.options.port,
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

async function _run(tool: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(tool, { args, stdout: "piped", stderr: "piped" }).output();
  return new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
}

async function _available(tool: string): Promise<boolean> {
  try {
    await new Deno.Command(tool, { args: ["--version"], stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

function _median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
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
    if (await _available(client.tool)) clients.push(client);
    else {console.error(
        `skipping "${client.name}": ${client.tool} not found (apt-get install -y wrk nghttp2-client)`,
      );}
  }
  if (clients.length === 0) Deno.exit(1);
  console.error(
    `${rounds} round(s) of ${seconds} s per run, ${CONNECTIONS} connections, on ${navigator.hardwareConcurrency} cores`,
  );

  await using dir = await TempDir.create();
  const pairs = [await mintCertificate(), await mintCertificate()];
  const results = new Map<
    string,
    { rps: number[]; failed: number; protocol: string; reloads: { ok: number; failed: number } }
  >();
  for (let round = 1; round <= rounds; round++) {
    for (const client of clients) {
      for (const scenario of SCENARIOS) {
        const running = await scenario.start(dir, pairs[0] as MintedCertificate);
        const url = `https://127.0.0.1:${running.port}/hello`;
        await _run(client.tool, client.args(url, WARMUP_SECONDS));
        const reloader = scenario.reloadEveryMs !== undefined && running.server
          ? _reloadLoop(running.server, dir, pairs, scenario.reloadEveryMs)
          : undefined;
        const measured = client.parse(await _run(client.tool, client.args(url, seconds)));
        const reloads = (await reloader?.stop()) ?? { ok: 0, failed: 0 };
        await running.stop();
        const key = `${scenario.name}|${client.name}`;
        const entry = results.get(key) ??
          { rps: [], failed: 0, protocol: measured.protocol, reloads: { ok: 0, failed: 0 } };
        entry.rps.push(measured.rps);
        entry.failed += measured.failed;
        entry.reloads.ok += reloads.ok;
        entry.reloads.failed += reloads.failed;
        results.set(key, entry);
        console.error(
          `round ${round}: ${scenario.name} / ${client.name}: ${
            Math.round(measured.rps)
          } req/s, ${measured.failed} failed, ${reloads.ok} reloads`,
        );
      }
    }
  }

  console.log(
    `\n| client | server | protocol | req/s (median of ${rounds}) | vs baseline | failed requests | reloads ok / failed |`,
  );
  console.log("| --- | --- | --- | ---: | ---: | ---: | ---: |");
  for (const client of clients) {
    const baseline = _median(results.get(`${BASELINE}|${client.name}`)?.rps ?? []);
    for (const scenario of SCENARIOS) {
      const entry = results.get(`${scenario.name}|${client.name}`);
      if (entry === undefined) continue;
      const rps = _median(entry.rps);
      const reloads = scenario.reloadEveryMs === undefined
        ? "–"
        : `${entry.reloads.ok} / ${entry.reloads.failed}`;
      console.log(
        `| ${client.name} | ${scenario.name} | ${entry.protocol} | ${Math.round(rps)} | ${
          (rps / baseline).toFixed(2)
        }× | ${entry.failed} | ${reloads} |`,
      );
    }
  }
}

if (import.meta.main) await main();
