/**
 * Hostile clients and failing surroundings, against the real process with
 * the permissions `deno task start` derives: descriptors running out, slow and
 * idle clients, a stop with requests that never end, a log nobody reads.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ServerProcess } from "./_server.ts";
import { freePort, mintCertificate, TempDir } from "./_fixtures.ts";
import { DEFAULT_OPTIONS, type Options } from "../lib/cli/options.ts";
import { permissionFlags } from "../lib/cli/permissions.ts";
import { test } from "./_time_limit.ts";
import { curl } from "./_curl.ts";
import { flood, type FloodReport } from "./_flood.ts";
import { CONTROL_MAX_CONNECTIONS } from "../lib/serve/connection_limits.ts";

const FLOOD = 1_000;
const NOFILE = ["prlimit", "--nofile=256"];
const SHORT: Options["limits"] = {
  ...DEFAULT_OPTIONS.limits,
  handshakeTimeoutMs: 1_000,
  headerTimeoutMs: 1_000,
  idleTimeoutMs: 1_000,
  bodyTimeoutMs: 1_000,
  stopGraceMs: 1_000,
};
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One raw HTTP/1.1 exchange on an open connection: the request, then the head and body. */
async function exchange(conn: Deno.Conn, request: string): Promise<string> {
  await conn.write(encoder.encode(request));
  const buffer = new Uint8Array(64 * 1024);
  let answer = "";
  while (!/\r\n\r\n/.test(answer) || !_complete(answer)) {
    const read = await conn.read(buffer);
    if (read === null) break;
    answer += decoder.decode(buffer.subarray(0, read));
  }
  return answer;
}

function _complete(answer: string): boolean {
  const [head = "", body = ""] = answer.split("\r\n\r\n");
  const length = /content-length: (\d+)/i.exec(head)?.[1];
  return length === undefined || encoder.encode(body).byteLength >= Number(length);
}

/** Resolves with whether the server closed the connection (true) before `ms` (false). */
async function closedWithin(conn: Deno.Conn, ms: number): Promise<boolean> {
  const buffer = new Uint8Array(4096);
  const deadline = AbortSignal.timeout(ms);
  const timedOut = new Promise<"timeout">((resolve) =>
    deadline.addEventListener("abort", () => resolve("timeout"))
  );
  while (true) {
    const read = await Promise.race([conn.read(buffer).catch(() => null), timedOut]);
    if (read === "timeout") return false;
    if (read === null) return true;
  }
}

async function metric(server: ServerProcess, name: string): Promise<number> {
  return await metricAt(server.controlUrl("/metrics"), name);
}

async function metricAt(metricsUrl: string, name: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split("\n").find((candidate) => candidate.startsWith(name + " "));
  return Number(line?.split(" ")[1] ?? NaN);
}

/**
 * Deno's one warning when it loads `NODE_EXTRA_CA_CERTS` (set on this machine) lazily, the first
 * time a root store is needed, while descriptors are out (`cli/lib/args.rs`): the extra CAs are
 * then left out, which serving does not use. Anything else on stderr fails the test.
 */
const EXTRA_CA_WARNING =
  /^Warning: Ignoring extra certs from "[^"\n]*", load failed: Too many open files \(os error 24\)\n/m;

/** How long a counter may take to reach what the test awaits: generous, for a loaded machine. */
const COUNTER_WAIT_MS = 30_000;

/** The counter once it reaches `atLeast`, or its last value after {@linkcode COUNTER_WAIT_MS}. */
async function counterReaching(metricsUrl: string, name: string, atLeast: number): Promise<number> {
  const end = performance.now() + COUNTER_WAIT_MS;
  let value = await metricAt(metricsUrl, name);
  while (!(value >= atLeast) && performance.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await metricAt(metricsUrl, name);
  }
  return value;
}

async function tempPair(dir: TempDir): Promise<{ cert: string; key: string }> {
  const pair = await mintCertificate();
  return {
    cert: await dir.write("cert.pem", pair.certificatePem),
    key: await dir.write("key.pem", pair.keyPem),
  };
}

for (const mode of ["plain", "https", "https on the node front"] as const) {
  test(`out of descriptors (nofile 256, ${FLOOD} connections, ${mode}): the process lives, an existing connection and the control server are served, one notice, a metric`, async () => {
    await using dir = await TempDir.create();
    const { cert, key } = await tempPair(dir);
    await using server = await ServerProcess.start({
      options: mode === "plain"
        ? { cert }
        : { cert, key, tlsFront: mode === "https" ? "auto" : "node" },
      wrap: NOFILE,
    });
    const port = server.options.port;
    const connect = async () =>
      mode === "plain"
        ? await Deno.connect({ hostname: "127.0.0.1", port })
        : await Deno.connectTls({
          hostname: "localhost",
          port,
          caCerts: [await Deno.readTextFile(cert)],
        });
    const existing = await connect();
    const hello = `GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n`;
    assert.match(await exchange(existing, hello), /200 OK[\s\S]*Hello, world!/);
    const flooding = flood({ port }, FLOOD);
    try {
      // A connection in use is kept; one idle for 2 s may be shed when descriptors run out (a
      // slow flood on a busy machine gets there later): keep using it until the notice.
      const notice = /\[connections\] out of file descriptors/;
      for (let i = 0; i < 30 && !server.lines.some((line) => notice.test(line)); i++) {
        assert.match(await exchange(existing, hello), /200 OK[\s\S]*Hello, world!/);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      await server.waitForLine(notice);
      assert.match(await exchange(existing, hello), /200 OK[\s\S]*Hello, world!/);
      assert.equal((await fetch(server.controlUrl("/healthz"))).status, 200);
      const reload = await fetch(server.reloadUrl, { method: "POST" });
      assert.equal(reload.status, 200);
      assert.match(await reload.text(), /^unchanged: /);
      assert.ok(
        await metric(
          server,
          `signal_server_accepts_refused_total{server="app",reason="descriptors"}`,
        ) >= 1,
      );
    } finally {
      await flooding.close();
      existing.close();
    }
    const notices = server.lines.filter((line) => /out of file descriptors/.test(line));
    assert.equal(notices.length, 1, "one notice, not a line per connection");
    // Accepting counts as working again after two quiet seconds, told at the next accept.
    for (
      let i = 0;
      i < 50 && !server.lines.some((line) => /accepting connections again/.test(line));
      i++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const again = await connect();
      assert.match(await exchange(again, hello), /200 OK[\s\S]*Hello, world!/);
      again.close();
    }
    await server.waitForLine(/\[connections\] accepting connections again/);
    server.signal("SIGTERM");
    assert.equal((await server.exited()).code, 0);
    assert.equal(server.stderr.replace(EXTRA_CA_WARNING, ""), "");
  });
}

test("slow and idle clients are closed by their timeouts: trickled headers, an idle keep-alive, a stalled body, on both servers", async () => {
  await using dir = await TempDir.create();
  const { cert } = await tempPair(dir);
  await using server = await ServerProcess.start({ options: { cert, limits: SHORT } });
  const clients: [string, number, (conn: Deno.Conn) => Promise<void>][] = [];
  for (const port of [server.options.port, server.options.controlPort]) {
    clients.push(
      ["trickled headers", port, async (conn) => {
        for (const byte of encoder.encode("GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ")) {
          await conn.write(Uint8Array.of(byte)).catch(() => {});
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }],
      ["idle keep-alive", port, async (conn) => {
        await exchange(conn, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      }],
      ["stalled body", port, async (conn) => {
        await conn.write(encoder.encode(
          "POST /reload_certs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nab",
        ));
      }],
    );
  }
  const results = await Promise.all(clients.map(async ([name, port, start]) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      void start(conn);
      return [`${name} on ${port}`, await closedWithin(conn, 10_000)] as const;
    } finally {
      conn.close();
    }
  }));
  for (const [name, closed] of results) assert.ok(closed, `${name} was closed`);
  for (
    const [server_, reasons] of [["app", ["header", "idle", "body"]], ["control", [
      "header",
      "idle",
      "body",
    ]]] as const
  ) {
    for (const reason of reasons) {
      const count = await metric(
        server,
        `signal_server_connections_closed_total{server="${server_}",reason="${reason}_timeout"}`,
      );
      assert.ok(count >= 1, `${server_} ${reason}_timeout counted (${count})`);
    }
  }
  assert.equal(await metric(server, `signal_server_connections_open{server="app"}`), 0);
});

for (const mode of ["plain", "https", "plain with a token"] as const) {
  test(`SIGTERM (${mode}): endless bodies and slow headers on both ports are cut after the grace, the process exits 0, the last line counts the cuts`, async () => {
    await using dir = await TempDir.create();
    const { cert, key } = await tempPair(dir);
    const tokenFile = mode === "plain with a token"
      ? await dir.writeSecret("token", "s3cret\n")
      : undefined;
    await using server = await ServerProcess.start({
      options: {
        cert,
        ...(mode === "https" ? { key } : {}),
        controlTokenFile: tokenFile,
        limits: { ...DEFAULT_OPTIONS.limits, stopGraceMs: 1_000 },
      },
    });
    const auth = tokenFile === undefined ? "" : "Authorization: Bearer s3cret\r\n";
    const caCerts = [await Deno.readTextFile(cert)];
    const open = (port: number, tls: boolean) =>
      tls
        ? Deno.connectTls({ hostname: "localhost", port, caCerts, alpnProtocols: ["http/1.1"] })
        : Deno.connect({ hostname: "127.0.0.1", port });
    const endless = async (conn: Deno.Conn, path: string) => {
      await conn.write(encoder.encode(
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Transfer-Encoding: chunked\r\n\r\n`,
      ));
      for (let i = 0; i < 100; i++) {
        if (await conn.write(encoder.encode("1\r\na\r\n")).then(() => false, () => true)) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    const control = await open(server.options.controlPort, false);
    const unauthorized = await open(server.options.controlPort, false);
    const app = await open(server.options.port, mode === "https");
    const conns = [control, unauthorized, app];
    try {
      // Two endless bodies the control server reads (one with the token when there is one, one
      // without it: refused at once), and a slow header on the app port.
      void endless(control, "/reload_certs");
      void unauthorized.write(encoder.encode(
        "POST /reload_certs HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n",
      )).catch(() => {});
      void app.write(encoder.encode("GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ")).catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 500));
      const from = server.lines.length;
      server.signal("SIGTERM");
      const status = await server.exited();
      assert.equal(status.code, 0);
      const last = server.lines.at(-1) ?? "";
      // Without a token both control requests are reloads whose body never ends; with one, the
      // second is refused at once (401) and its connection closes with the stop.
      const cut = tokenFile === undefined ? "2 connections" : "1 connection";
      assert.match(
        last,
        new RegExp(
          `\\[SIGTERM\\] stopped; cut ${cut} with requests still in flight after the 1 s grace period$`,
        ),
      );
      assert.ok(server.lines.slice(from).some((line) => /shutting down/.test(line)));
    } finally {
      for (const conn of conns) conn.close();
    }
  });
}

for (const mode of ["plain", "https"] as const) {
  test(`SIGTERM while 20 reload POSTs are still sending their bodies (${mode}): every one answers its real outcome`, async () => {
    await using dir = await TempDir.create();
    const { cert, key } = await tempPair(dir);
    await using server = await ServerProcess.start({
      options: mode === "plain" ? { cert } : { cert, key },
    });
    const conns = await Promise.all(
      Array.from(
        { length: 20 },
        () => Deno.connect({ hostname: "127.0.0.1", port: server.options.controlPort }),
      ),
    );
    try {
      await Promise.all(conns.map((conn) =>
        conn.write(encoder.encode(
          "POST /reload_certs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n12345",
        ))
      ));
      await new Promise((resolve) => setTimeout(resolve, 300));
      server.signal("SIGTERM");
      await new Promise((resolve) => setTimeout(resolve, 300));
      const answers = await Promise.all(conns.map((conn) => exchange(conn, "67890")));
      for (const answer of answers) {
        assert.match(answer, /^HTTP\/1\.1 200 OK[\s\S]*\r\n\r\nunchanged: /);
      }
      assert.equal((await server.exited()).code, 0);
    } finally {
      for (const conn of conns) conn.close();
    }
  });
}

/** Spawns the server with stdout going where the test says, and waits until /healthz answers. */
async function spawnWithStdout(
  options: Options,
  stdout: "piped" | "null" | { path: string },
): Promise<{ child: Deno.ChildProcess; stop(): Promise<Deno.CommandStatus> }> {
  const args = [
    "run",
    ...permissionFlags(options),
    new URL("../main.ts", import.meta.url).pathname,
    `--cert=${options.cert}`,
    `--port=${options.port}`,
    `--control-port=${options.controlPort}`,
  ];
  const command = typeof stdout === "object"
    ? new Deno.Command("sh", {
      args: ["-c", `exec "$0" "$@" > ${stdout.path}`, Deno.execPath(), ...args],
      stdout: "null",
      stderr: "piped",
    })
    : new Deno.Command(Deno.execPath(), { args, stdout, stderr: "piped" });
  const child = command.spawn();
  for (let i = 0; i < 100; i++) {
    const up = await fetch(`http://127.0.0.1:${options.controlPort}/healthz`).then(
      async (response) => (await response.body?.cancel(), true),
      () => false,
    );
    if (up) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    child,
    async stop() {
      child.kill("SIGTERM");
      const [status] = await Promise.all([child.status, child.stderr.cancel()]);
      return status;
    },
  };
}

async function storm(options: Options, posts: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < posts; i++) {
    const response = await fetch(`http://127.0.0.1:${options.controlPort}/reload_certs`, {
      method: "POST",
      headers: { "content-length": "0" },
    });
    await response.body?.cancel();
    statuses.push(response.status);
  }
  return statuses;
}

test("a log nobody reads (stdout a full pipe) blocks nothing: 1,500 reloads answer 200, /hello answers, drops are counted and reported once read", async () => {
  await using dir = await TempDir.create();
  const { cert } = await tempPair(dir);
  const options = { ...DEFAULT_OPTIONS, cert, port: freePort(), controlPort: freePort() };
  const running = await spawnWithStdout(options, "piped");
  try {
    const statuses = await storm(options, 1_500);
    assert.deepEqual(new Set(statuses), new Set([200]));
    assert.equal((await fetch(`http://127.0.0.1:${options.port}/hello`)).status, 200);
    const dropped = await metricAt(
      `http://127.0.0.1:${options.controlPort}/metrics`,
      "signal_server_log_lines_dropped_total",
    );
    assert.ok(dropped > 0, `lines dropped: ${dropped}`);
    let seen = "";
    for await (const chunk of running.child.stdout.pipeThrough(new TextDecoderStream())) {
      seen += chunk;
      if (/\[log\] \d+ log lines were dropped/.test(seen)) break;
      await storm(options, 1);
    }
    assert.match(seen, /\[log\] \d+ log lines were dropped: they could not be written/);
  } finally {
    assert.equal((await running.stop()).code, 0);
  }
});

test("a log that cannot be written (stdout /dev/full, or a reader that went away) never fails a reload or SIGHUP", async () => {
  await using dir = await TempDir.create();
  const { cert } = await tempPair(dir);
  for (const target of ["full", "gone"] as const) {
    const options = { ...DEFAULT_OPTIONS, cert, port: freePort(), controlPort: freePort() };
    const running = await spawnWithStdout(
      options,
      target === "full" ? { path: "/dev/full" } : "piped",
    );
    try {
      if (target === "gone") await running.child.stdout.cancel();
      const metricsUrl = `http://127.0.0.1:${options.controlPort}/metrics`;
      const statuses = await storm(options, 20);
      running.child.kill("SIGHUP");
      // The SIGHUP's reload has run (its line is the one more to drop) once /metrics counts it.
      const sighups = await counterReaching(
        metricsUrl,
        'signal_server_reloads_total{trigger="sighup",result="unchanged"}',
        1,
      );
      assert.equal(sighups, 1, `${target}: SIGHUP reloads`);
      statuses.push(...await storm(options, 5));
      assert.deepEqual(new Set(statuses), new Set([200]), target);
      // 25 POSTs and the SIGHUP: each line is dropped as the sink fails to write it, a moment later.
      const dropped = await counterReaching(
        metricsUrl,
        "signal_server_log_lines_dropped_total",
        26,
      );
      assert.ok(dropped >= 26, `${target}: lines dropped: ${dropped}`);
    } finally {
      assert.equal((await running.stop()).code, 0, target);
    }
  }
});

test("a client that never sends its ClientHello is closed after --handshake-timeout on the node front, and counted", async () => {
  await using dir = await TempDir.create();
  const { cert, key } = await tempPair(dir);
  await using server = await ServerProcess.start({
    options: { cert, key, tlsFront: "node", limits: SHORT },
  });
  const silent = await Deno.connect({ hostname: "127.0.0.1", port: server.options.port });
  try {
    assert.ok(await closedWithin(silent, 10_000), "the silent client was closed");
  } finally {
    silent.close();
  }
  assert.equal(
    await metric(
      server,
      `signal_server_connections_closed_total{server="app",reason="handshake_timeout"}`,
    ),
    1,
  );
});

for (const flavour of ["idle", "slowloris"] as const) {
  test(`a flood of ${FLOOD} ${flavour} connections on the Unix control socket: the process lives, the app and SIGHUP answer, the socket answers again, connections are capped and timed out`, async () => {
    await using dir = await TempDir.create();
    const { cert } = await tempPair(dir);
    const socket = dir.path("control.sock");
    await using server = await ServerProcess.start({
      options: { cert, controlSocket: socket, limits: SHORT },
    });
    const onSocket = (path: string) =>
      curl(["--max-time", "15", "--unix-socket", socket, `http://localhost${path}`]);
    const flooding = flood({ path: socket }, FLOOD, flavour);
    let report: FloodReport;
    try {
      await flooding.ready;
      assert.equal((await fetch(server.helloUrl)).status, 200);
      const from = server.lines.length;
      server.signal("SIGHUP");
      assert.match((await server.nextLogLine("SIGHUP", from)).text, /^unchanged: /);
      assert.equal((await onSocket("/healthz")).status, 200);
      const metrics = (await onSocket("/metrics")).body;
      const open = Number(
        /signal_server_connections_open\{server="control"\} (\d+)/.exec(metrics)?.[1],
      );
      assert.ok(open <= CONTROL_MAX_CONNECTIONS, `control connections open: ${open}`);
      const timedOut = Number(
        /signal_server_connections_closed_total\{server="control",reason="header_timeout"\} (\d+)/
          .exec(metrics)?.[1],
      );
      // The first cap's worth waited in vain for their headers, and made room for the request.
      assert.ok(timedOut >= CONTROL_MAX_CONNECTIONS, `header timeouts: ${timedOut}`);
    } finally {
      report = await flooding.close();
    }
    assert.equal(report.connected, FLOOD);
    assert.ok(
      report.closedByServer >= CONTROL_MAX_CONNECTIONS,
      `closed by the server: ${report.closedByServer}`,
    );
    server.signal("SIGTERM");
    assert.equal((await server.exited()).code, 0);
    assert.equal(server.stderr, "");
  });
}
