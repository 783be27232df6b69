/**
 * RSS under TLS connection churn: short HTTPS connections, complete ones
 * (handshake, `GET /hello`, close), handshake-only ones and failing HTTP/2
 * ones (a bad connection preface: Deno's serving of them fails), against the
 * native front and, in the same run, a static `Deno.serve` TLS server. It
 * prints each server's RSS when ready, after the first `--warmup`
 * connections and at the end, and whether ours grew by at most 5 MiB after
 * the warm-up, or by no more than the baseline did.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-run --allow-net=127.0.0.1,localhost bench/churn_bench.ts --connections 200000 --warmup 20000
 * ```
 *
 * @module
 */

import { parseFlags } from "../lib/cli/args.ts";
import { freePort, mintCertificate, TempDir } from "../tests/_fixtures.ts";
import {
  CLIENT_CPU,
  enablePinning,
  pinning,
  rssMiB,
  type RunningServer,
  startBaseline,
  startPinnedServer,
} from "./_measure.ts";
import { V8_FLAGS } from "../lib/cli/permissions.ts";

/** The client modes of bench/churn_client.ts, each a pair of rows, and how the table names them. */
const MODES = {
  full: "complete",
  handshake: "handshake only",
  "h2-bad-preface": "HTTP/2, bad preface",
} as const;
type Mode = keyof typeof MODES;

/** What ours may add after the warm-up when the baseline added less. */
const ALLOWED_GROWTH_MIB = 5;
const CLIENT = new URL("./churn_client.ts", import.meta.url).pathname;

async function _churn(
  server: RunningServer,
  cert: string,
  mode: Mode,
  connections: number,
  warmup: number,
): Promise<{ afterWarmup: number; end: number; failed: number }> {
  const taskset = pinning.on ? ["taskset", "-c", String(CLIENT_CPU)] : [];
  const [command = Deno.execPath(), ...args] = [
    ...taskset,
    Deno.execPath(),
    "run",
    "--no-prompt",
    "--allow-net=localhost,127.0.0.1",
    `--allow-read=${cert}`,
    CLIENT,
    String(server.port),
    cert,
    mode,
    String(connections),
    String(warmup),
  ];
  const child = new Deno.Command(command, { args, stdout: "piped" }).spawn();
  let afterWarmup = NaN;
  let failed = 0;
  let buffered = "";
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      const match = /^done (\d+) failed (\d+)/.exec(line);
      if (match === null) continue;
      failed = Number(match[2]);
      if (Number(match[1]) === warmup) afterWarmup = await rssMiB(server.pid);
    }
  }
  await child.status;
  return { afterWarmup, end: await rssMiB(server.pid), failed };
}

async function _ours(cert: string, key: string): Promise<RunningServer> {
  return await startPinnedServer({ options: { cert, key, tlsFront: "native" } });
}

async function _static(cert: string, key: string): Promise<RunningServer> {
  const port = freePort();
  const running = await startBaseline(
    "static_tls_server.ts",
    [V8_FLAGS, `--allow-read=${cert},${key}`, `--allow-net=127.0.0.1:${port}`],
    [cert, key, String(port)],
  );
  return { port, pid: running.pid, stop: () => running.stop() };
}

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, {
    connections: { type: "string" },
    warmup: { type: "string" },
  });
  if (!flags.ok) throw new Error(flags.error);
  const connections = Number(flags.value.values.connections ?? 200_000);
  const warmup = Number(flags.value.values.warmup ?? 20_000);
  await enablePinning();
  await using dir = await TempDir.create();
  const pair = await mintCertificate();
  const cert = await dir.write("cert.pem", pair.certificatePem);
  const key = await dir.write("key.pem", pair.keyPem);
  console.log(
    `TLS churn: ${connections} connections per row, 8 at a time; RSS in MiB ` +
      `(ready, after ${warmup}, at the end)\n`,
  );
  console.log(
    "| server | connections | ready | after warm-up | end | growth after warm-up | failed |",
  );
  console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
  const growth: Record<string, number> = {};
  for (const mode of Object.keys(MODES) as Mode[]) {
    for (
      const [name, start] of [
        ["signal-server (native front)", () => _ours(cert, key)],
        ["static Deno.serve TLS", () => _static(cert, key)],
      ] as const
    ) {
      const server = await start();
      const ready = await rssMiB(server.pid);
      const result = await _churn(server, cert, mode, connections, warmup);
      await server.stop();
      growth[`${name} ${mode}`] = result.end - result.afterWarmup;
      console.log(
        `| ${name} | ${MODES[mode]} | ${ready.toFixed(1)} | ` +
          `${result.afterWarmup.toFixed(1)} | ${result.end.toFixed(1)} | ` +
          `${(result.end - result.afterWarmup).toFixed(1)} | ${result.failed} |`,
      );
    }
  }
  for (const mode of Object.keys(MODES) as Mode[]) {
    const ours = growth[`signal-server (native front) ${mode}`] ?? NaN;
    const baseline = growth[`static Deno.serve TLS ${mode}`] ?? NaN;
    const holds = ours <= ALLOWED_GROWTH_MIB || ours <= baseline;
    console.log(
      `\n${mode}: ours grew ${ours.toFixed(1)} MiB after the warm-up, the baseline ` +
        `${baseline.toFixed(1)} MiB: ${holds ? "within" : "OVER"} the target ` +
        `(at most ${ALLOWED_GROWTH_MIB} MiB, or no more than the baseline)`,
    );
  }
}

if (import.meta.main) await main();
