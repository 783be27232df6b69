/**
 * Real TLS clients for the HTTPS tests: `openssl s_client` and `node:tls` to read the served
 * certificate, `curl --cacert` and Deno's `fetch` with a custom CA to check
 * hostname verification.
 *
 * @module
 */

import http2 from "node:http2";
import tls from "node:tls";
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

/** What one request over a fresh TLS connection saw: the certificate presented, and the answer. */
export interface HandshakeAnswer {
  /** SHA-256 fingerprint of the certificate the handshake presented. */
  readonly fingerprint: string;
  /** The HTTP status of the answer. */
  readonly status: number;
  /** The body of the answer. */
  readonly body: string;
}

/**
 * GETs `/hello` over a new TLS connection (`node:tls`, HTTP/1.1, `Connection: close`) that
 * trusts only `caCerts`, and says which certificate the handshake presented; rejects when the
 * connection fails.
 */
export function helloOverNewConnection(port: number, caCerts: string[]): Promise<HandshakeAnswer> {
  return new Promise((resolve, reject) => {
    let fingerprint = "";
    let received = "";
    const socket = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca: caCerts });
    socket.setEncoding("utf8");
    socket.once("secureConnect", () => {
      fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.write("GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    });
    socket.on("data", (chunk: string) => received += chunk);
    socket.once("error", reject);
    socket.once("end", () => {
      const [head = "", body = ""] = received.split("\r\n\r\n", 2);
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1] ?? 0);
      if (fingerprint === "") {
        reject(new Error("the connection was closed before the TLS handshake"));
      } else resolve({ fingerprint, status, body });
    });
  });
}

/** A connection kept open after one answer, and how it ended. */
export interface IdleConnection {
  /** Settles when the server closes it: `close_notify` for a TLS shutdown, else how it ended. */
  readonly closed: Promise<string>;
}

/**
 * Opens a connection to the port, has one request answered on it (`http/1.1` or `h2` over TLS,
 * or none for `tcp`, a connection that never starts TLS), and keeps it open until the server
 * closes it.
 */
export async function idleConnection(
  port: number,
  caCerts: string[],
  protocol: "http/1.1" | "h2" | "tcp",
): Promise<IdleConnection> {
  if (protocol === "h2") {
    const session = http2.connect(`https://localhost:${port}`, { ca: caCerts });
    const closed = new Promise<string>((resolve) => {
      let goaway = false;
      session.once("goaway", () => goaway = true);
      session.once("close", () => resolve(goaway ? "goaway" : "closed without goaway"));
    });
    session.on("error", () => {});
    await new Promise<void>((resolve, reject) => {
      const request = session.request({ ":path": "/idle" });
      request.on("error", reject);
      request.on("end", resolve);
      request.resume();
      request.end();
    });
    return { closed };
  }
  const conn = protocol === "tcp"
    ? await Deno.connect({ hostname: "127.0.0.1", port })
    : await Deno.connectTls({ hostname: "localhost", port, caCerts, alpnProtocols: [protocol] });
  const buffer = new Uint8Array(16 * 1024);
  if (protocol === "http/1.1") {
    await conn.write(new TextEncoder().encode("GET /idle HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    let received = "";
    while (!/\r\n\r\n[\s\S]*\n$/.test(received)) {
      const read = await conn.read(buffer);
      if (read === null) throw new Error(`the connection closed after ${JSON.stringify(received)}`);
      received += new TextDecoder().decode(buffer.subarray(0, read));
    }
  }
  const closed = (async () => {
    try {
      while (await conn.read(buffer) !== null) {
        // Nothing more is expected; read until the server closes it.
      }
      return protocol === "tcp" ? "closed" : "close_notify";
    } catch (error) {
      return `${error}`;
    } finally {
      conn.close();
    }
  })();
  return { closed };
}
