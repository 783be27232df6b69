/**
 * A certificate's key type as an operator names it (`ECDSA P-256`,
 * `RSA 2048`, `Ed25519`), so that a renewal that changes the key type or
 * size can say so.
 *
 * @module
 */

import {
  type Bytes,
  childrenOf,
  decodeOid,
  DerError,
  integerMagnitude,
  readWhole,
  TAG,
} from "../ground/der.ts";
import type { PublicKeyInfo } from "./x509.ts";

const BITS_PER_BYTE = 8;

/** The key's type and size, e.g. `RSA 2048`, `ECDSA P-256`, `Ed25519`; `other (<OID>)` for the rest. */
export function keyType(key: PublicKeyInfo): string {
  switch (key.algorithm?.name) {
    case "ECDSA":
      return `ECDSA ${key.algorithm.namedCurve}`;
    case "Ed25519":
      return "Ed25519";
    case "RSA":
      return `RSA ${_rsaBits(key.spki) ?? "(unknown size)"}`;
  }
  try {
    const [identifier] = childrenOf(readWhole(key.spki, TAG.SEQUENCE));
    const [oid] = identifier === undefined ? [] : childrenOf(identifier);
    return oid === undefined ? "other" : `other (${decodeOid(oid)})`;
  } catch (error) {
    if (error instanceof DerError) return "other";
    throw error;
  }
}

/** The bit length of an RSA key's modulus, from its `SubjectPublicKeyInfo`. */
function _rsaBits(spki: Bytes): number | undefined {
  try {
    const [, bits] = childrenOf(readWhole(spki, TAG.SEQUENCE));
    if (bits === undefined) return undefined;
    const [modulus] = childrenOf(readWhole(bits.contents.subarray(1), TAG.SEQUENCE));
    if (modulus === undefined) return undefined;
    const magnitude = integerMagnitude(modulus);
    const top = magnitude[0] ?? 0;
    return top === 0 ? 0 : (magnitude.length - 1) * BITS_PER_BYTE + (32 - Math.clz32(top));
  } catch (error) {
    if (error instanceof DerError) return undefined;
    throw error;
  }
}
