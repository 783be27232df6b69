/**
 * Any app's handler behind the HTTPS front, end to end: the echo app
 * (`tests/_echo_app.ts`, served through `mod.ts`) runs as a real process with
 * least-privilege flags, and real TLS clients check that the handler gets a
 * faithful `Request` and that its `Response` reaches the client unchanged,
 * across certificate swaps.
 */

import assert from "node:assert/strict";
import { fingerprintOf, mintCertificate, type MintedCertificate, TempDir } from "./_fixtures.ts";
import { postReload, ServerProcess } from "./_server.ts";
import { servedFingerprint } from "./_tls_clients.ts";
import { STREAM_CHUNKS } from "./_echo_app.ts";
import type { TlsFrontName } from "../lib/serve/tls/tls_front.ts";
import { test } from "./_time_limit.ts";

/** Each front with the protocols it offers; both pass every test here. */
const FRONTS = { native: ["h2", "http/1.1"], node: ["http/1.1"] } as const;

async function startEcho(
  dir: TempDir,
  pair: MintedCertificate,
  tlsFront: TlsFrontName,
): Promise<ServerProcess> {
  return await ServerProcess.start({
    options: { ...await dir.writePair(pair), tlsFront },
    entry: "tests/_echo_app.ts",
  });
}

/** A fetch client that trusts `ca` and speaks only `protocol`. */
function clientFor(ca: string, protocol: string): Deno.HttpClient {
  const h2 = protocol === "h2";
  return Deno.createHttpClient({ caCerts: [ca], http1: !h2, http2: h2 });
}

/** Sends one raw HTTP/1.1 request over TLS and returns everything the server wrote until it closed. */
async function rawTls(port: number, ca: string, request: string): Promise<string> {
  using conn = await Deno.connectTls({ hostname: "localhost", port, caCerts: [ca] });
  await conn.write(new TextEncoder().encode(request));
  let text = "";
  const buffer = new Uint8Array(16 * 1024);
  for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return text;
}

for (const [front, protocols] of Object.entries(FRONTS) as [TlsFrontName, readonly string[]][]) {
  for (const protocol of protocols) {
    test(`HTTPS handler gets method, full https URL with query, every header, streamed body and remoteAddr (${front} front, ${protocol})`, async () => {
      await using dir = await TempDir.create();
      const pair = await mintCertificate();
      await using server = await startEcho(dir, pair, front);
      using client = clientFor(pair.certificatePem, protocol);
      const chunk = new Uint8Array(64 * 1024).fill(7);
      const body = ReadableStream.from((function* () {
        for (let i = 0; i < 16; i++) yield chunk;
      })());
      const url = `https://localhost:${server.options.port}/echo?a=1&b=two`;
      const response = await fetch(url, {
        client,
        method: "PUT",
        body,
        headers: [["x-custom", "yes"], ["x-list", "1"], ["x-list", "2"]],
      });
      assert.equal(response.status, 200);
      const echoed = await response.json();
      assert.equal(echoed.method, "PUT");
      assert.equal(echoed.url, url);
      const headers = new Map<string, string>(echoed.headers);
      assert.equal(headers.get("x-custom"), "yes");
      assert.equal(headers.get("x-list"), "1, 2");
      // HTTP/2 carries the host in :authority, which is in the URL; HTTP/1.1 has a Host header.
      if (protocol === "http/1.1") {
        assert.equal(headers.get("host"), `localhost:${server.options.port}`);
      }
      assert.equal(echoed.bytes, 16 * chunk.byteLength, "the whole body arrived");
      assert.ok(echoed.chunks > 1, "the body was streamed, not buffered into one chunk");
      assert.equal(echoed.remote.transport, "tcp");
      assert.equal(echoed.remote.hostname, "127.0.0.1");
      assert.ok(echoed.remote.port > 0);
    });

    test(`HTTPS handler's Response is written faithfully: status, text, headers, two set-cookies, streams, HEAD (${front} front, ${protocol})`, async () => {
      await using dir = await TempDir.create();
      const pair = await mintCertificate();
      await using server = await startEcho(dir, pair, front);
      const ca = pair.certificatePem;
      const port = server.options.port;
      using client = clientFor(ca, protocol);

      const cookies = await fetch(`https://localhost:${port}/cookies`, { client });
      assert.equal(cookies.status, 202);
      assert.equal(cookies.statusText, "Accepted");
      assert.deepEqual(cookies.headers.getSetCookie(), ["a=1; Path=/", "b=2; Path=/; HttpOnly"]);
      assert.equal(cookies.headers.get("x-one"), "1");
      assert.equal(await cookies.text(), "two cookies\n");

      const raw = await rawTls(
        port,
        ca,
        "GET /cookies HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
      );
      assert.equal(raw.match(/^set-cookie: /gim)?.length, 2, "two Set-Cookie lines on the wire");

      const stream = await fetch(`https://localhost:${port}/stream`, { client });
      const expected = Array.from({ length: STREAM_CHUNKS }, (_, i) => `chunk ${i + 1}\n`).join("");
      assert.equal(await stream.text(), expected);

      const head = await rawTls(
        port,
        ca,
        "HEAD /stream HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
      );
      assert.match(head, /^HTTP\/1\.1 200 /);
      assert.ok(head.endsWith("\r\n\r\n"), `HEAD must carry no body:\n${head}`);

      const thrown = await fetch(`https://localhost:${port}/throw`, { client });
      assert.equal(thrown.status, 500);
      await thrown.body?.cancel();
      const after = await fetch(`https://localhost:${port}/stream`, { client });
      assert.equal(await after.text(), expected, "the server keeps serving after a handler threw");
    });
  }

  test(`any handler over HTTPS: a reload answers after the swap, a bad pair changes nothing (${front} front)`, async () => {
    await using dir = await TempDir.create();
    const first = await mintCertificate();
    const second = await mintCertificate();
    await using server = await startEcho(dir, first, front);
    assert.equal(await servedFingerprint(server.options.port), fingerprintOf(first.certificatePem));
    await dir.write("key.pem", (await mintCertificate()).keyPem);
    const refused = await postReload(server);
    assert.equal(refused.status, 500);
    assert.equal(await servedFingerprint(server.options.port), fingerprintOf(first.certificatePem));
    await dir.write("cert.pem", second.certificatePem);
    await dir.write("key.pem", second.keyPem);
    const reloaded = await postReload(server);
    assert.equal(reloaded.status, 200);
    assert.equal(
      await servedFingerprint(server.options.port),
      fingerprintOf(second.certificatePem),
    );
  });
}
