/**
 * The certificate loader: reads the certificate file (and the key file when
 * one is configured), validates them and returns a {@linkcode Result}. It never
 * throws, never blocks on special files, and knows nothing of HTTP or signals.
 *
 * @module
 */

import { encodePem, parsePemBlocks, type PemBlock } from "../ground/pem.ts";
import { readElement } from "../ground/der.ts";
import { checkPrivateKey } from "./private_key.ts";
import { keyType } from "./key_type.ts";
import { keyProblem, leafProblem, type UnservableProblem } from "./servable.ts";
import { checkSignature } from "./signature.ts";
import { importPublicKey, namesIssuer, parseX509, type X509Certificate } from "./x509.ts";
import { err, ok, type Result } from "../ground/result.ts";
import { withinAbout } from "../ground/timer.ts";

/** Largest certificate or key file the loader will read, in bytes. */
export const MAX_FILE_BYTES = 1024 * 1024;

/**
 * Most certificates a chain may hold: the leaf, the six intermediates rustls' verifier (webpki's
 * `MAX_SUB_CA_COUNT`) builds a path through at most, and a root. OpenSSL's default depth is 100.
 */
export const MAX_CHAIN_CERTIFICATES = 8;

/**
 * Largest TLS Certificate message a chain may make, in bytes (60 KiB): rustls refuses a handshake
 * message over 65,535 bytes (`MAX_HANDSHAKE_SIZE`), OpenSSL clients one over 102,400
 * (`SSL_MAX_CERT_LIST_DEFAULT`); the margin leaves room for per-certificate extensions.
 */
export const MAX_CHAIN_MESSAGE_BYTES = 60 * 1024;

/** Bytes a TLS 1.3 Certificate message adds: the request context and list lengths (1 + 3), then per certificate its length (3) and extensions length (2). */
const MESSAGE_OVERHEAD = { message: 4, perCertificate: 5 } as const;

/** How often a file that changes while it is read is read again before the loader gives up. */
const MAX_READ_ATTEMPTS = 3;

const DER_SEQUENCE_TAG = 0x30;
const CERTIFICATE_LABEL = "CERTIFICATE";
/**
 * The labels OpenSSL reads as a certificate: `TRUSTED CERTIFICATE` carries OpenSSL's trust
 * settings after the certificate, `X509 CERTIFICATE` is an old name. Both are served as `CERTIFICATE`.
 */
const CERTIFICATE_LABELS: ReadonlySet<string> = new Set([
  CERTIFICATE_LABEL,
  "TRUSTED CERTIFICATE",
  "X509 CERTIFICATE",
]);
/** `PRIVATE KEY` or `<words> PRIVATE KEY`; anchored, so a 100,000-letter label costs linear time (unanchored, it took minutes). */
const PRIVATE_KEY_LABEL = /^(?:[A-Z ]* )?PRIVATE KEY$/;
const ENCRYPTED_KEY_LABEL = "ENCRYPTED PRIVATE KEY";
/** The path in Deno's `NotCapable` message: `Requires read access to "<path>", …`. */
const DENO_REFUSED_PATH = /access to "([^"]+)"/;

/**
 * Which file an error is about: the certificate, the key, or the control token.
 *
 * @example
 * ```ts ignore
 * if (error.kind === "not_found" && error.role === "key") console.error("the key file is missing");
 * ```
 */
export type FileRole = "certificate" | "key" | "token";

/** The files a certificate is loaded from. */
export interface CertificatePaths {
  /** Path of the PEM file holding the leaf certificate, then its chain. */
  readonly cert: string;
  /** Path of the PEM private key matching the leaf, when the server serves TLS. */
  readonly key?: string | undefined;
}

/**
 * A validated certificate (and key), with what an operator wants to see of it.
 *
 * @example Days left on the certificate being served
 * ```ts ignore
 * const days = (server.certificate.notAfter.getTime() - Date.now()) / 86_400_000;
 * console.log(server.certificate.subject, server.certificate.fingerprint256, Math.floor(days));
 * ```
 */
export interface Certificate {
  /** The certificate file it was loaded from. */
  readonly path: string;
  /** The key file it was loaded from, if any. */
  readonly keyPath: string | undefined;
  /** Subject distinguished name of the leaf, e.g. `CN=localhost`. */
  readonly subject: string;
  /** Issuer distinguished name of the leaf. */
  readonly issuer: string;
  /** Subject alternative names of the leaf, e.g. `DNS:localhost`. */
  readonly subjectAltNames: readonly string[];
  /** Serial number of the leaf, hexadecimal. */
  readonly serialNumber: string;
  /** SHA-256 fingerprint of the leaf, colon-separated hex as `openssl x509 -fingerprint -sha256` prints it. */
  readonly fingerprint256: string;
  /** Every certificate of the file, leaf first, then each issuer. */
  readonly chain: readonly ChainCertificate[];
  /** Start of the leaf's validity. */
  readonly notBefore: Date;
  /** End of the leaf's validity. */
  readonly notAfter: Date;
  /** The leaf's key type and size, e.g. `ECDSA P-256`, `RSA 2048`, `Ed25519`. */
  readonly keyType: string;
  /** The chain in canonical PEM, leaf first, as a TLS server needs it. */
  readonly certificatePem: string;
  /** The private key in PEM, when a key file was given. */
  readonly keyPem: string | undefined;
  /**
   * Links of the chain whose signature this runtime has no verifier for (none for usual chains):
   * the chain is not called broken for them, and every surface says which were not verified.
   */
  readonly unverified: readonly UnverifiedSignature[];
}

/** A signature in the chain that could not be checked, and why. */
export interface UnverifiedSignature {
  /** Position of the signed certificate, 1 for the leaf; its issuer is the next one. */
  readonly position: number;
  /** Subject of the signed certificate. */
  readonly subject: string;
  /** Subject of the issuer whose signature it is. */
  readonly issuerSubject: string;
  /** Why it could not be checked, e.g. `its signature algorithm 1.2.3 is not supported`. */
  readonly reason: string;
}

/** Words an unverified link, e.g. `the signature on certificate 1 (CN=a) by certificate 2 (CN=b) was not verified: …`. */
export function describeUnverified(link: UnverifiedSignature): string {
  return `the signature on certificate ${link.position} (${link.subject}) by certificate ` +
    `${link.position + 1} (${link.issuerSubject}) was not verified: ${link.reason}`;
}

/** One certificate of a chain, as `/certs` lists it. */
export interface ChainCertificate {
  /** Subject distinguished name. */
  readonly subject: string;
  /** Issuer distinguished name. */
  readonly issuer: string;
  /** Start of validity. */
  readonly notBefore: Date;
  /** End of validity. */
  readonly notAfter: Date;
  /** SHA-256 fingerprint, colon-separated hex. */
  readonly fingerprint256: string;
}

/**
 * Every way loading a certificate can fail: a closed set, keyed by `kind`.
 *
 * @example
 * ```ts ignore
 * if (outcome.kind === "failed" && outcome.error.kind === "expired") alertOnCall(outcome.error.path);
 * ```
 */
export type CertificateError =
  | {
    readonly kind: "not_found";
    readonly role: FileRole;
    readonly path: string;
    /** Where the path pointed, read right before the check, when it is a symbolic link. */
    readonly linkTarget?: string;
  }
  | {
    readonly kind: "permission_denied";
    readonly role: FileRole;
    readonly path: string;
    /** `deno`: the process lacks `--allow-read` for it; `os`: file mode or owner. */
    readonly deniedBy: "deno" | "os";
    /** The path Deno refused, when it is not `path` itself (e.g. a link's resolved target). */
    readonly refusedPath?: string;
    /** Where the path points when it is a symbolic link. */
    readonly linkTarget?: string;
  }
  | {
    readonly kind: "not_a_file";
    readonly role: FileRole;
    readonly path: string;
    readonly fileType: string;
  }
  | {
    /** Over the size limit (its exact size is not told: the file may not be ours). */
    readonly kind: "too_large";
    readonly role: FileRole;
    readonly path: string;
    readonly limit: number;
  }
  | { readonly kind: "empty"; readonly role: FileRole; readonly path: string }
  | { readonly kind: "not_pem"; readonly role: FileRole; readonly path: string }
  | { readonly kind: "der_encoded"; readonly role: FileRole; readonly path: string }
  | {
    readonly kind: "truncated_pem";
    readonly role: FileRole;
    readonly path: string;
    /** `CERTIFICATE`, a `… PRIVATE KEY` label, or `PEM` for any other (not echoed from the file). */
    readonly label: string;
  }
  | {
    readonly kind: "no_certificate";
    readonly path: string;
    /** Whether it holds a private key instead (the key file given as the certificate). */
    readonly privateKey: boolean;
  }
  | {
    readonly kind: "invalid_certificate";
    readonly path: string;
    /** Position in the file, 1 for the leaf. */
    readonly position: number;
    readonly reason: string;
  }
  | {
    readonly kind: "chain_broken";
    readonly path: string;
    /** Position of the certificate whose issuer is not the next one, 1 for the leaf. */
    readonly position: number;
    readonly subject: string;
    readonly nextSubject: string;
  }
  | {
    readonly kind: "expired";
    readonly path: string;
    readonly subject: string;
    readonly notAfter: Date;
    /** Position in the file when it is an issuer of the chain (2 or more); absent for the leaf. */
    readonly position?: number;
  }
  | {
    readonly kind: "not_yet_valid";
    readonly path: string;
    /** Position in the file when it is an issuer of the chain (2 or more); absent for the leaf. */
    readonly position?: number;
    readonly subject: string;
    readonly notBefore: Date;
  }
  | {
    /** It parses, but Deno's TLS would refuse to serve it (see `servable.ts`). */
    readonly kind: "unservable";
    readonly role: "certificate" | "key";
    readonly path: string;
    /** Subject of the leaf. */
    readonly subject: string;
    readonly problem: UnservableProblem;
  }
  | { readonly kind: "key_invalid"; readonly path: string; readonly reason: string }
  | { readonly kind: "key_mismatch"; readonly path: string; readonly certPath: string }
  | {
    /** The TLS server refused the pair although it parsed; nothing was swapped. */
    readonly kind: "tls_rejected";
    readonly path: string;
    readonly reason: string;
  }
  | {
    readonly kind: "io";
    readonly role: FileRole;
    readonly path: string;
    readonly reason: string;
  }
  // Chains no client takes (issue 19).
  | {
    /** More certificates than a client builds a path through. */
    readonly kind: "chain_too_long";
    readonly path: string;
    readonly count: number;
    readonly limit: number;
  }
  | {
    /** A Certificate message larger than a client reads. */
    readonly kind: "chain_too_large";
    readonly path: string;
    /** The TLS Certificate message the chain would make, in bytes. */
    readonly bytes: number;
    readonly limit: number;
  }
  | {
    /** The same certificate twice. */
    readonly kind: "duplicate_certificate";
    readonly path: string;
    /** Position of the repeat, 1 for the leaf. */
    readonly position: number;
    /** Position of its first occurrence. */
    readonly firstPosition: number;
  }
  | {
    /** A self-signed certificate (a root) before the end of the chain. */
    readonly kind: "self_signed_not_last";
    readonly path: string;
    /** Its position, 1 for the leaf. */
    readonly position: number;
    readonly subject: string;
    /** How many certificates the chain holds. */
    readonly count: number;
  };

/** The kind names of {@linkcode CertificateError}. */
export type CertificateErrorKind = CertificateError["kind"];

/** Options of {@linkcode loadCertificate}. */
export interface LoadOptions {
  /** The clock used for validity checks; defaults to the current time. */
  readonly now?: Date;
  /** Largest file accepted, in bytes; defaults to {@linkcode MAX_FILE_BYTES}. */
  readonly maxBytes?: number;
}

/** Reads, parses and validates the certificate (and key) files; never throws. */
export async function loadCertificate(
  paths: CertificatePaths,
  options: LoadOptions = {},
): Promise<Result<Certificate, CertificateError>> {
  const maxBytes = options.maxBytes ?? MAX_FILE_BYTES;
  // Both files at once: each read waits once on Deno's blocking pool (its open).
  const [certFile, keyFile] = await Promise.all([
    readBoundedFile(paths.cert, "certificate", maxBytes),
    paths.key === undefined ? undefined : readBoundedFile(paths.key, "key", maxBytes),
  ]);
  if (!certFile.ok) return certFile;
  if (keyFile !== undefined && !keyFile.ok) return keyFile;
  const keyBytes = keyFile?.value;
  const now = options.now ?? new Date();
  const input = { certPath: paths.cert, certBytes: certFile.value, keyPath: paths.key, keyBytes };
  // Bytes parsed before need no parsing again (rotations often go back and forth between a few
  // files, and an unchanged file is the common reload); only the dates depend on the clock.
  const key = _inputKey(input);
  const cached = PARSED.get(key);
  if (cached !== undefined) {
    const invalid = _chainValidityError(cached.path, cached.chain, now);
    return invalid === undefined ? ok(cached) : err(invalid);
  }
  const parsed = await parseCertificate(input, now);
  if (parsed.ok) PARSED.set(key, parsed.value);
  return parsed;
}

/** How many parsed inputs the loader remembers. */
const PARSED_CACHE_SIZE = 8;
/** How many verified (certificate, issuer) signatures the loader remembers. */
const VERIFIED_CACHE_SIZE = 64;

/**
 * A map that forgets its oldest entry past a size; reading an entry makes it the newest. A hit
 * re-inserts the key it was stored under, not the one it was looked up with, so the cache keeps
 * no string of the caller's past the call: a fresh key kept by a long-lived map survives into
 * V8's old generation, and the one it replaces is garbage there.
 */
class BoundedCache<V> {
  readonly #entries = new Map<string, { readonly key: string; readonly value: V }>();
  readonly #size: number;

  constructor(size: number) {
    this.#size = size;
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(entry.key);
    this.#entries.set(entry.key, entry);
    return entry.value;
  }

  set(key: string, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, { key, value });
    if (this.#entries.size > this.#size) {
      this.#entries.delete(this.#entries.keys().next().value as string);
    }
  }
}

const PARSED = new BoundedCache<Certificate>(PARSED_CACHE_SIZE);
const TEXT = new TextDecoder();
const VERIFIED = new BoundedCache<true>(VERIFIED_CACHE_SIZE);

/**
 * The cache key of an input: its paths and its exact decoded text. Parsing reads only that text, so
 * equal keys parse alike. No digest object is made per reload (a `node:crypto` hash holds native
 * memory the garbage collector does not see, and the heap grew with it).
 */
function _inputKey(input: CertificateInput): string {
  const cert = TEXT.decode(input.certBytes);
  const key = input.keyBytes === undefined ? "" : TEXT.decode(input.keyBytes);
  return `${input.certPath}\0${input.keyPath ?? ""}\0${input.keyBytes === undefined ? 0 : 1}\0` +
    `${cert.length}\0${cert}${key}`;
}

/**
 * The first certificate of the chain, leaf first, that is out of date at `now`: an issuer's too,
 * since every client that builds its path through it fails, however long the leaf still runs.
 * An issuer is named by its position in the file (2 on); the leaf by the file alone.
 */
function _chainValidityError(
  path: string,
  chain: readonly { subject: string; notBefore: Date; notAfter: Date }[],
  now: Date,
): CertificateError | undefined {
  for (const [index, { subject, notBefore, notAfter }] of chain.entries()) {
    const at = index === 0 ? {} : { position: index + 1 };
    if (now < notBefore) return { kind: "not_yet_valid", path, subject, notBefore, ...at };
    if (now > notAfter) return { kind: "expired", path, subject, notAfter, ...at };
  }
  return undefined;
}

/** The raw bytes {@linkcode parseCertificate} validates, with the paths they came from. */
export interface CertificateInput {
  /** Path of the certificate file, for messages. */
  readonly certPath: string;
  /** Contents of the certificate file. */
  readonly certBytes: Uint8Array;
  /** Path of the key file, if any. */
  readonly keyPath?: string | undefined;
  /** Contents of the key file, if any. */
  readonly keyBytes?: Uint8Array | undefined;
}

/** Validates certificate (and key) bytes against a clock; pure, never throws. */
export async function parseCertificate(
  input: CertificateInput,
  now: Date,
): Promise<Result<Certificate, CertificateError>> {
  const path = input.certPath;
  const blocks = _pemBlocks(input.certBytes, path, "certificate");
  if (!blocks.ok) return blocks;
  const certBlocks = blocks.value.filter((block) => CERTIFICATE_LABELS.has(block.label));
  if (certBlocks.length === 0) {
    const privateKey = blocks.value.some((block) => PRIVATE_KEY_LABEL.test(block.label));
    return err({ kind: "no_certificate", path, privateKey });
  }
  const unserved = _unservableChain(path, certBlocks);
  if (unserved !== undefined) return err(unserved);
  const chain: X509Certificate[] = [];
  const pems: string[] = [];
  for (const [index, block] of certBlocks.entries()) {
    const der = _certificateDer(block);
    const parsed = index === 0 ? await _parsedLeaf(der) : await parseX509(der);
    if (!parsed.ok) {
      return err({ kind: "invalid_certificate", path, position: index + 1, reason: parsed.error });
    }
    chain.push(parsed.value);
    pems.push(der === block.der ? block.pem : encodePem(CERTIFICATE_LABEL, der.toBase64()));
  }
  const root = await _selfSignedBeforeEnd(chain);
  if (root !== undefined) {
    const { subject } = chain[root] as X509Certificate;
    return err({
      kind: "self_signed_not_last",
      path,
      position: root + 1,
      subject,
      count: chain.length,
    });
  }
  const checked = await _checkChain(chain);
  if (!checked.ok) return err({ kind: "chain_broken", path, ...checked.error });
  const invalid = _chainValidityError(path, chain, now);
  if (invalid !== undefined) return err(invalid);
  const leaf = chain[0] as X509Certificate;
  const problem = leafProblem(leaf) ?? keyProblem(leaf.publicKey);
  if (problem !== undefined) {
    const role = problem.kind === "rsa_too_small" || problem.kind === "key_type"
      ? input.keyPath === undefined ? "certificate" : "key"
      : "certificate";
    const about = role === "key" ? input.keyPath as string : path;
    return err({ kind: "unservable", role, path: about, subject: leaf.subject, problem });
  }
  let keyPem: string | undefined;
  if (input.keyPath !== undefined && input.keyBytes !== undefined) {
    const key = await _matchingKey(leaf, input.keyBytes, input.keyPath, path);
    if (!key.ok) return key;
    keyPem = key.value;
  }
  return ok({
    path,
    keyPath: input.keyPath,
    subject: leaf.subject,
    issuer: leaf.issuer,
    subjectAltNames: leaf.subjectAltNames,
    serialNumber: leaf.serialNumber,
    fingerprint256: leaf.fingerprint256,
    chain: chain.map((certificate) => ({
      subject: certificate.subject,
      issuer: certificate.issuer,
      notBefore: certificate.notBefore,
      notAfter: certificate.notAfter,
      fingerprint256: certificate.fingerprint256,
    })),
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    keyType: keyType(leaf.publicKey),
    certificatePem: pems.join(""),
    keyPem,
    unverified: checked.value,
  });
}

/** The certificate's DER of a block: a `TRUSTED CERTIFICATE` has OpenSSL's trust settings after it. */
function _certificateDer(block: PemBlock): Uint8Array<ArrayBuffer> {
  if (block.label === CERTIFICATE_LABEL) return block.der;
  try {
    const element = readElement(block.der);
    return element.encoded.length === block.der.length ? block.der : element.encoded.slice();
  } catch {
    return block.der; // the parser words what is wrong with it
  }
}

/** Whether two certificates are the same chain and key, i.e. a reload would change nothing. */
export function isSameCertificate(a: Certificate, b: Certificate): boolean {
  const fingerprints = (certificate: Certificate) =>
    certificate.chain.map((entry) => entry.fingerprint256).join();
  return fingerprints(a) === fingerprints(b) && a.keyPem === b.keyPem;
}

/** A PEM label as messages may name it: ours (`CERTIFICATE`, `… PRIVATE KEY`), else just `PEM`. */
function _knownLabel(label: string): string {
  return CERTIFICATE_LABELS.has(label) || PRIVATE_KEY_LABEL.test(label) ? label : "PEM";
}

function _pemBlocks(
  bytes: Uint8Array,
  path: string,
  role: FileRole,
): Result<PemBlock[], CertificateError> {
  const text = TEXT.decode(bytes);
  if (text.trim() === "") return err({ kind: "empty", role, path });
  const blocks = parsePemBlocks(text);
  if (blocks.ok) return blocks;
  switch (blocks.error.kind) {
    case "no_blocks":
      return err({ kind: bytes[0] === DER_SEQUENCE_TAG ? "der_encoded" : "not_pem", role, path });
    case "truncated":
      return err({ kind: "truncated_pem", role, path, label: _knownLabel(blocks.error.label) });
    case "bad_base64":
      return role === "certificate"
        ? err({
          kind: "invalid_certificate",
          path,
          position: blocks.error.index + 1,
          reason: `the base64 body of its ${_knownLabel(blocks.error.label)} block is corrupt`,
        })
        : err({ kind: "key_invalid", path, reason: "the base64 body of its PEM block is corrupt" });
  }
}

/**
 * Parses the leaf and imports its public key when WebCrypto knows its algorithm, so that a damaged
 * one (an EC point off its curve) fails here. An issuer's key is imported when it verifies the
 * signature below it, and one that cannot be breaks the chain there.
 */
async function _parsedLeaf(der: Uint8Array<ArrayBuffer>): Promise<Result<X509Certificate, string>> {
  const parsed = await parseX509(der);
  if (!parsed.ok) return parsed;
  const { algorithm } = parsed.value.publicKey;
  if (algorithm === undefined) return parsed;
  try {
    await importPublicKey(parsed.value.publicKey, algorithm);
  } catch (error) {
    return err(`its ${algorithm.name} public key is unusable: ${_reason(error)}`);
  }
  return parsed;
}

/**
 * Why no TLS client would take the chain as served, judged on its blocks before any is parsed (so
 * a file of 1,800 copies costs no parsing): too many certificates, a Certificate message too large,
 * or the same certificate twice.
 */
function _unservableChain(path: string, blocks: readonly PemBlock[]): CertificateError | undefined {
  if (blocks.length > MAX_CHAIN_CERTIFICATES) {
    return { kind: "chain_too_long", path, count: blocks.length, limit: MAX_CHAIN_CERTIFICATES };
  }
  const bytes = blocks.reduce<number>(
    (sum, block) => sum + block.der.length + MESSAGE_OVERHEAD.perCertificate,
    MESSAGE_OVERHEAD.message,
  );
  if (bytes > MAX_CHAIN_MESSAGE_BYTES) {
    return { kind: "chain_too_large", path, bytes, limit: MAX_CHAIN_MESSAGE_BYTES };
  }
  const seen = new Map<string, number>();
  for (const [index, block] of blocks.entries()) {
    const first = seen.get(block.pem);
    if (first !== undefined) {
      return { kind: "duplicate_certificate", path, position: index + 1, firstPosition: first };
    }
    seen.set(block.pem, index + 1);
  }
  return undefined;
}

/**
 * The index of a self-signed certificate (its own issuer, by name and by signature) anywhere but
 * last, where a client's path building stops. A self-issued one signed by another key (a CA's key
 * rollover) is not self-signed and passes on to the chain check.
 */
async function _selfSignedBeforeEnd(
  chain: readonly X509Certificate[],
): Promise<number | undefined> {
  for (let i = 0; i + 1 < chain.length; i++) {
    const certificate = chain[i] as X509Certificate;
    if (!namesIssuer(certificate, certificate)) continue;
    if ((await checkSignature(certificate, certificate)).kind === "verified") return i;
  }
  return undefined;
}

/**
 * Checks that each certificate is issued by the next: names (RFC 5280 §7.1) and signatures. A
 * signature nothing here can check is no break: it is returned, to be shown.
 */
async function _checkChain(
  chain: readonly X509Certificate[],
): Promise<
  Result<UnverifiedSignature[], { position: number; subject: string; nextSubject: string }>
> {
  const unverified: UnverifiedSignature[] = [];
  for (let i = 0; i + 1 < chain.length; i++) {
    const [child, parent] = [chain[i] as X509Certificate, chain[i + 1] as X509Certificate];
    const broken = { position: i + 1, subject: child.subject, nextSubject: parent.subject };
    if (!namesIssuer(child, parent)) return err(broken);
    // Verifying a signature costs ~0.4-1.5 ms (ECDSA in Deno 2.9.6's WebCrypto) and depends only
    // on the two certificates: remember the pairs already verified.
    const pair = `${child.fingerprint256}>${parent.fingerprint256}`;
    if (VERIFIED.get(pair)) continue;
    const check = await checkSignature(child, parent);
    if (check.kind === "bad") return err(broken);
    if (check.kind === "unverifiable") {
      const { position, subject } = broken;
      unverified.push({ position, subject, issuerSubject: parent.subject, reason: check.reason });
      continue;
    }
    VERIFIED.set(pair, true);
  }
  return ok(unverified);
}

async function _matchingKey(
  leaf: X509Certificate,
  keyBytes: Uint8Array,
  keyPath: string,
  certPath: string,
): Promise<Result<string, CertificateError>> {
  const blocks = _pemBlocks(keyBytes, keyPath, "key");
  if (!blocks.ok) return blocks;
  const labels = blocks.value.map((block) => block.label);
  const keyBlock = blocks.value.find((block) => PRIVATE_KEY_LABEL.test(block.label));
  if (keyBlock === undefined) {
    const reason = labels.includes(CERTIFICATE_LABEL)
      ? "it holds a certificate, not a private key (are --cert and --key swapped?)"
      : "it holds no private key block";
    return err({ kind: "key_invalid", path: keyPath, reason });
  }
  if (keyBlock.label === ENCRYPTED_KEY_LABEL || keyBlock.hasHeaders) {
    return err({
      kind: "key_invalid",
      path: keyPath,
      reason: "it is encrypted with a passphrase, which is not supported " +
        `(decrypt it with: openssl pkey -in ${keyPath} -out decrypted.pem)`,
    });
  }
  const checked = await checkPrivateKey(keyBlock, leaf.publicKey, keyPath);
  if (checked.ok) return ok(keyBlock.pem);
  return checked.error.kind === "mismatch"
    ? err({ kind: "key_mismatch", path: keyPath, certPath })
    : err({ kind: "key_invalid", path: keyPath, reason: checked.error.reason });
}

/** How long (to twice that) opening a file that was checked to be regular may take before the loader gives up. */
const OPEN_TIMEOUT_MS = 1000;

/**
 * Reads a regular file of at most `limit` bytes, never blocking on special files.
 *
 * Deno 2.9.6 offers no non-blocking open and checks `FsFile.stat()` against a symbolic link's
 * target, not the granted name, so the checks are made on the path (`stat`, which follows links
 * with the name's grant), and the file is opened only once the path was seen to be a regular
 * file within the limit:
 * - the open is asynchronous, on Deno's blocking pool: if a FIFO is swapped in between the check
 *   and the open, the open waits there for a writer, not on the event loop, and the loader gives
 *   up after one to two seconds (the one async op of a read, ~40 µs);
 * - right after the open the path must still be the checked file (device, inode, size,
 *   modification time), or nothing is read: so a FIFO swapped in is not read from;
 * - the read itself is synchronous (a regular file does not block) and bounded by `limit` + 1;
 * - after it, the path must still be the same file with the same size and time, and exactly its
 *   size must have been read, or the file changed while it was read: it is read again, up to
 *   three times. So an in-place rewrite in progress is never taken for the whole file.
 * Symbolic links (certbot's `live/`, Kubernetes' `..data`) are followed with a grant on the
 * configured name only. `check` judges the file's `stat` (a link's target) before it is opened:
 * what it returns refuses the file.
 */
export async function readBoundedFile<E = never>(
  path: string,
  role: FileRole,
  limit: number,
  check?: (info: Deno.FileInfo) => E | undefined,
): Promise<Result<Uint8Array, CertificateError | E>> {
  // Where the path pointed just before it was checked: a failure names that, never a later target.
  let linkTarget: string | undefined;
  try {
    for (let attempt = 1; attempt <= MAX_READ_ATTEMPTS; attempt++) {
      // One lstat: for a file that is no link it is the stat itself (no extra op per reload).
      const seen = Deno.lstatSync(path);
      linkTarget = seen.isSymlink ? _linkTarget(path) : undefined;
      const before = seen.isSymlink ? Deno.statSync(path) : seen;
      if (!before.isFile) {
        return err({ kind: "not_a_file", role, path, fileType: _fileType(before) });
      }
      if (before.size > limit) {
        return err({ kind: "too_large", role, path, limit });
      }
      // The caller's own rule (the token file's mode), judged on the file that is then read.
      const refused = check?.(before);
      if (refused !== undefined) return err(refused);
      const file = await _openWithin(path, OPEN_TIMEOUT_MS);
      if (file === undefined) {
        return err({
          kind: "io",
          role,
          path,
          reason: `opening it took over ${OPEN_TIMEOUT_MS / 1000} s, although it was a regular ` +
            "file when checked (was a named pipe swapped in?)",
        });
      }
      try {
        if (!_sameFile(before, Deno.statSync(path))) continue;
        const bytes = _readAll(file, before.size + 1);
        if (bytes.length === before.size && _sameFile(before, Deno.statSync(path))) {
          return ok(bytes);
        }
      } finally {
        file.close();
      }
    }
    return err({
      kind: "io",
      role,
      path,
      reason: `it changed while being read, ${MAX_READ_ATTEMPTS} times in a row ` +
        "(is something rewriting it in place?)",
    });
  } catch (error) {
    // Named as read right before the check; the link is not read again (under swaps a later
    // target may exist, or not: it says nothing about the check that failed).
    return err(fileError(error, path, role, linkTarget));
  }
}

/** Opens a file for reading on Deno's blocking pool; undefined when that takes over `ms` (to 2 × `ms`). */
async function _openWithin(path: string, ms: number): Promise<Deno.FsFile | undefined> {
  const opening = Deno.open(path, { read: true });
  const file = await withinAbout(opening, ms);
  // A late open (a writer came to the FIFO) still gets its file closed.
  if (file === undefined) opening.then((late) => late.close(), () => {});
  return file;
}

/** Whether two `stat`s of a path saw the same file, unchanged. */
function _sameFile(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size &&
    a.mtime?.getTime() === b.mtime?.getTime() && b.isFile;
}

/** Reads from the start of a regular file until its end or `capacity` bytes. */
function _readAll(file: Deno.FsFile, capacity: number): Uint8Array {
  const buffer = new Uint8Array(capacity);
  let length = 0;
  while (length < capacity) {
    const read = file.readSync(buffer.subarray(length));
    if (read === null || read === 0) break;
    length += read;
  }
  return buffer.subarray(0, length);
}

function _fileType(info: Deno.FileInfo): string {
  if (info.isDirectory) return "directory";
  if (info.isFifo) return "named pipe (FIFO)";
  if (info.isCharDevice) return "character device";
  if (info.isBlockDevice) return "block device";
  if (info.isSocket) return "socket";
  return "special file";
}

/**
 * Maps an exception raised while reading a file to its {@linkcode CertificateError};
 * `linkTarget` is where the path points when it is a symbolic link.
 */
export function fileError(
  error: unknown,
  path: string,
  role: FileRole,
  linkTarget?: string,
): CertificateError {
  const link = linkTarget === undefined ? {} : { linkTarget };
  if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
    return { kind: "not_found", role, path, ...link };
  }
  if (error instanceof Deno.errors.NotCapable) {
    const refused = DENO_REFUSED_PATH.exec(error.message)?.[1];
    const refusedPath = refused === undefined || refused === path ? {} : { refusedPath: refused };
    return { kind: "permission_denied", role, path, deniedBy: "deno", ...refusedPath, ...link };
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return { kind: "permission_denied", role, path, deniedBy: "os", ...link };
  }
  if (error instanceof Deno.errors.IsADirectory) {
    return { kind: "not_a_file", role, path, fileType: "directory" };
  }
  return { kind: "io", role, path, reason: _reason(error) };
}

/** Where a symbolic link points, joined to the link's folder; undefined for anything else. */
function _linkTarget(path: string): string | undefined {
  try {
    if (!Deno.lstatSync(path).isSymlink) return undefined;
    return _resolveBeside(path, Deno.readLinkSync(path));
  } catch {
    return undefined;
  }
}

/** A link's target as a path: relative targets are taken from the link's folder, then `.` and `..` are resolved. */
function _resolveBeside(link: string, target: string): string {
  const slash = link.lastIndexOf("/");
  const joined = target.startsWith("/") || slash === -1
    ? target
    : link.slice(0, slash + 1) + target;
  const segments: string[] = [];
  for (const segment of joined.split("/")) {
    if (segment === "..") {
      if (segments.length > 0 && segments[segments.length - 1] !== "..") segments.pop();
      else if (!joined.startsWith("/")) segments.push(segment);
    } else if (segment !== "." && segment !== "") segments.push(segment);
  }
  return (joined.startsWith("/") ? "/" : "") + (segments.join("/") || ".");
}

function _reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
