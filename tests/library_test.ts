/**
 * `mod.ts` in-process: option checks that fail before anything listens,
 * startup failures as values, and the handle's reload, certificate and
 * shutdown. Signals stay off here: the test runner owns them.
 */

import assert from "node:assert/strict";
import {
  formatOutcome,
  formatStartError,
  type ReloadOutcome,
  serveWithReload,
  type ServeWithReloadOptions,
} from "../mod.ts";
import { resolveServeOptions } from "../lib/api/serve_options.ts";
import { fingerprintOf, mintCertificate, TempDir } from "./_fixtures.ts";
import { test } from "./_time_limit.ts";

const hello = () => new Response("hi");

test("options that make no sense come back as an error naming the option, before anything listens", async () => {
  const bad: [Partial<ServeWithReloadOptions>, string, RegExp][] = [
    [{ handler: undefined }, "handler", /must be a function/],
    [{ cert: "" }, "cert", /path of the certificate file/],
    [{ key: "" }, "key", /path of the key file/],
    [{ port: 70000 }, "port", /must be a port number from 0 to 65535, got 70000/],
    [{ port: 1.5 }, "port", /got 1\.5/],
    [{ control: { port: -1 } }, "control.port", /got -1/],
    [
      { control: { hostname: "0.0.0.0" } },
      "control.hostname",
      /loopback.*unless a token protects it/,
    ],
    [{ control: { token: " " } }, "control.token", /must not be empty/],
    [{ control: { socket: "run/c.sock" } }, "control.socket", /must be an absolute path/],
    [{ tlsFront: "fast" as "node" }, "tlsFront", /must be one of auto, native, node/],
  ];
  for (const [override, option, problem] of bad) {
    const options = { cert: "/nonexistent.pem", handler: hello, ...override };
    const started = await serveWithReload(options as ServeWithReloadOptions);
    assert.equal(started.ok, false, option);
    if (started.ok) continue;
    assert.equal(started.error.kind, "invalid_option", option);
    assert.equal(started.error.kind === "invalid_option" && started.error.error.option, option);
    assert.match(formatStartError(started.error), problem);
    assert.match(formatStartError(started.error), new RegExp(`^Invalid option ${option}: `));
  }
});

test("defaults: app and control on 127.0.0.1:8080 and :3000, signals on, plain HTTP without a key", () => {
  const resolved = resolveServeOptions({ cert: "cert.pem", handler: hello });
  assert.ok(resolved.ok);
  assert.equal(resolved.value.hostname, "127.0.0.1");
  assert.equal(resolved.value.port, 8080);
  assert.deepEqual(resolved.value.control, {
    hostname: "127.0.0.1",
    port: 3000,
    token: undefined,
    socket: undefined,
    healthzWithoutToken: false,
  });
  assert.equal(resolved.value.tlsFront, "auto");
  const untokened = resolveServeOptions({
    cert: "cert.pem",
    handler: hello,
    control: { healthzWithoutToken: true },
  });
  assert.deepEqual(!untokened.ok && untokened.error, {
    option: "control.healthzWithoutToken",
    problem: "needs control.token: without a token every control path answers without one already",
  });
  assert.equal(resolved.value.signals, true);
  assert.equal(resolved.value.key, undefined);
  const noControl = resolveServeOptions({ cert: "cert.pem", handler: hello, control: false });
  assert.equal(noControl.ok && noControl.value.control, undefined);
});

test("a rejected certificate and an address in use are values, never exceptions", async () => {
  await using dir = await TempDir.create();
  const missing = await serveWithReload({ cert: dir.path("none.pem"), handler: hello });
  assert.equal(!missing.ok && missing.error.kind, "certificate");
  assert.match(!missing.ok ? formatStartError(missing.error) : "", /^startup failed: .*not found/);

  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  const inUse = await serveWithReload({ cert, handler: hello, port, signals: false });
  assert.equal(!inUse.ok && inUse.error.kind, "listen");
  assert.match(!inUse.ok ? formatStartError(inUse.error) : "", /address already in use/);
  const controlInUse = await serveWithReload({
    cert,
    handler: hello,
    port: 0,
    control: { port },
    signals: false,
  });
  assert.equal(!controlInUse.ok && controlInUse.error.kind, "listen");
  assert.match(!controlInUse.ok ? formatStartError(controlInUse.error) : "", /control server/);
});

test("the handle reloads with trigger api, reports every outcome to onReload, and shuts down", async () => {
  await using dir = await TempDir.create();
  const first = await mintCertificate({ commonName: "first.test" });
  const second = await mintCertificate({ commonName: "second.test" });
  const cert = await dir.write("cert.pem", first.certificatePem);
  const key = await dir.write("key.pem", first.keyPem);
  const outcomes: ReloadOutcome[] = [];
  const started = await serveWithReload({
    cert,
    key,
    port: 0,
    handler: hello,
    control: false,
    signals: false,
    onReload: (outcome) => outcomes.push(outcome),
  });
  assert.ok(started.ok, started.ok ? "" : formatStartError(started.error));
  const server = started.value;
  assert.equal(server.scheme, "https");
  assert.equal(server.controlAddr, undefined);
  assert.equal(server.certificate.fingerprint256, fingerprintOf(first.certificatePem));
  assert.deepEqual(outcomes.map((o) => [o.trigger, o.kind]), [["startup", "loaded"]]);

  await dir.write("cert.pem", second.certificatePem);
  await dir.write("key.pem", second.keyPem);
  const outcome = await server.reload();
  assert.equal(outcome.kind, "reloaded");
  assert.equal(outcome.trigger, "api");
  assert.equal(server.certificate.fingerprint256, fingerprintOf(second.certificatePem));
  assert.equal(outcomes.at(-1), outcome);
  assert.match(formatOutcome(outcome), /^reloaded: now serving .*CN=second\.test/);

  let finished = false;
  server.finished.then(() => finished = true);
  await server.shutdown();
  await server.finished;
  assert.ok(finished);
});
