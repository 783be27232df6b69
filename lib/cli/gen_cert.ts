/**
 * Mints X.509 certificates with `@peculiar/x509` over WebCrypto: demo
 * certificates for the walk-through (`deno task gen-cert`) and the
 * certificates the tests need (valid, expired, not yet valid, chains). The
 * server never imports it.
 *
 * ```sh
 * deno task gen-cert --out renewed --days 90   # renewed.pem, signed with key.pem's key
 * deno task gen-cert --out expired --expired   # expired.pem, ended a day ago
 * deno task gen-cert --out cert --new-key      # a new demo pair: cert.pem and key.pem
 * deno task gen-cert --help
 * ```
 *
 * @module
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { encodePem, parsePemBlocks } from "../ground/pem.ts";
import { parseFlags, unexpectedArgument } from "./args.ts";
import { err, ok, type Result } from "../ground/result.ts";
import { formatTime } from "../ground/time.ts";

const MS_PER_DAY = 24 * 60 * 60 * 1000;
const SERIAL_BYTES = 16;
const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
const RSA_SIGNING = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };

/** Validity of a certificate written by `deno task gen-cert` without `--days`, as Let's Encrypt issues them. */
export const DEFAULT_VALIDITY_DAYS = 90;

/** The key `deno task gen-cert` signs with unless `--new-key`: the committed demo key. */
export const DEMO_KEY = "key.pem";

/** The `--out` name that means the committed demo certificate, `cert.pem`. */
export const DEMO_CERT_NAME = "cert";

/**
 * The files the `gen-cert` task in deno.json may write (its `--allow-write`), and nothing else:
 * the demo pair (only when asked with `--out cert`) and the walk-through's certificates.
 */
export const GEN_CERT_TASK_WRITES = [
  "cert.pem",
  "key.pem",
  "renewed.pem",
  "expired.pem",
  "not-yet-valid.pem",
] as const;

/** A minted certificate with its key pair. */
export interface MintedCertificate {
  /** The certificate in PEM. */
  readonly certificatePem: string;
  /** The PKCS#8 private key in PEM. */
  readonly keyPem: string;
  /** The subject name, e.g. `CN=localhost`; an issuer's subject is its children's issuer. */
  readonly subject: string;
  /** The subject's common name, as given (it may hold any character). */
  readonly commonName: string;
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
  const commonName = options.commonName ?? "localhost";
  const name = `CN=${commonName}`;
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
  const signingKey = options.issuer?.keys.privateKey ?? keys.privateKey;
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: _randomSerial(),
    // As attributes, not as a string, so that a name may hold any character (tests mint hostile ones).
    subject: _jsonName(commonName),
    issuer: _jsonName(options.issuer?.commonName ?? commonName),
    notBefore: options.notBefore ?? new Date(now - MS_PER_DAY / 24),
    notAfter: options.notAfter ?? new Date(now + 30 * MS_PER_DAY),
    signingAlgorithm: _signingAlgorithm(signingKey),
    publicKey: keys.publicKey,
    signingKey,
    extensions,
  });
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return {
    certificatePem: certificate.toString("pem") + "\n",
    keyPem: encodePem("PRIVATE KEY", btoa(String.fromCharCode(...pkcs8))),
    subject: name,
    commonName,
    notAfter: certificate.notAfter,
    keys,
  };
}

/** ECDSA with SHA-256, or RSA PKCS #1 v1.5 with SHA-256 for an RSA signing key. */
function _signingAlgorithm(key: CryptoKey): Algorithm & { hash: string } {
  return key.algorithm.name === RSA_SIGNING.name ? RSA_SIGNING : ALGORITHM;
}

function _jsonName(commonName: string): x509.JsonName {
  return [{ CN: [commonName] }];
}

function _nameType(value: string): x509.GeneralNameType {
  return /^[\d.]+$|:/.test(value) ? "ip" : "dns";
}

function _randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(SERIAL_BYTES));
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive INTEGER
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** What `deno task gen-cert` was asked to write. */
export interface GenCertRequest {
  /** The certificate file to write, e.g. `renewed.pem`. */
  readonly certPath: string;
  /** The key file to write (a new key), or `undefined` to sign with the key in {@linkcode DEMO_KEY}. */
  readonly newKeyPath: string | undefined;
  /** Start of validity. */
  readonly notBefore: Date;
  /** End of validity. */
  readonly notAfter: Date;
}

/** What `deno task gen-cert --help` prints. */
export const GEN_CERT_USAGE = `Usage: deno task gen-cert --out <name> [options]

Writes <name>.pem: a demo certificate for localhost and 127.0.0.1, self-signed
with the key in ${DEMO_KEY}, so that it pairs with ${DEMO_KEY} (deno task start:tls too).
The committed cert.pem and key.pem are written only when asked: --out cert.

Options:
  --out <name>       the file to write: <name>.pem (a name ending in .pem is used as is)
  --days <days>      how long it is valid, a whole number of days >= 1 (default ${DEFAULT_VALIDITY_DAYS})
  --expired          valid for --days days that ended one day ago
  --not-yet-valid    valid for --days days that start tomorrow
  --new-key          with --out cert only: a new key as well, written to ${DEMO_KEY} (mode 0600)
  -h, --help         print this help

Examples:
  deno task gen-cert --out renewed --days 90
  deno task gen-cert --out expired --expired
  deno task gen-cert --out cert --new-key     # a new demo pair

The task may write only ${GEN_CERT_TASK_WRITES.join(", ")};
for any other file it prints the deno run line to use.`;

const GEN_CERT_FLAGS = {
  out: { type: "string" },
  days: { type: "string" },
  expired: { type: "boolean" },
  "not-yet-valid": { type: "boolean" },
  "new-key": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Parses gen-cert's flags at `now`: a request, `"help"`, or the one line that says what is wrong. */
export function parseGenCertArgs(
  args: readonly string[],
  now: Date,
): Result<GenCertRequest | "help", string> {
  const parsed = parseFlags(args, GEN_CERT_FLAGS);
  if (!parsed.ok) return parsed;
  const { values } = parsed.value;
  if (values.help) return ok("help");
  const unexpected = unexpectedArgument(parsed.value);
  if (unexpected !== undefined) return err(unexpected);
  if (values.out === undefined || values.out === "" || values.out === ".pem") {
    return err("--out <name> is required: the certificate is written to <name>.pem");
  }
  const daysText = values.days ?? String(DEFAULT_VALIDITY_DAYS);
  const days = /^\d+$/.test(daysText) ? Number(daysText) : NaN;
  if (!Number.isSafeInteger(days) || days < 1) {
    return err(`--days must be a whole number of days, 1 or more, got "${daysText}"`);
  }
  if (values.expired && values["not-yet-valid"]) {
    return err("--expired and --not-yet-valid exclude each other: choose one");
  }
  const certPath = values.out.endsWith(".pem") ? values.out : `${values.out}.pem`;
  const isDemoCert = certPath === `${DEMO_CERT_NAME}.pem`;
  if (values["new-key"] && !isDemoCert) {
    return err(
      `--new-key writes ${DEMO_KEY} and goes with --out ${DEMO_CERT_NAME} only ` +
        `(without it, "${certPath}" is signed with the key in ${DEMO_KEY})`,
    );
  }
  const start = values.expired
    ? now.getTime() - (days + 1) * MS_PER_DAY
    : values["not-yet-valid"]
    ? now.getTime() + MS_PER_DAY
    : now.getTime() - MS_PER_DAY / 24;
  return ok({
    certPath,
    newKeyPath: values["new-key"] ? DEMO_KEY : undefined,
    notBefore: new Date(start),
    notAfter: new Date(start + days * MS_PER_DAY),
  });
}

/** Reads an unencrypted ECDSA P-256 PKCS #8 key (as gen-cert writes them) into a key pair. */
export async function readKeyPair(pem: string): Promise<Result<CryptoKeyPair, string>> {
  const blocks = parsePemBlocks(pem);
  const block = blocks.ok ? blocks.value.find((each) => each.label === "PRIVATE KEY") : undefined;
  if (block === undefined) return err("it holds no PEM PRIVATE KEY block");
  try {
    const privateKey = await crypto.subtle.importKey("pkcs8", block.der, ALGORITHM, true, ["sign"]);
    const { d: _private, ...jwk } = await crypto.subtle.exportKey("jwk", privateKey);
    const publicKey = await crypto.subtle.importKey(
      "jwk",
      { ...jwk, key_ops: ["verify"] },
      ALGORITHM,
      true,
      ["verify"],
    );
    return ok({ privateKey, publicKey });
  } catch (error) {
    return err(
      `it is not an ECDSA P-256 PKCS #8 key, the kind gen-cert writes (${
        error instanceof Error ? error.message : String(error)
      })`,
    );
  }
}

/** The `deno run` line that lets gen-cert write `request`'s files, for names the task does not grant. */
export function genCertCommand(request: GenCertRequest, args: readonly string[]): string {
  const writes = [request.certPath, ...(request.newKeyPath ? [request.newKeyPath] : [])];
  const read = request.newKeyPath ? [] : [`--allow-read=${DEMO_KEY}`];
  return ["deno run --no-prompt", ...read, `--allow-write=${writes.join(",")}`]
    .concat("lib/cli/gen_cert.ts", ...args).join(" ");
}

async function _main(args: readonly string[]): Promise<number> {
  const parsed = parseGenCertArgs(args, new Date());
  if (!parsed.ok) {
    console.error(`gen-cert: ${parsed.error}; see deno task gen-cert --help`);
    return 2;
  }
  if (parsed.value === "help") {
    console.log(GEN_CERT_USAGE);
    return 0;
  }
  const request = parsed.value;
  let keys: CryptoKeyPair | undefined;
  if (request.newKeyPath === undefined) {
    let text: string;
    try {
      text = await Deno.readTextFile(DEMO_KEY);
    } catch (error) {
      console.error(
        `gen-cert: Cannot read key "${DEMO_KEY}": ${
          _ioProblem(error, request, args, NEW_PAIR_HINT)
        }`,
      );
      return 1;
    }
    const read = await readKeyPair(text);
    if (!read.ok) {
      console.error(
        `gen-cert: Cannot use key "${DEMO_KEY}": ${read.error}; ` +
          NEW_PAIR_HINT.replace("file not found; ", ""),
      );
      return 1;
    }
    keys = read.value;
  }
  const minted = await mintCertificate({
    notBefore: request.notBefore,
    notAfter: request.notAfter,
    ...(keys ? { keys } : {}),
  });
  const written: [string, string, Deno.WriteFileOptions][] = [
    [request.certPath, minted.certificatePem, {}],
  ];
  if (request.newKeyPath) written.push([request.newKeyPath, minted.keyPem, { mode: 0o600 }]);
  for (const [path, text, options] of written) {
    try {
      await Deno.writeTextFile(path, text, options);
    } catch (error) {
      console.error(
        `gen-cert: Cannot write "${path}": ${
          _ioProblem(error, request, args, "no such directory")
        }`,
      );
      return 1;
    }
  }
  const key = request.newKeyPath ? `a new key in ${request.newKeyPath}` : `the key in ${DEMO_KEY}`;
  console.log(
    `wrote ${request.certPath}: ${minted.subject} [DNS:localhost, IP Address:127.0.0.1], ` +
      `valid ${formatTime(request.notBefore)} to ${formatTime(request.notAfter)}, ${key} ` +
      `(a demo certificate: for local testing only)`,
  );
  return 0;
}

const NEW_PAIR_HINT =
  `file not found; make a new demo pair with deno task gen-cert --out ${DEMO_CERT_NAME} --new-key`;

function _ioProblem(
  error: unknown,
  request: GenCertRequest,
  args: readonly string[],
  notFound: string,
): string {
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    return `deno task gen-cert may read only ${DEMO_KEY} and write only ` +
      `${GEN_CERT_TASK_WRITES.join(", ")}; for other files run: ${genCertCommand(request, args)}`;
  }
  if (error instanceof Deno.errors.NotFound) return notFound;
  return error instanceof Error ? error.message : String(error);
}

if (import.meta.main) Deno.exit(await _main(Deno.args));
