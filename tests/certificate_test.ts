import assert from "node:assert/strict";
import {
  type CertificateError,
  fileError,
  loadCertificate,
  MAX_FILE_BYTES,
  parseCertificate,
} from "../lib/certificate/certificate.ts";
import type { Result } from "../lib/ground/result.ts";
import {
  DAY_MS,
  fingerprintOf,
  mintCertificate,
  mintChain,
  mintExpired,
  mintNotYetValid,
  TempDir,
} from "./_fixtures.ts";
import { test } from "./_time_limit.ts";

function assertError<T>(
  result: Result<T, CertificateError>,
  expected: Partial<CertificateError> & Pick<CertificateError, "kind">,
): CertificateError {
  assert.equal(result.ok, false, "expected the loader to fail");
  if (result.ok) throw new Error("unreachable");
  assert.deepEqual({ ...result.error, ...expected }, result.error);
  return result.error;
}

test("loader accepts a valid chain with its key and reports what an operator needs", async () => {
  await using dir = await TempDir.create();
  const { root, intermediate, leaf } = await mintChain();
  const cert = await dir.write(
    "chain.pem",
    leaf.certificatePem + intermediate.certificatePem + root.certificatePem,
  );
  const key = await dir.write("key.pem", leaf.keyPem);
  const result = await loadCertificate({ cert, key });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.error));
  const loaded = result.value;
  assert.equal(loaded.path, cert);
  assert.equal(loaded.keyPath, key);
  assert.equal(loaded.subject, "CN=localhost");
  assert.equal(loaded.issuer, "CN=Test Intermediate CA");
  assert.deepEqual(loaded.subjectAltNames, ["DNS:localhost", "IP Address:127.0.0.1"]);
  assert.match(loaded.serialNumber, /^[0-9A-F]+$/);
  assert.equal(loaded.fingerprint256, fingerprintOf(leaf.certificatePem));
  assert.equal(loaded.chain.length, 3);
  assert.equal(loaded.chain[2]?.fingerprint256, fingerprintOf(root.certificatePem));
  assert.ok(loaded.notBefore < new Date() && loaded.notAfter > new Date());
  assert.equal(loaded.keyPem, leaf.keyPem);
});

test("loader accepts text around the PEM blocks, as openssl x509 -text writes", async () => {
  const leaf = await mintCertificate();
  const text = `Certificate:\n    Data:\n        Version: 3 (0x2)\n${leaf.certificatePem}trailer\n`;
  const result = await parseCertificate(
    { certPath: "c.pem", certBytes: new TextEncoder().encode(text) },
    new Date(),
  );
  assert.ok(result.ok);
  assert.equal(result.value.chain.length, 1);
});

test("loader reports not_found for a missing file", async () => {
  await using dir = await TempDir.create();
  assertError(await loadCertificate({ cert: dir.path("missing.pem") }), {
    kind: "not_found",
    role: "certificate",
  });
});

test("loader reports not_found for a missing key, naming the key file", async () => {
  await using dir = await TempDir.create();
  const leaf = await mintCertificate();
  const cert = await dir.write("cert.pem", leaf.certificatePem);
  assertError(await loadCertificate({ cert, key: dir.path("nokey.pem") }), {
    kind: "not_found",
    role: "key",
    path: dir.path("nokey.pem"),
  });
});

test("loader refuses a directory without reading it", async () => {
  await using dir = await TempDir.create();
  assertError(await loadCertificate({ cert: dir.dir }), {
    kind: "not_a_file",
    fileType: "directory",
  });
});

test("loader refuses a FIFO without blocking on it", async () => {
  await using dir = await TempDir.create();
  const fifo = dir.path("cert.pem");
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert.ok(made.success, "mkfifo failed");
  assertError(await loadCertificate({ cert: fifo }), {
    kind: "not_a_file",
    fileType: "named pipe (FIFO)",
  });
});

test("loader refuses a character device", async () => {
  assertError(await loadCertificate({ cert: "/dev/zero" }), {
    kind: "not_a_file",
    fileType: "character device",
  });
});

test("loader refuses a file over the size limit before reading it", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("big.pem", new Uint8Array(MAX_FILE_BYTES + 1));
  assertError(await loadCertificate({ cert }), {
    kind: "too_large",
    limit: MAX_FILE_BYTES,
  });
});

test("loader reports empty for an empty or blank file", async () => {
  await using dir = await TempDir.create();
  assertError(await loadCertificate({ cert: await dir.write("empty.pem", "") }), {
    kind: "empty",
  });
  assertError(await loadCertificate({ cert: await dir.write("blank.pem", " \n\n") }), {
    kind: "empty",
  });
});

test("loader reports not_pem for text without PEM blocks", async () => {
  await using dir = await TempDir.create();
  assertError(await loadCertificate({ cert: await dir.write("c.pem", "hello\n") }), {
    kind: "not_pem",
  });
});

test("loader recognises a DER certificate and says it is not PEM", async () => {
  await using dir = await TempDir.create();
  const leaf = await mintCertificate();
  const base64 = leaf.certificatePem.split("\n").filter((l) => !l.startsWith("-----")).join("");
  const der = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  assertError(await loadCertificate({ cert: await dir.write("c.der", der) }), {
    kind: "der_encoded",
  });
});

test("loader reports truncated_pem when a block has no END line", async () => {
  await using dir = await TempDir.create();
  const leaf = await mintCertificate();
  const half = leaf.certificatePem.slice(0, leaf.certificatePem.length / 2);
  assertError(await loadCertificate({ cert: await dir.write("c.pem", half) }), {
    kind: "truncated_pem",
    label: "CERTIFICATE",
  });
});

test("loader reports no_certificate for a private key where the certificate should be", async () => {
  await using dir = await TempDir.create();
  const leaf = await mintCertificate();
  assertError(await loadCertificate({ cert: await dir.write("c.pem", leaf.keyPem) }), {
    kind: "no_certificate",
    privateKey: true,
  });
});

test("loader reports invalid_certificate for a PEM block that is not X.509", async () => {
  await using dir = await TempDir.create();
  const pem = `-----BEGIN CERTIFICATE-----\n${
    btoa("not a certificate")
  }\n-----END CERTIFICATE-----\n`;
  const leaf = await mintCertificate();
  assertError(await loadCertificate({ cert: await dir.write("c.pem", pem) }), {
    kind: "invalid_certificate",
    position: 1,
  });
  assertError(
    await loadCertificate({ cert: await dir.write("c2.pem", leaf.certificatePem + pem) }),
    {
      kind: "invalid_certificate",
      position: 2,
    },
  );
  const corrupt = leaf.certificatePem.replace(/\n[A-Za-z0-9+/]{10}/, "\n!!!!!!!!!!");
  assertError(await loadCertificate({ cert: await dir.write("c3.pem", corrupt) }), {
    kind: "invalid_certificate",
    position: 1,
  });
});

test("loader reports chain_broken when a certificate is not issued by the next one", async () => {
  await using dir = await TempDir.create();
  const { root, leaf } = await mintChain();
  assertError(
    await loadCertificate({
      cert: await dir.write("c.pem", leaf.certificatePem + root.certificatePem),
    }),
    {
      kind: "chain_broken",
      position: 1,
      subject: "CN=localhost",
      nextSubject: "CN=Test Root CA",
    },
  );
});

test("loader reports expired for a leaf past its notAfter", async () => {
  await using dir = await TempDir.create();
  const leaf = await mintExpired();
  assertError(await loadCertificate({ cert: await dir.write("c.pem", leaf.certificatePem) }), {
    kind: "expired",
    subject: "CN=localhost",
  });
});

test("loader uses the injected clock: valid today, expired in a year", async () => {
  await using dir = await TempDir.create();
  const leaf = await mintCertificate();
  const cert = await dir.write("c.pem", leaf.certificatePem);
  assert.ok((await loadCertificate({ cert })).ok);
  assertError(await loadCertificate({ cert }, { now: new Date(Date.now() + 365 * DAY_MS) }), {
    kind: "expired",
  });
});

test("loader reports not_yet_valid for a leaf before its notBefore", async () => {
  await using dir = await TempDir.create();
  const leaf = await mintNotYetValid();
  assertError(await loadCertificate({ cert: await dir.write("c.pem", leaf.certificatePem) }), {
    kind: "not_yet_valid",
  });
});

test("loader reports key_invalid for a key file that holds no usable key", async () => {
  await using dir = await TempDir.create();
  const leaf = await mintCertificate();
  const cert = await dir.write("c.pem", leaf.certificatePem);
  const garbageKey = `-----BEGIN PRIVATE KEY-----\n${
    btoa("garbage")
  }=\n-----END PRIVATE KEY-----\n`;
  assertError(await loadCertificate({ cert, key: await dir.write("k1.pem", garbageKey) }), {
    kind: "key_invalid",
  });
  const swapped = assertError(
    await loadCertificate({ cert, key: await dir.write("k2.pem", leaf.certificatePem) }),
    { kind: "key_invalid" },
  );
  assert.match((swapped as { reason: string }).reason, /swapped/);
  const encrypted =
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
  const locked = assertError(
    await loadCertificate({ cert, key: await dir.write("k3.pem", encrypted) }),
    { kind: "key_invalid" },
  );
  assert.match((locked as { reason: string }).reason, /encrypted/);
});

test("loader reports key_mismatch for a key of another certificate", async () => {
  await using dir = await TempDir.create();
  const [leaf, other] = [await mintCertificate(), await mintCertificate()];
  const cert = await dir.write("c.pem", leaf.certificatePem);
  assertError(await loadCertificate({ cert, key: await dir.write("k.pem", other.keyPem) }), {
    kind: "key_mismatch",
    certPath: cert,
  });
});

test("loader maps any other file system error to io, keeping its message", () => {
  assert.deepEqual(fileError(new Deno.errors.Interrupted("read interrupted"), "c.pem", "key"), {
    kind: "io",
    role: "key",
    path: "c.pem",
    reason: "read interrupted",
  });
  assert.deepEqual(fileError(new Deno.errors.NotCapable("no"), "c.pem", "certificate"), {
    kind: "permission_denied",
    role: "certificate",
    path: "c.pem",
    deniedBy: "deno",
  });
  const fstatRefusal = new Deno.errors.NotCapable(
    'Requires read access to "/srv/archive/c1.pem", run again with the --allow-read flag',
  );
  assert.deepEqual(fileError(fstatRefusal, "c.pem", "certificate"), {
    kind: "permission_denied",
    role: "certificate",
    path: "c.pem",
    deniedBy: "deno",
    refusedPath: "/srv/archive/c1.pem",
  });
  assert.deepEqual(fileError(new Deno.errors.PermissionDenied("no"), "c.pem", "certificate"), {
    kind: "permission_denied",
    role: "certificate",
    path: "c.pem",
    deniedBy: "os",
  });
});

test("a pair that vanishes after a good load is not_found on the next load, not the remembered certificate", async () => {
  await using dir = await TempDir.create();
  const pair = await mintCertificate();
  const { cert, key } = await dir.writePair(pair);
  assert.ok((await loadCertificate({ cert, key })).ok);
  await Deno.remove(key);
  assertError(await loadCertificate({ cert, key }), { kind: "not_found", role: "key", path: key });
  await Deno.remove(cert);
  assertError(await loadCertificate({ cert, key }), {
    kind: "not_found",
    role: "certificate",
    path: cert,
  });
});

test("bytes loaded before are not parsed again, yet their dates and their key are checked as before", async () => {
  await using dir = await TempDir.create();
  const pair = await mintCertificate();
  const cert = await dir.write("c.pem", pair.certificatePem);
  const key = await dir.write("k.pem", pair.keyPem);
  const first = await loadCertificate({ cert, key });
  assert.ok(first.ok);
  const again = await loadCertificate({ cert, key });
  assert.ok(again.ok);
  assert.equal(again.value, first.value, "the same bytes give the remembered certificate");
  assertError(await loadCertificate({ cert, key }, { now: new Date(Date.now() + 60 * DAY_MS) }), {
    kind: "expired",
  });
  assertError(await loadCertificate({ cert, key }, { now: new Date(Date.now() - DAY_MS) }), {
    kind: "not_yet_valid",
  });
  await dir.write("k.pem", (await mintCertificate()).keyPem);
  assertError(await loadCertificate({ cert, key }), { kind: "key_mismatch" });
  const elsewhere = await dir.write("d.pem", pair.certificatePem);
  const moved = await loadCertificate({ cert: elsewhere });
  assert.equal(moved.ok && moved.value.path, elsewhere, "the path is part of what is remembered");
  const alone = await loadCertificate({ cert });
  assert.ok(alone.ok);
  assert.equal(alone.value.keyPem, undefined, "with and without a key are remembered apart");
});

test("a chain verified once is still refused in the wrong order", async () => {
  await using dir = await TempDir.create();
  const { root, intermediate, leaf } = await mintChain();
  const good = await dir.write(
    "good.pem",
    leaf.certificatePem + intermediate.certificatePem + root.certificatePem,
  );
  assert.ok((await loadCertificate({ cert: good })).ok);
  const swapped = await dir.write(
    "bad.pem",
    leaf.certificatePem + root.certificatePem + intermediate.certificatePem,
  );
  // The root in the middle is named as such (issue 19) …
  assertError(await loadCertificate({ cert: swapped }), {
    kind: "self_signed_not_last",
    position: 2,
  });
  // … and issuers out of order break the chain.
  const reordered = await dir.write(
    "reordered.pem",
    intermediate.certificatePem + leaf.certificatePem + root.certificatePem,
  );
  assertError(await loadCertificate({ cert: reordered }), { kind: "chain_broken", position: 1 });
});
