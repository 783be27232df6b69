/**
 * The control plane end to end: the real server with its least-privilege
 * flags (derived for each option), real requests over TCP (fetch, curl) and
 * over a Unix socket (curl), real signals, and promtool on live metrics.
 */

import assert from "node:assert/strict";
import {
  assertPromtoolClean,
  DAY_MS,
  freePort,
  mintCertificate,
  type MintedCertificate,
  TempDir,
} from "./_fixtures.ts";
import { postReload, ServerProcess } from "./_server.ts";
import { curl } from "./_curl.ts";
import { DEFAULT_OPTIONS } from "../lib/cli/options.ts";
import { permissionFlags } from "../lib/cli/permissions.ts";
import { test } from "./_time_limit.ts";

async function getJson(server: ServerProcess, path: string, headers: Record<string, string> = {}) {
  const response = await fetch(server.controlUrl(path), {
    headers: { accept: "application/json", ...headers },
  });
  return { status: response.status, body: await response.json() };
}

test("GET /certs shows the active certificate, its chain and the last reloads of every trigger, newest first", async () => {
  await using dir = await TempDir.create();
  const root = await mintCertificate({ commonName: "Root CA", isCa: true, altNames: [] });
  const leaf = await mintCertificate({ commonName: "v1.test", issuer: root });
  const cert = await dir.write("cert.pem", leaf.certificatePem + root.certificatePem);
  await using server = await ServerProcess.start({ options: { cert } });
  const next = await mintCertificate({ commonName: "v2.test" });
  await dir.write("cert.pem", next.certificatePem);
  assert.equal((await postReload(server)).status, 200);
  await dir.write("cert.pem", "garbage\n");
  const from = server.lines.length;
  server.signal("SIGHUP");
  await server.nextLogLine("SIGHUP", from);

  const { status, body } = await getJson(server, "/certs");
  assert.equal(status, 200);
  assert.equal(body.certificate.subject, "CN=v2.test");
  assert.equal(body.certificate.path, cert);
  assert.equal(body.certificate.loadedBy, "http");
  assert.ok(body.certificate.daysLeft >= 29);
  assert.equal(body.certificate.chain.length, 1);
  assert.deepEqual(
    body.reloads.map((r: { trigger: string; result: string }) => `${r.trigger} ${r.result}`),
    ["sighup failed", "http reloaded", "startup loaded"],
  );
  assert.equal(body.reloads[0].errorKind, "not_pem");
  assert.ok(body.reloads.every((r: { durationMs: number }) => r.durationMs > 0));
  const text = await (await fetch(server.controlUrl("/certs"))).text();
  assert.match(text, /^certificate {3}.*cert\.pem\nsubject {7}CN=v2\.test\n/);
  assert.match(text, /last reloads, newest first \(3\)\n {2}\S+ {2}sighup {2}failed/);

  // The chain of the startup certificate was listed with every certificate's subject and expiry.
  await dir.write("cert.pem", leaf.certificatePem + root.certificatePem);
  await postReload(server);
  const chained = await getJson(server, "/certs");
  assert.deepEqual(
    chained.body.certificate.chain.map((c: { subject: string }) => c.subject),
    ["CN=v1.test", "CN=Root CA"],
  );
  assert.ok(Date.parse(chained.body.certificate.chain[1].notAfter) > Date.now());
});

test("POST /reload_certs answers JSON under Accept: application/json, and the same line as text", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  await using server = await ServerProcess.start({ options: { cert } });
  const json = await fetch(server.reloadUrl, {
    method: "POST",
    headers: { accept: "application/json" },
  });
  const body = await json.json();
  assert.deepEqual([json.status, body.ok, body.outcome, body.trigger], [
    200,
    true,
    "unchanged",
    "http",
  ]);
  const text = await postReload(server);
  assert.equal(text.body, body.message + "\n", "the JSON message is the text answer's line");
});

test("/metrics passes promtool after reloads of every result kind, and counts them", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  await using server = await ServerProcess.start({ options: { cert } });
  await postReload(server); // unchanged
  await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  await postReload(server); // reloaded
  await dir.write("cert.pem", "");
  await postReload(server); // failed
  const from = server.lines.length;
  server.signal("SIGHUP"); // failed, by SIGHUP
  await server.nextLogLine("SIGHUP", from);
  const metrics = await (await fetch(server.controlUrl("/metrics"))).text();
  for (
    const line of [
      'signal_server_reloads_total{trigger="startup",result="loaded"} 1',
      'signal_server_reloads_total{trigger="http",result="unchanged"} 1',
      'signal_server_reloads_total{trigger="http",result="reloaded"} 1',
      'signal_server_reloads_total{trigger="http",result="failed"} 1',
      'signal_server_reloads_total{trigger="sighup",result="failed"} 1',
      "signal_server_last_reload_successful 0",
      "signal_server_reload_duration_seconds_count 5",
    ]
  ) assert.ok(metrics.split("\n").includes(line), `missing: ${line}\n${metrics}`);
  assert.match(
    metrics,
    /^signal_server_certificate_not_after_timestamp_seconds\{position="1",subject="CN=localhost"\} \d+$/m,
  );
  assert.match(metrics, /^signal_server_last_reload_success_timestamp_seconds \d+(\.\d+)?$/m);
  await assertPromtoolClean(metrics);
});

/** How long the short-lived certificate is valid: long enough for a loaded machine to start. */
const SHORT_LIVED_MS = 5_000;

test("/healthz turns 503 when a short-lived certificate expires while the server runs", {
  limitMs: 60_000,
}, async () => {
  await using dir = await TempDir.create();
  const shortLived = await mintCertificate({ notAfter: new Date(Date.now() + SHORT_LIVED_MS) });
  const cert = await dir.write("cert.pem", shortLived.certificatePem);
  await using server = await ServerProcess.start({ options: { cert } });
  const before = await fetch(server.controlUrl("/healthz"));
  assert.equal(before.status, 200);
  assert.match(await before.text(), /^ok: serving /);
  // Asked again until it turns: whenever the expiry is noticed, not after a fixed pause.
  let after = await fetch(server.controlUrl("/healthz"));
  while (after.status === 200) {
    await after.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, 100));
    after = await fetch(server.controlUrl("/healthz"));
  }
  assert.equal(after.status, 503);
  const expiredAt = Math.floor(shortLived.notAfter.getTime() / 1000) * 1000; // X.509 keeps seconds.
  assert.ok(Date.now() >= expiredAt, "not before the certificate expired");
  assert.match(
    await after.text(),
    /^unhealthy: certificate ".*" \(CN=localhost\) expired at .* and is still being served/,
  );
});

test("a control token: 401 with WWW-Authenticate without it, 200 with it; an empty or missing token file fails startup", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  const tokenFile = await dir.writeSecret("token", "  correct-horse-battery \n");
  await using server = await ServerProcess.start({
    options: { cert, controlTokenFile: tokenFile },
  });
  for (const path of ["/reload_certs", "/certs", "/metrics", "/healthz"]) {
    const method = path === "/reload_certs" ? "POST" : "GET";
    const refused = await fetch(server.controlUrl(path), { method });
    assert.equal(refused.status, 401, path);
    assert.equal(refused.headers.get("www-authenticate"), 'Bearer realm="signal-server"');
    await refused.body?.cancel();
    const wrong = await fetch(server.controlUrl(path), {
      method,
      headers: { authorization: "Bearer correct-horse" },
    });
    assert.equal(wrong.status, 401, path);
    await wrong.body?.cancel();
    const allowed = await fetch(server.controlUrl(path), {
      method,
      headers: { authorization: "Bearer correct-horse-battery" },
    });
    assert.equal(allowed.status, 200, path);
    await allowed.body?.cancel();
  }
  const empty = await dir.writeSecret("empty-token", " \n");
  await using noToken = ServerProcess.spawn({ options: { cert, controlTokenFile: empty } });
  assert.equal((await noToken.exited()).code, 1);
  assert.equal(
    noToken.stderr,
    `startup failed: Cannot load token "${empty}": the file is empty; the server was not started\n`,
  );
  const missing = dir.path("missing-token");
  await using unreadable = ServerProcess.spawn({ options: { cert, controlTokenFile: missing } });
  assert.equal((await unreadable.exited()).code, 1);
  assert.match(
    unreadable.stderr,
    /^startup failed: Cannot read token ".*missing-token": file not found/,
  );
});

test("refusals over real HTTP: a foreign Host, a browser's Origin or Sec-Fetch-Site, a body over 64 KiB", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  await using server = await ServerProcess.start({ options: { cert } });
  const url = server.reloadUrl;
  const rebinding = await curl(["-X", "POST", "-H", "Host: attacker.example", url]);
  assert.equal(rebinding.status, 403);
  assert.match(rebinding.body, /Host "attacker\.example" is not this control server's address/);
  for (
    const header of [
      "Origin: https://evil.example",
      "Sec-Fetch-Site: cross-site",
      "Sec-Fetch-Site: same-site",
    ]
  ) {
    const browser = await curl(["-X", "POST", "-H", header, url]);
    assert.equal(browser.status, 403, header);
  }
  const big = await dir.write("big", new Uint8Array(64 * 1024 + 1));
  const declared = await curl(["-X", "POST", "--data-binary", `@${big}`, url]);
  assert.equal(declared.status, 413);
  const chunked = await curl([
    "-X",
    "POST",
    "-H",
    "Transfer-Encoding: chunked",
    "--data-binary",
    `@${big}`,
    url,
  ]);
  assert.equal(chunked.status, 413);
  assert.equal((await curl(["-X", "POST", "-H", "Host: localhost", url])).status, 200);
  await server.waitForLine(/\[POST \/reload_certs\] unchanged: /);
  assert.equal(
    server.lines.filter((line) => line.includes("[POST /reload_certs]")).length,
    1,
    "only the allowed request ran a reload",
  );
});

test("--control-socket: curl over a 0600 Unix socket, a stale socket replaced, a live one or another file refused", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  const socket = dir.path("control.sock");
  // A socket file left behind by a crashed run: its server was killed, nothing listens on it.
  const crashed = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `const l = Deno.listen({ transport: "unix", path: ${JSON.stringify(socket)} }); ` +
      `console.log("up"); await l.accept();`,
    ],
    stdout: "piped",
  }).spawn();
  await crashed.stdout.pipeThrough(new TextDecoderStream()).getReader().read();
  crashed.kill("SIGKILL");
  await crashed.status;
  assert.ok((await Deno.lstat(socket)).isSocket, "the crashed run left its socket file");
  await using server = await ServerProcess.start({ options: { cert, controlSocket: socket } });
  await server.waitForLine(new RegExp(`control listening on unix:${socket} /reload_certs`));
  assert.equal(((await Deno.stat(socket)).mode ?? 0) & 0o777, 0o600);
  const reload = await curl([
    "--unix-socket",
    socket,
    "-X",
    "POST",
    "http://localhost/reload_certs",
  ]);
  assert.equal(reload.status, 200);
  assert.match(reload.body, /^unchanged: /);
  const certs = await curl([
    "--unix-socket",
    socket,
    "-H",
    "Accept: application/json",
    "http://localhost/certs",
  ]);
  assert.equal(JSON.parse(certs.body).certificate.path, cert);

  await using second = ServerProcess.spawn({ options: { cert, controlSocket: socket } });
  assert.equal((await second.exited()).code, 1);
  assert.match(second.stderr, /a server is answering on that socket already/);

  const file = await dir.write("not-a-socket", "x");
  await using blocked = ServerProcess.spawn({ options: { cert, controlSocket: file } });
  assert.equal((await blocked.exited()).code, 1);
  assert.match(
    blocked.stderr,
    /the path is a regular file, not a socket, and it is never followed or replaced/,
  );

  server.signal("SIGTERM");
  assert.equal((await server.exited()).code, 0);
  await assert.rejects(Deno.lstat(socket), Deno.errors.NotFound, "a clean stop removes the socket");
});

test("a control socket without its grants names every flag it needs", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  const socket = dir.path("control.sock");
  const options = { ...DEFAULT_OPTIONS, cert, port: freePort(), controlSocket: socket };
  const withoutWrite = permissionFlags(options).filter((flag) => !flag.startsWith("--allow-write"));
  await using server = ServerProcess.spawn({ options, permissions: withoutWrite });
  assert.equal((await server.exited()).code, 1);
  assert.equal(
    server.stderr,
    `Cannot listen on unix:${socket} for the control server: Deno denied access; grant it with ` +
      `--allow-read=${socket} --allow-write=${socket} --allow-net=unix:${socket}; ` +
      "the server was not started\n",
  );
});

test("--healthz-without-token: a probe gets GET /healthz without the token; /certs, /metrics and POST /reload_certs still need it", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  const tokenFile = await dir.writeSecret("token", "probe-free-token\n");
  await using server = await ServerProcess.start({
    options: { cert, controlTokenFile: tokenFile, healthzWithoutToken: true },
  });
  const health = await fetch(server.controlUrl("/healthz"));
  assert.equal(health.status, 200);
  assert.match(await health.text(), /^ok: serving "/);
  const head = await fetch(server.controlUrl("/healthz"), { method: "HEAD" });
  assert.equal(head.status, 200);
  await head.body?.cancel();
  for (const path of ["/reload_certs", "/certs", "/metrics"]) {
    const method = path === "/reload_certs" ? "POST" : "GET";
    const refused = await fetch(server.controlUrl(path), { method });
    assert.equal(refused.status, 401, path);
    await refused.body?.cancel();
    const allowed = await fetch(server.controlUrl(path), {
      method,
      headers: { authorization: "Bearer probe-free-token" },
    });
    assert.equal(allowed.status, 200, path);
    await allowed.body?.cancel();
  }
  await using untokened = ServerProcess.spawn({ options: { cert, healthzWithoutToken: true } });
  assert.equal((await untokened.exited()).code, 2);
  assert.match(untokened.stderr, /--healthz-without-token needs --control-token-file/);
});

test("a non-loopback control address needs a token: exit 2 without one; with one it serves, token-guarded", async () => {
  await using dir = await TempDir.create();
  const pair: MintedCertificate = await mintCertificate({
    notAfter: new Date(Date.now() + 10 * DAY_MS),
  });
  const cert = await dir.write("cert.pem", pair.certificatePem);
  await using open = ServerProcess.spawn({ options: { cert, controlHostname: "0.0.0.0" } });
  assert.equal((await open.exited()).code, 2);
  assert.match(
    open.stderr,
    /--control-hostname must be a loopback address .* unless --control-token-file is given/,
  );
  const tokenFile = await dir.writeSecret("token", "t0ken");
  await using guarded = await ServerProcess.start({
    options: { cert, controlHostname: "0.0.0.0", controlTokenFile: tokenFile },
  });
  const anyHost = await curl([
    "-H",
    "Host: server.example",
    "-H",
    "Authorization: Bearer t0ken",
    guarded.controlUrl("/healthz"),
  ]);
  assert.equal(
    anyHost.status,
    200,
    "on a wildcard address the Host check is off; the token guards",
  );
  assert.equal((await curl([guarded.controlUrl("/healthz")])).status, 401);
});
