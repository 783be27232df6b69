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

import { answerApp, appHandler, HELLO_PATH } from "./lib/app_server.ts";
import { loadCertificate } from "./lib/certificate.ts";
import { controlHandler, RELOAD_PATH } from "./lib/control_server.ts";
import { EXIT_CODE, formatListenError, formatLoaded, formatStartupFailure } from "./lib/format.ts";
import { listen, serverUrl } from "./lib/listen.ts";
import { log, logOutcome } from "./lib/log.ts";
import { parseOptions, USAGE } from "./lib/options.ts";
import { Reloader } from "./lib/reloader.ts";
import { listenTls } from "./lib/tls_front.ts";
import { installSignalHandlers } from "./lib/signals.ts";

/** Runs the server until SIGINT or SIGTERM; returns the process exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const command = parseOptions(args);
  if (!command.ok) {
    console.error(`signal-server: ${command.error}\n\n${USAGE}`);
    return EXIT_CODE.usage;
  }
  if (command.value.kind === "help") {
    console.log(USAGE);
    return EXIT_CODE.stopped;
  }
  const options = command.value.options;
  const paths = { cert: options.cert, key: options.key };

  const loaded = await loadCertificate(paths);
  if (!loaded.ok) {
    console.error(formatStartupFailure(loaded.error));
    return EXIT_CODE.startupFailed;
  }
  log("startup", `pid ${Deno.pid}`);
  log("startup", formatLoaded(loaded.value, new Date()));

  const appAddress = { hostname: options.hostname, port: options.port };
  const app = options.key === undefined
    ? listen("app", appAddress, appHandler)
    : await listenTls(appAddress, loaded.value, answerApp);
  if (!app.ok) {
    console.error(formatListenError(app.error));
    return EXIT_CODE.startupFailed;
  }
  const tls = "swap" in app.value ? app.value : undefined;
  const reloader = new Reloader(loaded.value, {
    load: (now) => loadCertificate(paths, { now }),
    activate: tls && ((certificate) => tls.swap(certificate)),
  });
  const reload = () => reloader.reload();
  const control = listen(
    "control",
    { hostname: options.controlHostname, port: options.controlPort },
    controlHandler({ reload, report: (outcome) => logOutcome("POST /reload_certs", outcome) }),
  );
  if (!control.ok) {
    console.error(formatListenError(control.error));
    await app.value.shutdown();
    return EXIT_CODE.startupFailed;
  }

  const servers = [app.value, control.value];
  let removeSignalHandlers = () => {};
  const stopped = new Promise<void>((resolve) => {
    removeSignalHandlers = installSignalHandlers({
      reload,
      shutdown: async (signal) => {
        await Promise.all(servers.map((server) => server.shutdown()));
        log(signal, "stopped");
        resolve();
      },
    });
  });
  const scheme = tls ? "https" : "http";
  log("startup", `app listening on ${serverUrl(app.value.addr, HELLO_PATH, scheme)}`);
  log("startup", `control listening on ${serverUrl(control.value.addr, RELOAD_PATH)} (POST)`);
  log(
    "startup",
    `ready: reload with curl -X POST ${
      serverUrl(control.value.addr, RELOAD_PATH)
    } or kill -HUP ${Deno.pid}`,
  );
  await stopped;
  removeSignalHandlers();
  return EXIT_CODE.stopped;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
