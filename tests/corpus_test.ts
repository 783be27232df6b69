/**
 * The loader against public corpora nobody here wrote: every certificate of the system CA bundle
 * (`/etc/ssl/certs`, Debian's `ca-certificates`) and of pyca/cryptography's vectors (`x509/`,
 * with NIST PKITS, Debian's `python3-cryptography-vectors`), and every key file under its
 * `asymmetric/`. For each certificate, OpenSSL's verdict and fields (`openssl x509`)
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
import { test } from "./_time_limit.ts";

/** Minted keys (RSA-4104 among them) and hundreds of openssl runs take minutes on a loaded 2-core machine. */
const LONG_LIMIT_MS = 600_000;

const VECTORS = "/usr/lib/python3/dist-packages/cryptography_vectors";
const CA_CERTS = "/etc/ssl/certs";
const NAMEOPT = "utf8,sep_comma_plus_space,sname";
const CERT_LABEL = /-----BEGIN (TRUSTED |X509 )?CERTIFICATE-----/;
const DER_SEQUENCE = 0x30;
const text = new TextDecoder();
const encoder = new TextEncoder();

/**
 * The disagreements kept on purpose, by file (relative to the vectors, or the CA folder), with
 * why. Each test fails when one of its entries stops disagreeing, so the lists cannot go stale.
 */
const KNOWN_CERTIFICATES: Readonly<Record<string, string>> = {};
/** Private-key files of `asymmetric/` on which the loader and Deno's TLS disagree, with why. */
const KNOWN_KEYS: Readonly<Record<string, string>> = {};
/** PKITS links (`child <- issuer`) on which the loader and `openssl verify` disagree, with why. */
const KNOWN_LINKS: Readonly<Record<string, string>> = {
  "ValidDSAParameterInheritanceTest5EE <- DSAParametersInheritedCACert":
    "the issuer's DSA key inherits its parameters from its own issuer, which openssl is not given " +
    "here; the loader has no parameters either, so it names the link as not verified and keeps " +
    "the chain (docs/certificates.md: no verifier is not a broken chain)",
};

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

/** Fails listing every disagreement not in `known`, and every entry of `known` that no longer disagrees. */
function assertOnlyKnown(
  disagreements: readonly Disagreement[],
  known: Readonly<Record<string, string>>,
): void {
  const unexpected = disagreements.filter((d) => known[d.file] === undefined);
  const stale = Object.keys(known).filter((file) => !disagreements.some((d) => d.file === file));
  assert.deepEqual(
    { unexpected: unexpected.map((d) => `${d.file}: ${d.what}`), stale },
    { unexpected: [], stale: [] },
  );
}

function display(path: string): string {
  return path.startsWith(VECTORS)
    ? path.slice(VECTORS.length + 1)
    : path.slice(CA_CERTS.length + 1);
}

/** A certificate of the corpus: where it came from, its first certificate as PEM, and OpenSSL's view of it (undefined when OpenSSL refuses it). */
interface CorpusCertificate {
  readonly path: string;
  readonly pem: string;
  readonly view: OpensslView | undefined;
}

let corpus: Promise<CorpusCertificate[]> | undefined;

/** Every certificate of the corpus with OpenSSL's view, read once per run by whichever test asks first. */
function corpusCertificates(): Promise<CorpusCertificate[]> {
  corpus ??= readCorpus();
  return corpus;
}

async function readCorpus(): Promise<CorpusCertificate[]> {
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
  return entries.map(({ path, pem, file }) => ({
    path,
    pem,
    view: readView(printed.get(file) ?? ""),
  }));
}

test(
  "the loader agrees with OpenSSL and Deno's TLS on every certificate of the CA bundle and pyca's x509/ vectors (PKITS included)",
  { limitMs: LONG_LIMIT_MS },
  async () => {
    await using dir = await TempDir.create();
    const entries = await corpusCertificates();
    assert.ok(
      entries.length > 500,
      `the corpus is installed (${entries.length} certificates found)`,
    );
    const key = await bash(
      "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null",
      dir.dir,
    );
    const disagreements: Disagreement[] = [];
    for (const { path, pem, view } of entries) {
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
      const servable = tls.ok && servableKey(view.key);
      if (!loaded.ok) {
        const refusal = `${loaded.error.kind}: ${describeError(loaded.error)}`;
        if (servable) {
          disagreements.push({
            file: where,
            what: `OpenSSL reads it, Deno's TLS takes it, the loader refuses it (${refusal})`,
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
    assertOnlyKnown(disagreements, KNOWN_CERTIFICATES);
  },
);

/** How long one in-process handshake may take before it counts as refused. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Whether Deno's TLS serves the pair: `Deno.listenTls` takes it and a handshake from Deno's own
 * client (trusting `ca`) completes, so the server signed with the key and the client took the
 * certificate.
 */
async function servesPair(
  cert: string,
  key: string,
  ca: string,
): Promise<{ ok: boolean; reason: string }> {
  let listener: Deno.TlsListener;
  try {
    listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  } catch (error) {
    return { ok: false, reason: `listenTls: ${error instanceof Error ? error.message : error}` };
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const server = listener.accept().then(async (conn) => {
      try {
        await conn.handshake();
      } finally {
        conn.close();
      }
    });
    const client = Deno.connectTls({
      hostname: "127.0.0.1",
      port: listener.addr.port,
      caCerts: [ca],
    })
      .then(async (conn) => {
        try {
          await conn.handshake();
        } finally {
          conn.close();
        }
      });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("handshake timed out")), HANDSHAKE_TIMEOUT_MS);
    });
    const results = await Promise.race([Promise.allSettled([server, client]), timeout]);
    const failed = results.find((result) => result.status === "rejected");
    return failed === undefined
      ? { ok: true, reason: "" }
      : { ok: false, reason: `handshake: ${String(failed.reason)}` };
  } catch (error) {
    return { ok: false, reason: String(error) };
  } finally {
    clearTimeout(timer);
    listener.close();
  }
}

test(
  "the loader accepts exactly the private keys of pyca's asymmetric/ vectors that Deno's TLS serves, each with a certificate openssl makes for it",
  { limitMs: LONG_LIMIT_MS },
  async () => {
    await using dir = await TempDir.create();
    const files = filesUnder(`${VECTORS}/asymmetric`, [".pem", ".der", ".key"]);
    assert.ok(files.length > 100, `the key vectors are installed (${files.length} files found)`);
    // A CA of our own signs, for each file openssl reads a signing key from, a leaf for that key;
    // a file it reads none from (public keys, encrypted keys, parameters) is paired with a fixed
    // P-256 leaf, which neither the loader nor Deno's TLS may then serve with it.
    const script = "set -e\n" +
      "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key\n" +
      "openssl req -x509 -key ca.key -subj /CN=corpus-ca -days 30 -out ca.pem\n" +
      "printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > leaf.cnf\n" +
      "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out fixed.key\n" +
      'mint() { openssl req -new -key "$1" -subj /CN=key -out "$2.csr" && ' +
      'openssl x509 -req -in "$2.csr" -CA ca.pem -CAkey ca.key -days 30 -extfile leaf.cnf ' +
      '-out "$2.crt"; }\n' +
      "mint fixed.key fixed\n" +
      'one() { if openssl pkey -in "$1" -passin pass:wrong -out "$2.key" 2>/dev/null; then ' +
      'mint "$2.key" "$2" >/dev/null 2>&1 || rm -f "$2.crt"; fi; }\n' +
      "export -f one mint\nset +e\n" +
      "xargs -P 2 -n 2 bash -c 'one \"$0\" \"$1\"' <<'EOF'\n" +
      files.map((path, index) => `${path} k${index}`).join("\n") + "\nEOF\n";
    await bash(script, dir.dir);
    const ca = Deno.readTextFileSync(dir.path("ca.pem"));
    const fixed = Deno.readTextFileSync(dir.path("fixed.crt"));
    const now = new Date();
    const disagreements: Disagreement[] = [];
    let paired = 0;
    for (const [index, path] of files.entries()) {
      const where = display(path);
      const keyBytes = Deno.readFileSync(path);
      let cert = fixed;
      try {
        cert = Deno.readTextFileSync(dir.path(`k${index}.crt`));
        paired++;
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      const loaded = await parseCertificate(
        { certPath: "cert.pem", certBytes: encoder.encode(cert), keyPath: where, keyBytes },
        now,
      );
      const served = await servesPair(cert, text.decode(keyBytes), ca);
      if (loaded.ok === served.ok) continue;
      disagreements.push({
        file: where,
        what: loaded.ok
          ? `Deno's TLS refuses it (${served.reason}), the loader accepts it`
          : `Deno's TLS serves it, the loader refuses it (${loaded.error.kind}: ${
            describeError(loaded.error)
          })`,
      });
    }
    assert.ok(paired > 20, `openssl made certificates for the usable keys (${paired})`);
    assertOnlyKnown(disagreements, KNOWN_KEYS);
  },
);

/** The error numbers `openssl verify` gives when a certificate's issuer is not the next one: no issuer of that name found, or a signature that does not verify with its key. */
const LINK_ERRORS: ReadonlySet<string> = new Set([
  "2", // X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
  "4", // X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE
  "6", // X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY
  "7", // X509_V_ERR_CERT_SIGNATURE_FAILURE
  "20", // X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
  "21", // X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
]);

test(
  "the loader breaks a PKITS chain (certificate, then a certificate of its issuer's name) exactly where openssl verify finds no issuer or a bad signature",
  { limitMs: LONG_LIMIT_MS },
  async () => {
    await using dir = await TempDir.create();
    const certs = (await corpusCertificates())
      .filter(({ path, view }) => path.includes("/PKITS_data/certs/") && view !== undefined);
    assert.ok(certs.length > 300, `PKITS is installed (${certs.length} certificates found)`);
    const bySubject = Map.groupBy(certs.keys(), (index) => certs[index]?.view?.subjectHash);
    // Every certificate that is not self-issued, with each certificate of its issuer's name (the
    // hash OpenSSL makes of the name in its canonical form), grouped by issuer.
    const children = new Map<number, number[]>();
    for (const [child, { pem, view }] of certs.entries()) {
      Deno.writeTextFileSync(dir.path(`p${child}.pem`), pem);
      for (const parent of bySubject.get(view?.issuerHash) ?? []) {
        if (parent !== child) children.set(parent, [...(children.get(parent) ?? []), child]);
      }
    }
    const links = [...children].flatMap(([parent, list]) =>
      list.map((child): [number, number] => [child, parent])
    );
    assert.ok(links.length > 300, `PKITS links found (${links.length})`);
    // One openssl verify per issuer, with that issuer alone trusted (-partial_chain) and all its
    // children; policies, CRLs and dates are not asked, and the verdict is only whether the issuer
    // was found and its signature verified (LINK_ERRORS).
    const script = [...children].map(([parent, list]) =>
      `echo "=== ${parent}"; openssl verify -no_check_time -partial_chain -trusted p${parent}.pem ` +
      `${list.map((child) => `p${child}.pem`).join(" ")} 2>&1`
    );
    const broken = new Map<string, string[]>();
    const verdicts = await bash(script.join("\n"), dir.dir);
    for (const block of verdicts.split("=== ").slice(1)) {
      const parent = block.slice(0, block.indexOf("\n"));
      let errors: string[] = [];
      for (const line of block.split("\n").slice(1)) {
        const error = /error (\d+) at \d+ depth lookup: (.*)$/.exec(line);
        if (error !== null && LINK_ERRORS.has(error[1] ?? "")) errors.push(error[2] ?? "");
        const end = /^(?:error )?p(\d+)\.pem: (?:OK|verification failed)$/.exec(line);
        if (end === null) continue;
        broken.set(`${end[1]} ${parent}`, errors);
        errors = [];
      }
    }
    const now = new Date();
    const disagreements: Disagreement[] = [];
    let checked = 0;
    for (const [child, parent] of links) {
      const pem = (index: number) => certs[index]?.pem ?? "";
      const name = (index: number) => (certs[index]?.path ?? "").replace(/^.*\/(.*)\.crt$/, "$1");
      const loaded = await parseCertificate(
        { certPath: "chain.pem", certBytes: encoder.encode(pem(child) + pem(parent)) },
        now,
      );
      // A certificate the loader cannot read is compared with OpenSSL in the test above.
      if (!loaded.ok && loaded.error.kind === "invalid_certificate") continue;
      checked++;
      const loaderBroken = !loaded.ok && loaded.error.kind === "chain_broken";
      const opensslBroken = broken.get(`${child} ${parent}`) ?? ["no answer from openssl verify"];
      if (loaderBroken === (opensslBroken.length > 0)) continue;
      disagreements.push({
        file: `${name(child)} <- ${name(parent)}`,
        what: loaderBroken
          ? `openssl verify links them, the loader says the chain is broken`
          : `openssl verify says ${opensslBroken.join("; ")}, the loader links them`,
      });
    }
    assert.ok(checked > 300, `PKITS links compared (${checked})`);
    assertOnlyKnown(disagreements, KNOWN_LINKS);
  },
);
