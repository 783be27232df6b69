import assert from "node:assert/strict";
import { ExpiryWarner } from "../lib/reload/expiry.ts";
import type { Notice } from "../lib/api/notice.ts";
import { fileState, watchFiles } from "../lib/reload/watcher.ts";
import { fakeCertificate } from "./_certificates.ts";
import { TempDir } from "./_fixtures.ts";
import { sleep } from "../lib/ground/timer.ts";
import { test } from "./_time_limit.ts";

test("the watcher turns a burst of writes to both files into one reload, after they settle", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", "a");
  const key = await dir.write("key.pem", "a");
  let written = false;
  const reloads: boolean[] = []; // Whether the burst was over at each reload.
  const reloaded = Promise.withResolvers<void>();
  const watcher = await watchFiles({
    paths: [cert, key],
    reload: () => {
      reloads.push(written);
      reloaded.resolve();
      return Promise.resolve();
    },
    onEventsFailed: () => {},
    pollMs: 10,
    settleMs: 1_000, // Far longer than the gaps in the burst, each several polls long.
  });
  try {
    for (let i = 0; i < 5; i++) {
      await Deno.writeTextFile(i % 2 ? key : cert, `b${i}`);
      await sleep(30);
    }
    written = true;
    await reloaded.promise;
    assert.deepEqual(reloads, [true], "one reload, once the whole burst was written");
    await sleep(300); // Thirty polls more: none may reload what is already loaded.
    assert.deepEqual(reloads, [true], "no reload without a change");
  } finally {
    await watcher.stop();
  }
});

test("the file state changes with an in-place rewrite of the same size and mtime, a rename over the file and its removal, and not otherwise", async () => {
  await using dir = await TempDir.create();
  const path = await dir.write("cert.pem", "one");
  const before = await fileState([path]);
  assert.equal(await fileState([path]), before, "nothing changed");
  // In place, the same size, and the old mtime back: as two writes within one timestamp tick.
  const { mtime, atime, ino } = await Deno.stat(path);
  await Deno.writeTextFile(path, "two");
  await Deno.utime(path, atime ?? new Date(), mtime ?? new Date());
  const rewritten = await Deno.stat(path);
  assert.deepEqual([rewritten.ino, rewritten.size, rewritten.mtime], [ino, 3, mtime]);
  const inPlace = await fileState([path]);
  assert.notEqual(inPlace, before, "the same inode, size and mtime, other bytes");
  await Deno.writeTextFile(path, "three");
  const longer = await fileState([path]);
  assert.notEqual(longer, inPlace, "rewritten in place with another size");
  await dir.write("cert.pem", "three"); // same bytes, new inode (rename)
  const renamed = await fileState([path]);
  assert.notEqual(renamed, longer, "replaced by a rename");
  assert.equal(await fileState([path]), renamed, "nothing changed since");
  await Deno.remove(path);
  assert.equal(await fileState([path]), "NotFound");
});

test("the watcher reloads on an in-place rewrite of the same size that keeps the old mtime", {
  limitMs: 20_000,
}, async () => {
  await using dir = await TempDir.create();
  const path = await dir.write("cert.pem", "one");
  const reloaded = Promise.withResolvers<void>();
  const watcher = await watchFiles({
    paths: [path],
    reload: () => Promise.resolve(reloaded.resolve()),
    onEventsFailed: () => {},
    pollMs: 50,
    settleMs: 50,
  });
  try {
    const { mtime, atime } = await Deno.stat(path);
    await Deno.writeTextFile(path, "two");
    await Deno.utime(path, atime ?? new Date(), mtime ?? new Date());
    await reloaded.promise; // Never resolving fails the test at its time limit.
  } finally {
    await watcher.stop();
  }
});

test("the expiry warner warns inside the window only, and again on each daily check", async () => {
  const notices: Notice[] = [];
  const warnedThrice = Promise.withResolvers<void>();
  const now = new Date("2026-12-20T12:00:00Z");
  const warner = new ExpiryWarner(14, (notice) => {
    if (notices.push(notice) === 3) warnedThrice.resolve();
  }, () => now);
  const far = fakeCertificate("AA", { notAfter: new Date("2027-06-01T00:00:00Z") });
  const near = fakeCertificate("BB", { notAfter: new Date("2026-12-27T12:00:00Z") });
  assert.equal(warner.check(far), false);
  assert.equal(warner.check(near), true);
  assert.equal(notices.length, 1);
  const notice = notices[0];
  assert.ok(notice?.kind === "expiry" && notice.daysLeft === 7 && notice.warnDays === 14);
  warner.startDaily(() => near, 20);
  await warnedThrice.promise; // Two daily checks, each warning again.
  warner.stop();
  const count = notices.length;
  await sleep(100); // Five periods more: a check still running would warn.
  assert.equal(notices.length, count, "stop() ends the daily check");
});

test("when file events cannot be had, the watcher says so once and finds changes by polling", {
  limitMs: 20_000,
}, async () => {
  await using dir = await TempDir.create();
  const path = dir.path("not-yet.pem"); // watchFs refuses a path that does not exist
  const failures: string[] = [];
  let reloads = 0;
  const reloaded = Promise.withResolvers<void>();
  const watcher = await watchFiles({
    paths: [path],
    reload: () => Promise.resolve(reloads++).then(() => reloaded.resolve()),
    onEventsFailed: (reason) => failures.push(reason),
    pollMs: 50,
    settleMs: 100,
  });
  try {
    assert.equal(failures.length, 1, "the failure is reported once");
    await Deno.writeTextFile(path, "now it exists");
    await reloaded.promise; // Polling found the change.
    assert.equal(reloads, 1, "one reload for the change");
    assert.equal(failures.length, 1);
  } finally {
    await watcher.stop();
  }
});
