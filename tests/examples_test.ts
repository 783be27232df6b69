/**
 * The examples run as real processes with least-privilege flags: the JSON API
 * (`deno task example`) and the README's minimal example, which must be the
 * very code of `examples/minimal.ts`.
 */

import assert from "node:assert/strict";
import { fingerprintOf, mintCertificate, type MintedCertificate, TempDir } from "./_fixtures.ts";
import { postReload, ServerProcess } from "./_server.ts";
import { servedFingerprint } from "./_tls_clients.ts";
import { DEFAULT_OPTIONS } from "../lib/cli/options.ts";
import { permissionFlags } from "../lib/cli/permissions.ts";
import { test } from "./_time_limit.ts";

const REPO = new URL("..", import.meta.url).pathname;

test("JSON API example: its routes work over HTTPS, and POST and SIGHUP reloads reach new handshakes", async () => {
  await using dir = await TempDir.create();
  const pairs = await Promise.all(
    [1, 2, 3].map((n) => mintCertificate({ commonName: `api${n}.test` })),
  );
  const [first, second, third] = pairs as [MintedCertificate, MintedCertificate, MintedCertificate];
  const paths = await dir.writePair(first);
  await using server = await ServerProcess.start({
    options: paths,
    entry: "examples/json_api.ts",
    ready: /\[example\] ready: /,
  });
  using client = Deno.createHttpClient({ caCerts: pairs.map((p) => p.certificatePem) });
  const base = `https://localhost:${server.options.port}`;
  assert.deepEqual(await (await fetch(`${base}/items`, { client })).json(), []);
  const created = await fetch(`${base}/items`, {
    client,
    method: "POST",
    body: JSON.stringify({ name: "tea" }),
  });
  assert.equal(created.status, 201);
  assert.equal(created.headers.get("location"), "/items/1");
  assert.deepEqual(await created.json(), { id: 1, name: "tea" });
  assert.deepEqual(await (await fetch(`${base}/items/1`, { client })).json(), {
    id: 1,
    name: "tea",
  });
  const bad = await fetch(`${base}/items`, { client, method: "POST", body: "nope" });
  assert.equal(bad.status, 400);
  await bad.body?.cancel();
  assert.equal(await servedFingerprint(server.options.port), fingerprintOf(first.certificatePem));

  await dir.writePair(second);
  const post = await postReload(server);
  assert.equal(post.status, 200);
  assert.match(post.body, /^reloaded: now serving .*CN=api2\.test/);
  await server.waitForLine(/\[example\] http: reloaded: .*CN=api2\.test/);
  assert.equal(await servedFingerprint(server.options.port), fingerprintOf(second.certificatePem));

  await dir.writePair(third);
  const from = server.lines.length;
  server.signal("SIGHUP");
  await server.waitForLine(/\[example\] sighup: reloaded: now serving .*CN=api3\.test/, from);
  assert.equal(await servedFingerprint(server.options.port), fingerprintOf(third.certificatePem));
  assert.deepEqual(await (await fetch(`${base}/items`, { client })).json(), [{
    id: 1,
    name: "tea",
  }]);

  server.signal("SIGTERM");
  assert.equal((await server.exited()).code, 0);
  await server.waitForLine(/\[example\] SIGTERM: stopped$/);
});

test("deno task example runs the JSON API with exactly its least-privilege flags", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${REPO}/deno.json`));
  const options = {
    ...DEFAULT_OPTIONS,
    key: "key.pem",
    port: 8443,
    controlPort: 3001,
  };
  assert.equal(
    config.tasks.example.command,
    `deno run ${permissionFlags(options).join(" ")} examples/json_api.ts`,
  );
});

test("the README's minimal example is examples/minimal.ts, and it serves and reloads", async () => {
  const source = await Deno.readTextFile(`${REPO}/examples/minimal.ts`);
  assert.ok(source.split("\n").length - 1 <= 15, "at most 15 lines");
  const readme = await Deno.readTextFile(`${REPO}/README.md`);
  assert.ok(
    readme.includes("```ts\n" + source + "```"),
    "README shows examples/minimal.ts verbatim",
  );

  await using dir = await TempDir.create();
  const pair = await mintCertificate();
  await dir.writePair(pair);
  await using server = await ServerProcess.start({
    options: { cert: "cert.pem", key: "key.pem" },
    entry: "examples/minimal.ts",
    cwd: dir.dir,
    args: (options) => [String(options.port), String(options.controlPort)],
    ready: /^ready: https:\/\/localhost:\d+\/ \(pid \d+\)$/,
  });
  const ready = server.lines.find((line) => line.startsWith("ready: ")) ?? "";
  assert.ok(ready.endsWith(`(pid ${server.child.pid})`), `prints its own pid: ${ready}`);
  using client = Deno.createHttpClient({ caCerts: [pair.certificatePem] });
  const response = await fetch(`https://localhost:${server.options.port}/x`, { client });
  assert.equal(await response.text(), "Hello from /x\n");
  const reload = await postReload(server);
  assert.equal(reload.status, 200);
  assert.match(reload.body, /^unchanged: /);
  await server.waitForLine(/^unchanged: /);
  const from = server.lines.length;
  server.signal("SIGHUP"); // the README's "or: kill -HUP <pid>"
  await server.waitForLine(/^unchanged: /, from);
});
