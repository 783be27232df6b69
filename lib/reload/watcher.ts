/**
 * The file watcher (`--watch`): finds when the certificate or key changed on
 * disk and asks for the same reload as POST and SIGHUP, with trigger `watch`.
 * It never decides anything itself: the loader checks the files, the reloader
 * keeps the last good pair.
 *
 * It works with read grants on the configured paths only, so it cannot watch
 * their directories. Each check stats the paths (`Deno.stat` follows links to
 * the resolved files) and compares device, inode, size and modification time,
 * and a digest of each regular file's content: a rewrite in place of the same
 * size within the file system's timestamp granularity, or one that keeps the
 * old mtime (`cp -p`, `rsync -t --inplace`), changes nothing else. That sees an
 * in-place rewrite, a write-then-rename and the atomic `..data` swap of
 * Kubernetes Secret volumes alike. `Deno.watchFs` on the files only
 * makes the check come sooner; when it fails, polling goes on.
 *
 * A change is acted on once the files have stayed the same for
 * {@linkcode SETTLE_MS}, so a burst of writes (a file written in pieces, a
 * certificate then its key) becomes one reload.
 *
 * @module
 */

import { MAX_FILE_BYTES } from "../certificate/certificate.ts";
import { unreachable } from "../ground/result.ts";
import { sleep } from "../ground/timer.ts";

/** How often the files are checked without a file event, in milliseconds. */
export const POLL_MS = 500;
/** How long the files must stay unchanged before a change is acted on, in milliseconds. */
export const SETTLE_MS = 300;

/** The watcher's notices: that the files are watched, and that file events failed (polling goes on). */
export type WatcherNotice =
  | {
    /** The files are watched for changes (`watch: true`). */
    readonly kind: "watching";
    readonly paths: readonly string[];
    readonly pollMs: number;
  }
  | {
    /** The file-event watcher failed; changes are still found by polling. */
    readonly kind: "watcher_failed";
    readonly reason: string;
    readonly pollMs: number;
  };

/** Renders a watcher notice as the operator reads it. */
export function formatWatcherNotice(notice: WatcherNotice): string {
  switch (notice.kind) {
    case "watching":
      return `watching ${notice.paths.map((path) => `"${path}"`).join(" and ")} for changes ` +
        `(file events, and a check every ${notice.pollMs} ms); a change reloads with trigger watch`;
    case "watcher_failed":
      return `file events stopped (${notice.reason}); still checking for changes every ` +
        `${notice.pollMs} ms`;
    default:
      return unreachable(notice);
  }
}

/** What the watcher calls. */
export interface WatcherOptions {
  /** The configured certificate (and key) paths. */
  readonly paths: readonly string[];
  /** Reloads; resolves when the reload is done. */
  readonly reload: () => Promise<unknown>;
  /** Told once when file events fail; polling goes on. */
  readonly onEventsFailed: (reason: string) => void;
  /** Check interval; defaults to {@linkcode POLL_MS}. */
  readonly pollMs?: number;
  /** Settle time; defaults to {@linkcode SETTLE_MS}. */
  readonly settleMs?: number;
}

/** A running watcher. */
export interface Watcher {
  /** Stops watching; resolves when no check or reload is left running. */
  stop(): Promise<void>;
}

/** Starts watching the files; the state at start is the one already loaded. */
export async function watchFiles(options: WatcherOptions): Promise<Watcher> {
  const pollMs = options.pollMs ?? POLL_MS;
  const settleMs = options.settleMs ?? SETTLE_MS;
  let loadedState = await fileState(options.paths);
  let stopped = false;
  let wake: AbortController | undefined;
  /** Sleeps until the next poll, or until a file event or stop() wakes it. */
  const nap = async (ms: number) => {
    wake = new AbortController();
    await sleep(ms, wake.signal);
    wake = undefined;
  };

  const events = _watchEvents(options.paths, () => wake?.abort(), options.onEventsFailed);
  const loop = (async () => {
    while (!stopped) {
      await nap(pollMs);
      if (stopped) break;
      let seen = await fileState(options.paths);
      if (seen === loadedState) continue;
      // Changed: wait until the files hold still, so that a burst of writes is one reload.
      while (!stopped) {
        await sleep(settleMs);
        const now = await fileState(options.paths);
        if (now === seen) break;
        seen = now;
      }
      if (stopped) break;
      loadedState = seen;
      await options.reload();
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake?.abort();
      events.close();
      await loop;
    },
  };
}

/**
 * Device, inode, size, modification time and content digest of each (resolved) path, or why it
 * cannot be read. Only regular files the loader would read are read (no FIFO, no device).
 */
export function fileState(paths: readonly string[]): Promise<string> {
  return _state(paths, true);
}

/**
 * Device, inode, size and modification time of each (resolved) path, or why it cannot be read:
 * a `stat` each, no read, for looks that must stay cheap (drift); it misses a same-size rewrite
 * within one timestamp tick, which {@linkcode fileState} sees.
 */
export function statState(paths: readonly string[]): Promise<string> {
  return _state(paths, false);
}

async function _state(paths: readonly string[], withContent: boolean): Promise<string> {
  const parts = await Promise.all(paths.map(async (path) => {
    try {
      const info = await Deno.stat(path);
      const content = withContent && info.isFile && info.size <= MAX_FILE_BYTES
        ? await _digest(path)
        : "";
      return `${info.dev}:${info.ino}:${info.size}:${info.mtime?.getTime()}:${content}`;
    } catch (error) {
      return error instanceof Error ? error.name : "unreadable";
    }
  }));
  return parts.join("|");
}

/** The SHA-256 digest of a file's bytes, in base64. */
async function _digest(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** File events as a hint to check now; reports once if they cannot be had or stop. */
function _watchEvents(
  paths: readonly string[],
  onEvent: () => void,
  onFailed: (reason: string) => void,
): { close(): void } {
  let watcher: Deno.FsWatcher;
  try {
    watcher = Deno.watchFs([...paths], { recursive: false });
  } catch (error) {
    onFailed(error instanceof Error ? error.message : String(error));
    return { close() {} };
  }
  let closed = false;
  (async () => {
    try {
      for await (const _event of watcher) onEvent();
      if (!closed) onFailed("the file event stream ended");
    } catch (error) {
      if (!closed) onFailed(error instanceof Error ? error.message : String(error));
    }
  })();
  return {
    close() {
      closed = true;
      try {
        watcher.close();
      } catch {
        // Already closed.
      }
    },
  };
}
