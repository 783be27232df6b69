import assert from "node:assert/strict";
import { accessPolicy, MAX_CONTROL_BODY_BYTES } from "../lib/control/control_access.ts";
import { controlHandler, reloadOptions } from "../lib/control/control_server.ts";
import { formatOutcome } from "../lib/reload/outcome_words.ts";
import { ReloadHistory } from "../lib/reload/history.ts";
import { ReloadMetrics } from "../lib/control/metrics.ts";
import type { ReloadOutcome } from "../lib/reload/reloader.ts";
import { statusView } from "../lib/control/status_view.ts";
import { fakeCertificate } from "./_certificates.ts";
import { test } from "./_time_limit.ts";

const AT = new Date("2026-11-27T12:00:00Z");
const ACTIVE = fakeCertificate("BB", {
  notBefore: new Date("2026-11-01T00:00:00Z"),
  notAfter: new Date("2026-12-27T12:00:00Z"),
});
const RELOADED: ReloadOutcome = {
  kind: "reloaded",
  trigger: "http",
  at: AT,
  durationMs: 1.5,
  certificate: ACTIVE,
  previous: fakeCertificate("AA"),
  notes: [],
};
const FAILED: ReloadOutcome = {
  kind: "failed",
  trigger: "http",
  at: AT,
  durationMs: 1.5,
  error: { kind: "empty", role: "certificate", path: "cert.pem" },
  certificate: ACTIVE,
};

interface Setup {
  readonly token?: string;
  readonly hostname?: string;
  readonly now?: Date;
  readonly withoutToken?: readonly string[];
}

function handlerFor(outcome: ReloadOutcome, setup: Setup = {}) {
  let reloads = 0;
  const history = new ReloadHistory();
  const metrics = new ReloadMetrics();
  const since = { at: AT, trigger: "startup" as const };
  const handle = controlHandler({
    reload: () => {
      reloads++;
      history.record(outcome);
      metrics.record(outcome);
      return Promise.resolve(outcome);
    },
    active: () => ACTIVE,
    activeSince: () => since,
    status: (now) =>
      Promise.resolve(statusView(ACTIVE, since, history.newestFirst(), now, 14, { state: "same" })),
    warnDays: 14,
    metrics,
    access: accessPolicy(setup.hostname ?? "127.0.0.1", setup.token, {
      withoutToken: setup.withoutToken,
    }),
    clock: () => setup.now ?? AT,
  });
  return { handle, reloads: () => reloads };
}

const BASE = "http://127.0.0.1:3000";
const post = (path = "/reload_certs", init: RequestInit = {}) =>
  new Request(`${BASE}${path}`, { method: "POST", ...init });

test("POST /reload_certs runs one reload and answers 200 with the outcome line", async () => {
  const { handle, reloads } = handlerFor(RELOADED);
  const response = await handle(post());
  assert.equal(response.status, 200);
  assert.equal(await response.text(), formatOutcome(RELOADED) + "\n");
  assert.equal(response.headers.get("x-reload-outcome"), "reloaded");
  assert.equal(reloads(), 1);
});

test("a failed reload answers 500 so that curl -f fails", async () => {
  const { handle } = handlerFor(FAILED);
  const response = await handle(post());
  assert.equal(response.status, 500);
  assert.equal(await response.text(), formatOutcome(FAILED) + "\n");
});

test("POST /reload_certs under Accept: application/json answers ok, outcome, trigger, message, certificate, error", async () => {
  const { handle } = handlerFor(FAILED);
  const response = await handle(post("/reload_certs", { headers: { accept: "application/json" } }));
  assert.equal(response.status, 500);
  assert.equal(response.headers.get("content-type"), "application/json");
  const body = await response.json();
  assert.equal(body.ok, false);
  assert.equal(body.outcome, "failed");
  assert.equal(body.trigger, "http");
  assert.equal(body.message, formatOutcome(FAILED));
  assert.equal(body.certificate.fingerprint256, "BB");
  assert.equal(body.error.kind, "empty");
  assert.equal(body.error.message, 'Cannot load certificate "cert.pem": the file is empty');
  const good = await handlerFor(RELOADED).handle(
    post("/reload_certs", { headers: { accept: "application/json" } }),
  );
  const ok = await good.json();
  assert.deepEqual([ok.ok, ok.outcome, "error" in ok], [true, "reloaded", false]);
});

test("each route answers only its methods: 405 with Allow, and 404 for unknown paths", async () => {
  const { handle, reloads } = handlerFor(RELOADED);
  const cases: [string, string, string][] = [
    ["/reload_certs", "GET", "POST"],
    ["/reload_certs", "PUT", "POST"],
    ["/certs", "POST", "GET, HEAD"],
    ["/metrics", "DELETE", "GET, HEAD"],
    ["/healthz", "POST", "GET, HEAD"],
  ];
  for (const [path, method, allow] of cases) {
    const response = await handle(new Request(`${BASE}${path}`, { method }));
    assert.equal(response.status, 405, `${method} ${path}`);
    assert.equal(response.headers.get("allow"), allow);
    assert.match(await response.text(), /\n$/);
  }
  const missing = await handle(post("/reload"));
  assert.equal(missing.status, 404);
  assert.match(
    await missing.text(),
    /POST \/reload_certs, GET \/certs, GET \/metrics and GET \/healthz\n$/,
  );
  assert.equal(reloads(), 0);
});

test("browser requests are refused: an Origin header, or Sec-Fetch-Site cross-site or same-site", async () => {
  const { handle, reloads } = handlerFor(RELOADED);
  const browser: Record<string, string>[] = [
    { origin: "https://evil.example" },
    { "sec-fetch-site": "cross-site" },
    { "sec-fetch-site": "same-site" },
  ];
  for (const headers of browser) {
    const response = await handle(post("/reload_certs", { headers }));
    assert.equal(response.status, 403, JSON.stringify(headers));
    assert.match(await response.text(), /web browsers/);
  }
  assert.equal(reloads(), 0);
  for (const site of ["same-origin", "none"]) {
    const response = await handle(post("/reload_certs", { headers: { "sec-fetch-site": site } }));
    assert.equal(response.status, 200, site);
    await response.body?.cancel();
  }
});

test("a Host that is neither the control address nor a loopback name is refused (DNS rebinding)", async () => {
  const { handle, reloads } = handlerFor(RELOADED);
  const rebound = await handle(new Request("http://evil.example:3000/certs"));
  assert.equal(rebound.status, 403);
  assert.match(await rebound.text(), /Host "evil\.example" is not this control server's address/);
  for (const host of ["127.0.0.1", "localhost", "[::1]"]) {
    const response = await handle(new Request(`http://${host}:3000/certs`));
    assert.equal(response.status, 200, host);
    await response.body?.cancel();
  }
  assert.equal(reloads(), 0);
  const wildcard = handlerFor(RELOADED, { hostname: "0.0.0.0", token: "t" });
  const anyHost = await wildcard.handle(
    new Request("http://server.example:3000/certs", { headers: { authorization: "Bearer t" } }),
  );
  assert.equal(anyHost.status, 200, "on a wildcard address the token is the guard");
  await anyHost.body?.cancel();
});

test("with a token, requests without the right Bearer token get 401 with WWW-Authenticate", async () => {
  const { handle, reloads } = handlerFor(RELOADED, { token: "s3cret-token" });
  for (
    const authorization of [
      undefined,
      "Bearer wrong",
      "Basic czNjcmV0LXRva2Vu",
      "Bearer s3cret",
      "Bearer s3cret-tokem",
      "Bearer s3cret-token-and-more",
      "Bearer s3cret-tokens3cret-token",
    ]
  ) {
    const headers: Record<string, string> = authorization ? { authorization } : {};
    for (
      const request of [
        post("/reload_certs", { headers }),
        new Request(`${BASE}/metrics`, { headers }),
      ]
    ) {
      const response = await handle(request);
      assert.equal(response.status, 401, String(authorization));
      assert.equal(response.headers.get("www-authenticate"), 'Bearer realm="signal-server"');
      await response.body?.cancel();
    }
  }
  assert.equal(reloads(), 0);
  const allowed = await handle(
    post("/reload_certs", { headers: { authorization: "Bearer s3cret-token" } }),
  );
  assert.equal(allowed.status, 200);
  await allowed.body?.cancel();
  assert.equal(reloads(), 1);
});

test("a path left open to probes answers without the token; every other path, and its Host and browser checks, still apply", async () => {
  const open = handlerFor(RELOADED, { token: "s3cret-token", withoutToken: ["/healthz"] });
  const health = await open.handle(new Request(`${BASE}/healthz`));
  assert.equal(health.status, 200);
  assert.match(await health.text(), /^ok: serving /);
  for (const path of ["/certs", "/metrics"]) {
    const refused = await open.handle(new Request(`${BASE}${path}`));
    assert.equal(refused.status, 401, path);
    await refused.body?.cancel();
  }
  const reload = await open.handle(post());
  assert.equal(reload.status, 401);
  await reload.body?.cancel();
  assert.equal(open.reloads(), 0);
  const rebound = await open.handle(new Request("http://evil.example:3000/healthz"));
  assert.equal(rebound.status, 403, "the Host check still guards the open path");
  await rebound.body?.cancel();
  const browser = await open.handle(
    new Request(`${BASE}/healthz`, { headers: { origin: "https://evil.example" } }),
  );
  assert.equal(browser.status, 403, "browser requests are still refused on the open path");
  await browser.body?.cancel();

  const closed = handlerFor(RELOADED, { token: "s3cret-token" });
  const guarded = await closed.handle(new Request(`${BASE}/healthz`));
  assert.equal(guarded.status, 401, "without the option /healthz needs the token too");
  await guarded.body?.cancel();
});

test("a POST with Content-Length: 0 is answered without making its body stream", async () => {
  // Deno gives every POST a body stream; made and read per reload, it became old-generation garbage.
  const { handle, reloads } = handlerFor(RELOADED);
  const request = post("/reload_certs", { headers: { "content-length": "0" } });
  let streamMade = false;
  Object.defineProperty(request, "body", {
    get() {
      streamMade = true;
      return null;
    },
  });
  const response = await handle(request);
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.equal(reloads(), 1);
  assert.equal(streamMade, false);
});

test("a body over 64 KiB gets 413 without being read to the end", async () => {
  const { handle, reloads } = handlerFor(RELOADED);
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(new Uint8Array(16 * 1024));
    },
  });
  const streamed = await handle(post("/reload_certs", { body: endless }));
  assert.equal(streamed.status, 413);
  assert.match(await streamed.text(), /at most 65536 bytes/);
  assert.ok(pulled < 10, `read ${pulled} chunks of an endless body`);
  const declared = await handle(post("/reload_certs", {
    body: new Uint8Array(MAX_CONTROL_BODY_BYTES + 1),
  }));
  assert.equal(declared.status, 413);
  await declared.body?.cancel();
  const small = await handle(post("/reload_certs", { body: "x".repeat(100) }));
  assert.equal(small.status, 200);
  await small.body?.cancel();
  assert.equal(reloads(), 1);
});

test("GET /certs shows the certificate and the reloads, newest first, as text or JSON", async () => {
  const { handle } = handlerFor(FAILED);
  await (await handle(post())).body?.cancel();
  const text = await (await handle(new Request(`${BASE}/certs`))).text();
  assert.match(text, /^certificate {3}cert\.pem\n/);
  assert.match(text, /SHA-256 {7}BB\n/);
  assert.match(text, /valid {9}2026-11-01T00:00:00Z to 2026-12-27T12:00:00Z \(30 days left\)/);
  assert.match(text, /loaded {8}2026-11-27T12:00:00Z by startup/);
  assert.match(
    text,
    /last reloads, newest first \(1\)\n {2}2026-11-27T12:00:00Z {2}http {4}failed/,
  );
  const json = await (await handle(
    new Request(`${BASE}/certs`, { headers: { accept: "application/json" } }),
  )).json();
  assert.equal(json.certificate.fingerprint256, "BB");
  assert.equal(json.certificate.daysLeft, 30);
  assert.equal(json.certificate.chain.length, 1);
  assert.equal(json.certificate.loadedBy, "startup");
  assert.deepEqual(json.reloads.map((r: { result: string }) => r.result), ["failed"]);
  assert.equal(json.reloads[0].errorKind, "empty");
  assert.equal(json.reloads[0].message, formatOutcome(FAILED));
  assert.equal(json.reloads[0].durationMs, 1.5);
});

test("GET /healthz is 200 while the certificate is valid and 503 once it has expired", async () => {
  const valid = await handlerFor(RELOADED).handle(new Request(`${BASE}/healthz`));
  assert.equal(valid.status, 200);
  assert.match(await valid.text(), /^ok: serving "cert\.pem"/);
  const later = handlerFor(RELOADED, { now: new Date("2027-01-01T00:00:00Z") });
  const expired = await later.handle(new Request(`${BASE}/healthz`));
  assert.equal(expired.status, 503);
  assert.equal(
    await expired.text(),
    'unhealthy: certificate "cert.pem" (CN=localhost) expired at 2026-12-27T12:00:00Z and is ' +
      "still being served; install a renewed certificate and reload\n",
  );
});

test("GET /metrics counts reloads by trigger and result and shows the certificate's dates", async () => {
  const { handle } = handlerFor(FAILED);
  await (await handle(post())).body?.cancel();
  const response = await handle(new Request(`${BASE}/metrics`));
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  assert.match(text, /^signal_server_reloads_total\{trigger="http",result="failed"\} 1$/m);
  assert.match(text, /^signal_server_last_reload_successful 0$/m);
  assert.match(
    text,
    /^signal_server_certificate_not_after_timestamp_seconds\{position="1",subject="CN=localhost"\} 1798372800$/m,
  );
  assert.match(text, /^signal_server_reload_failures_total\{kind="empty"\} 1$/m);
  assert.match(text, /^signal_server_reload_duration_seconds_count 1$/m);
});

test("reload parameters: dry_run and allow_dropped_names take 1/true or 0/false; anything else is an error line", () => {
  const parse = (query: string) => reloadOptions(new URLSearchParams(query));
  assert.deepEqual(parse(""), { ok: true, value: {} });
  assert.deepEqual(parse("dry_run=1&allow_dropped_names=TRUE"), {
    ok: true,
    value: { dryRun: true, allowDroppedNames: true },
  });
  assert.deepEqual(parse("dry_run=0"), { ok: true, value: { dryRun: false } });
  assert.deepEqual(parse("dry_run=yes"), { ok: false, error: 'dry_run must be 1 or 0, got "yes"' });
  assert.deepEqual(parse("dryrun=1"), {
    ok: false,
    error:
      'unknown query parameter "dryrun"; /reload_certs takes dry_run=1 and allow_dropped_names=1',
  });
});
