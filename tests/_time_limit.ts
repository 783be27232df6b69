/**
 * Every test runs under a time limit: {@linkcode test} registers a `Deno.test`
 * (which has no timeout option of its own) that races the test's body against
 * a deadline. When the deadline passes, the processes the test spawned are
 * killed, the body is given a moment to clean up, and the test fails with an
 * error naming it, instead of hanging the run.
 *
 * A test that cannot run here says why through Deno's `ignore`: pass the
 * reason as `skip`, and the name shows `(skipped: reason)`.
 *
 * @module
 */

/** How long a test may run unless it says otherwise: generous for a loaded 2-core machine. */
export const TEST_LIMIT_MS = 120_000;
/** How long a timed-out body is given, once its processes are killed, to run its `finally` blocks. */
const CLEANUP_MS = 10_000;

/** Options of a test. */
export interface TestOptions {
  /** Its time limit; defaults to {@linkcode TEST_LIMIT_MS}. */
  readonly limitMs?: number;
  /** Why the test cannot run here; it is then ignored, with the reason in its name. */
  readonly skip?: string;
}

/** For each test body running (innermost last), the kills of what it spawned. */
const running: Set<() => void>[] = [];
/**
 * Every kill registered and not yet removed, whichever test it was registered in: run when the
 * test process exits, so that a body still running after its time limit (its processes killed,
 * it goes on and spawns another) leaves no server behind, re-parented to pid 1.
 */
const unreleased = new Set<() => void>();
globalThis.addEventListener("unload", () => {
  for (const kill of unreleased) kill();
});

/**
 * Registers a kill to run if the current test runs out of time (the server
 * harness registers every process it spawns), and in any case when the test
 * process exits; returns its removal, for when the process has exited.
 */
export function killIfOutOfTime(kill: () => void): () => void {
  const killers = running.at(-1);
  killers?.add(kill);
  unreleased.add(kill);
  return () => {
    killers?.delete(kill);
    unreleased.delete(kill);
  };
}

/** Registers a test that fails, naming itself, when it has not finished within its time limit. */
export function test(name: string, fn: (t: Deno.TestContext) => Promise<void> | void): void;
/** Registers a test with a time limit of its own, or skipped with a reason. */
export function test(
  name: string,
  options: TestOptions,
  fn: (t: Deno.TestContext) => Promise<void> | void,
): void;
export function test(
  name: string,
  optionsOrFn: TestOptions | ((t: Deno.TestContext) => Promise<void> | void),
  maybeFn?: (t: Deno.TestContext) => Promise<void> | void,
): void {
  const options = typeof optionsOrFn === "function" ? {} : optionsOrFn;
  const fn = typeof optionsOrFn === "function" ? optionsOrFn : maybeFn;
  if (fn === undefined) throw new Error(`test "${name}" has no body`);
  const limitMs = options.limitMs ?? TEST_LIMIT_MS;
  if (options.skip !== undefined) {
    Deno.test({ name: `${name} (skipped: ${options.skip})`, ignore: true, fn: () => {} });
    return;
  }
  Deno.test(name, (t) => runWithin(name, limitMs, () => fn(t)));
}

/**
 * Runs a test's body; if it has not settled after `limitMs`, kills every
 * registered process, waits up to a few seconds for the body to settle, and
 * rejects with an error naming the test.
 */
export async function runWithin(
  name: string,
  limitMs: number,
  body: () => Promise<void> | void,
): Promise<void> {
  const killers = new Set<() => void>();
  running.push(killers);
  const settled = Promise.resolve().then(body);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outOfTime = new Promise<"out of time">((resolve) => {
    timer = setTimeout(() => resolve("out of time"), limitMs);
  });
  try {
    if (await Promise.race([settled, outOfTime]) !== "out of time") return;
    const killed = killers.size;
    for (const kill of [...killers]) kill();
    let cleanup: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      settled.catch(() => {}),
      new Promise((resolve) => cleanup = setTimeout(resolve, CLEANUP_MS)),
    ]);
    clearTimeout(cleanup);
    throw new Error(
      `Test "${name}" did not finish within ${limitMs} ms: failed, and the ${killed} ` +
        "process(es) it spawned were killed",
    );
  } finally {
    clearTimeout(timer);
    running.splice(running.indexOf(killers), 1);
  }
}
