import assert from "node:assert/strict";
import { controlHandler } from "../lib/control_server.ts";
import { formatOutcome } from "../lib/format.ts";
import type { ReloadOutcome } from "../lib/reloader.ts";
import { fakeCertificate } from "./_certificates.ts";

const AT = new Date("2026-11-27T12:00:00Z");
const RELOADED: ReloadOutcome = {
  kind: "reloaded",
  trigger: "http",
  at: AT,
  certificate: fakeCertificate("BB"),
  previous: fakeCertificate("AA"),
};
const FAILED: ReloadOutcome = {
  kind: "failed",
  trigger: "http",
  at: AT,
  error: { kind: "empty", role: "certificate", path: "cert.pem" },
  certificate: fakeCertificate("AA"),
};

function handlerFor(outcome: ReloadOutcome) {
  let reloads = 0;
  const handle = controlHandler({
    reload: () => {
      reloads++;
      return Promise.resolve(outcome);
    },
  });
  return { handle, reloads: () => reloads };
}

const url = "http://127.0.0.1:3000/reload_certs";

Deno.test("POST /reload_certs runs one reload and answers 200 with the outcome line", async () => {
  const { handle, reloads } = handlerFor(RELOADED);
  const response = await handle(new Request(url, { method: "POST" }));
  assert.equal(response.status, 200);
  assert.equal(await response.text(), formatOutcome(RELOADED) + "\n");
  assert.equal(response.headers.get("x-reload-outcome"), "reloaded");
  assert.equal(reloads(), 1);
});

Deno.test("a failed reload answers 500 so that curl -f fails", async () => {
  const { handle } = handlerFor(FAILED);
  const response = await handle(new Request(url, { method: "POST" }));
  assert.equal(response.status, 500);
  assert.equal(await response.text(), formatOutcome(FAILED) + "\n");
});

Deno.test("other methods on /reload_certs answer 405 with Allow: POST and do not reload", async () => {
  const { handle, reloads } = handlerFor(RELOADED);
  for (const method of ["GET", "PUT", "DELETE"]) {
    const response = await handle(new Request(url, { method }));
    assert.equal(response.status, 405);
    assert.equal(response.headers.get("allow"), "POST");
    assert.match(await response.text(), /\n$/);
  }
  assert.equal(reloads(), 0);
});

Deno.test("other paths answer 404", async () => {
  const { handle, reloads } = handlerFor(RELOADED);
  const response = await handle(new Request("http://127.0.0.1:3000/reload", { method: "POST" }));
  assert.equal(response.status, 404);
  assert.match(await response.text(), /POST \/reload_certs\n$/);
  assert.equal(reloads(), 0);
});

Deno.test("a browser request carrying an Origin header is refused, so web pages cannot reload", async () => {
  const { handle, reloads } = handlerFor(RELOADED);
  const response = await handle(
    new Request(url, { method: "POST", headers: { origin: "https://evil.example" } }),
  );
  assert.equal(response.status, 403);
  await response.body?.cancel();
  assert.equal(reloads(), 0);
});
