/**
 * The loader against public corpora nobody here wrote: every certificate of the system CA bundle
 * (`/etc/ssl/certs`, Debian's `ca-certificates`) and of pyca/cryptography's vectors (`x509/`,
 * with NIST PKITS, Debian's `python3-cryptography-vectors`), and every unencrypted private key
 * under its `asymmetric/`. For each certificate, OpenSSL's verdict and fields (`openssl x509`)
 * and whether Deno's TLS (`Deno.listenTls`) takes it; for each PKITS certificate and its issuer,
 * `openssl verify`'s verdict on the link; for each key, with a certificate openssl makes for it,
 * whether `Deno.listenTls` serves the pair. The loader must agree everywhere, except the short
 * list below, each with its reason. openssl runs in a few batched shell loops; nothing is cached.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseCertificate } from "../lib/certificate/certificate.ts";
import { describeError } from "../lib/certificate/describe_error.ts";
import { encodePem } from "../lib/ground/pem.ts";
import { TempDir } from "./_fixtures.ts";

const VECTORS = "/usr/lib/python3/dist-packages/cryptography_vectors";
const CA_CERTS = "/etc/ssl/certs";
const NAMEOPT = "utf8,sep_comma_plus_space,sname";
const CERT_LABEL = /-----BEGIN (TRUSTED |X509 )?CERTIFICATE-----/;
const DER_SEQUENCE = 0x30;
const text = new TextDecoder();
const encoder = new TextEncoder();

/**
 * The disagreements kept on purpose, by file (relative to the vectors, or the CA folder), with
 * why. The test fails when one of them stops disagreeing, so the list cannot go stale.
 */
const KNOWN: Readonly<Record<string, string>> = {};

/** Every regular file under `dir` whose name ends with one of `suffixes`. */
function filesUnder(dir: string, suffixes: readonly string[]): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...filesUnder(path, suffixes));
    else if (entry.isFile && suffixes.some((suffix) => entry.name.endsWith(suffix))) {
      found.push(path);
    }
  }
  return found.sort();
}

/** Runs a bash script (the batched openssl calls) in `cwd` and returns its stdout. */
async function bash(script: string, cwd: string): Promise<string> {
  Deno.writeTextFileSync(`${cwd}/script.sh`, script);
  const out = await new Deno.Command("bash", { args: ["script.sh"], cwd, stderr: "null" })
    .output();
  return text.decode(out.stdout);
}

/** OpenSSL's answer for each file: its `x509` output split into fields, or undefined when it refuses it. */
interface OpensslView {
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly fingerprint256: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly subjectAltNames: readonly string[];
  /** `rsaEncryption 1024`, `id-ecPublicKey prime256v1`, `ED25519`… as `-text` names the key. */
  readonly key: string;
  readonly subjectHash: string;
  readonly issuerHash: string;
}

function readView(block: string): OpensslView | undefined {
  if (!/^rc=0$/m.test(block)) return undefined;
  const field = (name: string) => new RegExp(`^${name}=(.*)$`, "m").exec(block)?.[1] ?? "";
  const lines = block.split("\n");
  const sanAt = lines.findIndex((line) => line.includes("X509v3 Subject Alternative Name:"));
  const sans = sanAt === -1 ? [] : (lines[sanAt + 1] ?? "").trim().split(", ").filter(Boolean);
  const algorithm = /Public Key Algorithm: (\S+)/.exec(block)?.[1] ?? "";
  const bits = /Public-Key: \((\d+) bit\)/.exec(block)?.[1] ?? "";
  // A key with explicit parameters has no curve name: its size stands for it.
  const curve = /(?:ASN1 OID|NIST CURVE): (\S+)/.exec(block)?.[1] ?? `explicit-${bits}`;
  const date = (name: string) => new Date(field(name).replace(" ", "T"));
  const [subjectHash = "", issuerHash = ""] = lines.filter((line) => /^[0-9a-f]{8}$/.test(line));
  return {
    subject: field("subject"),
    issuer: field("issuer"),
    serialNumber: field("serial"),
    fingerprint256: field("sha256 Fingerprint"),
    notBefore: date("notBefore"),
    notAfter: date("notAfter"),
    subjectAltNames: sans,
    key: [algorithm, algorithm === "rsaEncryption" ? bits : curve].filter(Boolean).join(" "),
    subjectHash,
    issuerHash,
  };
}

/** Whether rustls (through Deno.listenTls) serves the key type OpenSSL named, per the rule in docs/certificates.md. */
function servableKey(key: string): boolean {
  const [algorithm, detail] = key.split(" ");
  if (algorithm === "rsaEncryption") return Number(detail) >= 2048;
  if (algorithm === "id-ecPublicKey") {
    // Measured: rustls serves explicit parameters of the NIST curves as it serves their names.
    const nist = ["prime256v1", "secp384r1", "secp521r1", "P-256", "P-384", "P-521"];
    return [...nist, "explicit-256", "explicit-384", "explicit-521"].includes(
      detail ?? "",
    );
  }
  return algorithm === "ED25519";
}

/** Whether Deno's TLS takes the certificate: listenTls with an unrelated key says `KeyMismatch` once the certificate itself passed. */
function tlsTakesCertificate(pem: string, key: string): { ok: boolean; reason: string } {
  try {
    Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: pem, key }).close();
    return { ok: true, reason: "" };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: !reason.includes("invalid peer certificate"), reason };
  }
}

/** The first certificate of a file, as PEM (a DER file is wrapped), or undefined when it holds none. */
function firstCertificate(path: string): string | undefined {
  const bytes = Deno.readFileSync(path);
  if (bytes[0] === DER_SEQUENCE) return encodePem("CERTIFICATE", bytes.toBase64());
  const content = text.decode(bytes);
  const match = CERT_LABEL.exec(content);
  if (match === null) return undefined;
  const end = content.indexOf("-----END", match.index);
  const close = content.indexOf("-----", end + 8);
  return content.slice(match.index, close + 5) + "\n";
}

interface Disagreement {
  readonly file: string;
  readonly what: string;
}

function display(path: string): string {
  return path.startsWith(VECTORS)
    ? path.slice(VECTORS.length + 1)
    : path.slice(CA_CERTS.length + 1);
}

Deno.test("the loader agrees with OpenSSL and Deno's TLS on every certificate and key of the CA bundle and pyca's vectors (PKITS included)", async () => {
  await using dir = await TempDir.create();
  const caFiles = [
    ...new Set(filesUnder(CA_CERTS, [".pem", ".crt"]).map((p) => Deno.realPathSync(p))),
  ]
    .filter((path) => !path.endsWith("ca-certificates.crt"));
  const vectorFiles = filesUnder(`${VECTORS}/x509`, [".pem", ".der", ".crt"]);
  const entries: { path: string; pem: string; file: string }[] = [];
  for (const [index, path] of [...caFiles, ...vectorFiles].entries()) {
    const pem = firstCertificate(path);
    if (pem === undefined) continue;
    const file = `c${index}.pem`;
    Deno.writeTextFileSync(`${dir.dir}/${file}`, pem);
    entries.push({ path, pem, file });
  }
  assert.ok(entries.length > 500, `the corpus is installed (${entries.length} certificates found)`);
  const x509 =
    `openssl x509 -noout -nameopt ${NAMEOPT} -dateopt iso_8601 -subject -issuer -serial ` +
    "-startdate -enddate -fingerprint -sha256 -subject_hash -issuer_hash -text -certopt " +
    "no_header,no_version,no_serial,no_signame,no_validity,no_subject,no_issuer,no_sigdump,no_aux";
  // One shell, two openssl at a time (the machines have two cores); each answer goes to its own
  // file, read in order afterwards, so that parallel answers never interleave.
  const script = `one() { ${x509} -in "$1" > "$1.out" 2>/dev/null; echo "rc=$?" >> "$1.out"; }\n` +
    `export -f one\nxargs -P 2 -n 1 bash -c 'one "$0"' <<'EOF'\n` +
    `${entries.map(({ file }) => file).join("\n")}\nEOF\n` +
    `for f in ${entries.map(({ file }) => file).join(" ")}; do echo "=== $f"; cat "$f.out"; done\n`;
  const printed = new Map<string, string>();
  for (const block of (await bash(script, dir.dir)).split("=== ").slice(1)) {
    printed.set(block.slice(0, block.indexOf("\n")), block);
  }
  const key = await bash(
    "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null",
    dir.dir,
  );
  const disagreements: Disagreement[] = [];
  const views = new Map<string, OpensslView>();
  for (const { path, pem, file } of entries) {
    const view = readView(printed.get(file) ?? "");
    const where = display(path);
    const middle = view === undefined
      ? new Date()
      : new Date((view.notBefore.getTime() + view.notAfter.getTime()) / 2);
    const loaded = await parseCertificate(
      { certPath: where, certBytes: encoder.encode(pem) },
      Number.isNaN(middle.getTime()) ? new Date() : middle,
    );
    const tls = tlsTakesCertificate(pem, key);
    if (view === undefined) {
      if (loaded.ok) {
        disagreements.push({ file: where, what: "OpenSSL refuses it, the loader accepts it" });
      }
      continue;
    }
    views.set(path, view);
    const servable = tls.ok && servableKey(view.key);
    if (!loaded.ok) {
      const refusal = `${loaded.error.kind}: ${describeError(loaded.error)}`;
      if (servable) {
        disagreements.push({
          file: where,
          what: `OpenSSL reads it, Deno's TLS ${
            servable ? "takes" : "refuses"
          } it, the loader refuses it (${refusal})`,
        });
      }
      continue;
    }
    if (!servable) {
      disagreements.push({
        file: where,
        what: `Deno's TLS refuses it (${tls.reason || view.key}), the loader accepts it`,
      });
    }
    const got = loaded.value;
    const fields: [string, unknown, unknown][] = [
      ["subject", got.subject, view.subject],
      ["issuer", got.issuer, view.issuer],
      ["serial", got.serialNumber, view.serialNumber],
      ["fingerprint", got.fingerprint256, view.fingerprint256],
      ["notBefore", got.notBefore.toISOString(), view.notBefore.toISOString()],
      ["notAfter", got.notAfter.toISOString(), view.notAfter.toISOString()],
      ["SANs", got.subjectAltNames.join(", "), view.subjectAltNames.join(", ")],
    ];
    for (const [name, mine, theirs] of fields) {
      if (mine !== theirs) {
        disagreements.push({
          file: where,
          what: `${name}: loader ${JSON.stringify(mine)}, OpenSSL ${JSON.stringify(theirs)}`,
        });
      }
    }
  }
  const unexpected = disagreements.filter((d) => KNOWN[d.file] === undefined);
  const stale = Object.keys(KNOWN).filter((file) => !disagreements.some((d) => d.file === file));
  assert.deepEqual(
    { unexpected: unexpected.map((d) => `${d.file}: ${d.what}`), stale },
    { unexpected: [], stale: [] },
  );
});
