/**
 * Hand-built {@linkcode Certificate} values for unit tests that do not need
 * real X.509 (reloader, formatter, control handler).
 *
 * @module
 */

import type { Certificate } from "../lib/certificate/certificate.ts";

/** A certificate value with the given leaf fingerprint and sensible other fields; its chain is the leaf alone unless given. */
export function fakeCertificate(
  fingerprint256: string,
  overrides: Partial<Certificate> = {},
): Certificate {
  const leaf = {
    path: "cert.pem",
    keyPath: undefined,
    subject: "CN=localhost",
    issuer: "CN=localhost",
    subjectAltNames: ["DNS:localhost"],
    serialNumber: "01",
    fingerprint256,
    notBefore: new Date("2026-01-01T00:00:00Z"),
    notAfter: new Date("2027-01-01T00:00:00Z"),
    keyType: "ECDSA P-256",
    certificatePem: "",
    keyPem: undefined,
    unverified: [],
    ...overrides,
  };
  const { subject, issuer, notBefore, notAfter } = leaf;
  return { chain: [{ subject, issuer, notBefore, notAfter, fingerprint256 }], ...leaf };
}
