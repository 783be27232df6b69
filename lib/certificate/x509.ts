/**
 * X.509 certificates read from DER: the fields an operator sees (names, dates,
 * serial, alternative names, fingerprint) as `openssl x509` prints them, and what
 * the loader checks (version, critical extensions, the public key). It replaces
 * `node:crypto`'s `X509Certificate`, whose Node compatibility layer costs several
 * MiB of resident memory at startup and whose objects hold native memory V8 does
 * not count. Signatures are checked in `signature.ts`.
 *
 * @module
 */

import {
  type Bytes,
  childrenOf,
  contextTag,
  decodeOid,
  decodeTime,
  type DerElement,
  DerError,
  encodeElement,
  encodeOid,
  expectTag,
  integerHex,
  integerMagnitude,
  latin1,
  readWhole,
  TAG,
  toHex,
} from "../ground/der.ts";
import { type DistinguishedName, readName, readNameOneline } from "./name.ts";
import { err, ok, type Result } from "../ground/result.ts";

/** A public key algorithm WebCrypto can use: RSA, ECDSA on a NIST curve, or Ed25519. */
export type KeyAlgorithm =
  | { readonly name: "RSA" }
  | { readonly name: "ECDSA"; readonly namedCurve: "P-256" | "P-384" | "P-521" }
  | { readonly name: "Ed25519" };

/** A certificate's public key: its DER `SubjectPublicKeyInfo` and its algorithm, when known. */
export interface PublicKeyInfo {
  /** The `SubjectPublicKeyInfo` as the certificate holds it. */
  readonly der: Bytes;
  /** The same, as WebCrypto imports it (`"spki"`): explicit curve parameters become the curve's name. */
  readonly spki: Bytes;
  /** The algorithm's OID, e.g. `1.2.840.113549.1.1.1` for RSA. */
  readonly oid: string;
  /** The algorithm, or undefined for one WebCrypto cannot use (e.g. DSA, Ed448, secp256k1). */
  readonly algorithm: KeyAlgorithm | undefined;
  /** The curve's OID of an EC key (the named one for explicit parameters), if any. */
  readonly curveOid?: string | undefined;
  /** The modulus' size of an RSA key, in bits. */
  readonly rsaBits?: number | undefined;
}

/** One extension of a certificate: its OID and whether it is critical. */
export interface Extension {
  /** E.g. `2.5.29.17` for subjectAltName. */
  readonly oid: string;
  /** Whether a reader that does not know it must refuse the certificate. */
  readonly critical: boolean;
}

/** One parsed X.509 certificate: what the loader reports and what its checks need. */
export interface X509Certificate {
  /** The whole certificate. */
  readonly der: Bytes;
  /** The signed part (`tbsCertificate`), which the issuer's signature covers. */
  readonly tbs: Bytes;
  /** The version as the certificate counts it: 1, 2 or 3 (4 and up are not defined). */
  readonly version: number;
  /** Serial number as `openssl x509 -serial` prints it: uppercase hex, `-` first when negative. */
  readonly serialNumber: string;
  /** Subject name, e.g. `C=DE, O=Example, CN=example.com`, in the certificate's order. */
  readonly subject: string;
  /** Issuer name, in the same form. */
  readonly issuer: string;
  /** The subject name's key for RFC 5280 §7.1 comparison with a child's issuer. */
  readonly subjectKey: string;
  /** The issuer name's key. */
  readonly issuerKey: string;
  /** Start of validity. */
  readonly notBefore: Date;
  /** End of validity. */
  readonly notAfter: Date;
  /** Subject alternative names as OpenSSL prints them, e.g. `DNS:localhost`, `IP Address:::1`. */
  readonly subjectAltNames: readonly string[];
  /** Whether it carries `issuerUniqueID` or `subjectUniqueID` (X.509 v2 fields). */
  readonly hasUniqueIdentifiers: boolean;
  /** Every extension, in order. */
  readonly extensions: readonly Extension[];
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
  ED448: "1.3.101.113",
  DSA: "1.2.840.10040.4.1",
  PRIME_FIELD: "1.2.840.10045.1.1",
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

/** The NIST curves by their field prime (hex), to name a key given with explicit parameters. */
const CURVES_BY_PRIME: Readonly<Record<string, "P-256" | "P-384" | "P-521">> = {
  ["ffffffff00000001000000000000000000000000ffffffffffffffffffffffff"]: "P-256",
  ["ff".repeat(31) + "feffffffff0000000000000000ffffffff"]: "P-384",
  ["01" + "ff".repeat(65)]: "P-521",
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
  let version = 1; // v1 leaves the field out
  if (parts[0]?.tag === contextTag(0, true)) {
    const field = parts.shift() as DerElement;
    const number = integerMagnitude(expectTag(childrenOf(field)[0], TAG.INTEGER));
    version = number.reduce((value, byte) => value * 256 + byte, 0) + 1;
  }
  const [serial, _algorithm, issuerElement, validity, subjectElement, spki, ...optional] = parts;
  const issuer = readName(expectTag(issuerElement, TAG.SEQUENCE));
  const subject: DistinguishedName = readName(expectTag(subjectElement, TAG.SEQUENCE));
  const [notBefore, notAfter] = childrenOf(expectTag(validity, TAG.SEQUENCE));
  const signature = expectTag(signatureValue, TAG.BIT_STRING).contents;
  if (signature[0] !== 0) throw new DerError("a signature with unused bits");
  const extensionsField = optional.find((element) => element.tag === contextTag(3, true));
  const extensions = extensionsField === undefined ? [] : _extensions(extensionsField);
  const altNames = extensions.find((extension) => extension.oid === OID.SUBJECT_ALT_NAME);
  return {
    der,
    tbs: tbs.encoded,
    version,
    serialNumber: integerHex(expectTag(serial, TAG.INTEGER)),
    subject: subject.text,
    issuer: issuer.text,
    subjectKey: subject.key,
    issuerKey: issuer.key,
    notBefore: decodeTime(notBefore ?? _missing("notBefore")),
    notAfter: decodeTime(notAfter ?? _missing("notAfter")),
    subjectAltNames: altNames === undefined
      ? []
      : childrenOf(readWhole(altNames.value, TAG.SEQUENCE)).map(_generalName),
    hasUniqueIdentifiers: optional.some((element) =>
      element.tag === contextTag(1, false) || element.tag === contextTag(2, false)
    ),
    extensions: extensions.map(({ oid, critical }) => ({ oid, critical })),
    publicKey: _publicKey(expectTag(spki, TAG.SEQUENCE)),
    signatureAlgorithm: expectTag(signatureAlgorithm, TAG.SEQUENCE),
    signature: signature.subarray(1),
  };
}

function _extensions(field: DerElement): { oid: string; critical: boolean; value: Bytes }[] {
  const extensions = expectTag(childrenOf(field)[0], TAG.SEQUENCE);
  return childrenOf(extensions).map((extension) => {
    const [id, ...rest] = childrenOf(expectTag(extension, TAG.SEQUENCE));
    const flag = rest.length > 1 ? expectTag(rest[0], TAG.BOOLEAN).contents : undefined;
    return {
      oid: decodeOid(id ?? _missing("extension id")),
      critical: flag !== undefined && flag[0] !== 0,
      value: expectTag(rest[rest.length - 1], TAG.OCTET_STRING).contents,
    };
  });
}

const UTF8_LENIENT = new TextDecoder();

function _generalName(name: DerElement): string {
  // OpenSSL prints an IA5String's bytes as they are; on a UTF-8 terminal that reads as UTF-8.
  const text = () => UTF8_LENIENT.decode(name.contents);
  switch (name.tag) {
    case contextTag(0, true):
      return _otherName(name);
    case contextTag(1, false):
      return `email:${text()}`;
    case contextTag(2, false):
      return `DNS:${text()}`;
    case contextTag(3, true):
      return "X400Name:<unsupported>";
    case contextTag(4, true):
      return `DirName:${readNameOneline(expectTag(childrenOf(name)[0], TAG.SEQUENCE))}`;
    case contextTag(5, true):
      return "EdiPartyName:<unsupported>";
    case contextTag(6, false):
      return `URI:${text()}`;
    case contextTag(7, false):
      return `IP Address:${_ipAddress(name.contents)}`;
    case contextTag(8, false):
      return `Registered ID:${decodeOid({ ...name, tag: TAG.OID })}`;
    default:
      return "othername:<unsupported>";
  }
}

/** An `otherName` as OpenSSL 3.0 prints one it has no special form for: `othername: OID::text`. */
function _otherName(name: DerElement): string {
  const [typeId, value] = childrenOf(name);
  const oid = decodeOid(typeId ?? _missing("otherName type"));
  const inner = value === undefined ? undefined : childrenOf(value)[0];
  if (inner !== undefined) {
    try {
      return `othername: ${oid}::${_otherString(inner)}`;
    } catch {
      // not a string: as OpenSSL, say so
    }
  }
  return `othername: ${oid}:<unsupported>`;
}

function _otherString(element: DerElement): string {
  switch (element.tag) {
    case TAG.UTF8_STRING:
      return UTF8_LENIENT.decode(element.contents);
    case TAG.IA5_STRING:
    case TAG.PRINTABLE_STRING:
    case TAG.VISIBLE_STRING:
      return latin1(element.contents);
  }
  throw new DerError("not a string");
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
  const bits = expectTag(key, TAG.BIT_STRING).contents;
  const identifier = expectTag(algorithm, TAG.SEQUENCE);
  const [id, parameters] = childrenOf(identifier);
  const oid = decodeOid(id ?? _missing("algorithm"));
  const curveOid = oid === OID.EC ? curveOf(parameters) : undefined;
  const named = curveOid === undefined ? undefined : CURVES[curveOid];
  const explicit = named !== undefined && parameters?.tag !== TAG.OID;
  return {
    der: spki.encoded,
    // WebCrypto names the curve; a key with explicit parameters is re-wrapped with its name.
    spki: explicit
      ? encodeElement(
        TAG.SEQUENCE,
        encodeElement(TAG.SEQUENCE, encodeOid(OID.EC), encodeOid(CURVE_OIDS[named])),
        key?.encoded ?? _missing("key"),
      )
      : spki.encoded,
    oid,
    algorithm: keyAlgorithm(identifier),
    curveOid,
    rsaBits: oid === OID.RSA || oid === OID.RSA_PSS ? _rsaBits(bits) : undefined,
  };
}

function _rsaBits(bits: Bytes): number {
  const [modulus] = childrenOf(readWhole(bits.subarray(1), TAG.SEQUENCE));
  const magnitude = integerMagnitude(expectTag(modulus, TAG.INTEGER));
  return (magnitude.length - 1) * 8 + ((magnitude[0] as number).toString(2).length);
}

/** The curve an EC key's parameters name: a named curve's OID, or the NIST curve explicit parameters describe. */
export function curveOf(parameters: DerElement | undefined): string | undefined {
  if (parameters?.tag === TAG.OID) return decodeOid(parameters);
  if (parameters?.tag !== TAG.SEQUENCE) return undefined;
  const [, fieldId] = childrenOf(parameters);
  const [fieldType, prime] = childrenOf(expectTag(fieldId, TAG.SEQUENCE));
  if (fieldType === undefined || decodeOid(fieldType) !== OID.PRIME_FIELD) return undefined;
  const curve = CURVES_BY_PRIME[integerMagnitude(expectTag(prime, TAG.INTEGER)).toHex()];
  return curve === undefined ? undefined : CURVE_OIDS[curve];
}

/** The key algorithm an `AlgorithmIdentifier` of a public or private key names, if WebCrypto has it. */
export function keyAlgorithm(identifier: DerElement): KeyAlgorithm | undefined {
  const [id, parameters] = childrenOf(identifier);
  switch (decodeOid(id ?? _missing("algorithm"))) {
    case OID.RSA:
      return { name: "RSA" };
    case OID.ED25519:
      return { name: "Ed25519" };
    case OID.EC: {
      const oid = curveOf(parameters);
      const curve = oid === undefined ? undefined : CURVES[oid];
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

/** Whether `child` names `parent` as its issuer, comparing names as RFC 5280 §7.1 does. */
export function namesIssuer(child: X509Certificate, parent: X509Certificate): boolean {
  return child.issuerKey === parent.subjectKey;
}

function _missing(what: string): never {
  throw new DerError(`${what} is missing`);
}
