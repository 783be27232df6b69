import assert from "node:assert/strict";
import { loadCertificate } from "../lib/certificate/certificate.ts";
import { encodePem, parsePemBlocks } from "../lib/ground/pem.ts";
import { TempDir } from "./_fixtures.ts";
import { test } from "./_time_limit.ts";

/** Runs openssl in `dir`; throws with its stderr when it fails. */
async function openssl(dir: string, ...args: string[]): Promise<string> {
  const output = await new Deno.Command("openssl", { args, cwd: dir }).output();
  const text = new TextDecoder();
  if (!output.success) throw new Error(`openssl ${args.join(" ")}: ${text.decode(output.stderr)}`);
  return text.decode(output.stdout);
}

/** What `openssl x509` prints of a certificate, in the loader's forms. */
async function printed(dir: string, cert: string) {
  const out = await openssl(
    dir,
    ...["x509", "-in", cert, "-noout", "-subject", "-issuer", "-serial", "-fingerprint"],
    ...["-sha256", "-startdate", "-enddate", "-nameopt", "utf8,sep_comma_plus_space,sname"],
  );
  const field = (name: string) => new RegExp(`^${name}=(.*)$`, "m").exec(out)?.[1] ?? "";
  const sans = await openssl(dir, "x509", "-in", cert, "-noout", "-ext", "subjectAltName");
  return {
    subject: field("subject"),
    issuer: field("issuer"),
    serialNumber: field("serial"),
    fingerprint256: field("sha256 Fingerprint"),
    notBefore: new Date(field("notBefore")),
    notAfter: new Date(field("notAfter")),
    subjectAltNames: sans.split("\n")[1]?.trim().split(", ").filter((name) => name !== "") ?? [],
  };
}

/**
 * A chain made by openssl across every algorithm family: an RSA root signs (RSA-PSS) an EC P-384
 * intermediate whose key is in SEC 1 form with its EC PARAMETERS block, which signs (ECDSA
 * SHA-384) an Ed25519 leaf; the root's key is also written in PKCS #1 form.
 */
async function opensslChain(dir: string): Promise<void> {
  const days = ["-days", "10"];
  await openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "root.key",
    "-out",
    "root.pem",
    "-subj",
    "/C=DE/O=Example Root GmbH/CN=Root R1",
    ...days,
    "-addext",
    "basicConstraints=critical,CA:true",
  );
  await openssl(dir, "rsa", "-in", "root.key", "-traditional", "-out", "root-pkcs1.key");
  await openssl(dir, "ecparam", "-name", "secp384r1", "-genkey", "-out", "inter.key");
  await openssl(
    dir,
    "req",
    "-new",
    "-key",
    "inter.key",
    "-utf8",
    "-out",
    "inter.csr",
    "-subj",
    "/O=Example/OU=Ops+OU=Sec/CN=Inter ÉC 384",
  );
  await Deno.writeTextFile(`${dir}/ca.ext`, "basicConstraints=critical,CA:true\n");
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "inter.csr",
    "-CA",
    "root.pem",
    "-CAkey",
    "root.key",
    "-sha256",
    "-sigopt",
    "rsa_padding_mode:pss",
    "-sigopt",
    "rsa_pss_saltlen:32",
    "-extfile",
    "ca.ext",
    ...days,
    "-out",
    "inter.pem",
  );
  await openssl(dir, "genpkey", "-algorithm", "ed25519", "-out", "leaf.key");
  await openssl(
    dir,
    "req",
    "-new",
    "-key",
    "leaf.key",
    "-subj",
    "/CN=leaf.example",
    "-out",
    "leaf.csr",
  );
  await Deno.writeTextFile(
    `${dir}/leaf.ext`,
    "subjectAltName=DNS:leaf.example,IP:::1,IP:10.0.0.1,email:ops@example.com,URI:https://example.com/\n",
  );
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "leaf.csr",
    "-CA",
    "inter.pem",
    "-CAkey",
    "inter.key",
    "-sha384",
    "-extfile",
    "leaf.ext",
    ...days,
    "-out",
    "leaf.pem",
  );
  const pems = await Promise.all(
    ["leaf", "inter", "root"].map((name) => Deno.readTextFile(`${dir}/${name}.pem`)),
  );
  await Deno.writeTextFile(`${dir}/chain.pem`, pems.join(""));
}

test("certificates and keys as openssl writes them load with the fields openssl prints (RSA, RSA-PSS, P-384, Ed25519)", async () => {
  await using tmp = await TempDir.create();
  const dir = tmp.dir;
  await opensslChain(dir);
  const loaded = await loadCertificate({ cert: tmp.path("chain.pem"), key: tmp.path("leaf.key") });
  assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.error));
  const expected = await Promise.all(
    ["leaf", "inter", "root"].map((c) => printed(dir, `${c}.pem`)),
  );
  const { subject, issuer, serialNumber, fingerprint256, notBefore, notAfter, subjectAltNames } =
    loaded.value;
  assert.deepEqual(
    { subject, issuer, serialNumber, fingerprint256, notBefore, notAfter, subjectAltNames },
    expected[0],
  );
  assert.equal(subject, "CN=leaf.example");
  assert.equal(issuer, "O=Example, OU=Ops + OU=Sec, CN=Inter ÉC 384");
  assert.deepEqual(
    loaded.value.chain,
    expected.map(({ subject, issuer, notBefore, notAfter, fingerprint256 }) => ({
      subject,
      issuer,
      notBefore,
      notAfter,
      fingerprint256,
    })),
  );
  for (const [cert, key] of [["inter", "inter"], ["root", "root"], ["root", "root-pkcs1"]]) {
    const pair = await loadCertificate({
      cert: tmp.path(`${cert}.pem`),
      key: tmp.path(`${key}.key`),
    });
    assert.ok(pair.ok, `${cert}.pem with ${key}.key: ${JSON.stringify(!pair.ok && pair.error)}`);
  }
});

test("a key of another type or another key of the same curve is a key_mismatch; a tampered signature breaks the chain", async () => {
  await using tmp = await TempDir.create();
  const dir = tmp.dir;
  await opensslChain(dir);
  await openssl(dir, "ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", "other.key");
  for (const [cert, key] of [["chain", "inter"], ["chain", "root-pkcs1"], ["inter", "other"]]) {
    const loaded = await loadCertificate({
      cert: tmp.path(`${cert}.pem`),
      key: tmp.path(`${key}.key`),
    });
    assert.equal(!loaded.ok && loaded.error.kind, "key_mismatch", `${cert}.pem with ${key}.key`);
  }
  const leafPem = parsePemBlocks(await Deno.readTextFile(tmp.path("leaf.pem")));
  assert.ok(leafPem.ok);
  const der = leafPem.value[0]?.der.slice() ?? new Uint8Array();
  der[der.length - 5] = (der[der.length - 5] as number) ^ 0x01; // inside the signature's last bytes
  const tampered = encodePem("CERTIFICATE", der.toBase64());
  const inter = await Deno.readTextFile(tmp.path("inter.pem"));
  const broken = await loadCertificate({ cert: await tmp.write("tampered.pem", tampered + inter) });
  assert.deepEqual(broken.ok ? "loaded" : broken.error, {
    kind: "chain_broken",
    path: tmp.path("tampered.pem"),
    position: 1,
    subject: "CN=leaf.example",
    nextSubject: "O=Example, OU=Ops + OU=Sec, CN=Inter ÉC 384",
  });
});
