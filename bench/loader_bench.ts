/**
 * `deno bench` for the loader: a reload's cost without HTTP, for a one-certificate
 * file and a leaf + intermediate + root chain, read from disk and from bytes; and
 * what a drift look costs (`/certs`, `/metrics`) when the files are unchanged
 * and when they changed.
 *
 * ```sh
 * deno bench --allow-read --allow-write bench/loader_bench.ts
 * ```
 *
 * @module
 */

import { loadCertificate, parseCertificate } from "../lib/certificate/certificate.ts";
import { DriftCheck } from "../lib/reload/drift.ts";
import { mintCertificate, mintChain } from "../tests/_fixtures.ts";

const dir = await Deno.makeTempDir({ prefix: "signal-server-bench-" });
const single = await mintCertificate();
const { root, intermediate, leaf } = await mintChain();
const chainPem = leaf.certificatePem + intermediate.certificatePem + root.certificatePem;
await Deno.writeTextFile(`${dir}/single.pem`, single.certificatePem);
await Deno.writeTextFile(`${dir}/single.key`, single.keyPem);
await Deno.writeTextFile(`${dir}/chain.pem`, chainPem);
const encoder = new TextEncoder();
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

Deno.bench(
  "load a 1-certificate file and its key from disk",
  { group: "load", baseline: true },
  async () => {
    const loaded = await loadCertificate({ cert: `${dir}/single.pem`, key: `${dir}/single.key` });
    if (!loaded.ok) throw new Error(loaded.error.kind);
  },
);

Deno.bench("load a 3-certificate chain from disk", { group: "load" }, async () => {
  const loaded = await loadCertificate({ cert: `${dir}/chain.pem` });
  if (!loaded.ok) throw new Error(loaded.error.kind);
});

Deno.bench("parse a 3-certificate chain from bytes (no I/O)", { group: "parse" }, async () => {
  const parsed = await parseCertificate(
    { certPath: "chain.pem", certBytes: encoder.encode(chainPem) },
    new Date(),
  );
  if (!parsed.ok) throw new Error(parsed.error.kind);
});

// Drift (/certs, /metrics): a look at unchanged files is a stat of each; a changed stat costs a load.
const served = await loadCertificate({ cert: `${dir}/single.pem`, key: `${dir}/single.key` });
if (!served.ok) throw new Error(served.error.kind);
const driftPaths = { cert: `${dir}/single.pem`, key: `${dir}/single.key` };
const drift = new DriftCheck(
  [driftPaths.cert, driftPaths.key],
  (now) => loadCertificate(driftPaths, { now }),
);

Deno.bench("drift: look at unchanged files (a stat each)", { group: "drift" }, async () => {
  if ((await drift.look(served.value, new Date())).state !== "same") throw new Error("drifted");
});

Deno.bench(
  "drift: look after a change (a stat each, then the load)",
  { group: "drift", baseline: true },
  async () => {
    const fresh = new DriftCheck(
      [driftPaths.cert, driftPaths.key],
      (now) => loadCertificate(driftPaths, { now }),
    );
    if ((await fresh.look(served.value, new Date())).state !== "same") throw new Error("drifted");
  },
);
