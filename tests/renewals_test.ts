/**
 * Safer renewals end to end (issue 21): dry runs, the hostname guard, the
 * whole chain's expiry, drift between disk and what is served, and failures
 * counted by kind; through the real server (POST, SIGHUP, --watch), the
 * real CLI (`deno task reload`, `status`, `validate` as deno.json runs them)
 * and the library.
 */

import assert from "node:assert/strict";
import {
  assertPromtoolClean,
  DAY_MS,
  fingerprintOf,
  mintCertificate,
  mintChain,
  type MintedCertificate,
  mintExpired,
  mintRsaKeys,
  TempDir,
} from "./_fixtures.ts";
import { postReload, ServerProcess } from "./_server.ts";
import { servedFingerprint } from "./_tls_clients.ts";
import { serveWithReload } from "../mod.ts";
import { test } from "./_time_limit.ts";

const REPO = new URL("..", import.meta.url).pathname;
const TASKS = JSON.parse(await Deno.readTextFile(`${REPO}deno.json`)).tasks;

async function post(server: ServerProcess, query: string, json = false) {
  const response = await fetch(`${server.reloadUrl}${query}`, {
    method: "POST",
    headers: json ? { accept: "application/json" } : {},
  });
  return {
    status: response.status,
    dryRun: response.headers.get("x-reload-dry-run"),
    body: json ? await response.json() : await response.text(),
  };
}

async function getText(server: ServerProcess, path: string): Promise<string> {
  return await (await fetch(server.controlUrl(path))).text();
}

async function getJson(server: ServerProcess, path: string) {
  return await (await fetch(server.controlUrl(path), { headers: { accept: "application/json" } }))
    .json();
}

/** Runs a deno.json task's command line (its own flags, with `extra` after it); returns code and output. */
async function runTask(task: string, extra: string[], replace: [string, string][] = []) {
  let command: string = TASKS[task].command;
  for (const [from, to] of replace) command = command.replaceAll(from, to);
  const [deno, ...args] = command.split(" ");
  assert.equal(deno, "deno");
  const output = await new Deno.Command(Deno.execPath(), {
    args: [...args, ...extra],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** `deno task reload` (or `status`) as deno.json runs it, pointed at a test server's control port. */
function client(server: ServerProcess, task: "reload" | "status", flags: string[] = []) {
  const port = String(server.options.controlPort);
  return runTask(task, ["--port", port, ...flags], [["127.0.0.1:3000", `127.0.0.1:${port}`]]);
}

function names(...altNames: string[]): Promise<MintedCertificate> {
  return mintCertificate({ commonName: "example.com", altNames });
}

test("a dry run changes nothing: served fingerprint, history and metrics stay; it answers would-forms with the real statuses", async () => {
  await using dir = await TempDir.create();
  const first = await mintCertificate();
  const { cert, key } = await dir.writePair(first);
  await using server = await ServerProcess.start({ options: { cert, key } });
  const next = await mintCertificate();
  await dir.writePair(next);
  const before = {
    served: await servedFingerprint(server.options.port),
    history: (await getJson(server, "/certs")).reloads,
    metrics: _reloadMetrics(await getText(server, "/metrics")),
  };
  assert.equal(before.served, fingerprintOf(first.certificatePem));

  const dry = await post(server, "?dry_run=1");
  assert.equal(dry.status, 200);
  assert.equal(dry.dryRun, "1");
  assert.match(
    dry.body,
    /^would reload: would serve ".*cert\.pem": CN=localhost .*; would replace one that expires \d{4}-/,
  );
  assert.match(dry.body, /; dry run: nothing was swapped or recorded\n$/);
  const json = await post(server, "?dry_run=1", true);
  assert.equal(json.body.dry_run, true);
  assert.equal(json.body.outcome, "reloaded");
  assert.equal(json.body.certificate.fingerprint256, before.served, "certificate: still served");
  assert.equal(json.body.candidate.fingerprint256, fingerprintOf(next.certificatePem));
  const cli = await client(server, "reload", ["--dry-run"]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /^would reload: /);

  assert.equal(await servedFingerprint(server.options.port), before.served, "nothing was swapped");
  assert.deepEqual((await getJson(server, "/certs")).reloads, before.history, "nothing recorded");
  assert.equal(
    _reloadMetrics(await getText(server, "/metrics")),
    before.metrics,
    "metrics unchanged",
  );
  const logged = await server.waitForLine(/\[POST \/reload_certs dry run\] would reload: /);
  assert.ok(logged, "the log says it, tagged as a dry run");

  // A refusal: the dry run answers the status and the words a real reload would.
  await dir.write("cert.pem", (await mintExpired()).certificatePem);
  const wouldFail = await post(server, "?dry_run=1");
  const cliFail = await client(server, "reload", ["--dry-run"]);
  const real = await postReload(server);
  assert.equal(wouldFail.status, 500);
  assert.equal(real.status, 500);
  assert.equal(cliFail.code, 1);
  assert.match(
    wouldFail.body,
    /^would fail: Certificate ".*cert\.pem" \(CN=localhost\) expired at /,
  );
  assert.equal(
    wouldFail.body.replace(/^would fail: /, "").replace(
      /; dry run: nothing was swapped or recorded\n$/,
      "",
    ),
    real.body.replace(/^reload failed: /, "").trimEnd(),
    "the same words after the would-form",
  );
  assert.equal(cliFail.stderr.trimEnd(), wouldFail.body.trimEnd());

  // Unchanged: the files hold the served pair again.
  await dir.writePair(first);
  const same = await post(server, "?dry_run=1");
  assert.equal(same.status, 200);
  assert.match(
    same.body,
    /^would be unchanged: ".*cert\.pem" holds the certificate already being served/,
  );
});

test("a misspelt or unknown reload parameter is refused with 400 and reloads nothing", async () => {
  await using dir = await TempDir.create();
  const { cert } = await dir.writePair(await mintCertificate());
  await using server = await ServerProcess.start({ options: { cert } });
  await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  for (const query of ["?dryrun=1", "?dry_run=yes", "?dry_run=1&force=1"]) {
    const answer = await post(server, query);
    assert.equal(answer.status, 400, query);
    assert.match(answer.body, /^Bad request: /, query);
  }
  assert.equal((await getJson(server, "/certs")).reloads.length, 1, "only the startup load");
});

test("the hostname guard: a wildcard covers a name; a dropped IP SAN is refused as names_dropped over POST and SIGHUP, until allowed", async () => {
  await using dir = await TempDir.create();
  const served = await names("a.example.com", "10.0.0.2", "::1");
  const { cert } = await dir.writePair(served);
  await using server = await ServerProcess.start({ options: { cert } });

  // *.example.com covers a.example.com; 0:0:0:0:0:0:0:1 is ::1.
  const wildcard = await names("*.example.com", "10.0.0.2", "0:0:0:0:0:0:0:1");
  await dir.write("cert.pem", wildcard.certificatePem);
  const covered = await postReload(server);
  assert.equal(covered.status, 200, covered.body);
  assert.match(covered.body, /^reloaded: /);

  const withoutIp = await names("*.example.com", "::1");
  await dir.write("cert.pem", withoutIp.certificatePem);
  const refused = await post(server, "", true);
  assert.equal(refused.status, 500);
  assert.equal(refused.body.error.kind, "names_dropped");
  assert.deepEqual(refused.body.error.dropped, [{ type: "ip", value: "10.0.0.2" }]);
  assert.match(
    refused.body.message,
    /^reload failed: Renewal ".*cert\.pem" does not cover "10\.0\.0\.2", which the certificate being served covers: .*allow_dropped_names=1 \(deno task reload --allow-dropped-names\) or start the server with --allow-dropped-names; still serving/,
  );
  let from = server.lines.length;
  server.signal("SIGHUP");
  const sighup = await server.nextLogLine("SIGHUP", from);
  assert.match(sighup.text, /^reload failed: Renewal .* does not cover "10\.0\.0\.2"/);
  const cliRefused = await client(server, "reload");
  assert.equal(cliRefused.code, 1);
  assert.equal(
    await servedSubjectAltNames(server),
    "DNS:*.example.com, IP Address:10.0.0.2, IP Address:0:0:0:0:0:0:0:1",
  );
  const metrics = await getText(server, "/metrics");
  assert.match(metrics, /^signal_server_reload_failures_total\{kind="names_dropped"\} 3$/m);

  // Allowed on purpose: still reported, in the answer and the log.
  from = server.lines.length;
  const allowed = await client(server, "reload", ["--allow-dropped-names"]);
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.match(
    allowed.stdout,
    /^reloaded: .*; note: it no longer covers "10\.0\.0\.2" \(dropped names allowed\)/,
  );
  const log = await server.nextLogLine("POST /reload_certs", from);
  assert.equal(log.text, allowed.stdout.trimEnd());
});

async function servedSubjectAltNames(server: ServerProcess): Promise<string> {
  return (await getJson(server, "/certs")).certificate.subjectAltNames.join(", ");
}

test("the server flag --allow-dropped-names covers SIGHUP and --watch: *.example.com drops example.com and a.b.example.com, and the reload says so", async () => {
  await using dir = await TempDir.create();
  const served = await names("example.com", "a.b.example.com", "c.example.com");
  const { cert } = await dir.writePair(served);
  const note =
    /^reloaded: .*; note: it no longer covers "example\.com" and "a\.b\.example\.com" \(dropped names allowed\)$/;
  {
    await using server = await ServerProcess.start({ options: { cert, allowDroppedNames: true } });
    await dir.write("cert.pem", (await names("*.example.com")).certificatePem);
    const from = server.lines.length;
    server.signal("SIGHUP");
    const line = await server.nextLogLine("SIGHUP", from);
    assert.match(line.text, note);
    assert.doesNotMatch(line.text, /"c\.example\.com"/, "c.example.com is covered by the wildcard");
  }
  await dir.writePair(served);
  await using server = await ServerProcess.start({
    options: { cert, watch: true, allowDroppedNames: true },
  });
  await server.waitForLine(/\[watch\] watching/);
  const from = server.lines.length;
  await dir.write("cert.pem", (await names("*.example.com")).certificatePem);
  const line = await server.nextLogLine("watch", from);
  assert.match(line.text, note);
});

test("the library: reload({ dryRun }) and reload({ allowDroppedNames }), the allowDroppedNames option, and checkDisk()", async () => {
  await using dir = await TempDir.create();
  const { cert } = await dir.writePair(await names("example.com", "www.example.com"));
  const outcomes: string[] = [];
  const started = await serveWithReload({
    cert,
    port: 0,
    handler: () => new Response("ok"),
    control: false,
    signals: false,
    onReload: (outcome) =>
      outcomes.push(
        outcome.kind + (outcome.kind !== "loaded" && outcome.dryRun ? " (dry run)" : ""),
      ),
  });
  assert.ok(started.ok);
  const server = started.value;
  try {
    const servedBefore = server.certificate.fingerprint256;
    assert.equal((await server.checkDisk()).state, "same");
    await dir.write("cert.pem", (await names("example.com")).certificatePem);
    assert.equal((await server.checkDisk()).state, "changed");
    const dry = await server.reload({ dryRun: true });
    assert.equal(dry.kind, "failed");
    assert.equal(dry.kind === "failed" && dry.error.kind, "names_dropped");
    const dryAllowed = await server.reload({ dryRun: true, allowDroppedNames: true });
    assert.equal(dryAllowed.kind, "reloaded");
    assert.equal(server.certificate.fingerprint256, servedBefore, "a dry run swaps nothing");
    const refused = await server.reload();
    assert.equal(refused.kind === "failed" && refused.error.kind, "names_dropped");
    const allowed = await server.reload({ allowDroppedNames: true });
    assert.equal(allowed.kind, "reloaded");
    assert.deepEqual(allowed.kind === "reloaded" && allowed.notes.map((note) => note.kind), [
      "names_dropped",
    ]);
    assert.equal((await server.checkDisk()).state, "same");
    assert.deepEqual(outcomes, [
      "loaded",
      "failed (dry run)",
      "reloaded (dry run)",
      "failed",
      "reloaded",
    ]);
  } finally {
    await server.shutdown();
  }
  const lenient = await serveWithReload({
    cert,
    port: 0,
    handler: () => new Response("ok"),
    control: false,
    signals: false,
    allowDroppedNames: true,
  });
  assert.ok(lenient.ok);
  try {
    await dir.write("cert.pem", (await names("other.example")).certificatePem);
    const outcome = await lenient.value.reload();
    assert.equal(outcome.kind, "reloaded", "the option allows every reload to drop names");
  } finally {
    await lenient.value.shutdown();
  }
});

test("a reload reports, without refusing, an earlier expiry and a changed key type", async () => {
  await using dir = await TempDir.create();
  const { cert, key } = await dir.writePair(
    await mintCertificate({ notAfter: new Date(Date.now() + 60 * DAY_MS) }),
  );
  await using server = await ServerProcess.start({ options: { cert, key } });
  const rsa = await mintRsaKeys();
  const shorter = await mintCertificate({
    notAfter: new Date(Date.now() + 20 * DAY_MS),
    keys: rsa,
  });
  await dir.writePair(shorter);
  const answer = await post(server, "", true);
  assert.equal(answer.status, 200);
  assert.deepEqual(answer.body.notes.map((note: { kind: string }) => note.kind), [
    "expires_earlier",
    "key_type_changed",
  ]);
  assert.match(
    answer.body.message,
    /; note: it expires earlier than the certificate it replaces \(.*, not .*\); its key changed from ECDSA P-256 to RSA 2048$/,
  );
});

/** A leaf valid 30 days behind an intermediate valid until `notAfter`, as one PEM file. */
async function chainWith(notAfter: Date) {
  const { intermediate, leaf } = await mintChain({
    notBefore: new Date(Date.now() - 20 * DAY_MS),
    notAfter,
  });
  return { certificatePem: leaf.certificatePem + intermediate.certificatePem, keyPem: leaf.keyPem };
}

test("the whole chain's expiry: an intermediate expiring first drives --warn-days, the expiry metric, /certs and status, named by position", async () => {
  await using dir = await TempDir.create();
  const chain = await chainWith(new Date(Date.now() + 5 * DAY_MS));
  const cert = await dir.write("cert.pem", chain.certificatePem);
  await using server = await ServerProcess.start({ options: { cert, warnDays: 14 } });
  const warning = await server.waitForLine(/\[expiry\] /);
  assert.match(
    warning,
    /\[expiry\] certificate 2 of ".*cert\.pem" \(CN=Test Intermediate CA\), an issuer in its chain, expires \S+ \(4 days left\), within the 14-day warning window; renew the chain and reload$/,
  );
  const metrics = await getText(server, "/metrics");
  assert.match(
    metrics,
    /^signal_server_certificate_not_after_timestamp_seconds\{position="2",subject="CN=Test Intermediate CA"\} \d+$/m,
  );
  assert.match(
    metrics,
    /^signal_server_chain_certificate_not_after_timestamp_seconds\{position="1",subject="CN=localhost"\} \d+$/m,
  );
  assert.match(
    metrics,
    /^signal_server_chain_certificate_not_after_timestamp_seconds\{position="2",subject="CN=Test Intermediate CA"\} \d+$/m,
  );
  assert.match(metrics, /^signal_server_certificate_expiry_warning 1$/m);
  await assertPromtoolClean(metrics);
  const view = await getJson(server, "/certs");
  assert.equal(view.certificate.earliestExpiry.position, 2);
  assert.equal(view.certificate.earliestExpiry.subject, "CN=Test Intermediate CA");
  assert.deepEqual(view.certificate.chain.map((entry: { subject: string }) => entry.subject), [
    "CN=localhost",
    "CN=Test Intermediate CA",
  ]);
  const status = await client(server, "status");
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^chain {9}2 certificates, the first to expire is 2$/m);
  assert.match(status.stdout, /^ {2}1\. CN=localhost, expires \S+ \(29 days left\)$/m);
  assert.match(
    status.stdout,
    /^ {2}2\. CN=Test Intermediate CA, expires \S+ \(4 days left, within the 14-day warning window: renew it\)$/m,
  );
  assert.match((await fetch(server.controlUrl("/healthz"))).status.toString(), /^200$/);
});

test("an expired intermediate under a valid leaf: refused on reload and at startup; one that expires while served turns /healthz 503 naming it", async () => {
  await using dir = await TempDir.create();
  const soon = await chainWith(new Date(Date.now() + 4_000));
  const cert = await dir.write("cert.pem", soon.certificatePem);
  await using server = await ServerProcess.start({ options: { cert } });
  const expired = await chainWith(new Date(Date.now() - DAY_MS));
  await dir.write("cert.pem", expired.certificatePem);
  const refused = await post(server, "", true);
  assert.equal(refused.status, 500);
  assert.equal(refused.body.error.kind, "expired");
  assert.equal(refused.body.error.position, 2);
  assert.match(
    refused.body.message,
    /^reload failed: Certificate 2 of ".*cert\.pem" \(CN=Test Intermediate CA\), an issuer in its chain, expired at \S+; every client that builds its path through it fails: put the renewed intermediate in the file; still serving/,
  );
  assert.match(
    await getText(server, "/metrics"),
    /^signal_server_reload_failures_total\{kind="expired"\} 1$/m,
  );
  const waitUntil = new Date(Date.now() + 5_000);
  while (Date.now() < waitUntil.getTime()) await new Promise((resolve) => setTimeout(resolve, 250));
  const health = await fetch(server.controlUrl("/healthz"));
  assert.equal(health.status, 503);
  assert.match(
    await health.text(),
    /^unhealthy: certificate 2 of ".*cert\.pem" \(CN=Test Intermediate CA\), an issuer in its chain, expired at \S+ and is still being served; install a renewed chain and reload\n$/,
  );
  await using failing = ServerProcess.spawn({ options: { cert } });
  const status = await failing.exited();
  assert.equal(status.code, 1);
  assert.match(
    failing.stderr,
    /Certificate 2 of ".*cert\.pem" \(CN=Test Intermediate CA\), an issuer in its chain, expired at/,
  );
});

test("drift: an in-place rewrite and a rename show as changed (never reloaded), garbage as invalid, a missing file as unreadable, in the loader's words", async () => {
  await using dir = await TempDir.create();
  const first = await mintCertificate({ commonName: "first.test" });
  const { cert, key } = await dir.writePair(first);
  await using server = await ServerProcess.start({ options: { cert, key } });
  const disk = async () => (await getJson(server, "/certs")).disk;
  const gauge = async () =>
    /^signal_server_certificate_disk_drift (\d)$/m.exec(await getText(server, "/metrics"))?.[1];
  assert.equal((await disk()).state, "same");
  assert.equal(await gauge(), "0");

  // In place: same inode, new contents (cert and key, so the pair still matches).
  const second = await mintCertificate({ commonName: "second.test" });
  await Deno.writeTextFile(cert, second.certificatePem);
  await Deno.writeTextFile(key, second.keyPem);
  const inPlace = await disk();
  assert.equal(inPlace.state, "changed");
  assert.equal(inPlace.certificate.fingerprint256, fingerprintOf(second.certificatePem));
  assert.match(
    inPlace.message,
    /^changed: ".*cert\.pem" and ".*key\.pem" now hold CN=second\.test .* which is not served until a reload$/,
  );
  assert.equal(await gauge(), "1");
  const text = await getText(server, "/certs");
  assert.match(text, /^disk {10}changed: /m);
  assert.equal(
    await servedFingerprint(server.options.port),
    fingerprintOf(first.certificatePem),
    "never reloads by itself",
  );
  assert.equal((await getJson(server, "/certs")).reloads.length, 1);

  // A reload makes it the same again; then a rename (write-then-rename) changes it.
  assert.equal((await postReload(server)).status, 200);
  assert.equal((await disk()).state, "same");
  const third = await mintCertificate({ commonName: "third.test" });
  await dir.writePair(third);
  assert.equal((await disk()).state, "changed");
  const status = await client(server, "status");
  assert.match(status.stdout, /^disk {10}changed: .* now hold CN=third\.test /m);

  await dir.write("cert.pem", "not a certificate\n");
  const invalid = await disk();
  assert.equal(invalid.state, "invalid");
  assert.equal(invalid.error.kind, "not_pem");
  assert.match(
    invalid.message,
    /^invalid: Cannot load certificate ".*cert\.pem": no PEM block found .*; a reload would fail and keep serving SHA-256 /,
  );
  await Deno.remove(cert);
  const unreadable = await disk();
  assert.equal(unreadable.state, "unreadable");
  assert.match(
    unreadable.message,
    /^unreadable: Cannot read certificate ".*cert\.pem": file not found; /,
  );
  assert.equal(await gauge(), "1");
});

test("deno task validate checks files offline, without network permission: exit 0, 1, 2, the reload's words and JSON shape", async () => {
  assert.doesNotMatch(
    TASKS.validate.command,
    /--allow-(net|write|run|env|sys|ffi)|--allow-all|-A\b/,
  );
  await using dir = await TempDir.create();
  const good = await mintCertificate();
  const { cert, key } = await dir.writePair(good);
  const valid = await runTask("validate", ["--cert", cert, "--key", key]);
  assert.equal(valid.code, 0, valid.stderr);
  assert.match(
    valid.stdout,
    /^would load: ".*cert\.pem": CN=localhost \[DNS:localhost, IP Address:127\.0\.0\.1\], expires .*; checked offline, nothing is served\n$/,
  );

  const other = await dir.write("other.key", (await mintCertificate()).keyPem);
  const mismatch = await runTask("validate", ["--cert", cert, "--key", other, "--json"]);
  assert.equal(mismatch.code, 1);
  const answer = JSON.parse(mismatch.stderr);
  assert.deepEqual(Object.keys(answer), [
    "ok",
    "outcome",
    "dry_run",
    "trigger",
    "message",
    "certificate",
    "error",
  ]);
  assert.equal(answer.error.kind, "key_mismatch");
  assert.match(
    answer.message,
    /^would fail: Key ".*other\.key" does not match the certificate in /,
  );

  const usage = await runTask("validate", ["--key", key]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--cert <path> is required/);

  // --against: the renewal checks of a reload, offline.
  const served = await dir.write(
    "served.pem",
    (await names("example.com", "10.0.0.2")).certificatePem,
  );
  const renewal = await dir.write("renewal.pem", (await names("example.com")).certificatePem);
  const dropped = await runTask("validate", ["--cert", renewal, "--against", served]);
  assert.equal(dropped.code, 1);
  assert.match(
    dropped.stderr,
    /^would fail: Renewal ".*renewal\.pem" does not cover "10\.0\.0\.2"/,
  );
  const allowed = await runTask("validate", [
    "--cert",
    renewal,
    "--against",
    served,
    "--allow-dropped-names",
    "--json",
  ]);
  assert.equal(allowed.code, 0, allowed.stderr);
  const expiredServed = await dir.write(
    "expired-served.pem",
    (await mintCertificate({
      commonName: "example.com",
      altNames: ["example.com", "10.0.0.2"],
      notBefore: new Date(Date.now() - 10 * DAY_MS),
      notAfter: new Date(Date.now() - DAY_MS),
    })).certificatePem,
  );
  const againstExpired = await runTask("validate", ["--cert", renewal, "--against", expiredServed]);
  assert.equal(againstExpired.code, 1, "an expired served certificate still has names to compare");
  assert.match(
    againstExpired.stderr,
    /^would fail: Renewal ".*renewal\.pem" does not cover "10\.0\.0\.2"/,
  );
  const reloadAnswer = JSON.parse(allowed.stdout);
  assert.equal(reloadAnswer.outcome, "reloaded");
  assert.equal(reloadAnswer.dry_run, true);
  assert.equal(reloadAnswer.notes[0].kind, "names_dropped");
});

/** The metrics without the connection counters, which every request of the test itself moves. */
function _reloadMetrics(text: string): string {
  return text.split("\n").filter((line) => !/signal_server_(connections|accepts)_/.test(line))
    .join("\n");
}
