/**
 * Test fixtures: temporary directories that remove themselves, minted
 * certificates, and free loopback ports.
 *
 * @module
 */

import { X509Certificate } from "node:crypto";
import { mintCertificate, type MintedCertificate, type MintOptions } from "../lib/cli/gen_cert.ts";

export { mintCertificate };
export type { MintedCertificate, MintOptions };

/** Milliseconds in a day, for validity windows. */
export const DAY_MS = 24 * 60 * 60 * 1000;

/** A temporary directory removed (with its files) when disposed. */
export class TempDir implements AsyncDisposable {
  /** Absolute path of the directory. */
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Creates a fresh temporary directory. */
  static async create(): Promise<TempDir> {
    return new TempDir(await Deno.makeTempDir({ prefix: "signal-server-test-" }));
  }

  /** The absolute path of a file in the directory. */
  path(name: string): string {
    return `${this.dir}/${name}`;
  }

  /** Writes a file (text or bytes) and returns its path; the write is atomic (rename). */
  async write(name: string, contents: string | Uint8Array): Promise<string> {
    const target = this.path(name);
    const staging = `${target}.tmp-${crypto.randomUUID()}`;
    if (typeof contents === "string") await Deno.writeTextFile(staging, contents);
    else await Deno.writeFile(staging, contents);
    await Deno.rename(staging, target);
    return target;
  }

  /** Writes a file readable and writable by its owner only (mode 0600), as a token file must be. */
  async writeSecret(name: string, contents: string): Promise<string> {
    const target = await this.write(name, contents);
    await Deno.chmod(target, 0o600);
    return target;
  }

  /** Writes a minted pair as `cert.pem` and `key.pem` (atomically); returns their paths. */
  async writePair(pair: MintedCertificate): Promise<{ cert: string; key: string }> {
    return {
      cert: await this.write("cert.pem", pair.certificatePem),
      key: await this.write("key.pem", pair.keyPem),
    };
  }

  /** Removes the directory and everything in it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await Deno.remove(this.dir, { recursive: true });
  }
}

/** Ports are picked below Linux's default ephemeral range (32768–60999). */
const PORT_RANGE = { from: 20_000, to: 32_000 };
const handedOut = new Set<number>();

/**
 * A loopback port that was free a moment ago, never one handed out before in this process. It
 * lies below the ephemeral range, so no client connection (the test's own, or a server's) can take
 * it as its source port between now and the server binding it; a port from `port: 0` could.
 */
export function freePort(): number {
  for (let attempt = 0; attempt < 1_000; attempt++) {
    const port = PORT_RANGE.from + Math.floor(Math.random() * (PORT_RANGE.to - PORT_RANGE.from));
    if (handedOut.has(port)) continue;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
    } catch {
      continue; // In use.
    }
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port in ${PORT_RANGE.from}–${PORT_RANGE.to}`);
}

/** An RSA-2048 signing key pair (PKCS #1 v1.5, SHA-256), for certificates whose key is not the usual P-256. */
export async function mintRsaKeys(): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
}

/** A certificate that expired yesterday (valid for the nine days before). */
export function mintExpired(): Promise<MintedCertificate> {
  return mintCertificate({
    notBefore: new Date(Date.now() - 10 * DAY_MS),
    notAfter: new Date(Date.now() - DAY_MS),
  });
}

/** A certificate valid from tomorrow on. */
export function mintNotYetValid(): Promise<MintedCertificate> {
  return mintCertificate({
    notBefore: new Date(Date.now() + DAY_MS),
    notAfter: new Date(Date.now() + 10 * DAY_MS),
  });
}

/** A CA, an intermediate signed by it (valid as `intermediate` says, if given), and a leaf signed by the intermediate. */
export async function mintChain(
  intermediateValidity: Pick<MintOptions, "notBefore" | "notAfter"> = {},
): Promise<{
  root: MintedCertificate;
  intermediate: MintedCertificate;
  leaf: MintedCertificate;
}> {
  const root = await mintCertificate({ commonName: "Test Root CA", isCa: true, altNames: [] });
  const intermediate = await mintCertificate({
    commonName: "Test Intermediate CA",
    isCa: true,
    altNames: [],
    issuer: root,
    ...intermediateValidity,
  });
  const leaf = await mintCertificate({ issuer: intermediate });
  return { root, intermediate, leaf };
}

/** Runs `promtool check metrics` on a metrics text; fails unless promtool accepts it and has nothing to say. */
export async function assertPromtoolClean(metrics: string): Promise<void> {
  const check = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = check.stdin.getWriter();
  await writer.write(new TextEncoder().encode(metrics));
  await writer.close();
  const result = await check.output();
  const said = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
  if (result.code !== 0) {
    throw new Error(`promtool refused the metrics (exit ${result.code}): ${said}`);
  }
  if (said.trim() !== "") {
    throw new Error(`promtool has something to say about the metrics: ${said}`);
  }
}

/** The SHA-256 fingerprint of a PEM certificate, as the server reports it. */
export function fingerprintOf(certificatePem: string): string {
  return new X509Certificate(certificatePem).fingerprint256;
}

/** What a fresh clone needs to run its tasks: the config, the lockfile, the code and the demo pair. */
const PROJECT_FILES = ["deno.json", "deno.lock", "main.ts", "mod.ts", "lib", "cert.pem", "key.pem"];

/** Copies the project's runnable files into `dir`, so a test can run its tasks without touching the checkout. */
export async function copyProject(dir: TempDir): Promise<void> {
  const repo = new URL("..", import.meta.url).pathname;
  const copy = await new Deno.Command("cp", {
    args: ["-a", ...PROJECT_FILES.map((name) => `${repo}${name}`), dir.dir],
    stderr: "inherit",
  }).output();
  if (!copy.success) throw new Error(`cp of the project into ${dir.dir} failed`);
}
