/**
 * HTTPS mode end to end: the real server with --key, real TLS clients
 * (openssl s_client, curl, fetch), real reloads, real load during reloads.
 */

import assert from "node:assert/strict";
import {
  fingerprintOf,
  mintCertificate,
  type MintedCertificate,
  mintExpired,
  TempDir,
} from "./_fixtures.ts";
import { postReload, ServerProcess } from "./_server.ts";
import { curlWithCa, fetchWithCa, idleConnection, servedFingerprint } from "./_tls_clients.ts";
import { shortFingerprint } from "../lib/reload/outcome_words.ts";
import type { TlsFrontName } from "../lib/serve/tls/tls_front.ts";
import { DEFAULT_LIMITS } from "../lib/serve/connection_limits.ts";
import { test } from "./_time_limit.ts";

/**
 * A stop that closes its idle connections takes milliseconds; one that leaves them open lasts the
 * grace. A quarter of the grace tells them apart on the most loaded machine.
 */
const SHUTDOWN_BOUND_MS = DEFAULT_LIMITS.stopGraceMs / 4;

/** Both HTTPS fronts pass this whole file. */
const FRONTS = ["native", "node"] as const;

async function startTls(
  dir: TempDir,
  pair: MintedCertificate,
  tlsFront: TlsFrontName,
): Promise<ServerProcess> {
  const server = await ServerProcess.start({ options: { ...await dir.writePair(pair), tlsFront } });
  await server.waitForLine(new RegExp(`\\[startup\\] HTTPS served by the ${tlsFront} front`));
  return server;
}

function httpsHello(server: ServerProcess): string {
  return `https://localhost:${server.options.port}/hello`;
}

for (const front of FRONTS) {
  test(`HTTPS mode serves the certificate, and fetch, curl and openssl verify it for localhost (${front} front)`, async () => {
    await using dir = await TempDir.create();
    const pair = await mintCertificate();
    await using server = await startTls(dir, pair, front);
    await server.waitForLine(/app listening on https:\/\/127\.0\.0\.1:\d+\/hello$/);
    assert.equal(
      await servedFingerprint(server.options.port),
      fingerprintOf(pair.certificatePem),
    );
    assert.equal(await fetchWithCa(httpsHello(server), [pair.certificatePem]), "Hello, world!");
    const ca = await dir.write("ca.pem", pair.certificatePem);
    assert.deepEqual(await curlWithCa(httpsHello(server), ca), {
      code: 0,
      body: "Hello, world!",
      stderr: "",
    });
    const stranger = await dir.write("stranger.pem", (await mintCertificate()).certificatePem);
    assert.equal(
      (await curlWithCa(httpsHello(server), stranger)).code,
      60,
      "curl must reject a CA it does not know",
    );
  });

  test(`"ready" is the last startup line: the front and connection-migration notices come before it (${front} front)`, async () => {
    await using dir = await TempDir.create();
    await using server = await ServerProcess.start({
      options: { ...await dir.writePair(await mintCertificate()), tlsFront: front },
    });
    const startup = server.lines.filter((line) => /\[startup\] /.test(line));
    assert.match(startup.at(-1) ?? "", /\[startup\] ready: /, startup.join("\n"));
    assert.ok(startup.some((line) => line.includes(`HTTPS served by the ${front} front`)));
    if (front === "native") {
      assert.ok(
        startup.some((line) => line.includes("[startup] net.ipv4.tcp_migrate_req ")),
        `the migration notice comes before ready:\n${startup.join("\n")}`,
      );
    }
  });

  test(`HEAD /hello answers curl -I over HTTP/2 and HTTP/1.1 with GET's status and headers and no body (${front} front)`, async () => {
    await using dir = await TempDir.create();
    const pair = await mintCertificate();
    await using server = await startTls(dir, pair, front);
    const ca = await dir.write("ca.pem", pair.certificatePem);
    // The node front speaks HTTP/1.1 only, so curl's --http2 falls back to it there.
    const expected = {
      "--http2": front === "native" ? "HTTP/2 200" : "HTTP/1.1 200",
      "--http1.1": "HTTP/1.1 200",
    };
    for (const [flag, statusLine] of Object.entries(expected)) {
      const { code, body: text, stderr } = await curlWithCa(httpsHello(server), ca, [flag, "-I"]);
      assert.equal(code, 0, `curl ${flag} -I: ${stderr}`);
      assert.ok(text.startsWith(statusLine), text);
      assert.match(text, /^content-type: text\/plain/im, `curl ${flag} -I shows GET's headers`);
      assert.ok(text.endsWith("\r\n\r\n"), `curl ${flag} -I: no body after the headers:\n${text}`);
      if (front === "native" && statusLine.startsWith("HTTP/1.1")) {
        assert.match(
          text,
          /^content-length: 13\r$/im,
          "HTTP/1.1 keeps the length Deno counts for GET",
        );
      }
    }
  });

  test(`after a good reload every new handshake presents the new certificate (${front} front)`, async () => {
    await using dir = await TempDir.create();
    const pairs = [await mintCertificate(), await mintCertificate()] as const;
    const fingerprints = pairs.map((p) => fingerprintOf(p.certificatePem));
    await using server = await startTls(dir, pairs[0], front);
    for (let round = 1; round <= 6; round++) {
      const next = round % 2;
      await dir.writePair(pairs[next] as MintedCertificate);
      if (round % 3 === 0) {
        const from = server.lines.length;
        server.signal("SIGHUP");
        assert.match((await server.nextLogLine("SIGHUP", from)).text, /^reloaded: /);
      } else {
        const answer = await postReload(server);
        assert.equal(answer.status, 200, answer.body);
        assert.ok(answer.body.includes(shortFingerprint(fingerprints[next] as string)));
      }
      for (let handshake = 0; handshake < 3; handshake++) {
        assert.equal(
          await servedFingerprint(server.options.port),
          fingerprints[next],
          `round ${round}`,
        );
      }
    }
    const newCa = await dir.write("new-ca.pem", pairs[0].certificatePem);
    const oldCa = await dir.write("old-ca.pem", pairs[1].certificatePem);
    assert.deepEqual(await curlWithCa(httpsHello(server), newCa), {
      code: 0,
      body: "Hello, world!",
      stderr: "",
    });
    assert.equal((await curlWithCa(httpsHello(server), oldCa)).code, 60);
    assert.equal(await fetchWithCa(httpsHello(server), [pairs[0].certificatePem]), "Hello, world!");
  });

  test(`a failed reload changes nothing that TLS clients see (${front} front)`, async () => {
    await using dir = await TempDir.create();
    const good = await mintCertificate();
    const goodFingerprint = fingerprintOf(good.certificatePem);
    await using server = await startTls(dir, good, front);
    const other = await mintCertificate();
    const expired = await mintExpired();
    const badPairs: [string, string, string, RegExp][] = [
      ["mismatched key", other.certificatePem, good.keyPem, /does not match/],
      ["expired", expired.certificatePem, expired.keyPem, /expired at/],
      [
        "garbage key",
        good.certificatePem,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        /Cannot load key/,
      ],
      ["missing key", good.certificatePem, "", /the file is empty/],
    ];
    for (const [name, cert, key, cause] of badPairs) {
      await dir.write("cert.pem", cert);
      await dir.write("key.pem", key);
      const answer = await postReload(server);
      assert.equal(answer.status, 500, name);
      assert.match(answer.body, cause, name);
      assert.equal(await servedFingerprint(server.options.port), goodFingerprint, name);
      assert.equal(
        await fetchWithCa(httpsHello(server), [good.certificatePem]),
        "Hello, world!",
        name,
      );
    }
  });

  test(
    `SIGTERM in HTTPS mode closes an idle keep-alive connection ${
      front === "native" ? "with a TLS close_notify" : "at once"
    } and exits 0 well within the ${DEFAULT_LIMITS.stopGraceMs} ms grace (${front} front)`,
    async () => {
      await using dir = await TempDir.create();
      const pair = await mintCertificate();
      await using server = await startTls(dir, pair, front);
      // The client keeps its connection open after its answer: shutdown must not wait for it.
      const idle = await idleConnection(server.options.port, [pair.certificatePem], "http/1.1");
      const signalled = performance.now();
      server.signal("SIGTERM");
      const closed = await idle.closed;
      const status = await server.exited();
      const tookMs = performance.now() - signalled;
      assert.equal(status.code, 0, server.stderr);
      await server.waitForLine(/\[SIGTERM\] stopped$/);
      // Native: a close_notify is the front's own shutdown; the exit would close it without one.
      if (front === "native") assert.equal(closed, "close_notify");
      // Left open, the connection would hold the exit for the whole grace.
      assert.ok(tookMs < SHUTDOWN_BOUND_MS, `exited ${tookMs.toFixed(0)} ms after SIGTERM`);
    },
  );
}
