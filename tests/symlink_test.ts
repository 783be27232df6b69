/**
 * Certificates behind symbolic links, as certbot (`live/` → `archive/`) and
 * Kubernetes Secret volumes (`tls.crt` → `..data/tls.crt`, `..data` → a
 * timestamped folder) lay them out. The real server runs with read grants on
 * the configured names only, exactly as `deno task start` derives them.
 */

import assert from "node:assert/strict";
import { fingerprintOf, mintCertificate, type MintedCertificate, TempDir } from "./_fixtures.ts";
import { postReload, ServerProcess } from "./_server.ts";
import { servedFingerprint } from "./_tls_clients.ts";
import { test } from "./_time_limit.ts";

/** A directory layout of links whose targets can be rotated the way the real tool does it. */
interface Layout {
  /** The configured certificate and key paths (both links). */
  readonly cert: string;
  readonly key: string;
  /** Writes a new pair and re-points the links atomically, as the tool does on renewal. */
  rotate(pair: MintedCertificate): Promise<void>;
}

/** Replaces (or creates) a symbolic link atomically: a new link renamed over the old one. */
async function pointLink(link: string, target: string): Promise<void> {
  const staging = `${link}.tmp-${crypto.randomUUID()}`;
  await Deno.symlink(target, staging);
  await Deno.rename(staging, link);
}

/** certbot: `live/site/fullchain.pem -> ../../archive/site/fullchainN.pem`, likewise privkey. */
async function certbotLayout(dir: TempDir, pair: MintedCertificate): Promise<Layout> {
  await Deno.mkdir(dir.path("archive/site"), { recursive: true });
  await Deno.mkdir(dir.path("live/site"), { recursive: true });
  let version = 0;
  const rotate = async (next: MintedCertificate) => {
    version++;
    await dir.write(`archive/site/fullchain${version}.pem`, next.certificatePem);
    await dir.write(`archive/site/privkey${version}.pem`, next.keyPem);
    await pointLink(
      dir.path("live/site/fullchain.pem"),
      `../../archive/site/fullchain${version}.pem`,
    );
    await pointLink(dir.path("live/site/privkey.pem"), `../../archive/site/privkey${version}.pem`);
  };
  await rotate(pair);
  return {
    cert: dir.path("live/site/fullchain.pem"),
    key: dir.path("live/site/privkey.pem"),
    rotate,
  };
}

/** Kubernetes Secret volume: `tls.crt -> ..data/tls.crt`, `..data -> ..<timestamp>` swapped by rename. */
async function kubernetesLayout(dir: TempDir, pair: MintedCertificate): Promise<Layout> {
  let version = 0;
  const rotate = async (next: MintedCertificate) => {
    version++;
    const folder = `..2026_11_29_03_00_0${version}.${crypto.randomUUID().slice(0, 8)}`;
    await Deno.mkdir(dir.path(folder));
    await dir.write(`${folder}/tls.crt`, next.certificatePem);
    await dir.write(`${folder}/tls.key`, next.keyPem);
    await pointLink(dir.path("..data"), folder);
  };
  await rotate(pair);
  await Deno.symlink("..data/tls.crt", dir.path("tls.crt"));
  await Deno.symlink("..data/tls.key", dir.path("tls.key"));
  return { cert: dir.path("tls.crt"), key: dir.path("tls.key"), rotate };
}

const LAYOUTS = { certbot: certbotLayout, Kubernetes: kubernetesLayout } as const;

for (const [name, makeLayout] of Object.entries(LAYOUTS)) {
  for (const https of [false, true]) {
    const mode = https ? "HTTPS" : "plain";
    test(`${name} links load at startup and reload by POST and SIGHUP after renewal (${mode} mode, grants on the link names only)`, async () => {
      await using dir = await TempDir.create();
      const pairs = await Promise.all(
        [1, 2, 3].map((n) => mintCertificate({ commonName: `v${n}.test` })),
      );
      const [first, second, third] = pairs as [
        MintedCertificate,
        MintedCertificate,
        MintedCertificate,
      ];
      const layout = await makeLayout(dir, first);
      await using server = await ServerProcess.start({
        options: https ? { cert: layout.cert, key: layout.key } : { cert: layout.cert },
      });
      await server.waitForLine(/\[startup\] loaded .*CN=v1\.test/);
      if (https) {
        assert.equal(
          await servedFingerprint(server.options.port),
          fingerprintOf(first.certificatePem),
        );
      }

      await layout.rotate(second);
      const post = await postReload(server);
      assert.equal(post.status, 200, post.body);
      assert.match(post.body, /^reloaded: now serving .*CN=v2\.test/);
      assert.ok(post.body.includes(`"${layout.cert}"`), "the line names the configured link");
      if (https) {
        assert.equal(
          await servedFingerprint(server.options.port),
          fingerprintOf(second.certificatePem),
        );
      }

      await layout.rotate(third);
      const from = server.lines.length;
      server.signal("SIGHUP");
      const logged = await server.nextLogLine("SIGHUP", from);
      assert.match(logged.text, /^reloaded: now serving .*CN=v3\.test/);
      if (https) {
        assert.equal(
          await servedFingerprint(server.options.port),
          fingerprintOf(third.certificatePem),
        );
      }
      assert.equal(server.stderr, "");
    });
  }
}

test("a dangling link is not_found naming the link and its target, at startup and on reload", async () => {
  await using dir = await TempDir.create();
  const pair = await mintCertificate();
  const layout = await certbotLayout(dir, pair);
  const target = dir.path("archive/site/fullchain1.pem");
  await Deno.rename(target, `${target}.gone`);
  await using failed = ServerProcess.spawn({ options: { cert: layout.cert, key: layout.key } });
  assert.equal((await failed.exited()).code, 1);
  assert.equal(
    failed.stderr,
    `startup failed: Cannot read certificate "${layout.cert}": file not found (it is a symbolic ` +
      `link, which pointed to "${target}" when checked); the server was not started\n`,
  );

  await Deno.rename(`${target}.gone`, target);
  await using server = await ServerProcess.start({
    options: { cert: layout.cert, key: layout.key },
  });
  await Deno.remove(target);
  const post = await postReload(server);
  assert.equal(post.status, 500);
  assert.match(
    post.body,
    new RegExp(
      `^reload failed: Cannot read certificate "${layout.cert}": file not found \\(it is a ` +
        `symbolic link, which pointed to "${target}" when checked\\); still serving the previous`,
    ),
  );
});

test("a link to a FIFO, a directory or a device is refused at once, and the pair stays", async () => {
  await using dir = await TempDir.create();
  const pair = await mintCertificate({ commonName: "kept.test" });
  const layout = await kubernetesLayout(dir, pair);
  await using server = await ServerProcess.start({
    options: { cert: layout.cert, key: layout.key },
  });
  const fifo = dir.path("fifo");
  assert.ok((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success);
  await Deno.mkdir(dir.path("folder"));
  const targets: [string, RegExp][] = [
    [fifo, /it is a named pipe \(FIFO\), not a regular file/],
    [dir.path("folder"), /it is a directory, not a regular file/],
    ["/dev/zero", /it is a character device, not a regular file/],
  ];
  for (const [target, cause] of targets) {
    await pointLink(layout.cert, target);
    const post = await postReload(server);
    assert.equal(post.status, 500, post.body);
    assert.match(post.body, cause);
    assert.match(post.body, /still serving the previous certificate .*CN=kept\.test/);
    const from = server.lines.length;
    server.signal("SIGHUP");
    assert.equal((await server.nextLogLine("SIGHUP", from)).text, post.body.trimEnd());
  }
  assert.equal(await servedFingerprint(server.options.port), fingerprintOf(pair.certificatePem));
});

test("a grant on the link's target instead of the link asks for the link's name, which is not granted", async () => {
  await using dir = await TempDir.create();
  const layout = await certbotLayout(dir, await mintCertificate());
  const target = dir.path("archive/site/fullchain1.pem");
  await using server = ServerProcess.spawn({
    options: { cert: layout.cert },
    permissions: ["--no-prompt", `--allow-read=${target}`, "--allow-net=127.0.0.1"],
  });
  assert.equal((await server.exited()).code, 1);
  assert.match(
    server.stderr,
    new RegExp(
      `^startup failed: Cannot read certificate "${layout.cert}": Deno denied read access; ` +
        `grant it with --allow-read=${layout.cert}; the server was not started\n$`,
    ),
  );
});
