/**
 * Stopping with the task runner: a server started by `deno task` stops when
 * the task process that started it is gone (killed with SIGKILL, say, which
 * it cannot forward), instead of running on as an orphan. It notices by its
 * parent pid changing (the kernel hands an orphan to another parent), a check
 * that needs no permission. Only a task-started server watches: one started
 * by hand under `nohup … &` must outlive the shell that started it.
 *
 * @module
 */

import { every } from "../ground/timer.ts";

/** How often the parent pid is checked. */
export const PARENT_CHECK_MS = 1_000;

/** Calls `onGone` once, with the old parent's pid, when this process's parent has changed; abort `stop` to stop watching. */
export function watchParent(onGone: (parent: number) => void, stop: AbortSignal): void {
  const parent = Deno.ppid;
  const gone = new AbortController();
  const watching = AbortSignal.any([stop, gone.signal]);
  void every(PARENT_CHECK_MS, () => {
    if (Deno.ppid === parent) return;
    gone.abort();
    onGone(parent);
  }, watching);
}
