/**
 * Reliability end to end, with one real server per test (HTTPS mode, native
 * front, least-privilege flags): a catalogue of bad inputs through POST and
 * SIGHUP, storms of concurrent reloads while the file is replaced, and
 * `/hello` under load while good and bad reloads alternate.
 */

import assert from "node:assert/strict";
import {
  fingerprintOf,
  mintCertificate,
  mintChain,
  type MintedCertificate,
  mintExpired,
  mintNotYetValid,
  TempDir,
} from "./_fixtures.ts";
import { postReload, ServerProcess } from "./_server.ts";
import { test } from "./_time_limit.ts";

/** How long a reload may go unanswered before it counts as hung (on a special file, say). */
const HUNG_RELOAD_MS = 10_000;
const BIG_FILE_BYTES = 50 * 1024 * 1024;

/**
 * Run as root, a server would read files whatever their mode: drop the capabilities that let
 * root bypass file modes, so that "unreadable by file mode" means what it says.
 */
const IS_ROOT = new TextDecoder().decode(
  (await new Deno.Command("id", { args: ["-u"], stdout: "piped" }).output()).stdout,
).trim() === "0";
const WRAP = IS_ROOT ? ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] : [];

async function makeFifo(path: string): Promise<void> {
  assert.ok((await new Deno.Command("mkfifo", { args: [path] }).output()).success);
}

async function encryptedKey(dir: TempDir, keyPem: string): Promise<string> {
  const plain = await dir.write("plain-key.pem", keyPem);
  const output = await new Deno.Command("openssl", {
    args: ["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "pass:secret", "-in", plain],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout);
}

/**
 * A PEM certificate with one byte flipped in its public key (after the `03 42 00 04` that starts
 * an uncompressed P-256 point). A damaged byte elsewhere (its issuer name, its own signature)
 * cannot be noticed without its issuer, which a file of a leaf and an intermediate does not hold.
 */
function damaged(pem: string): string {
  const base64 = pem.split("\n").filter((line) => line !== "" && !line.startsWith("-----"))
    .join("");
  const der = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const point = der.findIndex((byte, i) =>
    byte === 0x03 && der[i + 1] === 0x42 && der[i + 2] === 0x00 && der[i + 3] === 0x04
  );
  assert.ok(point > 0, "an uncompressed EC point");
  const at = point + 10;
  der[at] = (der[at] ?? 0) ^ 0xff;
  const body = btoa(String.fromCharCode(...der)).match(/.{1,64}/g)?.join("\n") ?? "";
  return `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
}

test("every bad input, by POST and by SIGHUP: non-2xx, the identical logged line, the old pair still served, /hello still 200, no reload hung", async () => {
  await using dir = await TempDir.create();
  const good = await mintCertificate({ commonName: "good.test" });
  const goodFingerprint = fingerprintOf(good.certificatePem);
  const cert = dir.path("cert.pem");
  const key = dir.path("key.pem");
  const reset = async () => {
    for (const path of [cert, key]) await Deno.remove(path, { recursive: true }).catch(() => {});
    await dir.write("cert.pem", good.certificatePem);
    await dir.write("key.pem", good.keyPem);
  };
  await reset();
  const other = await mintCertificate();
  const expired = await mintExpired();
  const future = await mintNotYetValid();
  const { root, intermediate, leaf } = await mintChain();
  const base64 = good.certificatePem.split("\n").filter((l) => !l.startsWith("-----")).join("");
  const der = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const garbage = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256);
  const badBase64 = good.certificatePem.replace(/\n[A-Za-z0-9+/]{8}/, "\n!!!!$$$$");
  const encrypted = await encryptedKey(dir, good.keyPem);
  const pairs = (certPem: string | Uint8Array, keyPem: string = good.keyPem) => async () => {
    await dir.write("cert.pem", certPem);
    await dir.write("key.pem", keyPem);
  };
  const catalogue: [string, () => Promise<unknown>, RegExp][] = [
    ["missing", () => Deno.remove(cert), /file not found/],
    ["empty", pairs(""), /the file is empty/],
    ["whitespace only", pairs("  \n\t \n"), /the file is empty/],
    ["binary garbage", pairs(garbage), /no PEM block found|binary DER/],
    ["DER", pairs(der), /binary DER, not PEM/],
    ["truncated PEM", pairs(good.certificatePem.slice(0, 300)), /has no END line/],
    ["bad base64 inside PEM", pairs(badBase64), /base64 body .* is corrupt/],
    ["a key in the cert file", pairs(good.keyPem), /no CERTIFICATE block/],
    ["cert and key swapped", pairs(good.keyPem, good.certificatePem), /no CERTIFICATE block/],
    ["key of another certificate", pairs(good.certificatePem, other.keyPem), /does not match/],
    ["encrypted key", pairs(good.certificatePem, encrypted), /encrypted with a passphrase/],
    ["expired", pairs(expired.certificatePem, expired.keyPem), /expired at/],
    ["not yet valid", pairs(future.certificatePem, future.keyPem), /is not valid before/],
    [
      "chain with a damaged second certificate",
      pairs(leaf.certificatePem + damaged(intermediate.certificatePem), leaf.keyPem),
      /Cannot parse certificate 2|Invalid chain/,
    ],
    [
      "chain in the wrong order",
      pairs(intermediate.certificatePem + leaf.certificatePem + root.certificatePem, leaf.keyPem),
      /Invalid chain .* was not issued by/,
    ],
    ["directory", () => Deno.remove(cert).then(() => Deno.mkdir(cert)), /it is a directory/],
    ["FIFO", () => Deno.remove(cert).then(() => makeFifo(cert)), /named pipe \(FIFO\)/],
    [
      "/dev/zero",
      () => Deno.remove(cert).then(() => Deno.symlink("/dev/zero", cert)),
      /character device/,
    ],
    ["a 50 MiB file", pairs(new Uint8Array(BIG_FILE_BYTES)), /over the size limit of 1024 KiB/],
    [
      "a dangling symlink",
      () => Deno.remove(cert).then(() => Deno.symlink(dir.path("gone.pem"), cert)),
      /file not found \(it is a symbolic link, which pointed to ".*gone\.pem" when checked\)/,
    ],
    [
      "a symlink to a FIFO",
      async () => {
        await makeFifo(dir.path("pipe"));
        await Deno.remove(cert);
        await Deno.symlink(dir.path("pipe"), cert);
      },
      /named pipe \(FIFO\)/,
    ],
    [
      "unreadable by file mode",
      () => Deno.chmod(cert, 0o000),
      /permission denied by the operating system/,
    ],
  ];
  await using server = await ServerProcess.start({ options: { cert, key }, wrap: WRAP });
  using client = Deno.createHttpClient({ caCerts: [good.certificatePem] });
  const hello = `https://localhost:${server.options.port}/hello`;
  for (const [name, makeBad, cause] of catalogue) {
    await reset();
    await makeBad();
    const post = await postReload(server, HUNG_RELOAD_MS).catch((error) => {
      throw new Error(`${name}: no answer within ${HUNG_RELOAD_MS} ms (${error})`);
    });
    assert.ok(post.status >= 400, `${name}: ${post.status} ${post.body}`);
    assert.match(post.body, /^reload failed: /, `${name}: ${post.body}`);
    assert.match(post.body, cause, name);
    const from = server.lines.length;
    server.signal("SIGHUP");
    const logged = await server.nextLogLine("SIGHUP", from);
    assert.equal(logged.text, post.body.trimEnd(), `${name}: the SIGHUP line equals the POST body`);
    const certs = await (await fetch(server.controlUrl("/certs"), {
      headers: { accept: "application/json" },
    })).json();
    assert.equal(certs.certificate.fingerprint256, goodFingerprint, `${name}: the old pair stays`);
    const response = await fetch(hello, { client });
    assert.equal(response.status, 200, name);
    assert.equal(await response.text(), "Hello, world!", name);
  }
  await reset();
  assert.match((await postReload(server)).body, /^unchanged: .*CN=good\.test/);
});

test("a storm of 200 concurrent POSTs and 20 SIGHUPs while the file is replaced: every POST answered and every SIGHUP logged, the process lives, the last valid file wins", async () => {
  await using dir = await TempDir.create();
  const versions = await Promise.all(
    Array.from({ length: 4 }, (_, n) => mintCertificate({ commonName: `storm${n}.test` })),
  );
  const cert = await dir.write("cert.pem", versions[0]?.certificatePem ?? "");
  await using server = await ServerProcess.start({ options: { cert } });
  let writing = true;
  const writer = (async () => {
    for (let i = 0; writing; i++) {
      const contents = i % 3 === 2
        ? "not a certificate\n"
        : (versions[i % 3] as MintedCertificate).certificatePem;
      await dir.write("cert.pem", contents);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  })();
  const posts = Array.from({ length: 200 }, () => postReload(server));
  // One SIGHUP at a time, each after the last one's line: signals sent together may be merged.
  const hangups: string[] = [];
  for (let i = 0; i < 20; i++) {
    const from = server.lines.length;
    server.signal("SIGHUP");
    hangups.push((await server.nextLogLine("SIGHUP", from)).text);
  }
  const answers = await Promise.all(posts);
  writing = false;
  await writer;
  for (const answer of answers) {
    assert.ok(answer.status === 200 || answer.status === 500, `${answer.status}`);
    assert.match(answer.body, /^(reloaded|unchanged|reload failed): [^\n]*\n$/);
  }
  for (const line of hangups) assert.match(line, /^(reloaded|unchanged|reload failed): [^\n]*$/);
  const lines = server.lines.filter((line) => / \[SIGHUP\] /.test(line));
  assert.equal(lines.length, 20, "one logged outcome per SIGHUP");
  const last = versions[3] as MintedCertificate;
  await dir.write("cert.pem", last.certificatePem);
  const after = await Promise.all(Array.from({ length: 20 }, () => postReload(server)));
  for (const answer of after) assert.match(answer.body, /CN=storm3\.test/);
  const certs = await (await fetch(server.controlUrl("/certs"), {
    headers: { accept: "application/json" },
  })).json();
  assert.equal(certs.certificate.fingerprint256, fingerprintOf(last.certificatePem));
  assert.equal((await fetch(server.helloUrl)).status, 200);
  assert.equal(server.stderr, "", "nothing went to stderr");
});

test("/hello under steady load through 100 mixed good and bad reloads: zero failed requests", async () => {
  await using dir = await TempDir.create();
  const pairs = [await mintCertificate(), await mintCertificate()];
  const cert = await dir.write("cert.pem", pairs[0]?.certificatePem ?? "");
  const key = await dir.write("key.pem", pairs[0]?.keyPem ?? "");
  await using server = await ServerProcess.start({ options: { cert, key } });
  const caCerts = pairs.map((pair) => pair.certificatePem);
  const url = `https://localhost:${server.options.port}/hello`;
  let loading = true;
  const failures: string[] = [];
  let requests = 0;
  const workers = Array.from({ length: 4 }, async (_, worker) => {
    using client = Deno.createHttpClient({ caCerts });
    while (loading) {
      try {
        const response = await fetch(url, { client });
        const body = await response.text();
        if (response.status !== 200 || body !== "Hello, world!") {
          failures.push(`${worker}: ${response.status}`);
        }
      } catch (error) {
        failures.push(`${worker}: ${error}`);
      }
      requests++;
    }
  });
  const outcomes = { good: 0, bad: 0 };
  for (let i = 0; i < 100; i++) {
    const pair = pairs[i % 2] as MintedCertificate;
    const bad = i % 4 === 3;
    await dir.write("cert.pem", bad ? "garbage\n" : pair.certificatePem);
    await dir.write("key.pem", pair.keyPem);
    const answer = await postReload(server);
    if (answer.status === 200) outcomes.good++;
    else outcomes.bad++;
  }
  loading = false;
  await Promise.all(workers);
  assert.deepEqual(failures, []);
  assert.deepEqual(outcomes, { good: 75, bad: 25 });
  assert.ok(requests > 100, `the load ran through the reloads (${requests} requests)`);
});
