/**
 * Where a reload's memory goes: runs signal-server as `deno task start` does,
 * plus `--inspect` on a free loopback port, samples its allocations through
 * the inspector's sampling heap profiler over N reloads, and prints the
 * allocation sites (the innermost frames) by bytes per reload.
 *
 * `--survivors` counts only objects that outlive young-generation GCs: the
 * ones that end up as old-generation garbage and make RSS climb between
 * mark-compacts (this found the request-body stream, ~1.4 KB per reload).
 *
 * ```sh
 * deno run --no-prompt --allow-read --allow-write --allow-run --allow-net=127.0.0.1,localhost \
 *   bench/heap_profile.ts [--reloads 5000] [--survivors] [--top 25]
 * ```
 *
 * All traffic goes to 127.0.0.1; the run stops by itself.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DEFAULT_OPTIONS } from "../lib/cli/options.ts";
import { permissionFlags } from "../lib/cli/permissions.ts";
import { freePort, mintCertificate, mintChain, TempDir } from "../tests/_fixtures.ts";
import { serverFlags } from "../tests/_server.ts";
import { untilAnswering } from "./_measure.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
/** Bytes between two samples: small enough to see sites of a few bytes per reload. */
const SAMPLING_INTERVAL = 512;

/** One node of the inspector's sampled allocation tree. */
interface ProfileNode {
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly selfSize: number;
  readonly children: readonly ProfileNode[];
}

/** A minimal Chrome DevTools Protocol client over the inspector's WebSocket. */
class Inspector implements Disposable {
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, (result: unknown) => void>();
  #nextId = 1;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      this.#pending.get(message.id)?.(message.result);
      this.#pending.delete(message.id);
    };
  }

  /** Connects to the first target the inspector at `port` lists. */
  static async connect(port: number): Promise<Inspector> {
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    const socket = new WebSocket(targets[0].webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    });
    return new Inspector(socket);
  }

  /** Sends one command and resolves with its result. */
  send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.#nextId++;
    const { promise, resolve } = Promise.withResolvers<T>();
    this.#pending.set(id, resolve as (result: unknown) => void);
    this.#socket.send(JSON.stringify({ id, method, params }));
    return promise;
  }

  [Symbol.dispose](): void {
    this.#socket.close();
  }
}

/** Bytes by allocation site (its innermost `depth` frames), summed over the tree. */
function bySite(root: ProfileNode, depth: number): Map<string, number> {
  const sites = new Map<string, number>();
  const walk = (node: ProfileNode, stack: readonly string[]) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const frame = `${functionName || "(anonymous)"} ${url.replace(/^.*\//, "")}:${lineNumber + 1}`;
    const frames = [frame, ...stack].slice(0, depth);
    if (node.selfSize > 0) {
      const site = frames.join(" < ");
      sites.set(site, (sites.get(site) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, frames);
  };
  walk(root, []);
  return sites;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      reloads: { type: "string", default: "5000" },
      survivors: { type: "boolean", default: false },
      top: { type: "string", default: "25" },
      depth: { type: "string", default: "3" },
    },
  });
  const reloads = Number(values.reloads);
  await using dir = await TempDir.create();
  const { leaf, intermediate, root } = await mintChain();
  const files = [
    (await mintCertificate()).certificatePem,
    leaf.certificatePem + intermediate.certificatePem + root.certificatePem,
  ];
  const options = {
    ...DEFAULT_OPTIONS,
    cert: await dir.write("cert.pem", files[0] as string),
    port: freePort(),
    controlPort: freePort(),
  };
  const inspectPort = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--inspect=127.0.0.1:${inspectPort}`,
      ...permissionFlags(options),
      MAIN,
      ...serverFlags(options),
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await untilAnswering(child, [`http://127.0.0.1:${options.controlPort}/healthz`]);
    using inspector = await Inspector.connect(inspectPort);
    await inspector.send("HeapProfiler.enable");
    await inspector.send("HeapProfiler.startSampling", {
      samplingInterval: SAMPLING_INTERVAL,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: !values.survivors,
    });
    const url = `http://127.0.0.1:${options.controlPort}/reload_certs`;
    for (let i = 0; i < reloads; i++) {
      await Deno.writeTextFile(options.cert, files[i % 2] as string);
      const response = await fetch(url, { method: "POST" });
      await response.body?.cancel();
      if (response.status !== 200) throw new Error(`reload ${i}: ${response.status}`);
    }
    const { profile } = await inspector.send<{ profile: { head: ProfileNode } }>(
      "HeapProfiler.getSamplingProfile",
    );
    const sites = [...bySite(profile.head, Number(values.depth))].sort((a, b) => b[1] - a[1]);
    const total = sites.reduce((sum, [, bytes]) => sum + bytes, 0);
    const what = values.survivors ? "surviving young-generation GCs" : "allocated";
    console.log(
      `${(total / reloads).toFixed(0)} bytes ${what} per reload, over ${reloads} reloads`,
    );
    console.log("| bytes per reload | site (innermost frame first) |\n| ---: | --- |");
    for (const [site, bytes] of sites.slice(0, Number(values.top))) {
      console.log(`| ${(bytes / reloads).toFixed(0)} | ${site} |`);
    }
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

if (import.meta.main) await main();
