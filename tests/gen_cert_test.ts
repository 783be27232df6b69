/**
 * `deno task gen-cert`: the walk-through's certificates (an output name, a validity, expired, not
 * yet valid) signed with the demo key, the demo pair written only when asked, and a task grant
 * that allows exactly the files it may write.
 */

import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { copyProject, DAY_MS, mintRsaKeys, TempDir } from "./_fixtures.ts";
import {
  DEFAULT_VALIDITY_DAYS,
  GEN_CERT_TASK_WRITES,
  type GenCertRequest,
  parseGenCertArgs,
  readKeyPair,
} from "../lib/cli/gen_cert.ts";
import { encodePem } from "../lib/ground/pem.ts";
import { test } from "./_time_limit.ts";

const REPO = new URL("..", import.meta.url).pathname;
const NOW = new Date("2026-12-01T12:00:00Z");

function request(args: string[]): GenCertRequest {
  const parsed = parseGenCertArgs(args, NOW);
  assert.ok(parsed.ok && parsed.value !== "help", `parsed ${args.join(" ")}`);
  return parsed.value;
}

function problem(args: string[]): string {
  const parsed = parseGenCertArgs(args, NOW);
  assert.ok(!parsed.ok, `${args.join(" ")} is refused`);
  return parsed.error;
}

test("gen-cert --out names the file, --days sets the validity from an hour ago, 90 days by default", () => {
  const renewed = request(["--out", "renewed", "--days", "30"]);
  assert.equal(renewed.certPath, "renewed.pem");
  assert.equal(renewed.newKeyPath, undefined);
  assert.equal(renewed.notBefore.getTime(), NOW.getTime() - DAY_MS / 24);
  assert.equal(renewed.notAfter.getTime() - renewed.notBefore.getTime(), 30 * DAY_MS);
  const plain = request(["--out=site.pem"]);
  assert.equal(plain.certPath, "site.pem");
  assert.equal(
    plain.notAfter.getTime() - plain.notBefore.getTime(),
    DEFAULT_VALIDITY_DAYS * DAY_MS,
  );
});

test("gen-cert --expired ended a day ago and --not-yet-valid starts tomorrow", () => {
  const expired = request(["--out", "expired", "--expired", "--days", "10"]);
  assert.equal(expired.notAfter.getTime(), NOW.getTime() - DAY_MS);
  assert.equal(expired.notBefore.getTime(), NOW.getTime() - 11 * DAY_MS);
  const early = request(["--out", "not-yet-valid", "--not-yet-valid"]);
  assert.equal(early.notBefore.getTime(), NOW.getTime() + DAY_MS);
  assert.ok(early.notAfter > early.notBefore);
});

test("gen-cert refuses a missing --out, a bad --days, both validity switches, and --new-key beside another name", () => {
  assert.match(problem([]), /^--out <name> is required/);
  assert.match(
    problem(["--out", "x", "--days", "0"]),
    /--days must be a whole number of days, 1 or more, got "0"/,
  );
  assert.match(problem(["--out", "x", "--days", "1.5"]), /got "1\.5"/);
  assert.match(problem(["--out", "x", "--expired", "--not-yet-valid"]), /exclude each other/);
  assert.match(
    problem(["--out", "renewed", "--new-key"]),
    /--new-key writes key\.pem and goes with --out cert only/,
  );
  assert.match(problem(["--out", "x", "--bogus"]), /unknown option "--bogus"/);
  assert.equal((parseGenCertArgs(["--help"], NOW) as { value: unknown }).value, "help");
  assert.deepEqual(request(["--out", "cert", "--new-key"]).newKeyPath, "key.pem");
});

test("the gen-cert task may read key.pem only and write only the demo pair and the walk-through's files", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${REPO}deno.json`));
  assert.equal(
    config.tasks["gen-cert"].command,
    `deno run --no-prompt --allow-read=key.pem --allow-write=${GEN_CERT_TASK_WRITES.join(",")} ` +
      "lib/cli/gen_cert.ts",
  );
});

async function task(dir: TempDir, ...args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "gen-cert", ...args],
    cwd: dir.dir,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

test("deno task gen-cert writes renewed.pem for key.pem's key and leaves the committed pair alone unless asked", async () => {
  await using dir = await TempDir.create();
  await copyProject(dir);
  const before = await Promise.all(
    ["cert.pem", "key.pem"].map((f) => Deno.readTextFile(dir.path(f))),
  );
  const keyPem = before[1] as string;

  const renewed = await task(dir, "--out", "renewed", "--days", "90");
  assert.equal(renewed.code, 0, renewed.stderr);
  assert.match(
    renewed.stdout,
    /^wrote renewed\.pem: CN=localhost \[DNS:localhost, IP Address:127\.0\.0\.1\], valid \S+Z to \S+Z, the key in key\.pem/,
  );
  const certificate = new X509Certificate(await Deno.readTextFile(dir.path("renewed.pem")));
  assert.ok(
    certificate.checkPrivateKey(
      createPrivateKey(keyPem),
    ),
  );
  const days = (Date.parse(certificate.validTo) - Date.parse(certificate.validFrom)) / DAY_MS;
  assert.equal(days, 90);
  assert.equal(certificate.subjectAltName, "DNS:localhost, IP Address:127.0.0.1");

  const expired = await task(dir, "--out", "expired", "--expired");
  assert.equal(expired.code, 0, expired.stderr);
  assert.ok(
    Date.parse(new X509Certificate(await Deno.readTextFile(dir.path("expired.pem"))).validTo) <
      Date.now(),
  );

  const after = await Promise.all(
    ["cert.pem", "key.pem"].map((f) => Deno.readTextFile(dir.path(f))),
  );
  assert.deepEqual(after, before, "cert.pem and key.pem untouched");

  const outside = await task(dir, "--out", "other");
  assert.equal(outside.code, 1);
  assert.equal(
    outside.stderr,
    'gen-cert: Cannot write "other.pem": deno task gen-cert may read only key.pem and write only ' +
      `${GEN_CERT_TASK_WRITES.join(", ")}; for other files run: deno run --no-prompt ` +
      "--allow-read=key.pem --allow-write=other.pem lib/cli/gen_cert.ts --out other\n",
  );
  await assert.rejects(Deno.stat(dir.path("other.pem")), Deno.errors.NotFound);

  const pair = await task(dir, "--out", "cert", "--new-key");
  assert.equal(pair.code, 0, pair.stderr);
  assert.match(pair.stdout, /^wrote cert\.pem: .* a new key in key\.pem/);
  const newKey = await Deno.readTextFile(dir.path("key.pem"));
  assert.notEqual(newKey, keyPem);
  assert.equal(((await Deno.stat(dir.path("key.pem"))).mode ?? 0) & 0o777, 0o600);
  const newCert = new X509Certificate(await Deno.readTextFile(dir.path("cert.pem")));
  assert.ok(newCert.checkPrivateKey(createPrivateKey(newKey)));

  const bad = await task(dir, "--out", "x", "--days", "zero");
  assert.equal(bad.code, 2);
  assert.equal(
    bad.stderr,
    'gen-cert: --days must be a whole number of days, 1 or more, got "zero"; see deno task gen-cert --help\n',
  );
});

test("gen-cert signs only with a P-256 PKCS #8 key: another key or no key block is refused with the reason", async () => {
  const rsa = await mintRsaKeys();
  const der = new Uint8Array(await crypto.subtle.exportKey("pkcs8", rsa.privateKey));
  const rsaPem = encodePem("PRIVATE KEY", btoa(String.fromCharCode(...der)));
  const refused = await readKeyPair(rsaPem);
  assert.ok(!refused.ok);
  assert.match(refused.error, /^it is not an ECDSA P-256 PKCS #8 key, the kind gen-cert writes \(/);
  const none = await readKeyPair("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  assert.deepEqual(none, { ok: false, error: "it holds no PEM PRIVATE KEY block" });
  const demo = await readKeyPair(await Deno.readTextFile(`${REPO}key.pem`));
  assert.ok(demo.ok && demo.value.publicKey.type === "public");
});
