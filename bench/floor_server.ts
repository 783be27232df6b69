/**
 * The memory floor of the performance benchmark: the least any server that checks and reloads its
 * certificate must do at startup, in one module and with no checks of its own. It serves
 * `GET /hello` and a second (control) server, listens for SIGHUP, reads the certificate file,
 * decodes its first PEM block, takes its SHA-256 fingerprint and imports its public key with
 * WebCrypto. It is not a server to use: it reports nothing and validates nothing. Its RSS when
 * ready, against the bare server's, shows how much of the 1.2× budget the runtime spends on that
 * work alone, before any module, message or check of signal-server's.
 *
 * ```sh
 * deno run --no-config --allow-read=cert.pem --allow-net=127.0.0.1 bench/floor_server.ts cert.pem 8081 3001
 * ```
 *
 * @module
 */

/** One DER element: where its contents start and end inside the buffer. */
interface Element {
  readonly start: number;
  readonly end: number;
}

/** The element at `offset` (short and long definite lengths only, as in any certificate). */
function element(der: Uint8Array, offset: number): Element {
  let length = der[offset + 1] ?? 0;
  let start = offset + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + (der[start + i] ?? 0);
    start += octets;
  }
  return { start, end: start + length };
}

/** The SubjectPublicKeyInfo of a certificate: the seventh field of its TBSCertificate. */
function publicKeyInfo(der: Uint8Array): Uint8Array<ArrayBuffer> {
  const tbs = element(der, element(der, 0).start);
  let offset = tbs.start;
  // [0] version, serial, signature, issuer, validity, subject come before it.
  for (let field = 0; field < 6; field++) offset = element(der, offset).end;
  return der.slice(offset, element(der, offset).end);
}

if (import.meta.main) {
  const [path = "cert.pem", port = "8081", controlPort = "3001"] = Deno.args;
  Deno.serve(
    { hostname: "127.0.0.1", port: Number(controlPort), onListen() {} },
    (_request) => new Response("control"),
  );
  Deno.addSignalListener("SIGHUP", () => {});
  const text = new TextDecoder().decode(Deno.readFileSync(path));
  const body = /-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/.exec(text)?.[1] ?? "";
  const der = Uint8Array.fromBase64(body.replace(/\s+/g, ""));
  await crypto.subtle.digest("SHA-256", der);
  await crypto.subtle.importKey(
    "spki",
    publicKeyInfo(der),
    { name: "ECDSA", namedCurve: "P-256" },
    true,
    ["verify"],
  );
  Deno.serve(
    {
      hostname: "127.0.0.1",
      port: Number(port),
      onListen: ({ port }) => console.log(`floor listening on 127.0.0.1:${port}`),
    },
    (_request) => new Response("Hello, world!"),
  );
}
