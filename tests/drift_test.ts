import assert from "node:assert/strict";
import { type Certificate, loadCertificate } from "../lib/certificate/certificate.ts";
import { DriftCheck } from "../lib/reload/drift.ts";
import { mintCertificate, TempDir } from "./_fixtures.ts";
import { test } from "./_time_limit.ts";

test("drift costs a stat per look and reads the files only when the stat changed", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  let reads = 0;
  const drift = new DriftCheck([cert], (now) => {
    reads++;
    return loadCertificate({ cert }, { now });
  });
  const loaded = await loadCertificate({ cert });
  assert.ok(loaded.ok);
  const served: Certificate = loaded.value;
  assert.equal((await drift.look(served, new Date())).state, "same");
  assert.equal((await drift.look(served, new Date())).state, "same");
  assert.equal(reads, 1, "an unchanged stat reads nothing");
  await Deno.writeTextFile(cert, (await mintCertificate()).certificatePem);
  assert.equal((await drift.look(served, new Date())).state, "changed");
  assert.equal((await drift.look(served, new Date())).state, "changed");
  assert.equal(reads, 2, "one read after the rewrite");
});
