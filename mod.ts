/**
 * signal-server as a library: serve any Deno app over HTTP or HTTPS with a
 * certificate that reloads while it runs, and get an answer every time:
 * `POST /reload_certs` on a loopback control server, SIGHUP, or `reload()`.
 * A rejected certificate never replaces the one being served.
 *
 * @example Serve an app over HTTPS with reloads
 * ```ts ignore
 * import { formatOutcome, formatStartError, serveWithReload } from "./mod.ts";
 *
 * const server = await serveWithReload({
 *   cert: "cert.pem",
 *   key: "key.pem",
 *   handler: () => new Response("Hello from my app\n"),
 *   onReload: (outcome) => console.log(formatOutcome(outcome)),
 * });
 * if (!server.ok) {
 *   console.error(formatStartError(server.error));
 *   Deno.exit(1);
 * }
 * await server.value.finished;
 * ```
 *
 * @module
 */

import { type Certificate, loadCertificate } from "./lib/certificate/certificate.ts";
import { controlHandler, HEALTH_PATH } from "./lib/control/control_server.ts";
import { listen, type ListenError, listenUnix, type Server } from "./lib/serve/listen.ts";
import { DescriptorGuard, type StopReport } from "./lib/serve/connections.ts";
import { CONTROL_MAX_CONNECTIONS } from "./lib/serve/connection_limits.ts";
import { ServerMetrics } from "./lib/control/server_metrics.ts";
import { accessPolicy } from "./lib/control/control_access.ts";
import { ReloadHistory } from "./lib/reload/history.ts";
import { ReloadMetrics } from "./lib/control/metrics.ts";
import { statusView } from "./lib/control/status_view.ts";
import { ExpiryWarner } from "./lib/reload/expiry.ts";
import { POLL_MS, watchFiles } from "./lib/reload/watcher.ts";
import {
  Reloader,
  type ReloadOptions,
  type ReloadOutcome,
  type ReloadTrigger,
  startupOutcome,
} from "./lib/reload/reloader.ts";
import { type DiskState, DriftCheck } from "./lib/reload/drift.ts";
import { err, ok, type Result } from "./lib/ground/result.ts";
import { resolveServeOptions, type ServeWithReloadOptions } from "./lib/api/serve_options.ts";
import { installSignalHandlers, type StopEvent } from "./lib/serve/signals.ts";
import type { StartError } from "./lib/api/start_error.ts";
import {
  type ConnectionMigration,
  listenNativeTls,
  nativeFrontUnavailable,
} from "./lib/serve/tls/native_front.ts";
import { chooseTlsFront, type TlsFront } from "./lib/serve/tls/tls_front.ts";

export type {
  Certificate,
  CertificateError,
  CertificateErrorKind,
  ChainCertificate,
  FileRole,
  UnverifiedSignature,
} from "./lib/certificate/certificate.ts";
export type { UnservableProblem } from "./lib/certificate/servable.ts";
export { describeError } from "./lib/certificate/describe_error.ts";
export { formatNotice } from "./lib/api/notice.ts";
export { formatOutcome } from "./lib/reload/outcome_words.ts";
export { formatStartError } from "./lib/api/start_error.ts";
export type { ListenError, ServerName } from "./lib/serve/listen.ts";
export type {
  ReloadOptions,
  ReloadOutcome,
  ReloadOutcomeKind,
  ReloadTrigger,
} from "./lib/reload/reloader.ts";
export type {
  ReloadError,
  ReloadErrorKind,
  RenewalError,
  RenewalNote,
} from "./lib/reload/renewal.ts";
export type { ServedName } from "./lib/reload/names.ts";
export type { DiskState, DiskStateName } from "./lib/reload/drift.ts";
export type { Err, Ok, Result } from "./lib/ground/result.ts";
export type { ControlAddress, ServeWithReloadOptions } from "./lib/api/serve_options.ts";
export type { ShutdownSignal, StopEvent } from "./lib/serve/signals.ts";
export type { Notice } from "./lib/api/notice.ts";
export type { ConnectionMigration } from "./lib/serve/tls/native_front.ts";
export type { ConnectionLimits } from "./lib/serve/connection_limits.ts";
export { DEFAULT_LIMITS } from "./lib/serve/connection_limits.ts";
export type { DescriptorEvent, DescriptorNotice } from "./lib/serve/connections.ts";
export type {
  NativeFrontUnavailable,
  TlsFrontChoice,
  TlsFrontName,
} from "./lib/serve/tls/tls_front.ts";
export type {
  OptionError,
  PidFileError,
  StartError,
  StartErrorKind,
} from "./lib/api/start_error.ts";
export type { EarliestExpiry, ExpiryNotice } from "./lib/reload/expiry.ts";
export type { WatcherNotice } from "./lib/reload/watcher.ts";
export type { ConnectionMigrationNotice } from "./lib/serve/tls/native_front.ts";
export type { TlsFrontNotice } from "./lib/serve/tls/tls_front.ts";
export type { TokenError } from "./lib/control/token.ts";

/**
 * A running server: its addresses, the active certificate, and the ways to reload and stop it.
 *
 * @example Reload from your own code and inspect the answer
 * ```ts ignore
 * const outcome = await server.reload();
 * if (outcome.kind === "failed") console.error(formatOutcome(outcome));
 * console.log(server.certificate.notAfter);
 * ```
 */
export interface ReloadServer {
  /** The app's bound address. */
  readonly addr: Deno.NetAddr;
  /** `https` when a key was given, else `http`. */
  readonly scheme: "http" | "https";
  /** The control server's bound address (TCP or Unix socket), or `undefined` when `control: false`. */
  readonly controlAddr: Deno.NetAddr | Deno.UnixAddr | undefined;
  /** The certificate being served now (the last one that loaded successfully). */
  readonly certificate: Certificate;
  /**
   * Reloads the files, exactly as `POST /reload_certs` and SIGHUP do; the trigger is `api`. With
   * `{ dryRun: true }` it only says what a reload would do (`would reload: …`), swapping and
   * recording nothing; `{ allowDroppedNames: true }` lets this renewal drop names.
   */
  reload(options?: ReloadOptions): Promise<ReloadOutcome>;
  /** Whether the files on disk still hold what is served (`same`, `changed`, `invalid`, `unreadable`); never reloads. */
  checkDisk(): Promise<DiskState>;
  /** Stops both servers gracefully (in-flight requests finish); resolves when they are closed. */
  shutdown(): Promise<void>;
  /** Settles when the server has stopped, by `shutdown()` or by SIGINT/SIGTERM. */
  readonly finished: Promise<void>;
}

/**
 * Loads the certificate, starts the app and the control server, and installs
 * the signal handlers. Every startup failure (an option that makes no sense,
 * a rejected certificate, an address in use, a missing permission) comes back
 * as an error value before anything serves; it never throws.
 *
 * @example A JSON API over HTTPS, reloadable by POST, SIGHUP or `reload()`
 * ```ts ignore
 * const started = await serveWithReload({
 *   cert: "cert.pem",
 *   key: "key.pem",
 *   port: 8443,
 *   handler: (request) => Response.json({ path: new URL(request.url).pathname }),
 *   control: { hostname: "127.0.0.1", port: 3000 },
 * });
 * if (started.ok) await started.value.finished;
 * ```
 */
export async function serveWithReload(
  options: ServeWithReloadOptions,
): Promise<Result<ReloadServer, StartError>> {
  const resolved = resolveServeOptions(options);
  if (!resolved.ok) return err({ kind: "invalid_option", error: resolved.error });
  const config = resolved.value;
  const front = config.key === undefined
    ? undefined
    : chooseTlsFront(config.tlsFront, nativeFrontUnavailable());
  if (front !== undefined && !front.ok) return err({ kind: "invalid_option", error: front.error });
  const paths = { cert: config.cert, key: config.key };
  const at = new Date();
  const started = performance.now();
  const loaded = await loadCertificate(paths, { now: at });
  if (!loaded.ok) return err({ kind: "certificate", error: loaded.error });
  const history = new ReloadHistory();
  const drift = new DriftCheck(
    [config.cert, ...(config.key === undefined ? [] : [config.key])],
    (now) => loadCertificate(paths, { now }),
  );
  let served = () => loaded.value;
  const checkDisk = () => drift.look(served(), new Date());
  const metrics = new ReloadMetrics(config.warnDays, checkDisk);
  const expiry = new ExpiryWarner(config.warnDays, config.onNotice);
  const report = (outcome: ReloadOutcome) => {
    // A dry run is told to onReload (the log) and nowhere else: history and metrics stay as they are.
    if (outcome.kind !== "loaded" && outcome.dryRun) {
      config.onReload(outcome);
      return outcome;
    }
    history.record(outcome);
    metrics.record(outcome);
    config.onReload(outcome);
    expiry.check(outcome.certificate);
    return outcome;
  };
  report(startupOutcome(loaded.value, at, performance.now() - started));

  const appAddress = { hostname: config.hostname, port: config.port };
  const guard = new DescriptorGuard((event) => config.onNotice({ kind: "descriptors", event }));
  // The certificate file is the one file this process is sure it may read.
  guard.keepSpares(() => Deno.open(config.cert, { read: true }));
  const appLimits = { limits: config.limits, guard, wholeAnswers: config.wholeAnswers };
  const serverMetrics = new ServerMetrics(config.droppedLogLines);
  // Told while the native front starts; noticed after the front itself, below.
  let migration: ConnectionMigration | undefined;
  const onMigration = (found: ConnectionMigration) => migration = found;
  let app: Result<TlsFront | Server, ListenError>;
  if (front === undefined) app = listen("app", appAddress, config.handler, appLimits);
  else if (front.value.front === "native") {
    app = await listenNativeTls(appAddress, loaded.value, config.handler, onMigration, appLimits);
  } else {
    // node:https and node:stream cost memory every process would carry: load them only here.
    const { listenNodeTls } = await import("./lib/serve/tls/node_front.ts");
    app = await listenNodeTls(appAddress, loaded.value, config.handler, appLimits);
  }
  if (!app.ok) return err({ kind: "listen", error: app.error });
  serverMetrics.add("app", app.value.stats);
  const tls = "swap" in app.value ? app.value : undefined;
  if (tls !== undefined) {
    const fallback = front?.ok ? front.value.fallback : undefined;
    config.onNotice({ kind: "tls_front", front: tls.name, protocols: tls.protocols, fallback });
    if (migration !== undefined) config.onNotice({ kind: "connection_migration", migration });
  }
  const active = new Reloader(loaded.value, {
    load: (now) => loadCertificate(paths, { now }),
    activate: tls && ((certificate) => tls.swap(certificate)),
    loadedAt: at,
    allowDroppedNames: config.allowDroppedNames,
  });
  served = () => active.active;
  const reload = async (trigger: ReloadTrigger, options?: ReloadOptions) =>
    report(await active.reload(trigger, options));

  const servers: { shutdown(): Promise<StopReport | void> }[] = [app.value];
  expiry.startDaily(() => active.active);
  let controlAddr: Deno.NetAddr | Deno.UnixAddr | undefined;
  if (config.control !== undefined) {
    const { hostname, port, token, socket, healthzWithoutToken } = config.control;
    const handler = controlHandler({
      reload: (options) => reload("http", options),
      active: () => active.active,
      activeSince: () => active.activeSince,
      status: async (now) => {
        const certificate = active.active;
        const disk = await drift.look(certificate, now);
        const since = active.activeSince;
        return statusView(certificate, since, history.newestFirst(), now, config.warnDays, disk);
      },
      metrics: {
        render: async () => `${await metrics.render()}\n${serverMetrics.render()}`,
        contentType: metrics.contentType,
      },
      warnDays: config.warnDays,
      access: accessPolicy(socket === undefined ? hostname : undefined, token, {
        withoutToken: healthzWithoutToken ? [HEALTH_PATH] : [],
      }),
    });
    const controlLimits = {
      limits: { ...config.limits, maxConnections: CONTROL_MAX_CONNECTIONS },
      guard,
      // Its answers are text or JSON strings, never streams.
      wholeAnswers: true,
    };
    const control = socket === undefined
      ? listen("control", { hostname, port }, handler, controlLimits)
      : await listenUnix("control", socket, handler, controlLimits);
    if (!control.ok) {
      await app.value.shutdown();
      guard.close();
      return err({ kind: "listen", error: control.error });
    }
    servers.push(control.value);
    serverMetrics.add("control", control.value.stats);
    controlAddr = control.value.addr;
  }

  if (config.watch) {
    const pollMs = POLL_MS;
    const watchedPaths = [config.cert, ...(config.key === undefined ? [] : [config.key])];
    const watcher = await watchFiles({
      paths: watchedPaths,
      reload: () => reload("watch"),
      onEventsFailed: (reason) => config.onNotice({ kind: "watcher_failed", reason, pollMs }),
      pollMs,
    });
    config.onNotice({ kind: "watching", paths: watchedPaths, pollMs });
    servers.unshift({ shutdown: () => watcher.stop() });
  }

  const { promise: finished, resolve: markFinished } = Promise.withResolvers<void>();
  let removeSignalHandlers = () => {};
  let stopping: Promise<void> | undefined;
  const stop = (signal: StopEvent["signal"]) => {
    stopping ??= (async () => {
      config.onStop({ signal, phase: "stopping" });
      expiry.stop();
      const reports = await Promise.all(servers.map((server) => server.shutdown()));
      guard.close();
      const cut = reports.reduce((sum, report) => sum + (report?.cut ?? 0), 0);
      removeSignalHandlers();
      config.onStop({ signal, phase: "stopped", cut, graceMs: config.limits.stopGraceMs });
      markFinished();
    })();
    return stopping;
  };
  if (config.signals) {
    removeSignalHandlers = installSignalHandlers({
      reload: () => reload("sighup"),
      shutdown: stop,
      onForcedStop: (signal) => config.onStop({ signal, phase: "forced" }),
      exitOnSecondSignal: config.exitOnSecondSignal,
    });
  }
  return ok({
    addr: app.value.addr,
    scheme: tls ? "https" : "http",
    controlAddr,
    get certificate() {
      return active.active;
    },
    reload: (options?: ReloadOptions) => reload("api", options),
    checkDisk,
    shutdown: () => stop("api"),
    finished,
  });
}
