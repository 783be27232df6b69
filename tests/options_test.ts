import assert from "node:assert/strict";
import { DEFAULT_OPTIONS, type Options, parseOptions } from "../lib/cli/options.ts";
import { hostPort } from "../lib/ground/address.ts";
import {
  denoRunLine,
  NO_CONFIG,
  permissionFlags,
  serverArgs,
  shellWord,
  V8_FLAGS,
} from "../lib/cli/permissions.ts";
import { taskCommand } from "../lib/cli/task_words.ts";
import { SERVER_TASK_NAMES } from "../lib/cli/tasks.ts";
import { test } from "./_time_limit.ts";

function parsed(args: string[]): Options {
  const result = parseOptions(args);
  assert.ok(result.ok && result.value.kind === "run", JSON.stringify(result));
  return result.value.options;
}

function usageError(args: string[]): string {
  const result = parseOptions(args);
  assert.equal(result.ok, false, `expected a usage error for ${args.join(" ")}`);
  return result.ok ? "" : result.error;
}

test("no flags give the documented defaults", () => {
  assert.deepEqual(parsed([]), {
    cert: "cert.pem",
    key: undefined,
    hostname: "127.0.0.1",
    port: 8080,
    controlHostname: "127.0.0.1",
    controlPort: 3000,
    tlsFront: "auto",
    controlTokenFile: undefined,
    controlSocket: undefined,
    watch: false,
    warnDays: 14,
    logFormat: "text",
    pidFile: undefined,
    healthzWithoutToken: false,
    task: undefined,
    allowDroppedNames: false,
    limits: {
      handshakeTimeoutMs: 10_000,
      headerTimeoutMs: 20_000,
      idleTimeoutMs: 75_000,
      bodyTimeoutMs: 30_000,
      maxConnections: 10_000,
      stopGraceMs: 10_000,
    },
  });
});

test("every flag sets its option", () => {
  assert.deepEqual(
    parsed([
      "--cert=/etc/a.pem",
      "--key",
      "/etc/a.key",
      "--hostname",
      "0.0.0.0",
      "--port",
      "8443",
      "--control-hostname",
      "::1",
      "--control-port",
      "0",
      "--tls-front",
      "node",
      "--control-token-file",
      "/etc/token",
      "--control-socket",
      "/run/signal-server/control.sock",
      "--watch",
      "--warn-days",
      "30",
      "--log-format",
      "json",
      "--pid-file",
      "/run/signal-server/pid",
      "--healthz-without-token",
      "--task",
      "start:tls",
      "--allow-dropped-names",
      "--handshake-timeout=5",
      "--header-timeout",
      "2.5",
      "--idle-timeout=120",
      "--body-timeout=0.25",
      "--max-connections=50000",
      "--stop-grace=30",
    ]),
    {
      cert: "/etc/a.pem",
      key: "/etc/a.key",
      hostname: "0.0.0.0",
      port: 8443,
      controlHostname: "::1",
      controlPort: 0,
      tlsFront: "node",
      controlTokenFile: "/etc/token",
      controlSocket: "/run/signal-server/control.sock",
      watch: true,
      warnDays: 30,
      logFormat: "json",
      pidFile: "/run/signal-server/pid",
      healthzWithoutToken: true,
      task: "start:tls",
      allowDroppedNames: true,
      limits: {
        handshakeTimeoutMs: 5_000,
        headerTimeoutMs: 2_500,
        idleTimeoutMs: 120_000,
        bodyTimeoutMs: 250,
        maxConnections: 50_000,
        stopGraceMs: 30_000,
      },
    },
  );
});

test("a limit that is not a positive number of seconds (or connections) is a usage error naming the flag", () => {
  assert.match(
    usageError(["--idle-timeout=0"]),
    /^--idle-timeout must be a number of seconds above 0/,
  );
  assert.match(
    usageError(["--header-timeout=soon"]),
    /^--header-timeout must be a number of seconds/,
  );
  assert.match(usageError(["--max-connections=1.5"]), /^--max-connections must be a whole number/);
  assert.match(usageError(["--stop-grace=-1"]), /^--stop-grace must be a number of seconds/);
});

test("--help and -h ask for the usage text", () => {
  for (const flag of ["--help", "-h"]) {
    const result = parseOptions([flag]);
    assert.ok(result.ok && result.value.kind === "help");
  }
});

test("bad flags are usage errors that say what is wrong", () => {
  assert.match(usageError(["--port", "http"]), /--port must be a port number/);
  assert.match(usageError(["--control-port", "70000"]), /--control-port must be a port number/);
  assert.match(usageError(["--bogus"]), /bogus/);
  assert.match(usageError(["extra"]), /extra/);
  assert.match(usageError(["--cert="]), /--cert must not be empty/);
  for (const args of [["--warn-days=-1"], ["--warn-days", "-1"]]) {
    assert.equal(usageError(args), '--warn-days must be a whole number of days ≥ 0, got "-1"');
  }
  assert.equal(
    usageError(["--port", "-1"]),
    '--port must be a port number from 0 to 65535, got "-1"',
  );
  assert.match(usageError(["--cert", "--watch"]), /option "--cert" needs a value/);
  assert.equal(
    usageError(["--task", "serve"]),
    '--task must be one of start, start:tls, got "serve"',
  );
  assert.match(
    usageError(["--healthz-without-token"]),
    /--healthz-without-token needs --control-token-file/,
  );
  assert.match(usageError(["--log-format", "xml"]), /--log-format must be one of text, json/);
  assert.equal(usageError(["cert.pem"]), 'unexpected argument "cert.pem"');
  assert.match(
    usageError(["--", "--idle-timeout", "2"]),
    /^unexpected argument "--idle-timeout" after "--", which ends the options: drop the "--"/,
  );
  assert.match(
    usageError(["--tls-front", "fast"]),
    /--tls-front must be one of auto, native, node, got "fast"/,
  );
});

test("the control server refuses a non-loopback address unless a token file protects it", () => {
  assert.match(
    usageError(["--control-hostname", "0.0.0.0"]),
    /must be a loopback address .* unless --control-token-file is given/,
  );
  assert.equal(
    parsed(["--control-hostname", "0.0.0.0", "--control-token-file", "t"]).controlHostname,
    "0.0.0.0",
  );
  assert.match(usageError(["--control-socket", "run/c.sock"]), /must be an absolute path/);
  assert.equal(parsed(["--control-hostname", "localhost"]).controlHostname, "localhost");
});

test("permission flags grant read of the cert and key only, and net of the two addresses only", () => {
  assert.deepEqual(
    permissionFlags({ ...DEFAULT_OPTIONS, key: "key.pem", controlHostname: "::1" }),
    [
      "--no-prompt",
      NO_CONFIG,
      V8_FLAGS,
      "--allow-read=cert.pem,key.pem",
      "--allow-net=127.0.0.1:8080,[::1]:3000",
      "--unstable-net",
    ],
    "the native front (auto) needs --unstable-net for its reusePort listeners",
  );
  assert.deepEqual(
    permissionFlags({ ...DEFAULT_OPTIONS, key: "key.pem", tlsFront: "node" }),
    [
      "--no-prompt",
      NO_CONFIG,
      "--allow-read=cert.pem,key.pem",
      "--allow-net=127.0.0.1:8080,127.0.0.1:3000",
    ],
    "the node front needs no unstable flag",
  );
  assert.ok(!permissionFlags(DEFAULT_OPTIONS).includes("--unstable-net"), "plain HTTP needs none");
  assert.deepEqual(
    permissionFlags({
      ...DEFAULT_OPTIONS,
      controlTokenFile: "token",
      controlSocket: "/run/s/control.sock",
    }),
    [
      "--no-prompt",
      NO_CONFIG,
      V8_FLAGS,
      "--allow-read=cert.pem,token,/run/s/control.sock",
      "--allow-write=/run/s/control.sock",
      "--allow-net=127.0.0.1:8080,unix:/run/s/control.sock",
    ],
    "the token file's read; the socket's read, write and unix: net grant instead of TCP",
  );
  assert.deepEqual(
    permissionFlags({ ...DEFAULT_OPTIONS, pidFile: "/run/s/pid" }),
    [
      "--no-prompt",
      NO_CONFIG,
      V8_FLAGS,
      "--allow-read=cert.pem,/run/s/pid",
      "--allow-write=/run/s/pid",
      "--allow-net=127.0.0.1:8080,127.0.0.1:3000",
    ],
    "the pid file is read (the holder's pid), written, locked and removed",
  );
  assert.equal(hostPort("::1", 3000), "[::1]:3000");
});

test("deno task start and start:tls run exactly the derived least-privilege line, marked --task", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  for (const task of SERVER_TASK_NAMES) {
    const command: string = config.tasks[task].command;
    assert.equal(command, taskCommand(task), `deno.json's ${task} task drifted from taskCommand`);
    assert.doesNotMatch(command, /--allow-all|\s-A\b|--allow-(write|run|env|sys|ffi)/);
  }
  assert.ok(
    config.tasks.start.command.startsWith(
      `deno run ${permissionFlags(DEFAULT_OPTIONS).join(" ")} main.ts --task start`,
    ),
  );
});

test("--print-command prints the deno run line for the other flags, quoted for the shell, without --task", () => {
  const args = ["--task", "start", "--print-command", "--port", "9443", "--pid-file", "/run/x.pid"];
  const result = parseOptions(args);
  assert.ok(result.ok && result.value.kind === "print_command", JSON.stringify(result));
  const options = result.value.options;
  assert.deepEqual(serverArgs(args), ["--port", "9443", "--pid-file", "/run/x.pid"]);
  assert.equal(
    denoRunLine(options, serverArgs(args)),
    `deno run ${permissionFlags(options).join(" ")} main.ts --port 9443 --pid-file /run/x.pid`,
  );
  assert.deepEqual(serverArgs(["--task=start:tls", "--key", "k.pem", "--print-command"]), [
    "--key",
    "k.pem",
  ]);
  assert.equal(shellWord("/etc/my certs/it's.pem"), "'/etc/my certs/it'\\''s.pem'");
  assert.equal(shellWord("--allow-net=[::1]:3000"), "'--allow-net=[::1]:3000'");
  assert.equal(shellWord("--allow-read=cert.pem,key.pem"), "--allow-read=cert.pem,key.pem");
});

test("the server's and the example's module graphs are local files and node: built-ins only, so --no-config loses nothing", async () => {
  for (const entry of ["main.ts", "examples/json_api.ts"]) {
    const info = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", NO_CONFIG, entry],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert.ok(info.success, `deno info ${entry}`);
    const graph: { modules: { specifier: string }[] } = JSON.parse(
      new TextDecoder().decode(info.stdout),
    );
    const foreign = graph.modules.map((module) => module.specifier)
      .filter((specifier) => !/^(file|node):/.test(specifier));
    assert.deepEqual(foreign, [], `${entry} would need deno.json's imports or lockfile`);
    assert.ok(graph.modules.length > 20, `${entry}: the whole graph was listed`);
  }
});

test("the systemd unit and the Kubernetes deployment run the server with deno task start's --no-config and V8 flags", async () => {
  const root = new URL("..", import.meta.url);
  const unit = await Deno.readTextFile(new URL("docs/systemd/signal-server.service", root));
  const execStart = unit.split("\n").find((line) => line.startsWith("ExecStart="));
  assert.ok(execStart !== undefined, "the unit has an ExecStart= line");
  const deployment = await Deno.readTextFile(new URL("docs/kubernetes/deployment.yaml", root));
  for (const flag of [NO_CONFIG, V8_FLAGS]) {
    assert.ok(execStart.split(" ").includes(flag), `ExecStart= lacks ${flag}`);
    assert.ok(deployment.includes(`- ${flag}\n`), `the deployment's args lack ${flag}`);
  }
});

test("deno task start:tls grants read of exactly cert.pem and key.pem", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const command: string = config.tasks["start:tls"].command;
  const options = { ...DEFAULT_OPTIONS, key: "key.pem" };
  assert.equal(
    command,
    `deno run ${permissionFlags(options).join(" ")} main.ts --task start:tls --key key.pem`,
  );
});
