/**
 * signal-server: serves `GET /hello` and reloads its TLS certificate on
 * `kill -HUP <pid>` or `curl -X POST 127.0.0.1:3000/reload_certs`, answering
 * whether the reload worked. This module only wires the `lib/` modules together.
 *
 * ```sh
 * deno task start            # cert.pem, app on 127.0.0.1:8080, control on 127.0.0.1:3000
 * deno task start --help
 * ```
 *
 * @module
 */

import { appHandler, HELLO_PATH } from "./lib/serve/app_server.ts";
import { RELOAD_PATH } from "./lib/control/control_server.ts";
import { EXIT_CODE } from "./lib/ground/exit_code.ts";
import { escapeControl } from "./lib/ground/printable.ts";
import { START_ERROR_EXIT_CODE } from "./lib/api/start_error.ts";
import { serverUrl } from "./lib/serve/listen.ts";
import { Log } from "./lib/cli/log.ts";
import { parseOptions, USAGE } from "./lib/cli/options.ts";
import { type PidFile, takePidFile } from "./lib/cli/pid_file.ts";
import { denoRunLine, serverArgs } from "./lib/cli/permissions.ts";
import { formatTaskDenial } from "./lib/cli/task_words.ts";
import { watchParent } from "./lib/cli/parent_watch.ts";
import type { StartError } from "./lib/api/start_error.ts";
import { readTokenFile } from "./lib/control/token.ts";
import { formatStartError, serveWithReload } from "./mod.ts";

/** How long the exit waits for log lines still queued (a stalled reader must not hold it). */
const LOG_FLUSH_MS = 1_000;

/** Runs the server until SIGINT or SIGTERM (or, under a task, until the task runner is gone); returns the process exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const command = parseOptions(args);
  if (!command.ok) {
    console.error(`signal-server: ${escapeControl(command.error)} (see --help)`);
    return EXIT_CODE.usage;
  }
  if (command.value.kind === "help") {
    console.log(USAGE);
    return EXIT_CODE.stopped;
  }
  const options = command.value.options;
  if (command.value.kind === "print_command") {
    console.log(denoRunLine(options, serverArgs(args)));
    return EXIT_CODE.stopped;
  }
  const log = new Log(options.logFormat);
  const task = options.task;
  // Deno.exit (a second stop signal) fires unload: write what is queued, unless its reader stalls.
  globalThis.addEventListener("unload", () => log.flushSync());
  const failed = async (error: StartError) => {
    const denial = task === undefined ? undefined : formatTaskDenial(error, task, serverArgs(args));
    console.error(escapeControl(denial ?? formatStartError(error)));
    await log.flush(LOG_FLUSH_MS);
    return START_ERROR_EXIT_CODE[error.kind];
  };
  log.startup(`pid ${Deno.pid}`);
  let token: string | undefined;
  if (options.controlTokenFile !== undefined) {
    const read = await readTokenFile(options.controlTokenFile);
    if (!read.ok) return failed({ kind: "token", error: read.error });
    token = read.value;
  }
  let pidFile: PidFile | undefined;
  if (options.pidFile !== undefined) {
    const taken = await takePidFile(options.pidFile);
    if (!taken.ok) return failed({ kind: "pid_file", error: taken.error });
    pidFile = taken.value;
  }
  const started = await serveWithReload({
    cert: options.cert,
    key: options.key,
    hostname: options.hostname,
    port: options.port,
    handler: appHandler,
    // Hello, 404 and 405 are strings.
    wholeAnswers: true,
    control: {
      hostname: options.controlHostname,
      port: options.controlPort,
      token,
      socket: options.controlSocket,
      healthzWithoutToken: options.healthzWithoutToken,
    },
    onReload: (outcome) => log.outcome(outcome),
    // main.ts calls shutdown() only when the task runner is gone.
    onStop: (event) => log.stop(event, event.signal === "api" ? "task" : event.signal),
    onNotice: (notice) => log.notice(notice),
    tlsFront: options.tlsFront,
    watch: options.watch,
    warnDays: options.warnDays,
    allowDroppedNames: options.allowDroppedNames,
    limits: options.limits,
    droppedLogLines: () => log.dropped,
  });
  if (!started.ok) {
    await pidFile?.release();
    return failed(started.error);
  }
  const server = started.value;
  const controlAddr = server.controlAddr as Deno.NetAddr | Deno.UnixAddr;
  const reloadCommand = "path" in controlAddr
    ? `curl --unix-socket ${controlAddr.path} -X POST http://localhost${RELOAD_PATH}`
    : `curl -X POST ${serverUrl(controlAddr, RELOAD_PATH)}`;
  log.startup(`app listening on ${serverUrl(server.addr, HELLO_PATH, server.scheme)}`);
  log.startup(`control listening on ${serverUrl(controlAddr, RELOAD_PATH)} (POST)`);
  if (pidFile !== undefined) log.startup(`pid ${Deno.pid} written to ${pidFile.path}`);
  const stopWatching = new AbortController();
  if (task !== undefined) {
    watchParent((parent) => {
      log.taskGone(task, parent);
      void server.shutdown();
    }, stopWatching.signal);
  }
  log.startup(`ready: reload with ${reloadCommand} or kill -HUP ${Deno.pid}`);
  await server.finished;
  stopWatching.abort();
  await pidFile?.release();
  await log.flush(LOG_FLUSH_MS);
  return EXIT_CODE.stopped;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
