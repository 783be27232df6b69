/**
 * X.509 certificates read from DER: the fields an operator sees (names, dates,
 * serial, alternative names, fingerprint) and the issuer's signature checked
 * with WebCrypto. It replaces `node:crypto`'s `X509Certificate`, whose Node
 * compatibility layer costs several MiB of resident memory at startup and whose
 * objects hold native memory V8 does not count.
 *
 * @module
 */

import {
  type Bytes,
  childrenOf,
  contextTag,
  decodeOid,
  decodeString,
  decodeTime,
  type DerElement,
  DerError,
  expectTag,
  integerMagnitude,
  latin1,
  readWhole,
  TAG,
  toHex,
} from "../ground/der.ts";
import { err, ok, type Result } from "../ground/result.ts";

/** A public key algorithm the loader can check: RSA, ECDSA on a named curve, or Ed25519. */
export type KeyAlgorithm =
  | { readonly name: "RSA" }
  | { readonly name: "ECDSA"; readonly namedCurve: "P-256" | "P-384" | "P-521" }
  | { readonly name: "Ed25519" };

/** A certificate's public key: its DER `SubjectPublicKeyInfo` and its algorithm, when known. */
export interface PublicKeyInfo {
  /** The `SubjectPublicKeyInfo`, as WebCrypto imports it (`"spki"`). */
  readonly spki: Bytes;
  /** The algorithm, or undefined for one WebCrypto cannot use (e.g. DSA, Ed448). */
  readonly algorithm: KeyAlgorithm | undefined;
}

/** One parsed X.509 certificate: what the loader reports and what its checks need. */
export interface X509Certificate {
  /** The whole certificate. */
  readonly der: Bytes;
  /** The signed part (`tbsCertificate`), which the issuer's signature covers. */
  readonly tbs: Bytes;
  /** Serial number, uppercase hexadecimal without leading zero octets. */
  readonly serialNumber: string;
  /** Subject name, e.g. `C=DE, O=Example, CN=example.com`, in the certificate's order. */
  readonly subject: string;
  /** Issuer name, in the same form. */
  readonly issuer: string;
  /** The subject name's DER, to compare with a child's issuer. */
  readonly subjectName: Bytes;
  /** The issuer name's DER. */
  readonly issuerName: Bytes;
  /** Start of validity. */
  readonly notBefore: Date;
  /** End of validity. */
  readonly notAfter: Date;
  /** Subject alternative names as OpenSSL prints them, e.g. `DNS:localhost`, `IP Address:::1`. */
  readonly subjectAltNames: readonly string[];
  /** The certified public key. */
  readonly publicKey: PublicKeyInfo;
  /** SHA-256 of the DER, colon-separated uppercase hex (`openssl x509 -fingerprint -sha256`). */
  readonly fingerprint256: string;
  /** The signature algorithm (`AlgorithmIdentifier`) the issuer signed with. */
  readonly signatureAlgorithm: DerElement;
  /** The issuer's signature over {@linkcode X509Certificate.tbs}. */
  readonly signature: Bytes;
}

/** The object identifiers the X.509 and key readers look for. */
export const OID = {
  SUBJECT_ALT_NAME: "2.5.29.17",
  RSA: "1.2.840.113549.1.1.1",
  RSA_PSS: "1.2.840.113549.1.1.10",
  EC: "1.2.840.10045.2.1",
  ED25519: "1.3.101.112",
} as const;

/** The OIDs of the named curves WebCrypto supports. */
export const CURVE_OIDS: Record<"P-256" | "P-384" | "P-521", string> = {
  "P-256": "1.2.840.10045.3.1.7",
  "P-384": "1.3.132.0.34",
  "P-521": "1.3.132.0.35",
};

/** The named curves by OID. */
export const CURVES: Readonly<Record<string, "P-256" | "P-384" | "P-521">> = Object.fromEntries(
  Object.entries(CURVE_OIDS).map(([curve, oid]) => [oid, curve as "P-256" | "P-384" | "P-521"]),
);

const HASHES: Record<string, string> = {
  "1.3.14.3.2.26": "SHA-1",
  "2.16.840.1.101.3.4.2.1": "SHA-256",
  "2.16.840.1.101.3.4.2.2": "SHA-384",
  "2.16.840.1.101.3.4.2.3": "SHA-512",
};

/** Signature algorithms with a fixed hash: RSA PKCS #1 v1.5 and ECDSA. */
const SIGNATURES: Record<string, { readonly family: "RSA" | "ECDSA"; readonly hash: string }> = {
  "1.2.840.113549.1.1.5": { family: "RSA", hash: "SHA-1" },
  "1.2.840.113549.1.1.11": { family: "RSA", hash: "SHA-256" },
  "1.2.840.113549.1.1.12": { family: "RSA", hash: "SHA-384" },
  "1.2.840.113549.1.1.13": { family: "RSA", hash: "SHA-512" },
  "1.2.840.10045.4.1": { family: "ECDSA", hash: "SHA-1" },
  "1.2.840.10045.4.3.2": { family: "ECDSA", hash: "SHA-256" },
  "1.2.840.10045.4.3.3": { family: "ECDSA", hash: "SHA-384" },
  "1.2.840.10045.4.3.4": { family: "ECDSA", hash: "SHA-512" },
};

/** Short names of the attribute types of distinguished names, as OpenSSL prints them. */
const ATTRIBUTES: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.4": "SN",
  "2.5.4.5": "serialNumber",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.9": "street",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.12": "title",
  "2.5.4.17": "postalCode",
  "2.5.4.42": "GN",
  "2.5.4.46": "dnQualifier",
  "2.5.4.97": "organizationIdentifier",
  "0.9.2342.19200300.100.1.1": "UID",
  "0.9.2342.19200300.100.1.25": "DC",
  "1.2.840.113549.1.9.1": "emailAddress",
};

/** Parses a DER certificate, reading every field the loader uses; a damaged one is an error line. */
export async function parseX509(der: Bytes): Promise<Result<X509Certificate, string>> {
  let fields: Omit<X509Certificate, "fingerprint256">;
  try {
    fields = _fields(der);
  } catch (error) {
    if (error instanceof DerError) return err(`its DER is malformed: ${error.message}`);
    throw error;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return ok({ ...fields, fingerprint256: toHex(digest, ":") });
}

function _fields(der: Bytes): Omit<X509Certificate, "fingerprint256"> {
  const [tbsElement, signatureAlgorithm, signatureValue] = childrenOf(
    readWhole(der, TAG.SEQUENCE),
  );
  const tbs = expectTag(tbsElement, TAG.SEQUENCE);
  const parts = childrenOf(tbs);
  if (parts[0]?.tag === contextTag(0, true)) parts.shift(); // the version; v1 leaves it out
  const [serial, _algorithm, issuerElement, validity, subjectElement, spki, ...optional] = parts;
  const issuer = expectTag(issuerElement, TAG.SEQUENCE);
  const subject = expectTag(subjectElement, TAG.SEQUENCE);
  const [notBefore, notAfter] = childrenOf(expectTag(validity, TAG.SEQUENCE));
  const signature = expectTag(signatureValue, TAG.BIT_STRING).contents;
  if (signature[0] !== 0) throw new DerError("a signature with unused bits");
  const extensions = optional.find((element) => element.tag === contextTag(3, true));
  return {
    der,
    tbs: tbs.encoded,
    serialNumber: toHex(integerMagnitude(expectTag(serial, TAG.INTEGER))),
    subject: _name(subject),
    issuer: _name(issuer),
    subjectName: subject.encoded,
    issuerName: issuer.encoded,
    notBefore: decodeTime(notBefore ?? _missing("notBefore")),
    notAfter: decodeTime(notAfter ?? _missing("notAfter")),
    subjectAltNames: extensions === undefined ? [] : _altNames(extensions),
    publicKey: _publicKey(expectTag(spki, TAG.SEQUENCE)),
    signatureAlgorithm: expectTag(signatureAlgorithm, TAG.SEQUENCE),
    signature: signature.subarray(1),
  };
}

/** Renders a distinguished name as OpenSSL does: `type=value` pairs in order, a multi-valued one joined by ` + `. */
function _name(name: DerElement): string {
  return childrenOf(name).map((rdn) =>
    childrenOf(expectTag(rdn, TAG.SET)).map((pair) => {
      const [type, value] = childrenOf(expectTag(pair, TAG.SEQUENCE));
      const oid = decodeOid(type ?? _missing("attribute type"));
      const text = value === undefined ? _missing("attribute value") : _attributeValue(value);
      return `${ATTRIBUTES[oid] ?? oid}=${text}`;
    }).join(" + ")
  ).join(", ");
}

function _attributeValue(value: DerElement): string {
  try {
    return decodeString(value);
  } catch {
    return `#${toHex(value.encoded)}`; // RFC 4514's form for a value that is not a string
  }
}

function _altNames(extensionsField: DerElement): string[] {
  const extensions = expectTag(childrenOf(extensionsField)[0], TAG.SEQUENCE);
  for (const extension of childrenOf(extensions)) {
    const [id, ...rest] = childrenOf(expectTag(extension, TAG.SEQUENCE));
    if (decodeOid(id ?? _missing("extension id")) !== OID.SUBJECT_ALT_NAME) continue;
    const value = expectTag(rest[rest.length - 1], TAG.OCTET_STRING).contents;
    return childrenOf(readWhole(value, TAG.SEQUENCE)).map(_generalName);
  }
  return [];
}

function _generalName(name: DerElement): string {
  const text = () => latin1(name.contents);
  switch (name.tag) {
    case contextTag(1, false):
      return `email:${text()}`;
    case contextTag(2, false):
      return `DNS:${text()}`;
    case contextTag(6, false):
      return `URI:${text()}`;
    case contextTag(7, false):
      return `IP Address:${_ipAddress(name.contents)}`;
    case contextTag(4, true):
      return `DirName:${_name(expectTag(childrenOf(name)[0], TAG.SEQUENCE))}`;
    case contextTag(8, false):
      return `Registered ID:${decodeOid({ ...name, tag: TAG.OID })}`;
    default:
      return "othername:<unsupported>";
  }
}

function _ipAddress(bytes: Bytes): string {
  if (bytes.length === 4) return bytes.join(".");
  if (bytes.length !== 16) return `<invalid length ${bytes.length}>`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) {
    groups.push(((bytes[i] as number) * 256 + (bytes[i + 1] as number)).toString(16).toUpperCase());
  }
  return groups.join(":");
}

function _publicKey(spki: DerElement): PublicKeyInfo {
  const [algorithm, key] = childrenOf(spki);
  expectTag(key, TAG.BIT_STRING);
  return { spki: spki.encoded, algorithm: keyAlgorithm(expectTag(algorithm, TAG.SEQUENCE)) };
}

/** The key algorithm an `AlgorithmIdentifier` of a public or private key names, if supported. */
export function keyAlgorithm(identifier: DerElement): KeyAlgorithm | undefined {
  const [id, parameters] = childrenOf(identifier);
  switch (decodeOid(id ?? _missing("algorithm"))) {
    case OID.RSA:
      return { name: "RSA" };
    case OID.ED25519:
      return { name: "Ed25519" };
    case OID.EC: {
      const curve = parameters?.tag === TAG.OID ? CURVES[decodeOid(parameters)] : undefined;
      return curve === undefined ? undefined : { name: "ECDSA", namedCurve: curve };
    }
  }
  return undefined;
}

/** The WebCrypto algorithm that imports a key of this algorithm, for `usage`. */
export function importAlgorithm(
  algorithm: KeyAlgorithm,
): RsaHashedImportParams | EcKeyImportParams | Algorithm {
  switch (algorithm.name) {
    case "RSA":
      return { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    case "ECDSA":
      return algorithm;
    case "Ed25519":
      return algorithm;
  }
}

/** Imports a certificate's public key of a known algorithm, which also checks it (an EC point must lie on its curve). */
export function importPublicKey(key: PublicKeyInfo, algorithm: KeyAlgorithm): Promise<CryptoKey> {
  return crypto.subtle.importKey("spki", key.spki, importAlgorithm(algorithm), true, ["verify"]);
}

/**
 * Whether `parent` issued `child`: the child names the parent's subject as its issuer and the
 * parent's key verifies the child's signature. A signature WebCrypto cannot check does not verify.
 */
export async function isIssuedBy(
  child: X509Certificate,
  parent: X509Certificate,
): Promise<boolean> {
  if (!_sameName(child, parent)) return false;
  try {
    const scheme = _signatureScheme(child, parent.publicKey);
    if (scheme === undefined) return false;
    const key = await crypto.subtle.importKey("spki", parent.publicKey.spki, scheme.key, false, [
      "verify",
    ]);
    return await crypto.subtle.verify(scheme.verify, key, scheme.signature, child.tbs);
  } catch {
    return false; // a damaged signature, or a key or signature WebCrypto refuses, does not verify
  }
}

function _sameName(child: X509Certificate, parent: X509Certificate): boolean {
  const [a, b] = [child.issuerName, parent.subjectName];
  if (a.length === b.length && a.every((byte, i) => byte === b[i])) return true;
  // RFC 5280 compares names without regard to case or runs of spaces (and across string types).
  const fold = (text: string) => text.toLowerCase().replace(/\s+/g, " ");
  return fold(child.issuer) === fold(parent.subject);
}

interface Scheme {
  readonly key: RsaHashedImportParams | EcKeyImportParams | Algorithm;
  readonly verify: RsaPssParams | EcdsaParams | Algorithm;
  readonly signature: Bytes;
}

function _signatureScheme(child: X509Certificate, issuerKey: PublicKeyInfo): Scheme | undefined {
  const algorithm = issuerKey.algorithm;
  const [id, parameters] = childrenOf(child.signatureAlgorithm);
  const oid = decodeOid(id ?? _missing("signature algorithm"));
  const fixed = SIGNATURES[oid];
  if (algorithm?.name === "RSA" && fixed?.family === "RSA") {
    const key = { name: "RSASSA-PKCS1-v1_5", hash: fixed.hash };
    return { key, verify: key, signature: child.signature };
  }
  if (algorithm?.name === "RSA" && oid === OID.RSA_PSS && parameters !== undefined) {
    const { hash, saltLength } = _pssParameters(parameters);
    if (hash === undefined) return undefined;
    return {
      key: { name: "RSA-PSS", hash },
      verify: { name: "RSA-PSS", saltLength },
      signature: child.signature,
    };
  }
  if (algorithm?.name === "ECDSA" && fixed?.family === "ECDSA") {
    const size = { "P-256": 32, "P-384": 48, "P-521": 66 }[algorithm.namedCurve];
    const signature = _rawEcdsaSignature(child.signature, size);
    if (signature === undefined) return undefined;
    return { key: algorithm, verify: { name: "ECDSA", hash: fixed.hash }, signature };
  }
  if (algorithm?.name === "Ed25519" && oid === OID.ED25519) {
    return { key: algorithm, verify: algorithm, signature: child.signature };
  }
  return undefined;
}

/** RSASSA-PSS parameters (RFC 4055): the hash (SHA-1 by default) and the salt length (20). */
function _pssParameters(parameters: DerElement): { hash: string | undefined; saltLength: number } {
  let hash: string | undefined = "SHA-1";
  let saltLength = 20;
  for (const field of childrenOf(expectTag(parameters, TAG.SEQUENCE))) {
    const inner = childrenOf(field)[0];
    if (field.tag === contextTag(0, true) && inner !== undefined) {
      hash = HASHES[decodeOid(expectTag(childrenOf(inner)[0], TAG.OID))];
    } else if (field.tag === contextTag(2, true) && inner !== undefined) {
      saltLength = integerMagnitude(inner).reduce((value, byte) => value * 256 + byte, 0);
    }
  }
  return { hash, saltLength };
}

/** Converts an ECDSA signature from DER `SEQUENCE { r, s }` to WebCrypto's fixed-size `r || s`. */
function _rawEcdsaSignature(der: Bytes, size: number): Bytes | undefined {
  const [r, s] = childrenOf(readWhole(der, TAG.SEQUENCE)).map(integerMagnitude);
  if (r === undefined || s === undefined || r.length > size || s.length > size) return undefined;
  const raw = new Uint8Array(2 * size);
  raw.set(r, size - r.length);
  raw.set(s, 2 * size - s.length);
  return raw;
}

function _missing(what: string): never {
  throw new DerError(`${what} is missing`);
}
