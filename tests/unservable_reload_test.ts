/**
 * The five crafted certificates that the loader once accepted and Deno's TLS then failed every
 * handshake with (X.509 v1 and v4, an unknown critical extension, RSA-512 and RSA-1024 keys),
 * through the real server: a reload to each answers failed with the loader's words, and the
 * certificate served before is still served (a real TLS handshake says so), in HTTPS and in
 * plain mode.
 */

import assert from "node:assert/strict";
import { loadCertificate } from "../lib/certificate/certificate.ts";
import { describeError } from "../lib/certificate/describe_error.ts";
import { fingerprintOf, mintCertificate, TempDir } from "./_fixtures.ts";
import { postReload, ServerProcess } from "./_server.ts";
import { fetchWithCa, servedFingerprint } from "./_tls_clients.ts";
import { test } from "./_time_limit.ts";

/** A crafted pair: its name, its files in the crafted folder, and words the refusal must hold. */
interface Crafted {
  readonly name: string;
  readonly cert: string;
  readonly key: string;
  readonly words: RegExp;
}

/** The version field of a v3 certificate's TBSCertificate: `[0] { INTEGER 2 }`. */
const V3_VERSION = [0xa0, 0x03, 0x02, 0x01, 0x02];
const V4 = 0x03;
const PEM_BODY = /-----[^-]+-----|\s/g;
const SELF_SIGNED = "openssl req -x509 -subj /CN=localhost -addext subjectAltName=DNS:localhost " +
  "-days 30";

/** Runs a bash script of openssl commands in `dir`; throws when it fails. */
async function sh(dir: string, script: string): Promise<void> {
  const out = await new Deno.Command("bash", { args: ["-c", script], cwd: dir }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

/** The v3 certificate `pem` with its version field made v4 (its signature no longer matches, which no one checks on a leaf served alone). */
function asVersion4(pem: string): string {
  const der = Uint8Array.fromBase64(pem.replace(PEM_BODY, ""));
  const at = der.findIndex((_, i) => V3_VERSION.every((byte, j) => der[i + j] === byte));
  assert.ok(at > 0, "a v3 version field");
  der[at + V3_VERSION.length - 1] = V4;
  return `-----BEGIN CERTIFICATE-----\n${der.toBase64()}\n-----END CERTIFICATE-----\n`;
}

/** Mints the five crafted pairs into `dir`, each with its own key, all for localhost. */
async function mintCrafted(dir: TempDir): Promise<Crafted[]> {
  await sh(
    dir.dir,
    "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key && " +
      "openssl req -new -key ec.key -subj /CN=localhost -out v1.csr && " +
      "openssl x509 -req -in v1.csr -key ec.key -days 30 -out v1.pem 2>/dev/null && " +
      `${SELF_SIGNED} -key ec.key -out v3.pem && ` +
      `${SELF_SIGNED} -key ec.key -addext 1.2.3.4=critical,ASN1:UTF8String:x -out critical.pem && ` +
      [512, 1024].map((bits) =>
        `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:${bits} -out rsa${bits}.key ` +
        `2>/dev/null && ${SELF_SIGNED} -key rsa${bits}.key -out rsa${bits}.pem`
      ).join(" && "),
  );
  await dir.write("v4.pem", asVersion4(await Deno.readTextFile(dir.path("v3.pem"))));
  const pair = (name: string, cert: string, key: string, words: RegExp): Crafted => ({
    name,
    cert: dir.path(cert),
    key: dir.path(key),
    words,
  });
  return [
    pair("v1", "v1.pem", "ec.key", /is an X\.509 v1 certificate; Deno's TLS serves v3/),
    pair("v4", "v4.pem", "ec.key", /is an X\.509 v4 certificate; Deno's TLS serves v3/),
    pair("critical", "critical.pem", "ec.key", /critical extension .*\(1\.2\.3\.4\)/),
    pair("RSA-512", "rsa512.pem", "rsa512.key", /RSA key of 512 bits; Deno's TLS needs at least/),
    pair("RSA-1024", "rsa1024.pem", "rsa1024.key", /RSA key of 1024 bits; Deno's TLS needs/),
  ];
}

/** Puts a crafted pair in the served files, reloads, and checks the answer is the loader's refusal. */
async function reloadRefused(
  server: ServerProcess,
  served: TempDir,
  crafted: Crafted,
  withKey: boolean,
): Promise<void> {
  await served.write("cert.pem", await Deno.readFile(crafted.cert));
  if (withKey) await served.write("key.pem", await Deno.readFile(crafted.key));
  const paths = {
    cert: served.path("cert.pem"),
    key: withKey ? served.path("key.pem") : undefined,
  };
  const answer = await postReload(server);
  assert.equal(answer.status, 500, `${crafted.name}: ${answer.body}`);
  assert.match(answer.body, crafted.words, `${crafted.name}: ${answer.body}`);
  // The answer is the loader's own refusal, word for word.
  const loaded = await loadCertificate(paths);
  assert.ok(!loaded.ok, `${crafted.name}: the loader refuses it`);
  assert.equal(loaded.error.kind, "unservable", crafted.name);
  const words = describeError(loaded.error);
  assert.ok(answer.body.includes(words), `${crafted.name}: ${answer.body} holds "${words}"`);
}

test("HTTPS mode: a reload to a v1, v4, unknown-critical-extension, RSA-512 or RSA-1024 pair fails with the loader's words, and handshakes still get the previous certificate", async () => {
  await using dir = await TempDir.create();
  await using craftedDir = await TempDir.create();
  const crafted = await mintCrafted(craftedDir);
  const good = await mintCertificate();
  await using server = await ServerProcess.start({ options: await dir.writePair(good) });
  const hello = `https://localhost:${server.options.port}/hello`;
  for (const pair of crafted) {
    await reloadRefused(server, dir, pair, true);
    assert.equal(
      await servedFingerprint(server.options.port),
      fingerprintOf(good.certificatePem),
      pair.name,
    );
    assert.equal(await fetchWithCa(hello, [good.certificatePem]), "Hello, world!", pair.name);
  }
});

test("plain mode: a reload to a v1, v4, unknown-critical-extension, RSA-512 or RSA-1024 certificate fails with the loader's words, and the previous one stays active", async () => {
  await using dir = await TempDir.create();
  await using craftedDir = await TempDir.create();
  const crafted = await mintCrafted(craftedDir);
  const good = await mintCertificate();
  await dir.write("cert.pem", good.certificatePem);
  await using server = await ServerProcess.start({ options: { cert: dir.path("cert.pem") } });
  for (const pair of crafted) {
    await reloadRefused(server, dir, pair, false);
    const certs = await (await fetch(server.controlUrl("/certs"), {
      headers: { accept: "application/json" },
    })).json();
    assert.equal(certs.certificate.fingerprint256, fingerprintOf(good.certificatePem), pair.name);
    assert.equal(await (await fetch(server.helloUrl)).text(), "Hello, world!", pair.name);
  }
});
