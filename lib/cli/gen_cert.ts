/**
 * Mints X.509 certificates with `@peculiar/x509` over WebCrypto: the demo
 * `cert.pem`/`key.pem` (`deno task gen-cert`) and the certificates the tests
 * need (valid, expired, not yet valid, chains). The server never imports it.
 *
 * ```sh
 * deno task gen-cert          # writes cert.pem and key.pem for localhost/127.0.0.1
 * ```
 *
 * @module
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { encodePem } from "../ground/pem.ts";

const MS_PER_DAY = 24 * 60 * 60 * 1000;
const SERIAL_BYTES = 16;
const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };

/** Validity of the demo certificate written by `deno task gen-cert`. */
export const DEMO_VALIDITY_DAYS = 5 * 365;

/** A minted certificate with its key pair. */
export interface MintedCertificate {
  /** The certificate in PEM. */
  readonly certificatePem: string;
  /** The PKCS#8 private key in PEM. */
  readonly keyPem: string;
  /** The subject name, e.g. `CN=localhost`; an issuer's subject is its children's issuer. */
  readonly subject: string;
  /** End of validity. */
  readonly notAfter: Date;
  /** The WebCrypto key pair. */
  readonly keys: CryptoKeyPair;
}

/** What to put in a minted certificate. */
export interface MintOptions {
  /** Subject common name; defaults to `localhost`. */
  readonly commonName?: string;
  /** DNS names and IP addresses for the SAN extension; defaults to localhost and 127.0.0.1. */
  readonly altNames?: readonly string[];
  /** Start of validity; defaults to one hour ago. */
  readonly notBefore?: Date;
  /** End of validity; defaults to 30 days from now. */
  readonly notAfter?: Date;
  /** Signs with this certificate's key instead of self-signing. */
  readonly issuer?: MintedCertificate;
  /** Marks the certificate as a CA that can sign others. */
  readonly isCa?: boolean;
  /** Reuses this key pair instead of generating one. */
  readonly keys?: CryptoKeyPair;
}

/** Mints a certificate (self-signed unless an issuer is given) and its key. */
export async function mintCertificate(options: MintOptions = {}): Promise<MintedCertificate> {
  const keys = options.keys ??
    await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
  const now = Date.now();
  const name = `CN=${options.commonName ?? "localhost"}`;
  const altNames = options.altNames ?? ["localhost", "127.0.0.1"];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(options.isCa ?? false, undefined, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (altNames.length > 0) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension(
        altNames.map((value): x509.JsonGeneralName => ({ type: _nameType(value), value })),
      ),
    );
  }
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: _randomSerial(),
    subject: name,
    issuer: options.issuer?.subject ?? name,
    notBefore: options.notBefore ?? new Date(now - MS_PER_DAY / 24),
    notAfter: options.notAfter ?? new Date(now + 30 * MS_PER_DAY),
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: options.issuer?.keys.privateKey ?? keys.privateKey,
    extensions,
  });
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return {
    certificatePem: certificate.toString("pem") + "\n",
    keyPem: encodePem("PRIVATE KEY", btoa(String.fromCharCode(...pkcs8))),
    subject: name,
    notAfter: certificate.notAfter,
    keys,
  };
}

function _nameType(value: string): x509.GeneralNameType {
  return /^[\d.]+$|:/.test(value) ? "ip" : "dns";
}

function _randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(SERIAL_BYTES));
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive INTEGER
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

if (import.meta.main) {
  const minted = await mintCertificate({
    notAfter: new Date(Date.now() + DEMO_VALIDITY_DAYS * MS_PER_DAY),
  });
  await Deno.writeTextFile("cert.pem", minted.certificatePem);
  await Deno.writeTextFile("key.pem", minted.keyPem, { mode: 0o600 });
  console.log(
    `wrote cert.pem and key.pem for localhost/127.0.0.1, valid until ` +
      `${minted.notAfter.toISOString()} (demo key: for local testing only)`,
  );
}
