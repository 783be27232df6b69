/**
 * Where log lines go: a bounded queue in front of standard output, written
 * by one asynchronous write at a time, so that a reader that stalls (a
 * stopped `journald`, `| less`), a reader that is gone (EPIPE) or a full disk
 * never blocks the event loop, never throws into a request or a reload, and
 * never changes an answer. Lines that do not fit in the queue, or whose write
 * failed, are dropped and counted; once a write works again, one line says
 * how many were lost.
 *
 * A synchronous `writeSync` per line was ~3× cheaper than `console.log`, but
 * blocks the whole process in `pipe_write` once a pipe's 64 KiB are full.
 * The asynchronous write runs on Deno's blocking pool; lines queued while it
 * runs go out together in the next one.
 *
 * @module
 */

/** Somewhere bytes can be written asynchronously, e.g. `Deno.stdout`. */
export interface LineWriter {
  /** Writes some of the bytes; resolves with how many. */
  write(bytes: Uint8Array): Promise<number>;
  /** Writes some of the bytes synchronously (only used at exit, when no write is pending). */
  writeSync(bytes: Uint8Array): number;
}

/** The most bytes queued while a write is stuck; lines beyond are dropped. */
export const MAX_QUEUED_BYTES = 256 * 1024;

const NEWLINE = 0x0a;
const encoder = new TextEncoder();

/** A bounded, non-blocking writer of lines that counts what it had to drop. */
export class LineSink {
  readonly #writer: LineWriter;
  readonly #lostLine: (count: number, reason: string) => string;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #writing = false;
  #dropped = 0;
  #unreported = 0;
  #reason = "";
  #idle: (() => void)[] = [];

  /** A sink writing to `writer`; `lostLine` words the line that reports lost lines. */
  constructor(writer: LineWriter, lostLine: (count: number, reason: string) => string) {
    this.#writer = writer;
    this.#lostLine = lostLine;
  }

  /** Lines dropped since the start. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queues one line (a newline is added) and starts a write if none is running; never throws. */
  write(line: string): void {
    const bytes = encoder.encode(line + "\n");
    if (this.#queuedBytes + bytes.byteLength > MAX_QUEUED_BYTES) {
      this.#lose(1, "the log's reader is not keeping up");
      return;
    }
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.byteLength;
    if (!this.#writing) void this.#drain();
  }

  /** Resolves when every queued line was written (or dropped), or after `ms` milliseconds. */
  flush(ms: number): Promise<void> {
    if (!this.#writing && this.#queue.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#idle.push(resolve);
      const timer = AbortSignal.timeout(ms);
      timer.addEventListener("abort", () => resolve());
    });
  }

  /** Writes what is queued synchronously, unless a write is pending (its reader may be stalled). */
  flushSync(): void {
    if (this.#writing) return;
    const batch = this.#take();
    try {
      for (let written = 0; written < batch.byteLength;) {
        written += this.#writer.writeSync(batch.subarray(written));
      }
    } catch {
      // Exiting: nothing is left to tell.
    }
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    while (this.#queue.length > 0) {
      const batch = this.#take();
      let written = 0;
      try {
        while (written < batch.byteLength) {
          written += await this.#writer.write(batch.subarray(written));
        }
      } catch (error) {
        const lines = _count(batch, NEWLINE) - _count(batch.subarray(0, written), NEWLINE);
        this.#lose(lines, error instanceof Error ? error.message : String(error));
        continue;
      }
      if (this.#unreported > 0) {
        const report = encoder.encode(this.#lostLine(this.#unreported, this.#reason) + "\n");
        this.#unreported = 0;
        this.#queue.unshift(report);
        this.#queuedBytes += report.byteLength;
      }
    }
    this.#writing = false;
    const waiting = this.#idle;
    this.#idle = [];
    for (const resolve of waiting) resolve();
  }

  #take(): Uint8Array {
    const queue = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    if (queue.length === 1) return queue[0] as Uint8Array;
    const batch = new Uint8Array(queue.reduce((sum, bytes) => sum + bytes.byteLength, 0));
    let offset = 0;
    for (const bytes of queue) {
      batch.set(bytes, offset);
      offset += bytes.byteLength;
    }
    return batch;
  }

  #lose(lines: number, reason: string): void {
    this.#dropped += lines;
    this.#unreported += lines;
    this.#reason = reason;
  }
}

function _count(bytes: Uint8Array, byte: number): number {
  let count = 0;
  for (let i = bytes.indexOf(byte); i !== -1; i = bytes.indexOf(byte, i + 1)) count += 1;
  return count;
}
