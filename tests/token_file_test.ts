/**
 * The control token file, as a careless operator or a local attacker would leave it: the start is
 * refused, with the fix, for a token no request could send and for a file other users may read or
 * write (judged on a link's target); never is the token itself printed.
 */

import assert from "node:assert/strict";
import { mintCertificate, TempDir } from "./_fixtures.ts";
import { ServerProcess } from "./_server.ts";
import { test } from "./_time_limit.ts";

/** Spawns the server with a token file; resolves once it is ready or has exited. */
async function startWithToken(cert: string, tokenFile: string): Promise<ServerProcess> {
  const server = ServerProcess.spawn({ options: { cert, controlTokenFile: tokenFile } });
  await Promise.race([server.waitForLine(/\[startup\] ready/).catch(() => {}), server.exited()]);
  return server;
}

/** The exit code of a start that must be refused; fails (without waiting) when the server serves. */
async function refusedCode(server: ServerProcess): Promise<number> {
  assert.ok(!server.lines.some((line) => /\[startup\] ready/.test(line)), "the server started");
  return (await server.exited()).code;
}

test("a token holding a space, a control character or non-ASCII refuses the start, naming what it holds and not the token", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  const cases: [string, string][] = [
    ["abc def", "a space"],
    ["abc\tdef", "a control character"],
    ["t\u00f6ken", "a character outside ASCII"],
    ["tok\u2028en", "a character outside ASCII"],
  ];
  for (const [token, holds] of cases) {
    const file = await dir.writeSecret("token", `${token}\n`);
    await using server = await startWithToken(cert, file);
    assert.equal(await refusedCode(server), 1, token);
    assert.equal(
      server.stderr,
      `startup failed: Cannot use control token "${file}": it holds ${holds}, and a token must ` +
        "be printable ASCII without spaces (e.g. openssl rand -hex 32); the server was not started\n",
    );
    assert.ok(!server.stderr.includes(token), server.stderr);
  }
});

test("a token file group or others may read or write refuses the start with chmod 600; a link is judged on its target", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  const token = "s3cret-token";
  for (const mode of [0o644, 0o640, 0o604, 0o620, 0o602, 0o666]) {
    const file = await dir.writeSecret("token", token);
    await Deno.chmod(file, mode);
    await using server = await startWithToken(cert, file);
    assert.equal(await refusedCode(server), 1, mode.toString(8));
    assert.equal(
      server.stderr,
      `startup failed: Cannot use control token "${file}": its mode is 0${mode.toString(8)}, so ` +
        `other users may read or change it; make it readable by its owner only with: chmod 600 ` +
        `${file}; the server was not started\n`,
    );
    assert.ok(!server.stderr.includes(token));
  }
  // A link (whose own mode is 0777) to a 0600 file is fine; to a 0644 one it is refused.
  const target = await dir.writeSecret("real-token", token);
  const link = dir.path("token-link");
  await Deno.symlink(target, link);
  {
    await using server = await startWithToken(cert, link);
    await server.waitForLine(/\[startup\] ready/);
    const allowed = await fetch(server.controlUrl("/certs"), {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(allowed.status, 200);
    await allowed.body?.cancel();
  }
  await Deno.chmod(target, 0o644);
  await using refused = await startWithToken(cert, link);
  assert.equal(await refusedCode(refused), 1);
  assert.match(
    refused.stderr,
    /its mode is 0644, .* chmod 600 .*token-link; the server was not started/,
  );
  // Owner-only modes pass, an execute bit included.
  for (const mode of [0o400, 0o600, 0o700]) {
    const file = await dir.writeSecret("token", token);
    await Deno.chmod(file, mode);
    await using server = await startWithToken(cert, file);
    await server.waitForLine(/\[startup\] ready/);
  }
});
