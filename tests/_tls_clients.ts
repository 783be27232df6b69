/**
 * Real TLS clients for the HTTPS tests: `openssl s_client` to read the served
 * certificate, `curl --cacert` and Deno's `fetch` with a custom CA to check
 * hostname verification.
 *
 * @module
 */

import { fingerprintOf } from "./_fixtures.ts";

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/;

/** The SHA-256 fingerprint of the certificate a fresh handshake to the port presents. */
export async function servedFingerprint(port: number): Promise<string> {
  const output = await new Deno.Command("openssl", {
    args: ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", "localhost"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  const pem = PEM_CERTIFICATE.exec(new TextDecoder().decode(output.stdout))?.[0];
  if (pem === undefined) throw new Error(`openssl s_client got no certificate from port ${port}`);
  return fingerprintOf(pem);
}

/** Runs `curl --cacert` (with any other flags, e.g. `--http2 -I`) against a URL; returns curl's exit code, output and errors. */
export async function curlWithCa(
  url: string,
  caPath: string,
  flags: readonly string[] = [],
): Promise<{ code: number; body: string; stderr: string }> {
  const output = await new Deno.Command("curl", {
    args: ["--silent", "--show-error", "--max-time", "10", ...flags, "--cacert", caPath, url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, body: decode(output.stdout), stderr: decode(output.stderr) };
}

/** GETs a URL over a new connection that trusts only the given CA certificates. */
export async function fetchWithCa(url: string, caCerts: string[]): Promise<string> {
  using client = Deno.createHttpClient({ caCerts });
  const response = await fetch(url, { client });
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status}`);
  return await response.text();
}
