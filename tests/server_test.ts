/**
 * End-to-end tests: the real server process, real HTTP requests, real signals,
 * with the least-privilege permissions of `deno task start`.
 */

import { X509Certificate } from "node:crypto";
import { shortFingerprint } from "../lib/reload/outcome_words.ts";
import { formatTime } from "../lib/ground/time.ts";
import assert from "node:assert/strict";
import {
  fingerprintOf,
  mintCertificate,
  mintExpired,
  mintNotYetValid,
  TempDir,
} from "./_fixtures.ts";
import { postReload, ServerProcess } from "./_server.ts";
import { test } from "./_time_limit.ts";

const REPO = new URL("..", import.meta.url).pathname;

async function hello(server: ServerProcess): Promise<string> {
  const response = await fetch(server.helloUrl);
  assert.equal(response.status, 200);
  return await response.text();
}

/** POSTs a reload, then sends SIGHUP for the same file state; returns both texts. */
async function reloadBothWays(server: ServerProcess) {
  const post = await postReload(server);
  const from = server.lines.length;
  server.signal("SIGHUP");
  const logged = await server.nextLogLine("SIGHUP", from);
  return { post, logged: logged.text };
}

test("server starts, prints its pid and both URLs, and answers GET /hello", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  await using server = await ServerProcess.start({ options: { cert } });
  await server.waitForLine(new RegExp(`\\[startup\\] pid ${server.child.pid}$`));
  await server.waitForLine(
    new RegExp(`app listening on ${server.helloUrl.replaceAll(".", "\\.")}$`),
  );
  await server.waitForLine(
    new RegExp(`control listening on ${server.reloadUrl.replaceAll(".", "\\.")}`),
  );
  assert.equal(await hello(server), "Hello, world!");
  const missing = await fetch(server.helloUrl.replace("/hello", "/nope"));
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

test("POST /reload_certs after the file is replaced reports the new certificate", async () => {
  await using dir = await TempDir.create();
  const first = await mintCertificate({ commonName: "first.test" });
  const cert = await dir.write("cert.pem", first.certificatePem);
  await using server = await ServerProcess.start({ options: { cert } });

  const second = await mintCertificate({ commonName: "second.test" });
  await dir.write("cert.pem", second.certificatePem);
  const reloaded = await postReload(server);
  assert.equal(reloaded.status, 200);
  assert.match(reloaded.body, /^reloaded: now serving .*CN=second\.test/);
  assert.ok(
    reloaded.body.includes(`SHA-256 ${shortFingerprint(fingerprintOf(second.certificatePem))};`),
  );
  const firstExpiry = formatTime(new X509Certificate(first.certificatePem).validToDate);
  assert.ok(
    reloaded.body.endsWith(`; it replaced one that expires ${firstExpiry}\n`),
    reloaded.body,
  );
  assert.equal(reloaded.body.match(/SHA-256/g)?.length, 1, "one fingerprint in the line");

  const again = await postReload(server);
  assert.equal(again.status, 200);
  assert.match(again.body, /^unchanged: .*nothing was swapped\n$/);
  assert.equal(await hello(server), "Hello, world!");
});

test("SIGHUP reloads a new certificate and logs the line a POST answers", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  await using server = await ServerProcess.start({ options: { cert } });
  const next = await mintCertificate({ commonName: "rotated.test" });
  await dir.write("cert.pem", next.certificatePem);
  const from = server.lines.length;
  server.signal("SIGHUP");
  const logged = await server.nextLogLine("SIGHUP", from);
  assert.match(logged.text, /^reloaded: now serving .*CN=rotated\.test/);
  assert.ok(logged.text.includes(shortFingerprint(fingerprintOf(next.certificatePem))));
  const post = await postReload(server);
  assert.match(post.body, /^unchanged: .*CN=rotated\.test/);
});

test("every bad file fails with the same text via POST and SIGHUP, and the old certificate stays", async () => {
  await using dir = await TempDir.create();
  const good = await mintCertificate({ commonName: "good.test" });
  const goodFingerprint = fingerprintOf(good.certificatePem);
  const cert = await dir.write("cert.pem", good.certificatePem);
  await using server = await ServerProcess.start({ options: { cert } });

  const expired = await mintExpired();
  const future = await mintNotYetValid();
  const base64 = good.certificatePem.split("\n").filter((l) => !l.startsWith("-----")).join("");
  const badStates: [string, () => Promise<unknown>, RegExp][] = [
    ["missing", () => Promise.resolve(), /file not found/],
    ["directory", () => Deno.mkdir(cert), /it is a directory, not a regular file/],
    [
      "FIFO",
      () => new Deno.Command("mkfifo", { args: [cert] }).output(),
      /it is a named pipe \(FIFO\), not a regular file/,
    ],
    ["empty", () => dir.write("cert.pem", ""), /the file is empty/],
    ["not PEM", () => dir.write("cert.pem", "hello\n"), /no PEM block found/],
    [
      "DER",
      () => dir.write("cert.pem", Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))),
      /binary DER, not PEM/,
    ],
    ["truncated", () => dir.write("cert.pem", good.certificatePem.slice(0, 200)), /no END line/],
    ["private key", () => dir.write("cert.pem", good.keyPem), /no CERTIFICATE block/],
    ["expired", () => dir.write("cert.pem", expired.certificatePem), /expired at/],
    ["not yet valid", () => dir.write("cert.pem", future.certificatePem), /is not valid before/],
    [
      "too large",
      () => dir.write("cert.pem", new Uint8Array(1024 * 1024 + 1)),
      /over the size limit/,
    ],
  ];
  for (const [name, makeBad, cause] of badStates) {
    await Deno.remove(cert, { recursive: true }).catch(() => {});
    await makeBad();
    const { post, logged } = await reloadBothWays(server);
    assert.equal(post.status, 500, `${name}: ${post.body}`);
    assert.match(post.body, /^reload failed: /, name);
    assert.ok(post.body.includes(`"${cert}"`), `${name}: the line must name the file`);
    assert.match(post.body, cause, name);
    assert.ok(
      post.body.includes(`; still serving the previous certificate "${cert}": CN=good.test`),
      name,
    );
    assert.ok(post.body.endsWith(`SHA-256 ${shortFingerprint(goodFingerprint)}\n`), name);
    assert.equal(logged, post.body.trimEnd(), `${name}: SIGHUP log line must equal the POST body`);
    assert.equal(await hello(server), "Hello, world!", `${name}: /hello must keep answering`);
  }
  await Deno.remove(cert, { recursive: true });
  await dir.write("cert.pem", good.certificatePem);
  const recovered = await postReload(server);
  assert.equal(recovered.status, 200);
  assert.match(recovered.body, /^unchanged: .*CN=good\.test/, "the good certificate stayed active");
});

test("a key that does not match, or is not a key, fails the reload and keeps the pair", async () => {
  await using dir = await TempDir.create();
  const good = await mintCertificate();
  const cert = await dir.write("cert.pem", good.certificatePem);
  const key = await dir.write("key.pem", good.keyPem);
  await using server = await ServerProcess.start({ options: { cert, key } });
  const other = await mintCertificate();
  const cases: [string, RegExp][] = [
    [other.keyPem, /does not match the certificate/],
    [good.certificatePem, /holds a certificate, not a private key/],
  ];
  for (const [contents, cause] of cases) {
    await dir.write("key.pem", contents);
    const { post, logged } = await reloadBothWays(server);
    assert.equal(post.status, 500);
    assert.match(post.body, cause);
    assert.ok(post.body.includes(`"${key}"`));
    assert.equal(logged, post.body.trimEnd());
  }
  await dir.write("key.pem", good.keyPem);
  await dir.write("cert.pem", other.certificatePem);
  const onlyCertChanged = await postReload(server);
  assert.match(onlyCertChanged.body, /does not match the certificate/);
  await dir.write("key.pem", other.keyPem);
  const both = await postReload(server);
  assert.equal(both.status, 200);
  assert.ok(both.body.includes(shortFingerprint(fingerprintOf(other.certificatePem))));
});

test("deno task start's permissions cannot read a file outside them: permission_denied names the flag", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${REPO}/deno.json`));
  const words = (config.tasks.start.command as string).split(" ");
  const taskFlags = words.slice(0, words.indexOf("main.ts")).filter((w) => w.startsWith("--"));
  // The start task allows reading cert.pem only; asking it to also read the demo key is refused.
  await using server = ServerProcess.spawn({
    options: { cert: "cert.pem", key: "key.pem" },
    permissions: taskFlags,
  });
  const status = await server.exited();
  assert.equal(status.code, 1);
  assert.equal(
    server.stderr,
    'startup failed: Cannot read key "key.pem": Deno denied read access; grant it with ' +
      "--allow-read=key.pem; the server was not started\n",
  );
});

test("a bad certificate at startup prints one line with the reload wording and exits 1", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", "not a certificate\n");
  await using server = ServerProcess.spawn({ options: { cert } });
  const status = await server.exited();
  assert.equal(status.code, 1);
  assert.equal(
    server.stderr,
    `startup failed: Cannot load certificate "${cert}": no PEM block found (expected a line ` +
      `"-----BEGIN CERTIFICATE-----"); the server was not started\n`,
  );
});

test("a port already in use prints one line naming the address and exits 1", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  await using server = ServerProcess.spawn({ options: { cert, controlPort: port } });
  const status = await server.exited();
  assert.equal(status.code, 1);
  assert.equal(
    server.stderr,
    `Cannot listen on 127.0.0.1:${port} for the control server: address already in use; ` +
      "the server was not started\n",
  );
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test(`${signal} shuts both servers down gracefully and exits 0`, async () => {
    await using dir = await TempDir.create();
    const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
    await using server = await ServerProcess.start({ options: { cert } });
    // An idle keep-alive connection must not hold the shutdown up.
    using idle = await Deno.connect({ hostname: "127.0.0.1", port: server.options.port });
    await idle.write(new TextEncoder().encode("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
    await idle.read(new Uint8Array(1024));
    server.signal(signal);
    const status = await server.exited();
    assert.equal(status.code, 0, server.stderr);
    await server.waitForLine(new RegExp(`\\[${signal}\\] stopped$`));
    assert.equal(server.stderr, "");
  });
}

test("a bad flag prints one line that points to --help and exits 2; --help prints the usage and exits 0", async () => {
  const main = `${REPO}/main.ts`;
  const usage = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", main, "--port", "nope"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(usage.code, 2);
  assert.equal(
    new TextDecoder().decode(usage.stderr),
    'signal-server: --port must be a port number from 0 to 65535, got "nope" (see --help)\n',
  );
  const help = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", main, "--help"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(help.code, 0);
  assert.match(new TextDecoder().decode(help.stdout), /--control-port/);
});

test("a SIGHUP and 20 concurrent POSTs after one change: each answered or logged with the new certificate, exactly one of them reloaded", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  await using server = await ServerProcess.start({ options: { cert } });
  const final = await mintCertificate({ commonName: "final.test" });
  await dir.write("cert.pem", final.certificatePem);
  const from = server.lines.length;
  server.signal("SIGHUP");
  const answers = await Promise.all(Array.from({ length: 20 }, () => postReload(server)));
  const hangup = await server.nextLogLine("SIGHUP", from);
  for (const answer of answers) {
    assert.equal(answer.status, 200);
    assert.match(answer.body, /^(reloaded|unchanged): .*CN=final\.test/);
  }
  assert.match(hangup.text, /^(reloaded|unchanged): .*CN=final\.test/, "the SIGHUP's own outcome");
  const outcomes = [hangup.text, ...answers.map((answer) => answer.body)];
  assert.equal(outcomes.filter((outcome) => outcome.startsWith("reloaded:")).length, 1);
});
