import assert from "node:assert/strict";
import { every, sleep, slotEnd, within, withinAbout } from "../lib/ground/timer.ts";
import { TempDir } from "./_fixtures.ts";
import { test } from "./_time_limit.ts";

test("sleep waits its time: a longer sleep started first ends after a shorter one; a cancelled sleep ends at once", async () => {
  const ended: number[] = [];
  await Promise.all([30, 10].map((ms) => sleep(ms).then(() => ended.push(ms))));
  assert.deepEqual(ended, [10, 30], "each sleep ended in the order of its time, not of its start");
  const cancel = new AbortController();
  const long = sleep(60_000, cancel.signal);
  cancel.abort();
  const over = await within(long.then(() => "ended"), 5_000);
  assert.equal(over, "ended", "a cancelled 60 s sleep ends at once");
});

test("within gives the work's value, or undefined once the limit passes", async () => {
  assert.equal(await within(Promise.resolve(7), 1_000), 7);
  assert.equal(await within(new Promise<never>(() => {}), 20), undefined);
  await assert.rejects(within(Promise.reject(new Error("boom")), 1_000), /boom/);
});

test("withinAbout gives up between its limit and twice it: its slot ends at the first multiple of the limit past now + limit", () => {
  for (const now of [0, 0.5, 49.9, 50, 50.1, 99.99, 1_234.5]) {
    const end = slotEnd(now, 50);
    assert.ok(end >= now + 50 && end < now + 100, `slot of ${now}: ${end}`);
    assert.equal(end % 50, 0, "slots are aligned, so calls close together share one end");
  }
  assert.equal(slotEnd(10, 50), slotEnd(40, 50), "calls in one slot share its timer");
});

test("withinAbout gives up no earlier than its limit, and gives the work's value", async () => {
  const never = new Promise<never>(() => {});
  const order: string[] = [];
  const shorter = sleep(40).then(() => order.push("sleep 40"));
  // Two calls: they share a slot's end unless they fall on either side of a slot boundary.
  const calls = [withinAbout(never, 50), withinAbout(never, 50)].map((call) =>
    call.then((value) => order.push(`gave up: ${value}`))
  );
  await Promise.all([shorter, ...calls]);
  assert.deepEqual(order, ["sleep 40", "gave up: undefined", "gave up: undefined"]);
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
  let opened = false;
  opening.then(() => opened = true, () => {});
  const stop = new AbortController();
  const ticked = Promise.withResolvers<void>();
  const ticking = every(5, () => ticked.resolve(), stop.signal);
  await ticked.promise; // A timer ran while the open waited.
  assert.equal(opened, false, "the open still waits for a writer");
  assert.equal(await within(opening, 100), undefined);
  stop.abort();
  await ticking;
  // Release the blocked open: a writer arrives, the reader opens, both close.
  const writer = await Deno.open(fifo, { write: true });
  (await opening).close();
  writer.close();
});
