import assert from "node:assert/strict";
import { every, sleep, within, withinAbout } from "../lib/ground/timer.ts";
import { TempDir } from "./_fixtures.ts";
import { test } from "./_time_limit.ts";

test("sleep waits its time, and a cancelled sleep ends at once", async () => {
  const started = performance.now();
  await sleep(30);
  assert.ok(performance.now() - started >= 29, "slept at least its time");
  const cancel = new AbortController();
  const long = sleep(60_000, cancel.signal);
  cancel.abort();
  const ended = await within(long.then(() => "ended"), 5_000);
  assert.equal(ended, "ended", "a cancelled 60 s sleep ends at once");
});

test("within gives the work's value, or undefined once the limit passes", async () => {
  assert.equal(await within(Promise.resolve(7), 1_000), 7);
  assert.equal(await within(new Promise<never>(() => {}), 20), undefined);
  await assert.rejects(within(Promise.reject(new Error("boom")), 1_000), /boom/);
});

test("withinAbout gives up between its limit and twice it, calls close together sharing that end", async () => {
  const never = new Promise<never>(() => {});
  const started = performance.now();
  const [first, second] = await Promise.all([withinAbout(never, 50), withinAbout(never, 50)]);
  const waited = performance.now() - started;
  assert.deepEqual([first, second], [undefined, undefined]);
  assert.ok(waited >= 49 && waited < 1_000, `gave up after ${waited.toFixed(0)} ms`);
  assert.equal(await withinAbout(Promise.resolve("done"), 50), "done");
});

test("every runs its task until cancelled", async () => {
  const cancel = new AbortController();
  let runs = 0;
  const running = every(5, () => {
    if (++runs === 3) cancel.abort();
  }, cancel.signal);
  await running;
  assert.equal(runs, 3);
});

test("an open that blocks on a FIFO is given up after the limit, and the event loop runs on", async () => {
  await using dir = await TempDir.create();
  const fifo = dir.path("pipe");
  assert.ok((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success);
  const opening = Deno.open(fifo, { read: true });
  let ticks = 0;
  const ticking = every(5, () => ticks++, AbortSignal.timeout(200));
  assert.equal(await within(opening, 100), undefined);
  assert.ok(ticks >= 5, `the event loop ran while the open waited (${ticks} ticks)`);
  await ticking;
  // Release the blocked open: a writer arrives, the reader opens, both close.
  const writer = await Deno.open(fifo, { write: true });
  (await opening).close();
  writer.close();
});
