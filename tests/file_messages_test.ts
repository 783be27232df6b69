/**
 * Failure messages about files describe the file as it was when the check failed (a link's target
 * read before the check, never after), and say no more about a file that turns out not to be a
 * certificate than the operator needs: no exact size, no PEM labels but ours.
 */

import assert from "node:assert/strict";
import { loadCertificate, MAX_FILE_BYTES } from "../lib/certificate/certificate.ts";
import { describeError } from "../lib/certificate/describe_error.ts";
import { mintCertificate, TempDir } from "./_fixtures.ts";
import { test } from "./_time_limit.ts";

test("under fast link swaps, a not-found message never names a target the link took after the check", async () => {
  await using dir = await TempDir.create();
  const link = dir.path("cert.pem");
  const missing = dir.path("missing.pem");
  await Deno.symlink(missing, link);
  // Another process swaps the link between a missing file and /dev/zero, as fast as it can.
  const swapper = new Deno.Command("python3", {
    args: [
      "-c",
      `import os, time
link, end = ${JSON.stringify(link)}, time.time() + 3
print("swapping", flush=True)
while time.time() < end:
    for target in (${JSON.stringify(missing)}, "/dev/zero"):
        os.symlink(target, link + ".new"); os.rename(link + ".new", link)`,
    ],
    stdout: "piped",
  }).spawn();
  await swapper.stdout.getReader().read(); // it has started
  let swapping = true;
  const swapped = swapper.status.finally(() => swapping = false);
  const kinds = new Map<string, number>();
  try {
    for (let attempt = 0; attempt < 100_000 && swapping; attempt++) {
      const loaded = await loadCertificate({ cert: link });
      assert.ok(!loaded.ok);
      const error = loaded.error;
      kinds.set(error.kind, (kinds.get(error.kind) ?? 0) + 1);
      // A target is named only as where the link pointed when checked, never as missing.
      assert.doesNotMatch(describeError(error), /does not exist/);
      if (error.kind === "not_found") {
        assert.match(
          describeError(error),
          /file not found \(it is a symbolic link, which pointed to ".*" when checked\)$/,
        );
        const target = error.linkTarget ?? "";
        kinds.set(target, (kinds.get(target) ?? 0) + 1);
      }
    }
  } finally {
    await swapped;
  }
  // Both states were seen: the race was real. (A not-found may name /dev/zero: the link pointed
  // there when read, and was swapped before the stat; the words claim no more than that.)
  assert.ok(
    (kinds.get("not_found") ?? 0) > 0 && (kinds.get("not_a_file") ?? 0) > 0,
    [...kinds].join(),
  );
});

test("a file that is not a certificate is described without its size or its PEM labels", async () => {
  await using dir = await TempDir.create();
  const big = await dir.write("big.pem", new Uint8Array(MAX_FILE_BYTES + 12345));
  const tooLarge = await loadCertificate({ cert: big });
  assert.ok(!tooLarge.ok);
  assert.equal(
    describeError(tooLarge.error),
    `Cannot read certificate "${big}": it is over the size limit of 1024 KiB`,
  );
  assert.ok(!JSON.stringify(tooLarge.error).includes(String(MAX_FILE_BYTES + 12345)));

  const sshKey = await dir.write(
    "ssh.pem",
    "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n" +
      "-----BEGIN SECRET PLANS-----\nAAAA\n-----END SECRET PLANS-----\n",
  );
  const notCertificate = await loadCertificate({ cert: sshKey });
  assert.ok(!notCertificate.ok);
  assert.equal(
    describeError(notCertificate.error),
    `Cannot load certificate "${sshKey}": it holds no CERTIFICATE block, but a private key ` +
      "(is it the key file? pass the key with --key)",
  );
  assert.doesNotMatch(JSON.stringify(notCertificate.error), /OPENSSH|SECRET PLANS/);

  const truncated = await dir.write("t.pem", "-----BEGIN SECRET PLANS-----\nAAAA\n");
  const cut = await loadCertificate({ cert: truncated });
  assert.ok(!cut.ok);
  assert.equal(
    describeError(cut.error),
    `Cannot load certificate "${truncated}": its PEM block has no END line (is the file ` +
      "truncated or still being written?)",
  );

  const key = await dir.write(
    "key.pem",
    "-----BEGIN SECRET PLANS-----\nAAAA\n-----END SECRET PLANS-----\n",
  );
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  const noKey = await loadCertificate({ cert, key });
  assert.ok(!noKey.ok);
  assert.equal(
    describeError(noKey.error),
    `Cannot load key "${key}": it holds no private key block`,
  );
});
