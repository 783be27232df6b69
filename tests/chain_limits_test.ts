/**
 * Chains no TLS client takes are refused by the loader, each with its own kind and words: more
 * certificates than rustls builds a path through, a Certificate message over what rustls and
 * OpenSSL read, a repeated certificate, and a self-signed certificate before the end. The issue's
 * bundle (1,800 copies of one certificate) never replaces the certificate being served.
 */

import assert from "node:assert/strict";
import {
  type CertificateError,
  MAX_CHAIN_CERTIFICATES,
  MAX_CHAIN_MESSAGE_BYTES,
  MAX_FILE_BYTES,
  parseCertificate,
} from "../lib/certificate/certificate.ts";
import { describeError } from "../lib/certificate/describe_error.ts";
import { fingerprintOf, mintCertificate, mintChain, TempDir } from "./_fixtures.ts";
import { ServerProcess } from "./_server.ts";
import { test } from "./_time_limit.ts";

async function refusal(pems: readonly string[]): Promise<CertificateError> {
  const certBytes = new TextEncoder().encode(pems.join(""));
  const parsed = await parseCertificate({ certPath: "chain.pem", certBytes }, new Date());
  assert.ok(!parsed.ok, "the chain was accepted");
  return parsed.error;
}

test("a chain of more than 8 certificates is chain_too_long: rustls builds a path through at most 6 intermediates", async () => {
  const pems = await Promise.all(
    Array.from({ length: MAX_CHAIN_CERTIFICATES + 1 }, () => mintCertificate()),
  );
  const error = await refusal(pems.map((pem) => pem.certificatePem));
  assert.deepEqual(error, { kind: "chain_too_long", path: "chain.pem", count: 9, limit: 8 });
  assert.equal(
    describeError(error),
    'Cannot serve certificate "chain.pem": its chain holds 9 certificates, over the 8 a TLS ' +
      "client verifies (rustls builds a path through at most 6 intermediates); keep the leaf " +
      "and its issuers only",
  );
});

test("a chain whose TLS Certificate message would pass 60 KiB is chain_too_large, below rustls' 64 KiB and OpenSSL's 100 KiB", async () => {
  // Eight certificates of ~8 KiB each (many names), each issued by the next.
  const names = Array.from({ length: 300 }, (_, i) => `host-${i}.a-rather-long-name.example`);
  const root = await mintCertificate({ commonName: "Big Root", isCa: true, altNames: names });
  const chain = [root];
  for (let i = 0; i < MAX_CHAIN_CERTIFICATES - 1; i++) {
    chain.unshift(
      await mintCertificate({
        commonName: `Big ${i}`,
        isCa: true,
        altNames: names,
        issuer: chain[0],
      }),
    );
  }
  const error = await refusal(chain.map((pem) => pem.certificatePem));
  assert.equal(error.kind, "chain_too_large");
  assert.ok(error.kind === "chain_too_large" && error.bytes > MAX_CHAIN_MESSAGE_BYTES);
  assert.match(
    describeError(error),
    /^Cannot serve certificate "chain\.pem": its chain makes a TLS Certificate message of \d+ bytes, over the 60 KiB TLS clients read \(rustls refuses 64 KiB, OpenSSL 100 KiB\); keep the leaf and its issuers only$/,
  );
  // Its first five certificates (~57 KB) are under the limit and load.
  const fits = await parseCertificate(
    {
      certPath: "chain.pem",
      certBytes: new TextEncoder().encode(chain.slice(0, 5).map((c) => c.certificatePem).join("")),
    },
    new Date(),
  );
  assert.ok(fits.ok, JSON.stringify(!fits.ok && fits.error));
});

test("the same certificate twice is duplicate_certificate, naming both positions", async () => {
  const { leaf, intermediate, root } = await mintChain();
  const error = await refusal([
    leaf.certificatePem,
    intermediate.certificatePem,
    intermediate.certificatePem,
    root.certificatePem,
  ]);
  assert.deepEqual(error, {
    kind: "duplicate_certificate",
    path: "chain.pem",
    position: 3,
    firstPosition: 2,
  });
  assert.equal(
    describeError(error),
    'Cannot serve certificate "chain.pem": certificate 3 repeats certificate 2; list each ' +
      "certificate once, leaf first",
  );
});

test("a self-signed certificate anywhere but last is self_signed_not_last; last, it is fine", async () => {
  const { leaf, intermediate, root } = await mintChain();
  const error = await refusal([root.certificatePem, leaf.certificatePem]);
  assert.deepEqual(error, {
    kind: "self_signed_not_last",
    path: "chain.pem",
    position: 1,
    subject: "CN=Test Root CA",
    count: 2,
  });
  assert.equal(
    describeError(error),
    'Cannot serve certificate "chain.pem": certificate 1 of 2 (CN=Test Root CA) is self-signed, ' +
      "so no client looks past it; a root may only come last (or be left out)",
  );
  const middle = await refusal([
    leaf.certificatePem,
    intermediate.certificatePem,
    root.certificatePem,
    (await mintCertificate()).certificatePem,
  ]);
  assert.equal(middle.kind, "self_signed_not_last");
  assert.ok(middle.kind === "self_signed_not_last" && middle.position === 3);
  const whole = await parseCertificate(
    {
      certPath: "chain.pem",
      certBytes: new TextEncoder().encode(
        leaf.certificatePem + intermediate.certificatePem + root.certificatePem,
      ),
    },
    new Date(),
  );
  assert.ok(whole.ok);
});

test("the issue's bundle of 1,800 copies of one certificate (under 1 MiB) is refused by a reload through the real server, which keeps serving", async () => {
  await using dir = await TempDir.create();
  const good = await mintCertificate();
  const cert = await dir.write("cert.pem", good.certificatePem);
  await using server = await ServerProcess.start({ options: { cert } });
  const copy = (await mintCertificate()).certificatePem;
  const bundle = copy.repeat(1800);
  assert.ok(bundle.length < MAX_FILE_BYTES, `${bundle.length} bytes`);
  await dir.write("cert.pem", bundle);
  const reload = await fetch(server.reloadUrl, { method: "POST" });
  assert.equal(reload.status, 500);
  const body = await reload.text();
  assert.match(
    body,
    /^reload failed: Cannot serve certificate ".*cert\.pem": its chain holds 1800 certificates, over the 8 a TLS client verifies .*; still serving the previous certificate /,
  );
  const health = await fetch(server.controlUrl("/healthz"));
  assert.equal(health.status, 200);
  await health.body?.cancel();
  const certs = await (await fetch(server.controlUrl("/certs"), {
    headers: { accept: "application/json" },
  })).json();
  assert.equal(certs.certificate.fingerprint256, fingerprintOf(good.certificatePem));
});
