/**
 * The deno.json tasks as an operator runs them, with `deno task …` as
 * written: `start --print-command`, the words of a refused start under a task,
 * the reload and status clients reaching other hosts, ports, sockets and token
 * files, and a task-started server stopping with its task runner. The runs that
 * listen on the tasks' fixed ports (8080, 3000) do so in a private network
 * namespace (`unshare -rn`), so they never meet another server.
 */

import assert from "node:assert/strict";
import { mintCertificate, TempDir } from "./_fixtures.ts";
import { ServerProcess } from "./_server.ts";
import { DEFAULT_OPTIONS } from "../lib/cli/options.ts";
import { denoRunLine } from "../lib/cli/permissions.ts";
import { test } from "./_time_limit.ts";

const REPO = new URL("..", import.meta.url).pathname;
const DENO_DIR = Deno.execPath().replace(/\/[^/]*$/, "");

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function run(command: string, args: string[]): Promise<Ran> {
  const output = await new Deno.Command(command, {
    args,
    cwd: REPO,
    env: { NO_COLOR: "1", PATH: `${DENO_DIR}:${Deno.env.get("PATH") ?? ""}` },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** `deno task <name> <args>`; its stderr without deno's own "Task …" line. */
async function task(name: string, ...args: string[]): Promise<Ran> {
  const ran = await run(Deno.execPath(), ["task", name, ...args]);
  const stderr = ran.stderr.split("\n").filter((line) => !line.startsWith("Task ")).join("\n");
  return { ...ran, stderr };
}

/**
 * Runs a bash script in a private network namespace with its own loopback; returns its output. On
 * exit, whatever the script started is killed: its jobs, and every server whose log in `logs` names
 * its pid.
 */
async function inPrivateNetwork(logs: string, script: string): Promise<Ran> {
  const cleanup = `for f in "${logs}"/*.log*; do p=$(server_pid "$f"); ` +
    '[ -n "$p" ] && kill -KILL "$p" 2>/dev/null; done; kill -KILL $(jobs -p) 2>/dev/null; true';
  return await run("unshare", [
    "-rn",
    "bash",
    "-c",
    `set -u; ${BASH_HELPERS}\ntrap '${cleanup}' EXIT\nip link set lo up; cd "${REPO}"\n${script}`,
  ]);
}

/** Bash helpers for the namespace scripts: wait for a log line, a pid's end, and kill what is left. */
const BASH_HELPERS = `
wait_for() { for _ in $(seq 1 150); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "no '$2' in $1"; cat "$1"; return 1; }
gone() { for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
server_pid() { sed -n 's/.*\\[startup\\] pid \\([0-9]*\\)$/\\1/p' "$1" | head -1; }
hello() { curl -s -m 2 http://127.0.0.1:8080/hello; echo " (curl $?)"; }
`;

test("deno task start --print-command prints the least-privilege deno run line for its flags and starts nothing", async () => {
  const printed = await task(
    "start",
    "--print-command",
    "--port",
    "9443",
    "--pid-file",
    "/run/x.pid",
  );
  assert.equal(printed.code, 0, printed.stderr);
  const options = { ...DEFAULT_OPTIONS, port: 9443, pidFile: "/run/x.pid" };
  assert.equal(
    printed.stdout,
    `${denoRunLine(options, ["--port", "9443", "--pid-file", "/run/x.pid"])}\n`,
  );
  assert.equal(printed.stderr.trim(), "", "nothing but the line: no server started");
  const tls = await task("start:tls", "--print-command", "--hostname", "::1");
  assert.match(
    tls.stdout,
    /--allow-read=cert\.pem,key\.pem .*--unstable-net main\.ts --key key\.pem --hostname ::1\n$/,
  );
  assert.match(tls.stdout, / '--allow-net=\[::1\]:8080,127\.0\.0\.1:3000' /);
});

test("the line --print-command prints runs the server with exactly the grants it needs", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  const pidFile = dir.path("server.pid");
  const script = `
line=$(deno task start --print-command --cert "${cert}" --pid-file "${pidFile}" 2>/dev/null)
echo "$line" > "${dir.path("line")}"
eval "$line" > "${dir.path("server.log")}" 2>&1 &
wait_for "${dir.path("server.log")}" "\\[startup\\] ready" || exit 1
hello
S=$(cat "${pidFile}")
kill -TERM "$S"; gone "$S" && echo "stopped"
`;
  const ran = await inPrivateNetwork(dir.dir, script);
  assert.equal(ran.code, 0, ran.stdout + ran.stderr);
  assert.match(await Deno.readTextFile(dir.path("line")), /--allow-write=.*server\.pid /);
  assert.equal(ran.stdout, "Hello, world! (curl 0)\nstopped\n", ran.stderr);
});

test("a start Deno refuses under a task says what the task grants, what this run asked for, and how to get it", async () => {
  const typo = await task("start", "--cert", "cert.pen");
  assert.equal(typo.code, 1);
  assert.equal(
    typo.stderr.trim(),
    'startup failed: Cannot read certificate "cert.pen": deno task start may read only ' +
      '"cert.pem" (the grant in its deno.json command), and this run asked for "cert.pen" (is ' +
      "the path mistyped?); to grant it, run the line that deno task start --print-command " +
      "--cert cert.pen prints; the server was not started",
  );
  const port = await task("start", "--port", "9443");
  assert.equal(port.code, 1);
  assert.equal(
    port.stderr.trim(),
    "Cannot listen on 127.0.0.1:9443 for the app server: deno task start may listen only on " +
      '"127.0.0.1:8080" and "127.0.0.1:3000" (the grant in its deno.json command), and this run ' +
      'asked for "127.0.0.1:9443"; to grant it, run the line that deno task start ' +
      "--print-command --port 9443 prints; the server was not started",
  );
  const pid = await task("start:tls", "--pid-file", "/run/x.pid");
  assert.equal(pid.code, 1);
  assert.match(
    pid.stderr,
    /^startup failed: Cannot use pid file "\/run\/x\.pid": deno task start:tls may write no file .* deno task start:tls --print-command --pid-file \/run\/x\.pid prints;/m,
  );
});

test("bad flags to deno task start and reload print one line that points to --help, each finished", async () => {
  const cases: [string[], string][] = [
    [["--prot", "1"], 'unknown option "--prot"'],
    [["--warn-days", "-1"], '--warn-days must be a whole number of days ≥ 0, got "-1"'],
    [
      ["--control-hostname", "0.0.0.0"],
      "--control-hostname must be a loopback address (127.0.0.1, ::1 or localhost) unless " +
      '--control-token-file is given, got "0.0.0.0": without a token, anyone who can reach the ' +
      "control server could reload its certificates and read their details",
    ],
  ];
  for (const [args, problem] of cases) {
    const ran = await task("start", ...args);
    assert.equal(ran.code, 2, args.join(" "));
    assert.equal(ran.stderr.trim(), `signal-server: ${problem} (see --help)`);
  }
  const client = await task("reload", "--prot", "1");
  assert.equal(client.code, 2);
  assert.equal(client.stderr.trim(), 'signal-server: unknown option "--prot" (see --help)');
});

test("deno task reload and status reach another host name, port, Unix socket and token file, as documented", async () => {
  await using dir = await TempDir.create();
  const cert = await dir.write("cert.pem", (await mintCertificate()).certificatePem);
  const token = await dir.writeSecret("token", "task-token\n");
  await using tcp = await ServerProcess.start({ options: { cert, controlTokenFile: token } });
  const port = String(tcp.options.controlPort);
  const reload = await task("reload", "--host", "localhost", "--port", port, "--token-file", token);
  assert.equal(reload.code, 0, reload.stderr);
  assert.match(reload.stdout, /^unchanged: "/);
  const status = await task("status", "--host", "127.0.0.1", "--port", port, "--token-file", token);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /CN=localhost/);
  const socket = dir.path("control.sock");
  await using unix = await ServerProcess.start({
    options: { cert, controlSocket: socket, controlTokenFile: token },
  });
  const viaSocket = await task("status", "--socket", socket, "--token-file", token, "--json");
  assert.equal(viaSocket.code, 0, viaSocket.stderr);
  assert.equal(JSON.parse(viaSocket.stdout).certificate.path, cert);
  const reloadSocket = await task("reload", "--socket", socket, "--token-file", token);
  assert.equal(reloadSocket.code, 0, reloadSocket.stderr);
  const missing = await task("reload", "--port", port, "--token-file", dir.path("nope"));
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /Cannot read token ".*nope": file not found/);
  assert.doesNotMatch(missing.stderr, /deno task start/, "the client names no server task");
  void unix;
});

test("kill on the deno task pid: SIGHUP reloads and SIGTERM stops the server (forwarded); SIGKILL stops it too, by the parent check", async () => {
  await using dir = await TempDir.create();
  const log = dir.path("task.log");
  const ran = await inPrivateNetwork(
    dir.dir,
    `
deno task start > "${log}" 2>&1 &
T=$!
wait_for "${log}" "\\[startup\\] ready" || exit 1
S=$(server_pid "${log}")
kill -HUP "$T"; wait_for "${log}" "\\[SIGHUP\\] unchanged" || exit 1
kill -TERM "$T"; gone "$S" && echo "TERM: server stopped" || { echo "TERM: server still runs"; kill -KILL "$S"; }
wait "$T"
deno task start > "${log}.2" 2>&1 &
T=$!
wait_for "${log}.2" "\\[startup\\] ready" || exit 1
S=$(server_pid "${log}.2")
kill -KILL "$T"
gone "$S" && echo "KILL: server stopped" || { echo "KILL: server still runs"; kill -KILL "$S"; }
hello
`,
  );
  assert.equal(ran.code, 0, ran.stdout + ran.stderr);
  assert.equal(
    ran.stdout,
    "TERM: server stopped\nKILL: server stopped\n (curl 7)\n",
    ran.stderr,
  );
  const stopped = await Deno.readTextFile(`${log}.2`);
  assert.match(
    stopped,
    /\[task\] deno task start \(pid \d+\) is gone: stopping the server with it\n/,
  );
  assert.match(stopped, /\[task\] stopped\n$/);
});

test("a server started with nohup … & keeps running once its shell has gone, by deno task start or by hand", async () => {
  await using dir = await TempDir.create();
  const line = (await task("start", "--print-command", "--port", "8081", "--control-port", "3001"))
    .stdout.trim();
  const ran = await inPrivateNetwork(
    dir.dir,
    `
bash -c 'nohup deno task start > "${dir.path("task.log")}" 2>&1 &'
bash -c 'nohup ${line} > "${dir.path("hand.log")}" 2>&1 &'
wait_for "${dir.path("task.log")}" "\\[startup\\] ready" || exit 1
wait_for "${dir.path("hand.log")}" "\\[startup\\] ready" || exit 1
sleep 2.5
hello
curl -s -m 2 http://127.0.0.1:8081/hello; echo " (curl $?)"
for log in task hand; do S=$(server_pid "${
      dir.path("$log.log")
    }"); kill -TERM "$S"; gone "$S" && echo "$log: stopped"; done
`,
  );
  assert.equal(ran.code, 0, ran.stdout + ran.stderr);
  assert.equal(
    ran.stdout,
    "Hello, world! (curl 0)\nHello, world! (curl 0)\ntask: stopped\nhand: stopped\n",
    ran.stderr,
  );
});
