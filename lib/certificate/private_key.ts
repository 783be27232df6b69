/**
 * Private keys: reads the PEM forms OpenSSL, certbot and Kubernetes write
 * (PKCS #8 `PRIVATE KEY`, SEC 1 `EC PRIVATE KEY`, PKCS #1 `RSA PRIVATE KEY`)
 * with WebCrypto, and checks that a key belongs to a certificate by comparing
 * the public half it derives with the certificate's public key.
 *
 * @module
 */

import {
  type Bytes,
  childrenOf,
  contextTag,
  DerError,
  encodeElement,
  encodeOid,
  expectTag,
  readWhole,
  TAG,
} from "../ground/der.ts";
import type { PemBlock } from "../ground/pem.ts";
import {
  CURVE_OIDS,
  curveOf,
  CURVES,
  importAlgorithm,
  importPublicKey,
  type KeyAlgorithm,
  keyAlgorithm,
  OID,
  type PublicKeyInfo,
} from "./x509.ts";
import { err, ok, type Result } from "../ground/result.ts";

/** Why a key cannot serve a certificate: unreadable, or the key of another certificate. */
export type KeyProblem =
  | { readonly kind: "invalid"; readonly reason: string }
  | { readonly kind: "mismatch" };

/** The public fields of a JSON Web Key that identify it: RSA `n`, `e`; EC `crv`, `x`, `y`; OKP `x`. */
const PUBLIC_FIELDS = ["kty", "crv", "n", "e", "x", "y"] as const;

/** Checks that the PEM private key `block` is readable and is the key of `publicKey`. */
export async function checkPrivateKey(
  block: PemBlock,
  publicKey: PublicKeyInfo,
  keyPath: string,
): Promise<Result<void, KeyProblem>> {
  let pkcs8: { der: Bytes; algorithm: KeyAlgorithm | undefined };
  try {
    const wrapped = _asPkcs8(block, publicKey, keyPath);
    if (!wrapped.ok) return wrapped;
    pkcs8 = wrapped.value;
  } catch (error) {
    if (!(error instanceof DerError)) throw error;
    return err({ kind: "invalid", reason: `its DER is malformed: ${error.message}` });
  }
  const algorithm = pkcs8.algorithm;
  if (algorithm === undefined) {
    return err({
      kind: "invalid",
      reason:
        "its key type is not supported (RSA, ECDSA on P-256, P-384 or P-521, and Ed25519 are)",
    });
  }
  if (!_sameAlgorithm(algorithm, publicKey.algorithm)) return err({ kind: "mismatch" });
  let derived: JsonWebKey;
  let certified: JsonWebKey;
  try {
    const key = await crypto.subtle.importKey(
      "pkcs8",
      pkcs8.der,
      importAlgorithm(algorithm),
      true,
      [
        "sign",
      ],
    );
    derived = await crypto.subtle.exportKey("jwk", key);
    certified = await crypto.subtle.exportKey("jwk", await importPublicKey(publicKey, algorithm));
  } catch (error) {
    return err({ kind: "invalid", reason: `its private key cannot be read: ${_reason(error)}` });
  }
  const same = PUBLIC_FIELDS.every((field) => derived[field] === certified[field]);
  return same ? ok(undefined) : err({ kind: "mismatch" });
}

/** The key as PKCS #8, the one form WebCrypto imports, with the algorithm it names. */
function _asPkcs8(
  block: PemBlock,
  publicKey: PublicKeyInfo,
  keyPath: string,
): Result<{ der: Bytes; algorithm: KeyAlgorithm | undefined }, KeyProblem> {
  switch (block.label) {
    case "PRIVATE KEY": {
      const [version, identifier, key] = childrenOf(readWhole(block.der, TAG.SEQUENCE));
      expectTag(version, TAG.INTEGER);
      const inner = expectTag(key, TAG.OCTET_STRING).contents;
      const algorithm = keyAlgorithm(expectTag(identifier, TAG.SEQUENCE));
      // WebCrypto takes named curves only: a key with explicit parameters is re-wrapped by name.
      if (algorithm?.name === "ECDSA") return _namedEcKey(inner, algorithm.namedCurve);
      return ok({ der: block.der, algorithm });
    }
    case "EC PRIVATE KEY": {
      const fields = childrenOf(readWhole(block.der, TAG.SEQUENCE));
      const parameters = fields.find((field) => field.tag === contextTag(0, true));
      const curveOid = parameters === undefined
        ? publicKey.algorithm?.name === "ECDSA"
          ? CURVE_OIDS[publicKey.algorithm.namedCurve]
          : undefined
        : curveOf(childrenOf(parameters)[0]);
      const curve = curveOid === undefined ? undefined : CURVES[curveOid];
      if (curve === undefined) return ok({ der: block.der, algorithm: undefined });
      return _namedEcKey(block.der, curve);
    }
    case "RSA PRIVATE KEY": {
      readWhole(block.der, TAG.SEQUENCE);
      const identifier = _sequence(encodeOid(OID.RSA), encodeElement(TAG.NULL));
      return ok({ der: _wrap(identifier, block.der), algorithm: { name: "RSA" } });
    }
  }
  return err({
    kind: "invalid",
    reason: `its key format (${block.label}) is not supported; convert it to PKCS #8 with: ` +
      `openssl pkey -in ${keyPath} -out key-pkcs8.pem`,
  });
}

/**
 * A SEC 1 `ECPrivateKey` as the PKCS #8 WebCrypto imports: the curve named in the algorithm and
 * the key's own parameters left out (they may be explicit, which WebCrypto refuses).
 */
function _namedEcKey(
  sec1: Bytes,
  curve: "P-256" | "P-384" | "P-521",
): Result<{ der: Bytes; algorithm: KeyAlgorithm }, KeyProblem> {
  const fields = childrenOf(readWhole(sec1, TAG.SEQUENCE));
  const kept = fields.filter((field) => field.tag !== contextTag(0, true));
  const key = encodeElement(TAG.SEQUENCE, ...kept.map((field) => field.encoded));
  const identifier = _sequence(encodeOid(OID.EC), encodeOid(CURVE_OIDS[curve]));
  return ok({ der: _wrap(identifier, key), algorithm: { name: "ECDSA", namedCurve: curve } });
}

/** A PKCS #8 `PrivateKeyInfo` (version 0) around a key in its algorithm's own form. */
function _wrap(identifier: Bytes, key: Bytes): Bytes {
  const version = encodeElement(TAG.INTEGER, new Uint8Array([0]));
  return _sequence(version, identifier, encodeElement(TAG.OCTET_STRING, key));
}

function _sequence(...parts: Bytes[]): Bytes {
  return encodeElement(TAG.SEQUENCE, ...parts);
}

function _sameAlgorithm(key: KeyAlgorithm, certified: KeyAlgorithm | undefined): boolean {
  if (certified === undefined || key.name !== certified.name) return false;
  return key.name !== "ECDSA" || certified.name !== "ECDSA" ||
    key.namedCurve === certified.namedCurve;
}

function _reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
