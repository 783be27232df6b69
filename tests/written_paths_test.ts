/**
 * The paths the server writes (the pid file, the control socket) against someone who can write
 * their folder: a planted symbolic link, a hard link or a special file refuses the start and the
 * file it points to stays as it was, and a link swapped in while the server opens the pid file is
 * never written through.
 */

import assert from "node:assert/strict";
import { takePidFile } from "../lib/cli/pid_file.ts";
import { mintCertificate, TempDir } from "./_fixtures.ts";
import { ServerProcess } from "./_server.ts";
import type { Options } from "../lib/cli/options.ts";
import { test } from "./_time_limit.ts";

const VICTIM_TEXT = "IMPORTANT DATA, not a pid\n";

/** Spawns the server; resolves once it is ready or has exited. */
async function settled(options: Partial<Options> & Pick<Options, "cert">): Promise<ServerProcess> {
  const server = ServerProcess.spawn({ options });
  await Promise.race([server.waitForLine(/\[startup\] ready/).catch(() => {}), server.exited()]);
  return server;
}

/** The exit code of a start that must be refused; fails (without waiting) when the server serves. */
async function refusedCode(server: ServerProcess, name: string): Promise<number> {
  assert.ok(!server.lines.some((line) => /\[startup\] ready/.test(line)), `${name}: it started`);
  return (await server.exited()).code;
}

test("--pid-file refuses a symbolic link, a dangling one, a hard link, a directory and a FIFO, and writes nothing through them", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  const victim = await dir.write("victim", VICTIM_TEXT);
  const cases: [string, (path: string) => Promise<void>, RegExp][] = [
    [
      "symlink",
      (path) => Deno.symlink(victim, path),
      /it is a symbolic link, and a pid file must be a regular file or absent/,
    ],
    [
      "dangling",
      (path) => Deno.symlink(dir.path("would-be-created"), path),
      /it is a symbolic link/,
    ],
    [
      "hard link",
      (path) => Deno.link(victim, path),
      /it has 2 hard links, so writing it would change another file too/,
    ],
    ["directory", (path) => Deno.mkdir(path), /it is not a regular file \(a directory\)/],
    ["fifo", async (path) => {
      await new Deno.Command("mkfifo", { args: [path] }).output();
    }, /it is not a regular file \(a named pipe\)/],
  ];
  for (const [name, plant, problem] of cases) {
    const pidFile = dir.path(`pid-${name.replace(" ", "-")}`);
    await plant(pidFile);
    await using server = await settled({ cert, pidFile });
    assert.equal(await refusedCode(server, name), 1, name);
    assert.match(server.stderr, /^startup failed: Cannot use pid file ".*": /, name);
    assert.match(server.stderr, problem, name);
    assert.match(
      server.stderr,
      /remove it, or choose a path in a folder only the server's user can write; the server was not started\n$/,
    );
    assert.equal(await Deno.readTextFile(victim), VICTIM_TEXT, `${name}: the victim file changed`);
  }
  await assert.rejects(Deno.lstat(dir.path("would-be-created")), Deno.errors.NotFound);
});

test("a pid file swapped for a link to another file while it is being opened never writes through the link", async () => {
  await using dir = await TempDir.create();
  const victim = await dir.write("victim", VICTIM_TEXT);
  const pidFile = dir.path("server.pid");
  // Another process swaps the path between a regular file and a link to the victim, as fast as it can.
  const swapper = new Deno.Command("python3", {
    args: [
      "-c",
      `import os, time
path, victim, end = ${JSON.stringify(pidFile)}, ${JSON.stringify(victim)}, time.time() + 3
while time.time() < end:
    os.symlink(victim, path + ".l"); os.rename(path + ".l", path)
    open(path + ".f", "w").close(); os.rename(path + ".f", path)`,
    ],
  }).spawn();
  let swapping = true;
  const swapped = swapper.status.finally(() => swapping = false);
  const outcomes = { taken: 0, refused: 0 };
  try {
    // Until the swapper has started, then for as long as it swaps (three seconds, bounded).
    while (outcomes.taken + outcomes.refused < 10_000 && swapping) {
      const exists = await Deno.lstat(pidFile).then(() => true, () => false);
      if (!exists) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      const taken = await takePidFile(pidFile);
      if (taken.ok) {
        outcomes.taken++;
        await taken.value.release();
      } else outcomes.refused++;
      assert.equal(await Deno.readTextFile(victim), VICTIM_TEXT, JSON.stringify(outcomes));
    }
  } finally {
    await swapped;
  }
  // Both paths were exercised: the race was real.
  assert.ok(outcomes.taken > 0 && outcomes.refused > 0, JSON.stringify(outcomes));
});

test("--control-socket refuses a symbolic link (dangling or not) at its path and leaves the target's contents and mode alone", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  const victim = await dir.write("victim", VICTIM_TEXT);
  await Deno.chmod(victim, 0o644);
  for (const target of [victim, dir.path("would-be-created")]) {
    const socket = dir.path(`control-${crypto.randomUUID()}.sock`);
    await Deno.symlink(target, socket);
    await using server = await settled({ cert, controlSocket: socket });
    assert.equal(await refusedCode(server, target), 1);
    assert.match(
      server.stderr,
      /^Cannot listen on unix:.* for the control server: the path is a symbolic link, not a socket, and it is never followed or replaced; remove it or choose another path; the server was not started\n$/,
    );
    assert.ok((await Deno.lstat(socket)).isSymlink, "the link is left in place");
  }
  assert.equal(await Deno.readTextFile(victim), VICTIM_TEXT);
  assert.equal(((await Deno.stat(victim)).mode ?? 0) & 0o777, 0o644);
  await assert.rejects(Deno.lstat(dir.path("would-be-created")), Deno.errors.NotFound);
});
