/**
 * The descriptor guard's probe for accept loops that cannot see their own
 * failures (the node front's): whether opening one more spare fails for want
 * of descriptors.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DescriptorGuard } from "../lib/serve/connections.ts";
import { test } from "./_time_limit.ts";

test("outOfDescriptors is true when opening a spare fails with EMFILE, false when it opens (and closes it) or fails otherwise", async () => {
  const outcomes: [() => Promise<{ close(): void }>, boolean][] = [
    [() => Promise.reject(new Error("Too many open files (os error 24): open 'cert.pem'")), true],
    [
      () => Promise.reject(new Error("No such file or directory (os error 2): open 'cert.pem'")),
      false,
    ],
  ];
  for (const [open, expected] of outcomes) {
    const guard = new DescriptorGuard();
    // The spares themselves open fine; only the probe meets the outcome.
    let calls = 0;
    guard.keepSpares(() => calls++ < 1 ? Promise.resolve({ close() {} }) : open(), 1);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(await guard.outOfDescriptors(), expected);
    guard.close();
  }
  let closed = 0;
  const guard = new DescriptorGuard();
  guard.keepSpares(() => Promise.resolve({ close: () => void closed++ }), 1);
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(await guard.outOfDescriptors(), false);
  assert.equal(closed, 1, "the probe's descriptor is closed again");
  guard.close();
});

test("outOfDescriptors does not start a second probe while one is pending (a FIFO blocks the open)", async () => {
  const guard = new DescriptorGuard();
  let opens = 0;
  const never = new Promise<{ close(): void }>(() => {});
  guard.keepSpares(() => opens++ < 1 ? Promise.resolve({ close() {} }) : never, 1);
  await new Promise((resolve) => setTimeout(resolve, 10));
  const first = guard.outOfDescriptors();
  assert.equal(await guard.outOfDescriptors(), false);
  assert.equal(opens, 2, "one spare and one probe");
  guard.close();
  void first;
});
