import assert from "node:assert/strict";
import {
  findCycles,
  type ImportGraph,
  layerOf,
  layerViolations,
  readImportGraph,
} from "./_layers.ts";
import { test } from "./_time_limit.ts";

const ROOT = new URL("../", import.meta.url);

/** The graph of main.ts, mod.ts, lib/ and examples/, read once for every test here. */
const graph: Promise<ImportGraph> = readImportGraph(ROOT);

test("no import cycle among main.ts, mod.ts and lib/ (type-only imports count)", async () => {
  const read = await graph;
  assert.ok(read.size > 30, `the graph holds only ${read.size} files`);
  assert.ok(read.get("mod.ts")?.has("lib/api/notice.ts"), "mod.ts's imports were not read");
  assert.ok(
    read.get("lib/serve/tls/tls_front.ts")?.has("lib/certificate/certificate.ts"),
    "type-only imports were not read",
  );
  const cycles = findCycles(await graph);
  assert.deepEqual(cycles, [], `import cycles:\n${cycles.map((c) => c.join(" -> ")).join("\n")}`);
});

test("every import runs down the layers, and only main.ts and lib/cli/ import lib/cli/", async () => {
  const violations = layerViolations(await graph);
  assert.deepEqual(violations, [], `imports against the layers:\n${violations.join("\n")}`);
});

test("the layer check finds a planted cycle and a planted upward import", () => {
  const planted: ImportGraph = new Map([
    ["lib/ground/result.ts", new Set(["lib/reload/reloader.ts"])],
    ["lib/reload/reloader.ts", new Set(["lib/ground/result.ts", "lib/cli/options.ts"])],
    ["lib/cli/options.ts", new Set()],
    ["examples/minimal.ts", new Set(["lib/reload/reloader.ts"])],
  ]);
  assert.deepEqual(findCycles(planted), [[
    "lib/reload/reloader.ts",
    "lib/ground/result.ts",
    "lib/reload/reloader.ts",
  ]]);
  assert.deepEqual(layerViolations(planted), [
    "examples/minimal.ts imports lib/reload/reloader.ts: examples import mod.ts alone",
    "lib/ground/result.ts (ground) imports lib/reload/reloader.ts (reload), a higher layer",
    "lib/reload/reloader.ts imports lib/cli/options.ts: only main.ts and lib/cli/ may import lib/cli/",
  ]);
});

test("every file of lib/ belongs to a layer, and every layer folder says what it is for", async () => {
  for (const file of (await graph).keys()) {
    if (file.startsWith("lib/")) {
      assert.notEqual(layerOf(file), undefined, `${file} is in no layer`);
    }
  }
  for await (const entry of Deno.readDir(new URL("lib/", ROOT))) {
    if (!entry.isDirectory) continue;
    const text = await Deno.readTextFile(new URL(`lib/${entry.name}/mod.ts`, ROOT)).catch(() => "");
    assert.match(text, /@module/, `lib/${entry.name}/ has no mod.ts with a module comment`);
    assert.match(
      text,
      /May import:/,
      `lib/${entry.name}/mod.ts does not say what the layer may import`,
    );
  }
});
