import assert from "node:assert/strict";
import { LineSink, type LineWriter, MAX_QUEUED_BYTES } from "../lib/cli/line_sink.ts";
import { formatLostLines, Log } from "../lib/cli/log.ts";
import { test } from "./_time_limit.ts";

/** A writer whose writes wait for `release()`, or fail, as the test says. */
class FakeWriter implements LineWriter {
  written = "";
  mode: "stalled" | "failing" | "working" = "working";
  #waiting: (() => void)[] = [];

  write(bytes: Uint8Array): Promise<number> {
    if (this.mode === "failing") return Promise.reject(new Error("No space left on device"));
    const finish = () => {
      this.written += new TextDecoder().decode(bytes);
      return bytes.byteLength;
    };
    if (this.mode === "working") return Promise.resolve(finish());
    return new Promise((resolve) => this.#waiting.push(() => resolve(finish())));
  }

  writeSync(bytes: Uint8Array): number {
    this.written += new TextDecoder().decode(bytes);
    return bytes.byteLength;
  }

  release(): void {
    this.mode = "working";
    for (const go of this.#waiting.splice(0)) go();
  }
}

const LINE = "x".repeat(199);

test("a stalled reader never blocks: lines beyond the queue are dropped, counted, and reported once it reads again", async () => {
  const writer = new FakeWriter();
  writer.mode = "stalled";
  const sink = new LineSink(writer, (count, reason) => `lost ${count} (${reason})`);
  const lines = Math.floor(2 * MAX_QUEUED_BYTES / (LINE.length + 1));
  for (let i = 0; i < lines; i++) sink.write(LINE);
  assert.ok(sink.dropped > 0, "some lines were dropped");
  assert.ok(sink.dropped < lines, "the queue kept some");
  const dropped = sink.dropped;
  writer.release();
  await sink.flush(5_000);
  const written = writer.written.split("\n").filter((line) => line !== "");
  assert.equal(written.filter((line) => line === LINE).length, lines - dropped);
  assert.deepEqual(written.filter((line) => line !== LINE), [
    `lost ${dropped} (the log's reader is not keeping up)`,
  ]);
});

test("a failing write (full disk, reader gone) never throws: its lines are counted, and reported when writes work again", async () => {
  const writer = new FakeWriter();
  writer.mode = "failing";
  const sink = new LineSink(writer, (count, reason) => `lost ${count} (${reason})`);
  sink.write("one");
  await sink.flush(5_000);
  sink.write("two");
  await sink.flush(5_000);
  assert.equal(sink.dropped, 2);
  assert.equal(writer.written, "");
  writer.mode = "working";
  sink.write("three");
  await sink.flush(5_000);
  assert.equal(writer.written, "three\nlost 2 (No space left on device)\n");
  assert.equal(sink.dropped, 2, "the count stays for /metrics");
});

test("the log's lost-lines line is a log line like the others, in both formats", async () => {
  for (const format of ["text", "json"] as const) {
    const writer = new FakeWriter();
    writer.mode = "failing";
    const log = new Log(format, writer);
    log.startup("first");
    await log.flush(5_000);
    writer.mode = "working";
    log.startup("second");
    await log.flush(5_000);
    const [second, lost] = writer.written.trimEnd().split("\n");
    assert.match(second ?? "", /second/);
    const words = formatLostLines(1, "No space left on device");
    if (format === "text") assert.match(lost ?? "", /^\S+ \[log\] 1 log line was dropped/);
    else assert.equal(JSON.parse(lost ?? "").message, words);
    assert.equal(log.dropped, 1);
  }
});
