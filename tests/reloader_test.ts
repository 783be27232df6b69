import assert from "node:assert/strict";
import type {
  Certificate,
  CertificateError,
  ChainCertificate,
} from "../lib/certificate/certificate.ts";
import { Reloader } from "../lib/reload/reloader.ts";
import { err, ok, type Result } from "../lib/ground/result.ts";
import { fakeCertificate } from "./_certificates.ts";
import { test } from "./_time_limit.ts";

type LoadResult = Result<Certificate, CertificateError>;

/** A loader whose calls wait until the test answers them, one by one. */
class ScriptedLoader {
  calls = 0;
  running = 0;
  maxRunning = 0;
  readonly #pending: ((result: LoadResult) => void)[] = [];

  load = (): Promise<LoadResult> => {
    this.calls++;
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    return new Promise((resolve) => {
      this.#pending.push((result) => {
        this.running--;
        resolve(result);
      });
    });
  };

  /** Answers the oldest waiting call once it has been made. */
  async answer(result: LoadResult): Promise<void> {
    while (this.#pending.length === 0) await new Promise((r) => setTimeout(r, 1));
    this.#pending.shift()?.(result);
  }
}

const OLD = fakeCertificate("AA");
const NEW = fakeCertificate("BB");
const NEWER = fakeCertificate("CC");
const MISSING: CertificateError = { kind: "not_found", role: "certificate", path: "cert.pem" };

test("reload swaps in a different certificate and reports the one it replaced", async () => {
  const loader = new ScriptedLoader();
  const reloader = new Reloader(OLD, { load: loader.load });
  const outcome = reloader.reload();
  await loader.answer(ok(NEW));
  const result = await outcome;
  assert.equal(result.kind, "reloaded");
  assert.equal(result.kind === "reloaded" && result.previous, OLD);
  assert.equal(reloader.active, NEW);
});

test("reload keeps the previous certificate when the new one is rejected", async () => {
  const loader = new ScriptedLoader();
  const reloader = new Reloader(OLD, { load: loader.load });
  const outcome = reloader.reload();
  await loader.answer(err(MISSING));
  const result = await outcome;
  assert.deepEqual(result.kind === "failed" && result.error, MISSING);
  assert.equal(result.certificate, OLD);
  assert.equal(reloader.active, OLD);
});

test("reload of the certificate already active reports unchanged, not reloaded", async () => {
  const loader = new ScriptedLoader();
  const reloader = new Reloader(OLD, { load: loader.load });
  const outcome = reloader.reload();
  await loader.answer(ok(fakeCertificate("AA")));
  assert.equal((await outcome).kind, "unchanged");
  assert.equal(reloader.active, OLD);
});

test("reload treats a new chain behind the same leaf as a change", async () => {
  const loader = new ScriptedLoader();
  const reloader = new Reloader(OLD, { load: loader.load });
  const outcome = reloader.reload();
  await loader.answer(
    ok(
      fakeCertificate("AA", {
        chain: [...OLD.chain, { ...(OLD.chain[0] as ChainCertificate), fingerprint256: "11" }],
      }),
    ),
  );
  assert.equal((await outcome).kind, "reloaded");
});

test("reloads never interleave: callers during a reload share one fresh reload after it", async () => {
  const loader = new ScriptedLoader();
  const reloader = new Reloader(OLD, { load: loader.load });
  const first = reloader.reload();
  const second = reloader.reload("http");
  const third = reloader.reload("sighup");
  assert.equal(loader.calls, 1, "the queued callers must wait for the running reload");
  await loader.answer(ok(NEW));
  assert.equal((await first).kind, "reloaded");
  await loader.answer(ok(NEWER));
  const [secondOutcome, thirdOutcome] = [await second, await third];
  assert.deepEqual(
    { ...secondOutcome, trigger: "sighup" },
    thirdOutcome,
    "callers queued together share one outcome",
  );
  assert.equal(secondOutcome.at, thirdOutcome.at, "from one load");
  assert.equal((await first).trigger, "api", "reload() without a trigger is an api call");
  assert.equal(secondOutcome.trigger, "http", "each caller's answer names its own trigger");
  assert.equal(thirdOutcome.trigger, "sighup");
  assert.equal(secondOutcome.certificate, NEWER);
  assert.equal(loader.calls, 2);
  assert.equal(loader.maxRunning, 1);
  assert.equal(reloader.active, NEWER);
});

test("a reload requested after the queue drained runs again", async () => {
  const loader = new ScriptedLoader();
  const reloader = new Reloader(OLD, { load: loader.load });
  const first = reloader.reload();
  await loader.answer(ok(NEW));
  await first;
  const again = reloader.reload();
  await loader.answer(ok(NEWER));
  assert.equal((await again).kind, "reloaded");
  assert.equal(loader.calls, 2);
});

test("reload activates the new certificate before reporting success", async () => {
  const loader = new ScriptedLoader();
  const events: string[] = [];
  const reloader = new Reloader(OLD, {
    load: loader.load,
    activate: async (certificate) => {
      await new Promise((r) => setTimeout(r, 5));
      events.push(`activated ${certificate.fingerprint256}`);
      return ok(undefined);
    },
  });
  const outcome = reloader.reload().then((result) => events.push(`reported ${result.kind}`));
  await loader.answer(ok(NEW));
  await outcome;
  assert.deepEqual(events, ["activated BB", "reported reloaded"]);
});

test("reload fails and keeps the previous certificate when activation is refused", async () => {
  const loader = new ScriptedLoader();
  const refused: CertificateError = { kind: "tls_rejected", path: "cert.pem", reason: "no" };
  const reloader = new Reloader(OLD, { load: loader.load, activate: () => err(refused) });
  const outcome = reloader.reload();
  await loader.answer(ok(NEW));
  const result = await outcome;
  assert.deepEqual(result.kind === "failed" && result.error, refused);
  assert.equal(result.certificate, OLD);
  assert.equal(reloader.active, OLD);
});

test("reload stamps the outcome with the injected clock", async () => {
  const loader = new ScriptedLoader();
  const at = new Date("2026-06-01T12:00:00Z");
  const reloader = new Reloader(OLD, { load: loader.load, clock: () => at });
  const outcome = reloader.reload();
  await loader.answer(err(MISSING));
  assert.equal((await outcome).at, at);
});

test("a loader that throws fails the reload instead of letting the exception escape", async () => {
  const reloader = new Reloader(OLD, {
    load: () => Promise.reject(new Error("boom")),
  });
  const outcome = await reloader.reload("sighup");
  assert.equal(outcome.kind, "failed");
  assert.equal(outcome.kind === "failed" && outcome.error.kind, "io");
  assert.match(
    outcome.kind === "failed" && outcome.error.kind === "io" ? outcome.error.reason : "",
    /boom/,
  );
  assert.equal(reloader.active, OLD);
});

test("a dry run checks and answers like a reload but never activates or changes the active certificate", async () => {
  const loader = new ScriptedLoader();
  let activations = 0;
  const reloader = new Reloader(OLD, {
    load: loader.load,
    activate: () => {
      activations++;
      return ok(undefined);
    },
  });
  const dry = reloader.reload("http", { dryRun: true });
  await loader.answer(ok(NEW));
  const outcome = await dry;
  assert.equal(outcome.kind, "reloaded");
  assert.equal(outcome.kind === "reloaded" && outcome.dryRun, true);
  assert.equal(outcome.certificate, NEW, "the certificate that would be served");
  assert.equal(reloader.active, OLD);
  assert.equal(reloader.activeSince.trigger, "startup");
  assert.equal(activations, 0);
});

test("a dry run and a real reload queued together do not share one outcome, and still never interleave", async () => {
  const gate = Promise.withResolvers<void>();
  let [calls, running, maxRunning] = [0, 0, 0];
  const reloader = new Reloader(OLD, {
    load: async () => {
      calls++;
      running++;
      maxRunning = Math.max(maxRunning, running);
      if (calls === 1) await gate.promise;
      running--;
      return ok(calls === 1 ? NEW : NEWER);
    },
  });
  const first = reloader.reload();
  const dry = reloader.reload("http", { dryRun: true });
  const real = reloader.reload("sighup");
  const dryAgain = reloader.reload("http", { dryRun: true });
  gate.resolve();
  const [dryOutcome, realOutcome, dryAgainOutcome] = [await dry, await real, await dryAgain];
  assert.equal((await first).kind, "reloaded");
  assert.equal(dryOutcome.kind === "reloaded" && dryOutcome.dryRun, true);
  assert.equal(realOutcome.kind === "reloaded" && realOutcome.dryRun, undefined);
  assert.equal(dryAgainOutcome.at, dryOutcome.at, "dry runs queued together share one");
  assert.equal(calls, 3, "the running reload, one dry run, one real reload");
  assert.equal(maxRunning, 1);
  assert.equal(reloader.active, NEWER);
});

test("a renewal that drops a name fails as names_dropped unless the reloader or the call allows it", async () => {
  const served = fakeCertificate("AA", {
    subjectAltNames: ["DNS:a.example", "IP Address:10.0.0.2"],
  });
  const renewal = fakeCertificate("BB", { subjectAltNames: ["DNS:a.example"] });
  const strict = new Reloader(served, { load: () => Promise.resolve(ok(renewal)) });
  const refused = await strict.reload();
  assert.equal(refused.kind === "failed" && refused.error.kind, "names_dropped");
  assert.equal(strict.active, served);
  const allowed = await strict.reload("http", { allowDroppedNames: true });
  assert.equal(allowed.kind, "reloaded");
  const lenient = new Reloader(served, {
    load: () => Promise.resolve(ok(renewal)),
    allowDroppedNames: true,
  });
  const outcome = await lenient.reload("sighup");
  assert.equal(outcome.kind, "reloaded");
  assert.deepEqual(outcome.kind === "reloaded" && outcome.notes, [
    { kind: "names_dropped", dropped: [{ type: "ip", value: "10.0.0.2" }] },
  ]);
});
