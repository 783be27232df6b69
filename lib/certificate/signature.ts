/**
 * Checks an issuer's signature on a certificate. The common schemes go to WebCrypto (RSA up to
 * 4096 bits, RSA-PSS with one hash, ECDSA on P-256, P-384 and P-521, Ed25519); RSA it cannot take
 * (over 4096 bits, a mask hash other than the message hash, an RSA-PSS issuer key) is checked with
 * `BigInt` arithmetic and WebCrypto's digests; the rest (Ed448, secp256k1, DSA)
 * with `node:crypto`, imported only when such a signature appears, so that a server whose chain
 * WebCrypto checks never loads Node's compatibility layer. Where no verifier exists the answer
 * says so and why: the signature is then not verified, and not called bad either.
 *
 * @module
 */

import {
  type Bytes,
  childrenOf,
  contextTag,
  decodeOid,
  type DerElement,
  DerError,
  encodeElement,
  expectTag,
  integerMagnitude,
  readWhole,
  TAG,
} from "../ground/der.ts";
import { importAlgorithm, OID, type PublicKeyInfo, type X509Certificate } from "./x509.ts";

/** What checking one signature found: it verifies, it does not, or nothing here can check it. */
export type SignatureCheck =
  | { readonly kind: "verified" }
  | { readonly kind: "bad" }
  | { readonly kind: "unverifiable"; readonly reason: string };

/** Hash algorithms by OID, with WebCrypto's name (when it has one) and Node's. */
const HASHES: Readonly<Record<string, { readonly web?: string; readonly node: string }>> = {
  "1.2.840.113549.2.5": { node: "md5" },
  "1.3.14.3.2.26": { web: "SHA-1", node: "sha1" },
  "2.16.840.1.101.3.4.2.4": { node: "sha224" },
  "2.16.840.1.101.3.4.2.1": { web: "SHA-256", node: "sha256" },
  "2.16.840.1.101.3.4.2.2": { web: "SHA-384", node: "sha384" },
  "2.16.840.1.101.3.4.2.3": { web: "SHA-512", node: "sha512" },
};
const SHA1 = "1.3.14.3.2.26";
const MD5 = "1.2.840.113549.2.5";
const SHA224 = "2.16.840.1.101.3.4.2.4";
const SHA256 = "2.16.840.1.101.3.4.2.1";
const SHA384 = "2.16.840.1.101.3.4.2.2";
const SHA512 = "2.16.840.1.101.3.4.2.3";
const MGF1 = "1.2.840.113549.1.1.8";

/** Signature algorithms with a fixed hash, by OID: RSA PKCS #1 v1.5, ECDSA, DSA, EdDSA. */
const SIGNATURES: Readonly<
  Record<string, { readonly family: "RSA" | "ECDSA" | "DSA" | "EdDSA"; readonly hash?: string }>
> = {
  "1.2.840.113549.1.1.4": { family: "RSA", hash: MD5 },
  "1.2.840.113549.1.1.5": { family: "RSA", hash: SHA1 },
  "1.2.840.113549.1.1.14": { family: "RSA", hash: SHA224 },
  "1.2.840.113549.1.1.11": { family: "RSA", hash: SHA256 },
  "1.2.840.113549.1.1.12": { family: "RSA", hash: SHA384 },
  "1.2.840.113549.1.1.13": { family: "RSA", hash: SHA512 },
  "1.2.840.10045.4.1": { family: "ECDSA", hash: SHA1 },
  "1.2.840.10045.4.3.1": { family: "ECDSA", hash: SHA224 },
  "1.2.840.10045.4.3.2": { family: "ECDSA", hash: SHA256 },
  "1.2.840.10045.4.3.3": { family: "ECDSA", hash: SHA384 },
  "1.2.840.10045.4.3.4": { family: "ECDSA", hash: SHA512 },
  "1.2.840.10040.4.3": { family: "DSA", hash: SHA1 },
  "2.16.840.1.101.3.4.3.1": { family: "DSA", hash: SHA224 },
  "2.16.840.1.101.3.4.3.2": { family: "DSA", hash: SHA256 },
  "1.3.101.112": { family: "EdDSA" },
  "1.3.101.113": { family: "EdDSA" },
};

/** The largest RSA modulus WebCrypto imports in Deno 2.9.6, in bits. */
const WEBCRYPTO_MAX_RSA_BITS = 4096;
const EC_SIZES = { "P-256": 32, "P-384": 48, "P-521": 66 } as const;
const SECP256K1 = "1.3.132.0.10";
/** The order of secp256k1's group (SEC 2 §2.4.1). */
const SECP256K1_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** Checks `parent`'s signature over `child`; never throws. */
export async function checkSignature(
  child: X509Certificate,
  parent: X509Certificate,
): Promise<SignatureCheck> {
  try {
    return await _check(child, parent.publicKey);
  } catch (error) {
    if (error instanceof DerError) return { kind: "bad" }; // a damaged signature or key
    throw error;
  }
}

async function _check(child: X509Certificate, key: PublicKeyInfo): Promise<SignatureCheck> {
  const [id, parameters] = childrenOf(child.signatureAlgorithm);
  if (id === undefined) throw new DerError("signature algorithm is missing");
  const oid = decodeOid(id);
  const fixed = SIGNATURES[oid];
  const keyOid = key.oid;
  const isRsaKey = keyOid === OID.RSA || keyOid === OID.RSA_PSS;
  if (isRsaKey && (fixed?.family === "RSA" || oid === OID.RSA_PSS)) {
    const scheme = fixed?.family === "RSA"
      ? { kind: "pkcs1" as const, hash: fixed.hash as string }
      : _pssParameters(parameters);
    return await _rsa(child, key, scheme);
  }
  const algorithm = key.algorithm;
  if (algorithm?.name === "ECDSA" && fixed?.family === "ECDSA") {
    const hash = HASHES[fixed.hash as string]?.web;
    const signature = _rawEcdsaSignature(child.signature, EC_SIZES[algorithm.namedCurve]);
    if (signature === undefined) return { kind: "bad" };
    if (hash !== undefined) {
      return await _webVerify(key, algorithm, { name: "ECDSA", hash }, signature, child.tbs);
    }
  }
  if (algorithm?.name === "Ed25519" && oid === OID.ED25519) {
    return await _webVerify(key, algorithm, algorithm, child.signature, child.tbs);
  }
  if (fixed === undefined) {
    return { kind: "unverifiable", reason: `its signature algorithm ${oid} is not supported` };
  }
  if (fixed.family === "ECDSA") {
    if (key.curveOid === SECP256K1) {
      const signature = _lowS(child.signature, SECP256K1_ORDER);
      return await _nodeVerify(child, key, fixed.hash, signature);
    }
    // Other curves (brainpool, explicit parameters) were not measured: node:crypto's "false"
    // could not be told from a bad signature.
    return {
      kind: "unverifiable",
      reason: `Deno has no reliable verifier for ECDSA on curve ${key.curveOid ?? "(explicit)"}`,
    };
  }
  return await _nodeVerify(child, key, fixed.hash, child.signature);
}

/**
 * Measured: Deno 2.9.6's node:crypto answers false for a valid ECDSA signature on secp256k1 whose
 * `s` is above half the group order (about half of those OpenSSL makes), and true for the same
 * signature with `n − s`. Both are valid (ECDSA cannot tell them apart), so the signature is
 * checked in its low-`s` form.
 */
function _lowS(der: Bytes, order: bigint): Bytes {
  const [r, s] = childrenOf(readWhole(der, TAG.SEQUENCE));
  if (r === undefined || s === undefined) throw new DerError("an ECDSA signature without r or s");
  const value = _toBigInt(integerMagnitude(s));
  if (value <= order / 2n) return der;
  const low = (order - value).toString(16);
  const octets = Uint8Array.fromHex(low.padStart(low.length + (low.length % 2), "0"));
  // A positive INTEGER whose first bit is set takes a leading zero octet.
  const integer = (octets[0] as number) & 0x80 ? Uint8Array.of(0, ...octets) : octets;
  return encodeElement(TAG.SEQUENCE, r.encoded, encodeElement(TAG.INTEGER, integer));
}

async function _webVerify(
  key: PublicKeyInfo,
  algorithm: NonNullable<PublicKeyInfo["algorithm"]>,
  params: EcdsaParams | Algorithm,
  signature: Bytes,
  data: Bytes,
): Promise<SignatureCheck> {
  let imported: CryptoKey;
  try {
    imported = await crypto.subtle.importKey("spki", key.spki, importAlgorithm(algorithm), false, [
      "verify",
    ]);
  } catch {
    return { kind: "bad" }; // the issuer's key is damaged: it cannot have made this signature
  }
  return await _verified(crypto.subtle.verify(params, imported, signature, data));
}

/** WebCrypto's answer; it throws for a key it imported but finds damaged when used, which cannot have signed. */
async function _verified(verifying: Promise<boolean>): Promise<SignatureCheck> {
  try {
    return (await verifying) ? { kind: "verified" } : { kind: "bad" };
  } catch {
    return { kind: "bad" };
  }
}

type RsaScheme =
  | { readonly kind: "pkcs1"; readonly hash: string }
  | {
    readonly kind: "pss";
    readonly hash: string;
    readonly mgfHash: string;
    readonly salt: number;
  };

/** RSA signatures: WebCrypto when it can (up to 4096 bits, one hash), `BigInt` otherwise. */
async function _rsa(
  child: X509Certificate,
  key: PublicKeyInfo,
  scheme: RsaScheme,
): Promise<SignatureCheck> {
  const hash = HASHES[scheme.hash];
  if (hash?.web === undefined) {
    return {
      kind: "unverifiable",
      reason: `it is signed with ${hash?.node.toUpperCase() ?? scheme.hash}, which nothing here ` +
        "computes",
    };
  }
  const { modulus, exponent } = _rsaPublicKey(key.spki);
  const bits = _bitLength(modulus);
  const sameHashes = scheme.kind === "pkcs1" || scheme.mgfHash === scheme.hash;
  if (key.oid === OID.RSA && bits <= WEBCRYPTO_MAX_RSA_BITS && sameHashes) {
    const params = scheme.kind === "pkcs1"
      ? { name: "RSASSA-PKCS1-v1_5", hash: hash.web }
      : { name: "RSA-PSS", hash: hash.web };
    let imported: CryptoKey;
    try {
      imported = await crypto.subtle.importKey("spki", key.spki, params, false, ["verify"]);
    } catch {
      return { kind: "bad" }; // a damaged key cannot have made this signature
    }
    const verify = scheme.kind === "pkcs1" ? params : { name: "RSA-PSS", saltLength: scheme.salt };
    return await _verified(crypto.subtle.verify(verify, imported, child.signature, child.tbs));
  }
  const mgfHash = scheme.kind === "pss" ? HASHES[scheme.mgfHash]?.web : hash.web;
  if (mgfHash === undefined) {
    return { kind: "unverifiable", reason: "its RSA-PSS mask uses a hash nothing here computes" };
  }
  const length = Math.ceil(bits / 8);
  if (child.signature.length !== length) return { kind: "bad" };
  const encoded = _toBytes(_modPow(_toBigInt(child.signature), exponent, modulus), length);
  if (encoded === undefined) return { kind: "bad" };
  const digest = new Uint8Array(await crypto.subtle.digest(hash.web, child.tbs));
  const ok = scheme.kind === "pkcs1"
    ? _equal(encoded, _pkcs1Encoding(scheme.hash, digest, length))
    : await _pssVerify(encoded, digest, bits - 1, hash.web, mgfHash, scheme.salt);
  return ok ? { kind: "verified" } : { kind: "bad" };
}

/** `DigestInfo` prefixes of PKCS #1 v1.5 (RFC 8017 §9.2, note 1), by hash OID. */
const DIGEST_INFO: Readonly<Record<string, string>> = {
  [SHA1]: "3021300906052b0e03021a05000414",
  [SHA256]: "3031300d060960864801650304020105000420",
  [SHA384]: "3041300d060960864801650304020205000430",
  [SHA512]: "3051300d060960864801650304020305000440",
};

function _pkcs1Encoding(hashOid: string, digest: Bytes, length: number): Bytes {
  const prefix = Uint8Array.fromHex(DIGEST_INFO[hashOid] ?? "");
  const encoded = new Uint8Array(length).fill(0xff);
  encoded[0] = 0;
  encoded[1] = 1;
  const tail = length - prefix.length - digest.length;
  encoded[tail - 1] = 0;
  encoded.set(prefix, tail);
  encoded.set(digest, tail + prefix.length);
  return encoded;
}

/** EMSA-PSS-VERIFY (RFC 8017 §9.1.2) with MGF1 over `mgfHash`. */
async function _pssVerify(
  encoded: Bytes,
  digest: Bytes,
  emBits: number,
  hash: string,
  mgfHash: string,
  salt: number,
): Promise<boolean> {
  const emLen = Math.ceil(emBits / 8);
  const em = encoded.subarray(encoded.length - emLen);
  if (encoded.length > emLen && encoded[0] !== 0) return false;
  const hLen = digest.length;
  if (emLen < hLen + salt + 2 || em[emLen - 1] !== 0xbc) return false;
  const maskedDb = em.subarray(0, emLen - hLen - 1);
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const zeroBits = 8 * emLen - emBits;
  if (((maskedDb[0] as number) & (0xff << (8 - zeroBits))) !== 0) return false;
  const mask = await _mgf1(h, maskedDb.length, mgfHash);
  const db = maskedDb.map((byte, i) => byte ^ (mask[i] as number));
  db[0] = (db[0] as number) & (0xff >> zeroBits);
  const padding = emLen - hLen - salt - 2;
  if (db.subarray(0, padding).some((byte) => byte !== 0) || db[padding] !== 1) return false;
  const prime = new Uint8Array(8 + hLen + salt);
  prime.set(digest, 8);
  prime.set(db.subarray(db.length - salt), 8 + hLen);
  return _equal(new Uint8Array(await crypto.subtle.digest(hash, prime)), h);
}

async function _mgf1(seed: Bytes, length: number, hash: string): Promise<Bytes> {
  const out = new Uint8Array(length);
  const input = new Uint8Array(seed.length + 4);
  input.set(seed);
  for (let counter = 0, offset = 0; offset < length; counter++) {
    new DataView(input.buffer).setUint32(seed.length, counter);
    const block = new Uint8Array(await crypto.subtle.digest(hash, input));
    out.set(block.subarray(0, Math.min(block.length, length - offset)), offset);
    offset += block.length;
  }
  return out;
}

/** RSASSA-PSS parameters (RFC 4055 §3.1): hash and mask hash SHA-1 and salt 20 by default. */
function _pssParameters(parameters: DerElement | undefined): RsaScheme {
  let hash = SHA1;
  let mgfHash = SHA1;
  let salt = 20;
  const fields = parameters === undefined || parameters.tag === TAG.NULL
    ? []
    : childrenOf(expectTag(parameters, TAG.SEQUENCE));
  for (const field of fields) {
    const inner = childrenOf(field)[0];
    if (inner === undefined) continue;
    if (field.tag === contextTag(0, true)) hash = _algorithmOid(inner);
    else if (field.tag === contextTag(1, true)) {
      const [mgf, mgfParameters] = childrenOf(expectTag(inner, TAG.SEQUENCE));
      if (mgf === undefined || decodeOid(mgf) !== MGF1 || mgfParameters === undefined) {
        throw new DerError("an RSA-PSS mask that is not MGF1");
      }
      mgfHash = _algorithmOid(mgfParameters);
    } else if (field.tag === contextTag(2, true)) {
      salt = integerMagnitude(inner).reduce((value, byte) => value * 256 + byte, 0);
    }
  }
  return { kind: "pss", hash, mgfHash, salt };
}

function _algorithmOid(identifier: DerElement): string {
  const id = childrenOf(expectTag(identifier, TAG.SEQUENCE))[0];
  if (id === undefined) throw new DerError("algorithm is missing");
  return decodeOid(id);
}

function _rsaPublicKey(spki: Bytes): { modulus: bigint; exponent: bigint } {
  const [, bits] = childrenOf(readWhole(spki, TAG.SEQUENCE));
  const contents = expectTag(bits, TAG.BIT_STRING).contents;
  const [n, e] = childrenOf(readWhole(contents.subarray(1), TAG.SEQUENCE));
  if (n === undefined || e === undefined) throw new DerError("an RSA key without its numbers");
  return { modulus: _toBigInt(integerMagnitude(n)), exponent: _toBigInt(integerMagnitude(e)) };
}

function _toBigInt(bytes: Bytes): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${bytes.toHex()}`);
}

function _toBytes(value: bigint, length: number): Bytes | undefined {
  const hex = value.toString(16);
  if (hex.length > 2 * length) return undefined;
  return Uint8Array.fromHex(hex.padStart(2 * length, "0"));
}

function _bitLength(value: bigint): number {
  return value.toString(2).length;
}

function _modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
  }
  return result;
}

function _equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
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

/** Ed448, DSA and ECDSA on curves WebCrypto lacks: `node:crypto`, loaded on first need. */
async function _nodeVerify(
  child: X509Certificate,
  key: PublicKeyInfo,
  hashOid: string | undefined,
  signature: Bytes,
): Promise<SignatureCheck> {
  const { createPublicKey, verify } = await import("node:crypto");
  let publicKey;
  try {
    // Node's types ask for a Buffer; Deno's node:crypto takes any Uint8Array.
    publicKey = createPublicKey({ key: key.der as never, format: "der", type: "spki" });
  } catch (error) {
    return { kind: "unverifiable", reason: `Deno cannot read the issuer's key: ${_reason(error)}` };
  }
  const hash = hashOid === undefined ? null : HASHES[hashOid]?.node ?? null;
  try {
    return verify(hash, child.tbs, publicKey, signature) ? { kind: "verified" } : { kind: "bad" };
  } catch (error) {
    return { kind: "unverifiable", reason: `Deno cannot check it: ${_reason(error)}` };
  }
}

function _reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
