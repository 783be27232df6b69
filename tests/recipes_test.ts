/**
 * The docs' recipes with a `deno` binary as npm installs it: one path, /usr/local/bin/deno, in the
 * systemd unit, the certbot hook, the fleet script and the Kubernetes manifest; the hook finds
 * the binary (DENO, PATH, /usr/local/bin/deno) and, without one, says so and exits 2 instead of
 * "deno: not found" (127); the manifest starts the binary through `command:` and probes over HTTP
 * and TCP, never by starting a new Deno process.
 */

import assert from "node:assert/strict";
import { mintCertificate, TempDir } from "./_fixtures.ts";
import { ServerProcess } from "./_server.ts";
import { test } from "./_time_limit.ts";

const REPO = new URL("..", import.meta.url).pathname;
const NPM_DENO = "/usr/local/bin/deno";

async function text(path: string): Promise<string> {
  return await Deno.readTextFile(`${REPO}${path}`);
}

async function sh(script: string, env: Record<string, string>) {
  const output = await new Deno.Command("sh", {
    args: [script],
    cwd: REPO,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** The hook as installed here: this checkout, this server's port, and `binary` in place of /usr/local/bin/deno. */
async function hook(dir: TempDir, port: number, binary: string): Promise<string> {
  const written = (await text("docs/certbot/deploy-hook"))
    .replace('cd "$(dirname "$0")/../.."', `cd "${REPO}"`)
    .replaceAll(NPM_DENO, binary)
    .replaceAll("127.0.0.1:3000", `127.0.0.1:${port}`)
    .replace("control_client.ts reload", `control_client.ts reload --port ${port}`);
  return await dir.write(`deploy-hook-${crypto.randomUUID()}`, written);
}

test("every recipe runs the deno binary at /usr/local/bin/deno, where npm install -g --prefix /usr/local puts it", async () => {
  const unit = await text("docs/systemd/signal-server.service");
  for (const line of unit.split("\n").filter((l) => /^Exec(Start|Reload)=/.test(l))) {
    assert.ok(line.includes(`=${NPM_DENO} run `), line);
  }
  assert.match(unit, /npm install -g --prefix \/usr\/local deno@2\.9\.6/);
  assert.match(
    await text("docs/certbot/deploy-hook"),
    new RegExp(`^DENO_BINARY=${NPM_DENO}$`, "m"),
  );
  assert.match(
    await text("docs/fleet/reload-fleet.sh"),
    new RegExp(`SIGNAL_SERVER_DENO:=${NPM_DENO}\\}`),
  );
  assert.match(await text("docs/fleet/reload.yml"), new RegExp(`deno: ${NPM_DENO}\\n`));
});

test("the Kubernetes manifest starts the binary with command: and probes by HTTP and TCP, not a new Deno process", async () => {
  const manifest = await text("docs/kubernetes/deployment.yaml");
  assert.match(manifest, new RegExp(`^ {10}command:\\n {12}- ${NPM_DENO}\\n {12}- run\\n`, "m"));
  assert.doesNotMatch(manifest, /^\s+args:/m, "no args: beginning with deno");
  assert.doesNotMatch(manifest, /^\s+exec:/m, "no exec probe");
  assert.match(
    manifest,
    /readinessProbe:\n\s+httpGet: \{ scheme: HTTPS, port: https, path: \/hello \}/,
  );
  assert.match(manifest, /livenessProbe:\n\s+tcpSocket: \{ port: https \}/);
});

test("the certbot hook finds deno through DENO, PATH or /usr/local/bin/deno, and without one exits 2 saying how to install it", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  await using server = await ServerProcess.start({ options: { cert } });
  const port = server.options.controlPort;
  const denoDir = Deno.execPath().replace(/\/[^/]+$/, "");
  const noDeno = "/usr/bin:/bin";
  assert.ok(
    !(await exists("/usr/bin/deno")) && !(await exists("/bin/deno")),
    "no deno in /usr/bin",
  );

  const missing = await sh(await hook(dir, port, `${dir.dir}/nowhere/deno`), { PATH: noDeno });
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(
    missing.stderr,
    /^deploy-hook: no deno binary \(DENO is unset, none on PATH, none at /,
  );
  assert.match(
    missing.stderr,
    /install one with npm install -g --prefix \/usr\/local deno@2\.9\.6, or set DENO; signal-server was not asked to reload\n$/,
  );

  const fixed = await hook(dir, port, Deno.execPath());
  const byPath = await sh(await hook(dir, port, `${dir.dir}/nowhere/deno`), {
    PATH: `${denoDir}:${noDeno}`,
  });
  assert.equal(byPath.code, 0, byPath.stderr);
  assert.match(byPath.stdout, /^unchanged: /);
  const byBinary = await sh(fixed, { PATH: noDeno });
  assert.equal(byBinary.code, 0, byBinary.stderr);
  const byEnv = await sh(await hook(dir, port, `${dir.dir}/nowhere/deno`), {
    PATH: noDeno,
    DENO: Deno.execPath(),
  });
  assert.equal(byEnv.code, 0, byEnv.stderr);
  assert.match(byEnv.stdout, /^unchanged: /);
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
