/**
 * Operator tooling end to end, with real processes: the reload, status and
 * health client (`deno task reload` / `status`), the pid file, `--watch` for
 * every way tools rotate files, expiry warnings, JSON logs, and the docs'
 * recipes (certbot deploy hook, systemd ExecReload=) run as written.
 */

import assert from "node:assert/strict";
import { DAY_MS, freePort, mintCertificate, type MintedCertificate, TempDir } from "./_fixtures.ts";
import { ServerProcess } from "./_server.ts";
import { servedFingerprint } from "./_tls_clients.ts";
import { fingerprintOf } from "./_fixtures.ts";
import { test } from "./_time_limit.ts";

const REPO = new URL("..", import.meta.url).pathname;
const CLIENT = `${REPO}lib/cli/control_client.ts`;

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function run(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Ran> {
  const output = await new Deno.Command(command, {
    args,
    cwd: REPO,
    env: { NO_COLOR: "", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** Runs the client with exactly the grants `deno task reload` gives for this port. */
function client(server: ServerProcess, ...args: string[]): Promise<Ran> {
  const port = server.options.controlPort;
  return run(Deno.execPath(), [
    "run",
    "--no-prompt",
    `--allow-net=127.0.0.1:${port}`,
    CLIENT,
    ...args,
    "--port",
    String(port),
  ]);
}

test("deno task reload exits 0 when reloaded or unchanged, 1 when the reload failed, 2 when no server answers", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  await using server = await ServerProcess.start({ options: { cert } });
  const unchanged = await client(server, "reload");
  assert.equal(unchanged.code, 0);
  assert.match(unchanged.stdout, /^unchanged: "/);
  await dir.write("cert.pem", (await mintCertificate({ commonName: "next.test" })).certificatePem);
  const reloaded = await client(server, "reload");
  assert.equal(reloaded.code, 0);
  assert.match(reloaded.stdout, /^reloaded: now serving .*CN=next\.test/);
  await dir.write("cert.pem", "broken\n");
  const failed = await client(server, "reload");
  assert.equal(failed.code, 1);
  assert.match(
    failed.stderr,
    /^reload failed: Cannot load certificate .* still serving the previous/,
  );
  const json = await client(server, "reload", "--json");
  assert.equal(json.code, 1);
  assert.equal(JSON.parse(json.stdout + json.stderr).outcome, "failed");

  const port = freePort();
  const nobody = await run(Deno.execPath(), [
    "run",
    "--no-prompt",
    `--allow-net=127.0.0.1:${port}`,
    CLIENT,
    "reload",
    "--port",
    String(port),
  ]);
  assert.equal(nobody.code, 2);
  assert.match(
    nobody.stderr,
    new RegExp(
      `no server answered at 127\\.0\\.0\\.1:${port} .*check that signal-server is running`,
    ),
  );
  const denied = await run(Deno.execPath(), [
    "run",
    "--no-prompt",
    CLIENT,
    "reload",
    "--port",
    "3999",
  ]);
  assert.equal(denied.code, 2);
  assert.match(
    denied.stderr,
    /Deno denied access to 127\.0\.0\.1:3999; grant it with --allow-net=127\.0\.0\.1:3999/,
  );
  const usage = await run(Deno.execPath(), ["run", "--no-prompt", CLIENT, "relaod"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /expected the command reload, status or health/);
});

test("the client reaches a token-guarded Unix socket with the README's deno run line; a missing grant is named", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  const socket = dir.path("control.sock");
  const token = await dir.writeSecret("token", "sock-token\n");
  await using server = await ServerProcess.start({
    options: { cert, controlSocket: socket, controlTokenFile: token },
  });
  const grants = [
    `--allow-read=${socket},${token}`,
    `--allow-write=${socket}`,
    `--allow-net=unix:${socket},localhost:80`,
  ];
  const args = ["reload", "--socket", socket, "--token-file", token];
  const reloaded = await run(Deno.execPath(), ["run", "--no-prompt", ...grants, CLIENT, ...args]);
  assert.equal(reloaded.code, 0, reloaded.stderr);
  assert.match(reloaded.stdout, /^unchanged: /);
  const noToken = await run(Deno.execPath(), [
    "run",
    "--no-prompt",
    ...grants,
    CLIENT,
    "reload",
    "--socket",
    socket,
  ]);
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /refused: Unauthorized: send the control token/);
  const noNet = await run(Deno.execPath(), [
    "run",
    "--no-prompt",
    ...grants.slice(0, 2),
    CLIENT,
    ...args,
  ]);
  assert.equal(noNet.code, 2);
  assert.match(
    noNet.stderr,
    new RegExp(
      `grant it with --allow-read=${socket} --allow-write=${socket} ` +
        `--allow-net=unix:${socket},localhost:80`,
    ),
  );
  void server;
});

test("deno task status prints the certificate and reloads; days left stand out inside the window, in colour only on a terminal without NO_COLOR", async () => {
  await using dir = await TempDir.create();
  const soon = await mintCertificate({ notAfter: new Date(Date.now() + 5 * DAY_MS + 3_600_000) });
  const cert = await dir.write("cert.pem", soon.certificatePem);
  await using server = await ServerProcess.start({ options: { cert, warnDays: 14 } });
  const piped = await client(server, "status");
  assert.equal(piped.code, 0);
  assert.match(piped.stdout, /^certificate {3}.*cert\.pem\n/);
  assert.match(piped.stdout, /\(5 days left, within the 14-day warning window: renew it\)/);
  assert.match(piped.stdout, /last reloads, newest first \(1\)\n {2}\S+ {2}startup loaded/);
  assert.ok(!piped.stdout.includes("\x1b["), "no colour into a pipe");
  const json = await client(server, "status", "--json");
  const view = JSON.parse(json.stdout);
  assert.deepEqual([view.certificate.expiresSoon, view.certificate.warnDays], [true, 14]);

  const port = server.options.controlPort;
  const command =
    `${Deno.execPath()} run --no-prompt --allow-net=127.0.0.1:${port} ${CLIENT} status --port ${port}`;
  const onTerminal = await run("script", ["-qec", command, "/dev/null"], { NO_COLOR: "" });
  const highlighted = "\x1b[1;33m5 days left, within the 14-day warning window: renew it\x1b[0m";
  assert.ok(
    onTerminal.stdout.includes(highlighted),
    `no highlight on a terminal:\n${onTerminal.stdout}`,
  );
  const noColor = await run("script", ["-qec", command, "/dev/null"], { NO_COLOR: "1" });
  assert.match(noColor.stdout, /5 days left, within the 14-day warning window/);
  assert.ok(!noColor.stdout.includes("\x1b[1;33m"), "NO_COLOR turns colour off even on a terminal");
});

test("expiry inside --warn-days is warned at startup and after each reload, and shown in /metrics", async () => {
  await using dir = await TempDir.create();
  const soon = await mintCertificate({ notAfter: new Date(Date.now() + 3 * DAY_MS + 3_600_000) });
  const cert = await dir.write("cert.pem", soon.certificatePem);
  await using server = await ServerProcess.start({ options: { cert, warnDays: 7 } });
  await server.waitForLine(
    /\[expiry\] certificate ".*" \(CN=localhost\) expires \S+Z \(3 days left\), within the 7-day warning window; renew it and reload$/,
  );
  const from = server.lines.length;
  server.signal("SIGHUP");
  await server.nextLogLine("SIGHUP", from);
  await server.waitForLine(/\[expiry\] certificate .* \(3 days left\), within the 7-day/, from);
  const metrics = await (await fetch(server.controlUrl("/metrics"))).text();
  assert.match(metrics, /^signal_server_certificate_expiry_warning 1$/m);
  await using quiet = await ServerProcess.start({ options: { cert, warnDays: 2 } });
  assert.ok(
    !quiet.lines.some((line) => line.includes("[expiry]")),
    "3 days left is outside a 2-day window",
  );
  const quietMetrics = await (await fetch(quiet.controlUrl("/metrics"))).text();
  assert.match(quietMetrics, /^signal_server_certificate_expiry_warning 0$/m);
});

test("--pid-file: the server's pid, kill -HUP $(cat PATH) reloads, removed at a clean exit; a stale file is replaced, a held one refused", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  const pidFile = await dir.write("server.pid", "999999\n"); // left by a crashed run
  await using server = await ServerProcess.start({ options: { cert, pidFile } });
  assert.equal((await Deno.readTextFile(pidFile)).trim(), String(server.child.pid));
  const from = server.lines.length;
  const hup = await run("sh", ["-c", `kill -HUP $(cat ${pidFile})`]);
  assert.equal(hup.code, 0);
  assert.match((await server.nextLogLine("SIGHUP", from)).text, /^unchanged: /);

  await using second = ServerProcess.spawn({ options: { cert, pidFile } });
  assert.equal((await second.exited()).code, 1);
  assert.equal(
    second.stderr,
    `startup failed: Cannot use pid file "${pidFile}": another server (pid ${server.child.pid}) ` +
      "is running and holds it; stop it first, or choose another pid file; the server was not started\n",
  );
  assert.equal(
    (await Deno.readTextFile(pidFile)).trim(),
    String(server.child.pid),
    "left untouched",
  );
  server.signal("SIGTERM");
  assert.equal((await server.exited()).code, 0);
  await assert.rejects(Deno.stat(pidFile), Deno.errors.NotFound);
});

/** Rotates by rewriting the file in place (truncate, then write). */
async function rewriteInPlace(path: string, text: string) {
  await Deno.writeTextFile(path, text);
}

/** Rotates by writing a new file and renaming it over the old one. */
async function writeThenRename(path: string, text: string) {
  await Deno.writeTextFile(`${path}.new`, text);
  await Deno.rename(`${path}.new`, path);
}

async function waitForWatch(server: ServerProcess, from: number, pattern: RegExp) {
  const line = await server.nextLogLine("watch", from);
  assert.match(line.text, pattern);
}

test("--watch reloads on an in-place rewrite and on a write-then-rename, with grants on the files only", async () => {
  await using dir = await TempDir.create();
  const pairs = await Promise.all(
    [1, 2, 3].map((n) => mintCertificate({ commonName: `w${n}.test` })),
  );
  const [first, second, third] = pairs as [MintedCertificate, MintedCertificate, MintedCertificate];
  const cert = await dir.write("cert.pem", first.certificatePem);
  await using server = await ServerProcess.start({ options: { cert, watch: true } });
  await server.waitForLine(/\[watch\] watching ".*cert\.pem" for changes/);
  let from = server.lines.length;
  await rewriteInPlace(cert, second.certificatePem);
  await waitForWatch(server, from, /^reloaded: now serving .*CN=w2\.test/);
  from = server.lines.length;
  await writeThenRename(cert, third.certificatePem);
  await waitForWatch(server, from, /^reloaded: now serving .*CN=w3\.test/);
  const certs =
    await (await fetch(server.controlUrl("/certs"), { headers: { accept: "application/json" } }))
      .json();
  assert.equal(certs.certificate.loadedBy, "watch");
  assert.deepEqual(certs.reloads.slice(0, 2).map((r: { trigger: string }) => r.trigger), [
    "watch",
    "watch",
  ]);
  const metrics = await (await fetch(server.controlUrl("/metrics"))).text();
  assert.match(metrics, /^signal_server_reloads_total\{trigger="watch",result="reloaded"\} 2$/m);
});

test("--watch follows the Kubernetes ..data swap, and cert-then-key reports key_mismatch once, then serves the new pair (HTTPS)", async () => {
  await using dir = await TempDir.create();
  const pairs = await Promise.all(
    [1, 2, 3].map((n) => mintCertificate({ commonName: `k${n}.test` })),
  );
  const [first, second, third] = pairs as [MintedCertificate, MintedCertificate, MintedCertificate];
  let version = 0;
  const swapData = async (pair: MintedCertificate) => {
    const folder = `..2026_11_29_0${++version}`;
    await Deno.mkdir(dir.path(folder));
    await dir.write(`${folder}/tls.crt`, pair.certificatePem);
    await dir.write(`${folder}/tls.key`, pair.keyPem);
    await Deno.symlink(folder, dir.path("..data_tmp"));
    await Deno.rename(dir.path("..data_tmp"), dir.path("..data"));
  };
  await swapData(first);
  await Deno.symlink("..data/tls.crt", dir.path("tls.crt"));
  await Deno.symlink("..data/tls.key", dir.path("tls.key"));
  const [cert, key] = [dir.path("tls.crt"), dir.path("tls.key")];
  await using server = await ServerProcess.start({ options: { cert, key, watch: true } });
  let from = server.lines.length;
  await swapData(second);
  await waitForWatch(server, from, /^reloaded: now serving .*CN=k2\.test/);
  assert.equal(await servedFingerprint(server.options.port), fingerprintOf(second.certificatePem));

  // A plain pair of files replaced one after the other, with a pause longer than the settle time.
  const plainCert = await dir.write("cert.pem", second.certificatePem);
  const plainKey = await dir.write("key.pem", second.keyPem);
  await using plain = await ServerProcess.start({
    options: { cert: plainCert, key: plainKey, watch: true },
  });
  from = plain.lines.length;
  await writeThenRename(plainCert, third.certificatePem);
  await waitForWatch(
    plain,
    from,
    /^reload failed: Key ".*key\.pem" does not match the certificate/,
  );
  assert.equal(
    await servedFingerprint(plain.options.port),
    fingerprintOf(second.certificatePem),
    "never a mismatched pair",
  );
  from = plain.lines.length;
  await writeThenRename(plainKey, third.keyPem);
  await waitForWatch(plain, from, /^reloaded: now serving .*CN=k3\.test/);
  assert.equal(await servedFingerprint(plain.options.port), fingerprintOf(third.certificatePem));
  const watchLines = plain.lines.filter((line) => line.includes("[watch] reload failed"));
  assert.equal(watchLines.length, 1, "the mismatch in between is reported once");
});

test("--log-format json writes one JSON object per line with time, level, event, trigger, message and certificate", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  await using server = await ServerProcess.start({
    options: { cert, logFormat: "json" },
    ready: /"message":"ready: reload with/,
  });
  const from = server.lines.length;
  await dir.write("cert.pem", "broken\n");
  server.signal("SIGHUP");
  const line = await server.waitForLine(/"event":"reload"/, from);
  const entry = JSON.parse(line);
  assert.equal(entry.level, "error");
  assert.equal(entry.trigger, "sighup");
  assert.match(entry.message, /^reload failed: Cannot load certificate/);
  assert.equal(entry.certificate.path, cert);
  assert.ok(Number.isInteger(entry.certificate.daysLeft));
  assert.ok(!Number.isNaN(Date.parse(entry.time)));
  for (const each of server.lines) JSON.parse(each);
});

/**
 * A docs command as installed here: this checkout, this Deno and this server's control port in
 * place of /opt/signal-server, /usr/local/bin/deno and port 3000; nothing else changes.
 */
function installed(command: string, port: number): string {
  return command
    .replaceAll("/usr/local/bin/deno", Deno.execPath())
    .replaceAll("/opt/signal-server/", REPO)
    .replaceAll("127.0.0.1:3000", `127.0.0.1:${port}`)
    .replace("control_client.ts reload", `control_client.ts reload --port ${port}`);
}

test("the docs' certbot deploy hook and systemd ExecReload= exit 0 for a good certificate and 1 for a bad one", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  await using server = await ServerProcess.start({ options: { cert } });
  const port = server.options.controlPort;
  const unit = await Deno.readTextFile(`${REPO}docs/systemd/signal-server.service`);
  const execReload = /^ExecReload=(.*)$/m.exec(unit)?.[1];
  assert.ok(execReload, "the unit has an ExecReload= line");
  const hookText = await Deno.readTextFile(`${REPO}docs/certbot/deploy-hook`);
  const hook = await dir.write(
    "deploy-hook",
    installed(hookText, port).replace('cd "$(dirname "$0")/../.."', `cd "${REPO}"`),
  );
  const denoDir = Deno.execPath().replace(/\/[^/]+$/, "");
  const env = { PATH: `${denoDir}:/usr/bin:/bin` };
  const commands: [string, string[]][] = [
    ["systemctl reload (ExecReload=)", ["sh", "-c", installed(execReload, port)]],
    ["certbot --deploy-hook", ["sh", hook]],
  ];
  for (const [name, [shell, ...args]] of commands) {
    await dir.write("cert.pem", (await mintCertificate()).certificatePem);
    const good = await run(shell as string, args, env);
    assert.equal(good.code, 0, `${name}: ${good.stderr}`);
    assert.match(good.stdout, /^reloaded: /, name);
    await dir.write("cert.pem", "not a certificate\n");
    const bad = await run(shell as string, args, env);
    assert.equal(bad.code, 1, `${name} must fail visibly on a bad certificate`);
    assert.match(bad.stderr, /^reload failed: /, name);
  }
});

test("the docs' fleet loop stops at the first host whose reload fails (exit 1) or whose server does not answer (exit 2), naming it", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  await using server = await ServerProcess.start({ options: { cert } });
  // A second host whose certificate file has been broken since it started.
  await Deno.mkdir(dir.path("bad"));
  const badCert = await dir.write("bad/cert.pem", (await mintCertificate()).certificatePem);
  await using bad = await ServerProcess.start({ options: { cert: badCert } });
  await dir.write("bad/cert.pem", "not a certificate\n");
  const down = freePort(); // Nothing listens there, and the client may reach it.
  const reload = (port: number) =>
    `cd "${REPO}" && exec ${Deno.execPath()} run --no-prompt --allow-net=127.0.0.1:${port} ` +
    `lib/cli/control_client.ts reload --port ${port}`;
  // A stand-in ssh that runs the remote command here, against the host's server.
  await Deno.mkdir(dir.path("bin"));
  await dir.write(
    "bin/ssh",
    `#!/bin/sh\nhost=$3\ncase "$host" in good*) ${reload(server.options.controlPort)} ;; ` +
      `bad*) ${reload(bad.options.controlPort)} ;; *) ${reload(down)} ;; esac\n`,
  );
  await Deno.chmod(dir.path("bin/ssh"), 0o755);
  const env = { PATH: `${dir.path("bin")}:/usr/bin:/bin` };
  const fleet = `${REPO}docs/fleet/reload-fleet.sh`;
  const ok = await run("sh", [fleet, "good1", "good2"], env);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /good1: ok\n[\s\S]*good2: ok\n$/);
  const failed = await run("sh", [fleet, "good1", "bad1", "good2"], env);
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(failed.stderr, /^reload failed: Cannot load certificate ".*bad\/cert\.pem"/m);
  assert.match(failed.stderr, /bad1: reload failed \(exit 1\); stopping here/);
  assert.ok(!failed.stdout.includes("good2"), "it stopped at the first failure");
  const unanswered = await run("sh", [fleet, "good1", "down1", "good2"], env);
  assert.equal(unanswered.code, 2, unanswered.stderr);
  assert.doesNotMatch(unanswered.stderr, /NotCapable|Requires net access/, "a real refusal");
  assert.match(unanswered.stderr, /down1: reload failed \(exit 2\); stopping here/);
  assert.ok(!unanswered.stdout.includes("good2"), "it stopped at the first failure");
});
