/**
 * Waiting, on Deno's own web timer (`AbortSignal.timeout`). Deno 2.9.6's
 * global `setTimeout` and `setInterval` return Node's `Timeout`, and their
 * first call loads part of the Node compatibility layer: ~3 MiB of resident
 * memory that a bare `Deno.serve` does not carry. `AbortSignal.timeout` cannot
 * be cleared and keeps the process alive until it fires, so a cancelled wait
 * ends at once while its timer runs out unseen, and long waits are taken in
 * steps of at most a second (a stopped server lets the process exit within one).
 *
 * @module
 */

/** The longest single timer a wait starts. */
export const STEP_MS = 1000;

/** Resolves after `ms` milliseconds, or as soon as `cancel` aborts. */
export async function sleep(ms: number, cancel?: AbortSignal): Promise<void> {
  const end = performance.now() + ms;
  for (let left = ms; left > 0 && !cancel?.aborted; left = end - performance.now()) {
    await _step(Math.min(left, STEP_MS), cancel);
  }
}

/** Calls `task` every `ms` milliseconds until `cancel` aborts. */
export async function every(ms: number, task: () => void, cancel: AbortSignal): Promise<void> {
  while (!cancel.aborted) {
    await sleep(ms, cancel);
    if (!cancel.aborted) task();
  }
}

/** Settles like `work`, or with `undefined` after `ms` milliseconds if `work` is still pending. */
export async function within<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  const settled = new AbortController();
  try {
    return await Promise.race([work, sleep(ms, settled.signal).then(() => undefined)]);
  } finally {
    settled.abort();
  }
}

/**
 * Like {@linkcode within}, but gives up between `ms` and 2 × `ms` later: every call in the same
 * `ms`-wide slot of time shares one timer, so a hot path (a file open per reload) starts no timer
 * of its own. A call holds nothing past its work's end, so what it allocates dies young.
 */
export function withinAbout<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  const { promise, resolve, reject } = Promise.withResolvers<T | undefined>();
  const giveUp = () => resolve(undefined);
  const waiting = _slotWaiters(ms);
  waiting.add(giveUp);
  work.then(resolve, reject).finally(() => waiting.delete(giveUp));
  return promise;
}

/** The calls waiting on the current `ms`-wide slot, by width; its timer gives them all up. */
const SLOTS = new Map<number, { readonly at: number; readonly waiting: Set<() => void> }>();

/**
 * When the `ms`-wide slot that a {@linkcode withinAbout} call made at `now` waits on ends: the
 * first multiple of `ms` at or after `now + ms`, so between `ms` and 2 × `ms` from `now`.
 */
export function slotEnd(now: number, ms: number): number {
  return Math.ceil((now + ms) / ms) * ms;
}

function _slotWaiters(ms: number): Set<() => void> {
  const at = slotEnd(performance.now(), ms);
  const current = SLOTS.get(ms);
  if (current?.at === at) return current.waiting;
  const slot = { at, waiting: new Set<() => void>() };
  SLOTS.set(ms, slot);
  void sleep(at - performance.now()).then(() => {
    if (SLOTS.get(ms) === slot) SLOTS.delete(ms);
    for (const giveUp of slot.waiting) giveUp();
  });
  return slot.waiting;
}

function _step(ms: number, cancel: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timeout = AbortSignal.timeout(ms);
    const done = () => {
      timeout.removeEventListener("abort", done);
      cancel?.removeEventListener("abort", done);
      resolve();
    };
    timeout.addEventListener("abort", done);
    cancel?.addEventListener("abort", done);
  });
}
