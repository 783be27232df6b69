/**
 * The project's module graph as `deno info --json` reads it (code and
 * type-only imports alike), and the two rules it must keep: no cycle, and
 * imports that run down the layers only.
 *
 * @module
 */

/** The layers, lowest first: a module may import its own layer and the ones before it. */
export const LAYERS = [
  "ground",
  "certificate",
  "reload",
  "serve",
  "control",
  "api",
  "mod",
  "cli",
] as const;

/** One of {@linkcode LAYERS}. */
export type Layer = typeof LAYERS[number];

/** Each project file (relative path) and the project files it imports. */
export type ImportGraph = Map<string, Set<string>>;

/** The layer of a project file: by its `lib/` folder; `mod.ts` is its own, `main.ts` is the CLI's. */
export function layerOf(file: string): Layer | undefined {
  if (file === "mod.ts") return "mod";
  if (file === "main.ts") return "cli";
  return LAYERS.find((layer) => file.startsWith(`lib/${layer}/`));
}

/** Reads the graph of main.ts, mod.ts, every file of lib/ and examples/ with one `deno info --json`. */
export async function readImportGraph(root: URL): Promise<ImportGraph> {
  const files = [
    "main.ts",
    "mod.ts",
    ...await _tsFiles(root, "lib"),
    ...await _tsFiles(root, "examples"),
  ];
  const dir = await Deno.makeTempDir({ prefix: "signal-server-layers-" });
  try {
    const entry = `${dir}/all.ts`;
    await Deno.writeTextFile(
      entry,
      files.map((file) => `import "${new URL(file, root).href}";\n`).join(""),
    );
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--no-config", entry],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (code !== 0) throw new Error(`deno info failed: ${new TextDecoder().decode(stderr)}`);
    const info = JSON.parse(new TextDecoder().decode(stdout)) as DenoInfo;
    const graph: ImportGraph = new Map();
    for (const module of info.modules) {
      const from = _projectPath(root, module.specifier);
      if (from === undefined) continue;
      const targets = new Set<string>();
      for (const dependency of module.dependencies ?? []) {
        for (const resolved of [dependency.code?.specifier, dependency.type?.specifier]) {
          const to = resolved === undefined ? undefined : _projectPath(root, resolved);
          if (to !== undefined && to !== from) targets.add(to);
        }
      }
      graph.set(from, targets);
    }
    return graph;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every import cycle, each as the files along it with the first repeated at the end. */
export function findCycles(graph: ImportGraph): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (file: string): void => {
    state.set(file, "open");
    path.push(file);
    for (const next of [...(graph.get(file) ?? [])].sort()) {
      if (state.get(next) === "open") cycles.push([...path.slice(path.indexOf(next)), next]);
      else if (state.get(next) === undefined) visit(next);
    }
    path.pop();
    state.set(file, "done");
  };
  for (const file of [...graph.keys()].sort()) {
    if (state.get(file) === undefined) visit(file);
  }
  return cycles;
}

/** Every import against the layers, worded: upward imports, lib/cli/ imported from outside, examples past mod.ts. */
export function layerViolations(graph: ImportGraph): string[] {
  const violations: string[] = [];
  for (const [from, targets] of [...graph].sort(([a], [b]) => a.localeCompare(b))) {
    for (const to of [...targets].sort()) {
      if (from.startsWith("examples/")) {
        if (to !== "mod.ts") violations.push(`${from} imports ${to}: examples import mod.ts alone`);
        continue;
      }
      const fromLayer = layerOf(from);
      const toLayer = layerOf(to);
      if (fromLayer === undefined || toLayer === undefined) continue;
      if (toLayer === "cli" && fromLayer !== "cli") {
        violations.push(`${from} imports ${to}: only main.ts and lib/cli/ may import lib/cli/`);
      } else if (LAYERS.indexOf(toLayer) > LAYERS.indexOf(fromLayer)) {
        violations.push(`${from} (${fromLayer}) imports ${to} (${toLayer}), a higher layer`);
      }
    }
  }
  return violations;
}

interface DenoInfo {
  readonly modules: readonly {
    readonly specifier: string;
    readonly dependencies?: readonly {
      readonly code?: { readonly specifier?: string };
      readonly type?: { readonly specifier?: string };
    }[];
  }[];
}

function _projectPath(root: URL, specifier: string): string | undefined {
  if (!specifier.startsWith(root.href)) return undefined;
  const path = specifier.slice(root.href.length);
  return path.startsWith("tests/") || path.startsWith("bench/") ? undefined : path;
}

async function _tsFiles(root: URL, folder: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(new URL(`${folder}/`, root))) {
    const path = `${folder}/${entry.name}`;
    if (entry.isDirectory) found.push(...await _tsFiles(root, path));
    else if (entry.name.endsWith(".ts")) found.push(path);
  }
  return found.sort();
}
