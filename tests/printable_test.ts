/**
 * Control characters from outside (a certificate's subject and names, file names, a Host header)
 * never reach a text surface raw: the log, `/certs` text, the HTTP answers and the CLI show them
 * escaped, while JSON keeps the exact values.
 */

import assert from "node:assert/strict";
import { escapeControl } from "../lib/ground/printable.ts";
import { freePort, mintCertificate, TempDir } from "./_fixtures.ts";
import { ServerProcess } from "./_server.ts";
import { test } from "./_time_limit.ts";

const REPO = new URL("..", import.meta.url).pathname;
/** A common name that would forge a log line and colour a terminal if printed raw. */
const HOSTILE_NAME = "evil\n2026-01-01T00:00:00Z [SIGHUP] reloaded\r\x1b[31mred\u2028x";
const HOSTILE_NAME_ESCAPED = "evil\\n2026-01-01T00:00:00Z [SIGHUP] reloaded\\r\\x1b[31mred\\u2028x";
/** Any character a text surface must never print raw. */
// deno-lint-ignore no-control-regex -- matching control characters is the point
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]/;

/** Runs the control client with `deno task reload`'s grant for a port; returns stdout then stderr. */
async function runClient(port: number, ...args: string[]): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      `--allow-net=127.0.0.1:${port}`,
      `${REPO}lib/cli/control_client.ts`,
      ...args,
      "--port",
      String(port),
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
}

test("escapeControl writes newline, return, tab, ESC, DEL, C1, line separators and bidi overrides as escapes, and escaping twice changes nothing", () => {
  assert.equal(
    escapeControl("a\nb\rc\td\x1be\x7ff\x85g\u2028h\u202ei\\n"),
    "a\\nb\\rc\\td\\x1be\\x7ff\\x85g\\u2028h\\u202ei\\n",
  );
  assert.equal(escapeControl(escapeControl(HOSTILE_NAME)), HOSTILE_NAME_ESCAPED);
  assert.equal(escapeControl("CN=café, O=Ünïcode ✓"), "CN=café, O=Ünïcode ✓");
});

test("a subject and file name holding \\n, \\r and ESC are escaped in the log, /certs text, HTTP answers and the CLI; JSON keeps them exact", async () => {
  await using dir = await TempDir.create();
  const minted = await mintCertificate({ commonName: HOSTILE_NAME, altNames: ["a\nb.example"] });
  const cert = await dir.write("cert\n[SIGHUP] x\x1b.pem", minted.certificatePem);
  await using server = await ServerProcess.start({ options: { cert } });

  // The log: every line is one of ours (time, [tag]), the names appear escaped.
  const startup = server.lines.join("\n");
  for (const line of server.lines) assert.match(line, /^\S+Z \[[^\]]+\] /, line);
  assert.ok(startup.includes(`CN=${HOSTILE_NAME_ESCAPED}`), startup);
  assert.ok(startup.includes('"' + dir.path("cert\\n[SIGHUP] x\\x1b.pem") + '"'), startup);
  assert.doesNotMatch(startup, RAW_CONTROL);

  const text = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(server.controlUrl(path), init);
    return { status: response.status, body: await response.text() };
  };
  const certs = await text("/certs");
  assert.ok(certs.body.includes(`subject       CN=${HOSTILE_NAME_ESCAPED}\n`), certs.body);
  assert.ok(certs.body.includes("names         DNS:a\\nb.example\n"), certs.body);
  assert.doesNotMatch(certs.body, RAW_CONTROL);
  const reload = await text("/reload_certs", { method: "POST" });
  assert.equal(reload.status, 200);
  assert.match(reload.body, /^unchanged: [^\n]*\n$/);
  assert.ok(reload.body.includes(HOSTILE_NAME_ESCAPED), reload.body);
  const health = await text("/healthz");
  assert.match(health.body, /^ok: [^\n]*\n$/);
  assert.doesNotMatch(reload.body + health.body, RAW_CONTROL);
  // The reload's log line, too.
  const logged = await server.nextLogLine("POST /reload_certs", 0);
  assert.ok(logged.text.includes(HOSTILE_NAME_ESCAPED), logged.text);

  // JSON is exact.
  const json = await (await fetch(server.controlUrl("/certs"), {
    headers: { accept: "application/json" },
  })).json();
  assert.equal(json.certificate.subject, `CN=${HOSTILE_NAME}`);
  assert.equal(json.certificate.path, cert);
  assert.deepEqual(json.certificate.subjectAltNames, ["DNS:a\nb.example"]);

  // The CLI: status and reload print the escaped text; status --json the exact values.
  const cli = (...args: string[]) => runClient(server.options.controlPort, ...args);
  const status = await cli("status");
  assert.ok(status.includes(`subject       CN=${HOSTILE_NAME_ESCAPED}\n`), status);
  assert.doesNotMatch(status, RAW_CONTROL);
  const reloaded = await cli("reload");
  assert.ok(reloaded.includes(HOSTILE_NAME_ESCAPED), reloaded);
  assert.doesNotMatch(reloaded, RAW_CONTROL);
  assert.equal(JSON.parse(await cli("status", "--json")).certificate.subject, `CN=${HOSTILE_NAME}`);
});

test("a start refused for a file whose name holds a newline and ESC says so on one escaped line", async () => {
  await using dir = await TempDir.create();
  const cert = dir.path("missing\n[startup] ready\x1b.pem");
  await using server = ServerProcess.spawn({ options: { cert } });
  const status = await server.exited();
  assert.equal(status.code, 1);
  assert.equal(server.stderr.trimEnd().split("\n").length, 1, server.stderr);
  assert.ok(server.stderr.includes("missing\\n[startup] ready\\x1b.pem"), server.stderr);
  assert.doesNotMatch(server.stderr, RAW_CONTROL);
});

test("the CLI escapes control characters in what any server answers, one that sends them raw included", async () => {
  const port = freePort();
  const raw = `reloaded: now serving CN=${HOSTILE_NAME}`;
  await using _server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    (request) =>
      new URL(request.url).pathname === "/reload_certs"
        ? new Response(`${raw}\n`, { headers: { "x-reload-outcome": "reloaded" } })
        : new Response(`${raw}\n`, { status: 403 }),
  );
  for (const command of ["reload", "status", "health"]) {
    const printed = await runClient(port, command);
    assert.ok(printed.includes(HOSTILE_NAME_ESCAPED), `${command}: ${printed}`);
    assert.doesNotMatch(printed, RAW_CONTROL, command);
  }
});
