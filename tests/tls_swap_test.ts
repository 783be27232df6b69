/**
 * The HTTPS fronts under swaps, end to end: keep-alive HTTP/1.1 and HTTP/2
 * clients and clients opening a connection per request, while the pair is
 * swapped again and again; curl over both protocols; the connection
 * migration check; port ownership; which front serves and why; and a
 * graceful stop with connections in every state.
 */

import assert from "node:assert/strict";
import { DAY_MS, freePort, mintCertificate, type MintedCertificate, TempDir } from "./_fixtures.ts";
import { postReload, ServerProcess } from "./_server.ts";
import { readMigration, withMigration } from "./_sysctl.ts";
import type { TlsFrontName } from "../lib/serve/tls/tls_front.ts";
import { DEFAULT_OPTIONS } from "../lib/cli/options.ts";
import { permissionFlags } from "../lib/cli/permissions.ts";
import { test } from "./_time_limit.ts";

const FRONTS = ["native", "node"] as const;

/** Runs keep-alive h1 (and h2 on native) clients and per-request clients while reloading; returns every failure. */
async function loadDuringSwaps(front: TlsFrontName) {
  await using dir = await TempDir.create();
  const pairs = [await mintCertificate(), await mintCertificate()] as const;
  const paths = await dir.writePair(pairs[0]);
  await using server = await ServerProcess.start({ options: { ...paths, tlsFront: front } });
  const caCerts = pairs.map((pair) => pair.certificatePem);
  const url = `https://localhost:${server.options.port}/hello`;
  const kept: string[] = [];
  const perRequest: string[] = [];
  let done = false;
  let reloads = 0;
  const reloading = (async () => {
    for (let round = 1; !done; round++) {
      await dir.writePair(pairs[round % 2] as MintedCertificate);
      const answer = await postReload(server);
      if (answer.status !== 200) kept.push(`reload ${round}: ${answer.body}`);
      else reloads++;
    }
  })();
  const get = async (client: Deno.HttpClient, failures: string[], label: string) => {
    try {
      const response = await fetch(url, { client });
      const body = await response.text();
      if (response.status !== 200 || body !== "Hello, world!") {
        failures.push(`${label}: ${response.status} ${body}`);
      }
    } catch (error) {
      failures.push(`${label}: ${error} (${(error as Error).cause ?? ""})`);
    }
  };
  const protocols = front === "native" ? ["http/1.1", "h2"] : ["http/1.1"];
  const keepAlive = protocols.flatMap((protocol) =>
    [0, 1].map(async (worker) => {
      const h2 = protocol === "h2";
      using client = Deno.createHttpClient({ caCerts, http1: !h2, http2: h2 });
      for (let i = 0; i < 150; i++) await get(client, kept, `${protocol} ${worker}/${i}`);
    })
  );
  const fresh = (async () => {
    for (let i = 0; i < 80; i++) {
      using client = Deno.createHttpClient({ caCerts });
      await get(client, perRequest, `per-request ${i}`);
    }
  })();
  await Promise.all([...keepAlive, fresh]);
  done = true;
  await reloading;
  return { kept, perRequest, reloads, lines: server.lines };
}

for (const front of FRONTS) {
  test(
    `keep-alive (h1${
      front === "native" ? ", h2" : ""
    }) and per-request clients see 0 failed requests across swaps (${front} front)`,
    async () => {
      const run = async () => {
        const { kept, perRequest, reloads } = await loadDuringSwaps(front);
        assert.deepEqual(kept, [], "keep-alive clients and reloads");
        assert.deepEqual(perRequest, [], "per-request clients");
        assert.ok(reloads >= 5, `the load must overlap several swaps, saw ${reloads}`);
      };
      if (front === "node") return await run();
      // Native: a swap closes the old listener; connections still in its accept queue move to the
      // new one only with net.ipv4.tcp_migrate_req=1.
      if (await withMigration(1, run)) return;
      const { kept, perRequest, reloads } = await loadDuringSwaps(front);
      assert.deepEqual(kept, [], "keep-alive clients and reloads");
      console.log(
        `measured without net.ipv4.tcp_migrate_req=1 (this machine refuses to set it): ` +
          `${perRequest.length} of 80 per-request clients failed across ${reloads} swaps`,
      );
      for (const failure of perRequest) assert.match(failure, /TypeError|connection|reset/i);
    },
  );
}

test("the native front finds whether the kernel migrates queued connections, and says how to fix it", async () => {
  await using dir = await TempDir.create();
  const paths = await dir.writePair(await mintCertificate());
  for (const value of [0, 1] as const) {
    const set = await withMigration(value, async () => {
      await using server = await ServerProcess.start({ options: paths });
      const line = await server.waitForLine(/\[startup\] net\.ipv4\.tcp_migrate_req /);
      if (value === 1) assert.match(line, /is on: connections waiting to be accepted move/);
      else {assert.match(
          line,
          /is 0: clients that open a connection per request may see a reset.*sysctl -w net\.ipv4\.tcp_migrate_req=1/,
        );}
    });
    if (!set) {
      console.log(`cannot set net.ipv4.tcp_migrate_req here (now ${await readMigration()})`);
    }
  }
});

test("curl speaks HTTP/2 and HTTP/1.1 to the native front, and HTTP/1.1 to the node front", async () => {
  await using dir = await TempDir.create();
  const pair = await mintCertificate();
  const paths = await dir.writePair(pair);
  for (const front of FRONTS) {
    await using server = await ServerProcess.start({ options: { ...paths, tlsFront: front } });
    for (
      const [flag, expected] of [["--http2", front === "native" ? "2" : "1.1"], [
        "--http1.1",
        "1.1",
      ]]
    ) {
      const output = await new Deno.Command("curl", {
        args: [
          "--silent",
          "--show-error",
          flag as string,
          "--cacert",
          paths.cert,
          "--write-out",
          " %{http_version}",
          `https://localhost:${server.options.port}/hello`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(
        new TextDecoder().decode(output.stdout),
        `Hello, world! ${expected}`,
        `${front} ${flag}`,
      );
    }
  }
});

test("a second instance on the native front's port fails with address already in use", async () => {
  await using dir = await TempDir.create();
  const paths = await dir.writePair(await mintCertificate());
  await using first = await ServerProcess.start({ options: paths });
  for (const front of FRONTS) {
    await using second = ServerProcess.spawn({
      options: { ...paths, port: first.options.port, tlsFront: front },
    });
    assert.equal((await second.exited()).code, 1);
    assert.equal(
      second.stderr,
      `Cannot listen on 127.0.0.1:${first.options.port} for the app server: address already in ` +
        "use; the server was not started\n",
    );
  }
});

test("without --unstable-net, auto falls back to the node front with one line saying why; native refuses to start", async () => {
  await using dir = await TempDir.create();
  const paths = await dir.writePair(await mintCertificate());
  const ports = { port: freePort(), controlPort: freePort() };
  const options = { ...DEFAULT_OPTIONS, ...paths, ...ports };
  const withoutUnstable = permissionFlags(options).filter((flag) => flag !== "--unstable-net");
  assert.notDeepEqual(withoutUnstable, permissionFlags(options));
  await using auto = await ServerProcess.start({
    options: { ...paths, ...ports },
    permissions: withoutUnstable,
  });
  await auto.waitForLine(
    /\[startup\] HTTPS served by the node front \(http\/1\.1\): the native front \(HTTP\/2, native speed\) needs Deno's --unstable-net flag/,
  );
  await auto[Symbol.asyncDispose]();
  await using native = ServerProcess.spawn({
    options: { ...paths, ...ports, tlsFront: "native" },
    permissions: withoutUnstable,
  });
  assert.equal((await native.exited()).code, 2);
  assert.match(native.stderr, /^Invalid option tlsFront: native needs Deno's --unstable-net flag/);
});

for (const front of FRONTS) {
  test(`SIGTERM lets an in-flight response finish, closes idle h1/h2 and half-open connections, and exits 0 (${front} front)`, async () => {
    await using dir = await TempDir.create();
    const pair = await mintCertificate({ notAfter: new Date(Date.now() + DAY_MS) });
    const paths = await dir.writePair(pair);
    await using server = await ServerProcess.start({
      options: { ...paths, tlsFront: front },
      entry: "tests/_echo_app.ts",
    });
    const port = server.options.port;
    const caCerts = [pair.certificatePem];
    // Idle connections: h1 keep-alive, h2 (native), and a TCP connection that never starts TLS.
    using h1 = Deno.createHttpClient({ caCerts, http2: false });
    await (await fetch(`https://localhost:${port}/stream?pause=1`, { client: h1 })).text();
    using h2 = Deno.createHttpClient({ caCerts, http1: front === "node", http2: true });
    await (await fetch(`https://localhost:${port}/stream?pause=1`, { client: h2 })).text();
    using halfOpen = await Deno.connect({ hostname: "127.0.0.1", port });
    // In flight: five chunks 200 ms apart; SIGTERM arrives after the first.
    using slowClient = Deno.createHttpClient({ caCerts });
    const slow = await fetch(`https://localhost:${port}/stream?pause=200`, { client: slowClient });
    const reader = slow.body?.getReader();
    assert.ok(reader);
    const chunks = [new TextDecoder().decode((await reader.read()).value)];
    server.signal("SIGTERM");
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      chunks.push(new TextDecoder().decode(chunk.value));
    }
    assert.equal(chunks.join(""), "chunk 1\nchunk 2\nchunk 3\nchunk 4\nchunk 5\n");
    const status = await server.exited();
    assert.equal(status.code, 0, server.stderr);
    await server.waitForLine(/\[SIGTERM\] stopped$/);
    void halfOpen;
  });
}
