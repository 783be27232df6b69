/**
 * The real server (`main.ts`), plus a memory report on SIGUSR2: a full
 * garbage collection, then one line `memory {"heapUsed":…,"rss":…}` on
 * standard output. Run with `--v8-flags=--expose-gc` and the server's own
 * flags; the memory test reads the line after every batch of reloads.
 *
 * @module
 */

import { main } from "../main.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");

Deno.addSignalListener("SIGUSR2", () => {
  gc();
  const { heapUsed, rss } = Deno.memoryUsage();
  console.log(`memory ${JSON.stringify({ heapUsed, rss })}`);
});

Deno.exit(await main(Deno.args));
