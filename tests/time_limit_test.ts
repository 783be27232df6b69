/**
 * The time limit every test runs under: a hang becomes a failure naming the
 * test, and the processes it spawned are killed; and no test file registers a
 * test without it.
 */

import assert from "node:assert/strict";
import { mintCertificate, TempDir } from "./_fixtures.ts";
import { ServerProcess } from "./_server.ts";
import { runWithin, test } from "./_time_limit.ts";

const TESTS = new URL(".", import.meta.url).pathname;

test("a test that hangs fails after its limit, naming itself, and the server it spawned is killed", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  let server: ServerProcess | undefined;
  const hanging = runWithin("hangs on a server that never exits", 1_000, async () => {
    server = ServerProcess.spawn({ options: { cert } });
    await server.exited(); // The server runs until it is killed.
  });
  await assert.rejects(
    hanging,
    /^Error: Test "hangs on a server that never exits" did not finish within 1000 ms: failed, and the 1 process\(es\) it spawned were killed$/,
  );
  assert.ok(server, "the body ran");
  assert.equal((await server.exited()).signal, "SIGKILL");
});

test("a server still registered when the test process exits is killed at its exit (a body that went on after its time limit leaves none behind)", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  const server = new URL("./_server.ts", import.meta.url).href;
  // A process that spawns a server outside any test, as a late body would, and exits without
  // cleaning up.
  const script = await dir.write(
    "late.ts",
    `import { ServerProcess } from ${JSON.stringify(server)};\n` +
      `const server = ServerProcess.spawn({ options: { cert: ${JSON.stringify(cert)} } });\n` +
      "await server.waitForLine(/\\[startup\\] ready/);\n" +
      "console.log(server.child.pid);\n" +
      "Deno.exit(0);\n",
  );
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", new URL("../deno.json", import.meta.url).pathname, script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const pid = Number(new TextDecoder().decode(output.stdout).trim());
  assert.ok(pid > 0, new TextDecoder().decode(output.stderr));
  let alive = true;
  for (let i = 0; i < 50 && alive; i++) {
    alive = await Deno.stat(`/proc/${pid}`).then(() => true, () => false);
    if (alive) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (alive) Deno.kill(pid, "SIGKILL");
  assert.equal(alive, false, `server ${pid} outlived the process that spawned it`);
});

test("a test that finishes in time passes, and one that throws fails with its own error", async () => {
  assert.equal(await runWithin("quick", 60_000, () => {}), undefined);
  await assert.rejects(
    runWithin("throws", 60_000, () => Promise.reject(new Error("its own"))),
    /^Error: its own$/,
  );
});

test("every test file registers its tests through test(), never Deno.test directly", async () => {
  const direct: string[] = [];
  for await (const entry of Deno.readDir(TESTS)) {
    if (!entry.name.endsWith("_test.ts")) continue;
    const text = await Deno.readTextFile(`${TESTS}${entry.name}`);
    text.split("\n").forEach((line, index) => {
      if (/\bDeno\.test\s*[.(]/.test(line)) direct.push(`tests/${entry.name}:${index + 1}`);
    });
  }
  assert.deepEqual(direct, [], "use test() from tests/_time_limit.ts, which adds the time limit");
});
