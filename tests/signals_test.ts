/**
 * A second stop signal during a graceful stop: by default the library exits at once with code 3
 * (the stop's in-flight request is abandoned, code after `await finished` never runs); with
 * `exitOnSecondSignal: false` it is ignored and the stop finishes.
 */

import assert from "node:assert/strict";
import { mintCertificate, TempDir } from "./_fixtures.ts";
import { ServerProcess } from "./_server.ts";
import { test } from "./_time_limit.ts";

async function stopTwice(mode: "exit" | "keep") {
  const dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  const server = await ServerProcess.start({
    options: { cert },
    entry: "tests/_stop_app.ts",
    args: (options) => [cert, String(options.port), String(options.controlPort), mode],
  });
  const request = fetch(`http://127.0.0.1:${server.options.port}/`).then(
    async (response) => await response.text(),
    () => "no answer",
  );
  await server.waitForLine(/^request in flight$/);
  server.signal("SIGTERM");
  await server.waitForLine(/^stop SIGTERM stopping$/);
  server.signal("SIGTERM");
  await server.waitForLine(/^app saw SIGTERM 2$/);
  return { dir, server, request };
}

test("a second SIGTERM during the graceful stop exits at once with code 3 by default", async () => {
  const { dir, server, request } = await stopTwice("exit");
  await using _dir = dir;
  await using _server = server;
  assert.equal((await server.exited()).code, 3);
  assert.ok(server.lines.includes("stop SIGTERM forced"));
  assert.ok(!server.lines.includes("after finished"), "code after await finished never ran");
  assert.equal(await request, "no answer");
});

test("with exitOnSecondSignal: false a second SIGTERM is ignored: the in-flight request finishes and code after await finished runs", async () => {
  const { dir, server, request } = await stopTwice("keep");
  await using _dir = dir;
  await using _server = server;
  server.signal("SIGUSR1");
  assert.equal(await request, "done\n");
  assert.equal((await server.exited()).code, 0);
  assert.ok(!server.lines.includes("stop SIGTERM forced"));
  assert.deepEqual(server.lines.slice(-2), ["stop SIGTERM stopped", "after finished"]);
});
