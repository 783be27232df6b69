import assert from "node:assert/strict";
import type { CertificateError, CertificateErrorKind } from "../lib/certificate/certificate.ts";
import { formatNotice } from "../lib/api/notice.ts";
import { formatStartupFailure } from "../lib/api/start_error.ts";
import { describeError } from "../lib/certificate/describe_error.ts";
import {
  formatOutcome,
  OUTCOME_HTTP_STATUS,
  shortFingerprint,
} from "../lib/reload/outcome_words.ts";
import { formatListenError } from "../lib/serve/listen.ts";
import { fakeCertificate } from "./_certificates.ts";
import { test } from "./_time_limit.ts";

const AT = new Date("2026-11-27T12:00:00Z");
const OLD = fakeCertificate("AA:AA", { notAfter: new Date("2026-12-27T12:00:00Z") });
const NEW = fakeCertificate("BB:BB", { notAfter: new Date("2027-11-27T12:00:00Z") });

/** One example of every error kind: the Record type makes a missing kind a type error. */
const EXAMPLES: Record<CertificateErrorKind, CertificateError> = {
  not_found: { kind: "not_found", role: "certificate", path: "cert.pem" },
  permission_denied: { kind: "permission_denied", role: "key", path: "key.pem", deniedBy: "deno" },
  not_a_file: { kind: "not_a_file", role: "certificate", path: "cert.pem", fileType: "directory" },
  too_large: {
    kind: "too_large",
    role: "certificate",
    path: "cert.pem",
    limit: 1048576,
  },
  empty: { kind: "empty", role: "certificate", path: "cert.pem" },
  not_pem: { kind: "not_pem", role: "certificate", path: "cert.pem" },
  der_encoded: { kind: "der_encoded", role: "certificate", path: "cert.der" },
  truncated_pem: {
    kind: "truncated_pem",
    role: "certificate",
    path: "cert.pem",
    label: "CERTIFICATE",
  },
  no_certificate: { kind: "no_certificate", path: "cert.pem", privateKey: true },
  chain_too_long: { kind: "chain_too_long", path: "cert.pem", count: 9, limit: 8 },
  chain_too_large: { kind: "chain_too_large", path: "cert.pem", bytes: 70000, limit: 61440 },
  duplicate_certificate: {
    kind: "duplicate_certificate",
    path: "cert.pem",
    position: 2,
    firstPosition: 1,
  },
  self_signed_not_last: {
    kind: "self_signed_not_last",
    path: "cert.pem",
    position: 1,
    subject: "CN=root",
    count: 2,
  },
  invalid_certificate: {
    kind: "invalid_certificate",
    path: "cert.pem",
    position: 2,
    reason: "bad DER",
  },
  chain_broken: {
    kind: "chain_broken",
    path: "cert.pem",
    position: 1,
    subject: "CN=leaf",
    nextSubject: "CN=other",
  },
  expired: {
    kind: "expired",
    path: "cert.pem",
    subject: "CN=a",
    notAfter: new Date("2026-01-01Z"),
  },
  not_yet_valid: {
    kind: "not_yet_valid",
    path: "cert.pem",
    subject: "CN=a",
    notBefore: new Date("2027-01-01Z"),
  },
  unservable: {
    kind: "unservable",
    role: "key",
    path: "key.pem",
    subject: "CN=a",
    problem: { kind: "rsa_too_small", bits: 1024 },
  },
  key_invalid: { kind: "key_invalid", path: "key.pem", reason: "it is encrypted" },
  key_mismatch: { kind: "key_mismatch", path: "key.pem", certPath: "cert.pem" },
  tls_rejected: { kind: "tls_rejected", path: "cert.pem", reason: "bad key" },
  io: { kind: "io", role: "certificate", path: "cert.pem", reason: "Input/output error" },
};

test("every error kind is described with its file, in one line, without a final period", () => {
  for (const error of Object.values(EXAMPLES)) {
    const text = describeError(error);
    assert.match(text, /"(cert|key)\.(pem|der)"/, `${error.kind} must name the file: ${text}`);
    assert.doesNotMatch(text, /\n/, `${error.kind} must be one line`);
    assert.doesNotMatch(text, /\.$/, `${error.kind} must not end with a period`);
  }
});

test("error descriptions say the cause in the operator's words", () => {
  assert.equal(
    describeError(EXAMPLES.not_found),
    'Cannot read certificate "cert.pem": file not found',
  );
  assert.equal(
    describeError(EXAMPLES.permission_denied),
    'Cannot read key "key.pem": Deno denied read access; grant it with --allow-read=key.pem',
  );
  assert.equal(
    describeError(EXAMPLES.expired),
    'Certificate "cert.pem" (CN=a) expired at 2026-01-01T00:00:00Z',
  );
  assert.match(describeError(EXAMPLES.der_encoded), /openssl x509 -inform der -in cert\.der/);
  assert.match(describeError(EXAMPLES.no_certificate), /is it the key file\?/);
  assert.match(describeError(EXAMPLES.not_a_file), /it is a directory, not a regular file/);
  assert.match(
    describeError(EXAMPLES.chain_broken),
    /certificate 1 \(CN=leaf\) was not issued by certificate 2/,
  );
});

test("a reloaded line names the new certificate, its expiry, days left and fingerprint", () => {
  assert.equal(
    formatOutcome({
      kind: "reloaded",
      trigger: "http",
      at: AT,
      durationMs: 1,
      certificate: NEW,
      previous: OLD,
      notes: [],
    }),
    'reloaded: now serving "cert.pem": CN=localhost [DNS:localhost], expires ' +
      "2027-11-27T12:00:00Z (365 days left), SHA-256 BB:BB; it replaced one that expires " +
      "2026-12-27T12:00:00Z",
  );
});

test("a line shows a fingerprint's first 8 bytes; /certs and the JSON keep it whole", () => {
  const whole =
    "56:C7:DB:4E:49:51:A3:B7:F2:22:11:AF:48:45:6C:39:5A:24:B8:1E:88:59:F5:EF:12:7A:BA:47:3E:42:F8:78";
  assert.equal(shortFingerprint(whole), "56:C7:DB:4E:49:51:A3:B7…");
  assert.equal(shortFingerprint("AA:BB"), "AA:BB");
  const line = formatOutcome({
    kind: "loaded",
    trigger: "startup",
    at: AT,
    durationMs: 1,
    certificate: { ...NEW, fingerprint256: whole },
  });
  assert.ok(line.endsWith("SHA-256 56:C7:DB:4E:49:51:A3:B7…"), line);
});

test("an unchanged line says nothing was swapped, so it cannot pass for a rotation", () => {
  const line = formatOutcome({
    kind: "unchanged",
    trigger: "http",
    at: AT,
    durationMs: 1,
    certificate: OLD,
  });
  assert.match(line, /^unchanged: /);
  assert.match(line, /already being served/);
  assert.match(line, /nothing was swapped$/);
  assert.doesNotMatch(line, /reloaded/);
});

test("a failed line names the file, the cause and the certificate still served", () => {
  assert.equal(
    formatOutcome({
      kind: "failed",
      trigger: "http",
      at: AT,
      durationMs: 1,
      error: EXAMPLES.not_found,
      certificate: OLD,
    }),
    'reload failed: Cannot read certificate "cert.pem": file not found; still serving the ' +
      'previous certificate "cert.pem": CN=localhost [DNS:localhost], expires ' +
      "2026-12-27T12:00:00Z (30 days left), SHA-256 AA:AA",
  );
});

test("days left counts down to an expiry and past it", () => {
  const soon = fakeCertificate("CC", { notAfter: new Date("2026-11-28T13:00:00Z") });
  assert.match(
    formatOutcome({ kind: "unchanged", trigger: "http", at: AT, durationMs: 1, certificate: soon }),
    /\(1 day left\)/,
  );
  const gone = fakeCertificate("CC", { notAfter: new Date("2026-11-20T11:00:00Z") });
  assert.match(
    formatOutcome({ kind: "unchanged", trigger: "http", at: AT, durationMs: 1, certificate: gone }),
    /expired 8 days ago/,
  );
});

test("a startup failure uses the same cause wording as a failed reload", () => {
  for (const error of Object.values(EXAMPLES)) {
    const startup = formatStartupFailure(error);
    const reload = formatOutcome({
      kind: "failed",
      trigger: "http",
      at: AT,
      durationMs: 1,
      error,
      certificate: OLD,
    });
    assert.ok(startup.includes(describeError(error)) && reload.includes(describeError(error)));
  }
});

test("success outcomes map to 200 and failures to 500", () => {
  assert.deepEqual(OUTCOME_HTTP_STATUS, {
    loaded: 200,
    reloaded: 200,
    unchanged: 200,
    failed: 500,
  });
});

test("a listen failure names the address and the server", () => {
  assert.equal(
    formatListenError({ kind: "address_in_use", server: "control", address: "127.0.0.1:3000" }),
    "Cannot listen on 127.0.0.1:3000 for the control server: address already in use; " +
      "the server was not started",
  );
  assert.match(
    formatListenError({
      kind: "permission_denied",
      server: "app",
      address: "127.0.0.1:80",
      deniedBy: "deno",
    }),
    /--allow-net=127\.0\.0\.1:80/,
  );
});

test("errors about symbolic links name the link's target and never ask for a grant already given", () => {
  assert.equal(
    describeError({
      kind: "not_found",
      role: "certificate",
      path: "live/site/fullchain.pem",
      linkTarget: "archive/site/fullchain2.pem",
    }),
    'Cannot read certificate "live/site/fullchain.pem": file not found (it is a symbolic link, ' +
      'which pointed to "archive/site/fullchain2.pem" when checked)',
  );
  const refused = describeError({
    kind: "permission_denied",
    role: "certificate",
    path: "tls.crt",
    deniedBy: "deno",
    refusedPath: "/etc/tls/..2026_11_29/tls.crt",
  });
  assert.equal(
    refused,
    'Cannot read certificate "tls.crt": Deno denied read access to ' +
      '"/etc/tls/..2026_11_29/tls.crt", where it leads; grant it with ' +
      "--allow-read=/etc/tls/..2026_11_29/tls.crt",
  );
  assert.ok(!refused.includes("--allow-read=tls.crt"));
  assert.match(
    describeError({
      kind: "permission_denied",
      role: "key",
      path: "tls.key",
      deniedBy: "os",
      linkTarget: "..data/tls.key",
    }),
    /check the owner and mode of "\.\.data\/tls\.key", where the symbolic link leads/,
  );
});

test("notices say which HTTPS front serves, why after a fallback, and how to turn connection migration on", () => {
  assert.equal(
    formatNotice({ kind: "tls_front", front: "native", protocols: ["h2", "http/1.1"] }),
    "HTTPS served by the native front (h2, http/1.1)",
  );
  assert.match(
    formatNotice({
      kind: "tls_front",
      front: "node",
      protocols: ["http/1.1"],
      fallback: "no_unstable_net",
    }),
    /^HTTPS served by the node front \(http\/1\.1\): .*needs Deno's --unstable-net flag/,
  );
  assert.match(
    formatNotice({ kind: "connection_migration", migration: "on" }),
    /^net\.ipv4\.tcp_migrate_req is on: /,
  );
  for (const migration of ["off", "unknown"] as const) {
    assert.match(
      formatNotice({ kind: "connection_migration", migration }),
      /may see a reset during a certificate swap.*sysctl -w net\.ipv4\.tcp_migrate_req=1/,
    );
  }
});

test("notices about the watcher and expiry name the files, the interval and what to do", () => {
  assert.equal(
    formatNotice({ kind: "watching", paths: ["cert.pem", "key.pem"], pollMs: 500 }),
    'watching "cert.pem" and "key.pem" for changes (file events, and a check every 500 ms); ' +
      "a change reloads with trigger watch",
  );
  assert.equal(
    formatNotice({ kind: "watcher_failed", reason: "No such file", pollMs: 500 }),
    "file events stopped (No such file); still checking for changes every 500 ms",
  );
  assert.equal(
    formatNotice({
      kind: "expiry",
      at: AT,
      certificate: OLD,
      earliest: { position: 1, subject: OLD.subject, notAfter: OLD.notAfter },
      daysLeft: 30,
      warnDays: 45,
    }),
    'certificate "cert.pem" (CN=localhost) expires 2026-12-27T12:00:00Z (30 days left), within ' +
      "the 45-day warning window; renew it and reload",
  );
});

test("a dry run's line is the reload's line in a would-form, ending so that it cannot pass for a reload", () => {
  const base = { trigger: "http" as const, at: AT, durationMs: 1, dryRun: true };
  const tail = "; dry run: nothing was swapped or recorded";
  assert.equal(
    formatOutcome({ ...base, kind: "reloaded", certificate: NEW, previous: OLD, notes: [] }),
    'would reload: would serve "cert.pem": CN=localhost [DNS:localhost], expires ' +
      "2027-11-27T12:00:00Z (365 days left), SHA-256 BB:BB; would replace one that expires 2026-12-27T12:00:00Z" +
      tail,
  );
  assert.equal(
    formatOutcome({ ...base, kind: "unchanged", certificate: OLD }),
    'would be unchanged: "cert.pem" holds the certificate already being served, CN=localhost ' +
      "[DNS:localhost], expires 2026-12-27T12:00:00Z (30 days left), SHA-256 AA:AA" + tail,
  );
  const error = { kind: "empty", role: "certificate", path: "cert.pem" } as const;
  const real = formatOutcome({ ...base, kind: "failed", error, certificate: OLD, dryRun: false });
  const dry = formatOutcome({ ...base, kind: "failed", error, certificate: OLD });
  assert.equal(dry, real.replace(/^reload failed: /, "would fail: ") + tail);
});

test("a reload's notes follow its line: an allowed drop of names, an earlier expiry, a new key type", () => {
  const line = formatOutcome({
    kind: "reloaded",
    trigger: "sighup",
    at: AT,
    durationMs: 1,
    certificate: NEW,
    previous: OLD,
    notes: [
      {
        kind: "names_dropped",
        dropped: [{ type: "dns", value: "a.example" }, { type: "ip", value: "::1" }],
      },
      { kind: "expires_earlier", notAfter: OLD.notAfter, previousNotAfter: NEW.notAfter },
      { kind: "key_type_changed", from: "ECDSA P-256", to: "RSA 2048" },
    ],
  });
  assert.match(
    line,
    /; it replaced one that expires 2026-12-27T12:00:00Z; note: it no longer covers "a\.example" and "::1" \(dropped names allowed\); it expires earlier than the certificate it replaces \(2026-12-27T12:00:00Z, not 2027-11-27T12:00:00Z\); its key changed from ECDSA P-256 to RSA 2048$/,
  );
});
