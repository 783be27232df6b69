/**
 * What Deno's TLS stack (rustls, behind `Deno.listenTls` and `Deno.serve`) refuses to serve, checked
 * by the loader itself so that such a pair is refused in plain and HTTPS mode alike, with words
 * that name the file, before any listener sees it: an RSA key under 2048 bits, a key type rustls
 * cannot sign with, a leaf that is not X.509 v3, an unknown critical extension, an extension
 * given twice, or unique identifiers on the leaf.
 *
 * @module
 */

import { OID, type PublicKeyInfo, type X509Certificate } from "./x509.ts";

/** Why the TLS stack would refuse a certificate or key that otherwise parses. */
export type UnservableProblem =
  | { readonly kind: "rsa_too_small"; readonly bits: number }
  | { readonly kind: "key_type"; readonly keyType: string }
  | { readonly kind: "version"; readonly version: number }
  | { readonly kind: "critical_extension"; readonly oid: string }
  | { readonly kind: "duplicate_extension"; readonly oid: string }
  | { readonly kind: "unique_identifiers" };

/** The smallest RSA modulus rustls (with its default crypto provider) signs with, in bits. */
export const MIN_RSA_BITS = 2048;
/** The X.509 version rustls' certificate reader (webpki) accepts for a leaf. */
const SERVED_VERSION = 3;

/**
 * The extensions webpki understands (key usage, subject alternative name, basic constraints,
 * name constraints, CRL distribution points, extended key usage); any other marked critical
 * makes rustls refuse the certificate.
 */
const KNOWN_EXTENSIONS: ReadonlySet<string> = new Set([
  "2.5.29.15",
  "2.5.29.17",
  "2.5.29.19",
  "2.5.29.30",
  "2.5.29.31",
  "2.5.29.37",
]);

/** Key types rustls does not sign with, as the messages name them. */
const KEY_TYPES: Readonly<Record<string, string>> = {
  [OID.RSA_PSS]: "an RSA-PSS key",
  [OID.ED448]: "an Ed448 key",
  [OID.DSA]: "a DSA key",
  "1.3.101.110": "an X25519 key",
  "1.3.101.111": "an X448 key",
  "1.2.840.10046.2.1": "a DH key",
};
/** Names of EC curves rustls does not sign on. */
const CURVE_NAMES: Readonly<Record<string, string>> = {
  "1.3.132.0.10": "secp256k1",
  "1.3.36.3.3.2.8.1.1.7": "brainpoolP256r1",
  "1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
  "1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1",
  "1.2.156.10197.1.301": "SM2",
};

/** What in the leaf itself rustls refuses: its version or a critical extension it does not know. */
export function leafProblem(leaf: X509Certificate): UnservableProblem | undefined {
  if (leaf.version !== SERVED_VERSION) return { kind: "version", version: leaf.version };
  if (leaf.hasUniqueIdentifiers) return { kind: "unique_identifiers" };
  const unknown = leaf.extensions.find((ext) => ext.critical && !KNOWN_EXTENSIONS.has(ext.oid));
  if (unknown !== undefined) return { kind: "critical_extension", oid: unknown.oid };
  const seen = new Set<string>();
  for (const { oid } of leaf.extensions) {
    if (seen.has(oid)) return { kind: "duplicate_extension", oid };
    seen.add(oid);
  }
  return undefined;
}

/** What in the leaf's key rustls refuses: too small an RSA key, or a type it cannot sign with. */
export function keyProblem(key: PublicKeyInfo): UnservableProblem | undefined {
  if (key.oid === OID.RSA) {
    const bits = key.rsaBits ?? 0;
    return bits < MIN_RSA_BITS ? { kind: "rsa_too_small", bits } : undefined;
  }
  if (key.algorithm !== undefined) return undefined; // ECDSA on a NIST curve, Ed25519
  if (key.oid === OID.EC) {
    const curve = key.curveOid === undefined
      ? "explicit parameters of no NIST curve"
      : CURVE_NAMES[key.curveOid] ?? key.curveOid;
    return { kind: "key_type", keyType: `an EC key on ${curve}` };
  }
  return { kind: "key_type", keyType: KEY_TYPES[key.oid] ?? `a key of type ${key.oid}` };
}

/** Words a problem after the file it is about, e.g. `holds an RSA key of 1024 bits; Deno's TLS needs at least 2048`. */
export function describeUnservable(problem: UnservableProblem): string {
  switch (problem.kind) {
    case "rsa_too_small":
      return `holds an RSA key of ${problem.bits} bits; Deno's TLS needs at least ${MIN_RSA_BITS}`;
    case "key_type":
      return `holds ${problem.keyType}, which Deno's TLS ` +
        "cannot sign with (it serves RSA of 2048 bits or more, ECDSA on P-256, P-384 or P-521, " +
        "and Ed25519 keys)";
    case "version":
      return `is an X.509 v${problem.version} certificate; Deno's TLS serves v3 certificates only`;
    case "critical_extension":
      return `has a critical extension Deno's TLS does not know (${problem.oid}) and refuses to ` +
        "serve; reissue it without that extension, or with it not critical";
    case "duplicate_extension":
      return `has the extension ${problem.oid} twice, which Deno's TLS refuses to serve ` +
        "(RFC 5280 §4.2 allows each extension once)";
    case "unique_identifiers":
      return "carries issuer or subject unique identifiers (an X.509 v2 feature), which Deno's " +
        "TLS refuses to serve";
    default:
      return _unreachable(problem);
  }
}

function _unreachable(value: never): never {
  throw new Error(`Unhandled case: ${JSON.stringify(value)}`);
}
