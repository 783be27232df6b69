/**
 * The control server's routes, behind the access checks of
 * `lib/control/control_access.ts`:
 *
 * - `POST /reload_certs`: runs a reload and answers with its outcome line
 *   (JSON under `Accept: application/json`): 200 reloaded or unchanged, 500
 *   failed (so `curl -f` fails); `?dry_run=1` runs the same checks and swaps
 *   and records nothing (`would reload: …`, same status), `?allow_dropped_names=1`
 *   lets a renewal drop names; any other query parameter is refused (400), so a
 *   typo of `dry_run` never reloads;
 * - `GET /certs`: the active certificate and its chain, whether the files on
 *   disk still hold it, and the last reloads (text or JSON);
 * - `GET /metrics`: Prometheus metrics;
 * - `GET /healthz`: 200 while the active certificate is valid, else 503.
 *
 * @module
 */

import type { Certificate } from "../certificate/certificate.ts";
import { err, ok, type Result } from "../ground/result.ts";
import { formatHealth, formatOutcome, OUTCOME_HTTP_STATUS } from "../reload/outcome_words.ts";
import {
  type AccessPolicy,
  refusal,
  refuseLargeBody,
  refuseRequest,
  type RequestTarget,
  requestTarget,
  textLine,
} from "./control_access.ts";
import type { ActiveSince, ReloadOptions, ReloadOutcome } from "../reload/reloader.ts";
import { reloadJson, statusJson, statusText, type StatusView } from "./status_view.ts";

/** The path that triggers a reload. */
export const RELOAD_PATH = "/reload_certs";
/** The path of the status view. */
export const CERTS_PATH = "/certs";
/** The path of the Prometheus metrics. */
export const METRICS_PATH = "/metrics";
/** The path of the health check. */
export const HEALTH_PATH = "/healthz";

const JSON_TYPE = "application/json";
const TEXT_TYPE = "text/plain; charset=utf-8";
const READ_METHODS = "GET, HEAD";

/** The query parameters `POST /reload_certs` takes, and the reload option each sets. */
export const RELOAD_PARAMETERS = {
  dry_run: "dryRun",
  allow_dropped_names: "allowDroppedNames",
} as const satisfies Record<string, keyof ReloadOptions>;

const TRUE_VALUES = ["1", "true"];
const FALSE_VALUES = ["0", "false"];

/** What the control server needs from the running server. */
export interface ControlServerOptions {
  /** Runs one (serialized) reload triggered by `POST /reload_certs`; it also reports the outcome. */
  readonly reload: (options: ReloadOptions) => Promise<ReloadOutcome>;
  /** The certificate being served now. */
  readonly active: () => Certificate;
  /** When and by which trigger it became active. */
  readonly activeSince: () => ActiveSince;
  /** The status view at a time (it looks at the files on disk). */
  readonly status: (now: Date) => Promise<StatusView>;
  /** The Prometheus metrics and their content type. */
  readonly metrics: { render(): Promise<string>; readonly contentType: string };
  /** Token and Host rules. */
  readonly access: AccessPolicy;
  /** The expiry warning window, in days, shown with the certificate. */
  readonly warnDays: number;
  /** The clock; defaults to the current time. */
  readonly clock?: () => Date;
}

type Route = {
  readonly allow: string;
  readonly answer: (request: Request, target: RequestTarget) => Promise<Response>;
};

/** Builds the control server's request handler. */
export function controlHandler(
  options: ControlServerOptions,
): (request: Request) => Promise<Response> {
  const now = options.clock ?? (() => new Date());
  const routes: Readonly<Record<string, Route>> = {
    [RELOAD_PATH]: {
      allow: "POST",
      answer: async (request, target) => {
        // From the query as sent: no URL is parsed per request (Deno's URL parser cost RSS).
        const asked = reloadOptions(new URLSearchParams(target.query));
        if (!asked.ok) return refusal(400, `Bad request: ${asked.error}`);
        const outcome = await options.reload(asked.value);
        const headers: Record<string, string> = { "x-reload-outcome": outcome.kind };
        if (asked.value.dryRun) headers["x-reload-dry-run"] = "1";
        const status = OUTCOME_HTTP_STATUS[outcome.kind];
        return _wantsJson(request)
          ? _answer(
            status,
            reloadJson(outcome, options.activeSince(), options.warnDays),
            JSON_TYPE,
            headers,
          )
          : _answer(status, textLine(formatOutcome(outcome)), TEXT_TYPE, headers);
      },
    },
    [CERTS_PATH]: {
      allow: READ_METHODS,
      answer: async (request) => {
        const view = await options.status(now());
        return _wantsJson(request)
          ? _answer(200, statusJson(view), JSON_TYPE)
          : _answer(200, statusText(view), TEXT_TYPE);
      },
    },
    [METRICS_PATH]: {
      allow: READ_METHODS,
      answer: async () => _answer(200, await options.metrics.render(), options.metrics.contentType),
    },
    [HEALTH_PATH]: {
      allow: READ_METHODS,
      answer: () => {
        const health = formatHealth(options.active(), now());
        return Promise.resolve(
          _answer(health.healthy ? 200 : 503, textLine(health.line), TEXT_TYPE),
        );
      },
    },
  };
  const answer = async (request: Request) => {
    const target = requestTarget(request.url);
    if (!target.ok) return refusal(400, target.error, { connection: "close" });
    const refused = refuseRequest(request, target.value, options.access);
    if (refused !== undefined) return refused;
    const route = Object.hasOwn(routes, target.value.path) ? routes[target.value.path] : undefined;
    if (route === undefined) {
      return refusal(
        404,
        `Not found: the control server answers POST ${RELOAD_PATH}, GET ${CERTS_PATH}, ` +
          `GET ${METRICS_PATH} and GET ${HEALTH_PATH}`,
      );
    }
    if (!route.allow.split(", ").includes(request.method)) {
      return refusal(405, `Method not allowed: use ${route.allow}`, { allow: route.allow });
    }
    const tooLarge = await refuseLargeBody(request);
    if (tooLarge !== undefined) return tooLarge;
    return await route.answer(request, target.value);
  };
  // Nothing a request holds may end in a stack trace: an unexpected error is a one-line 500.
  return async (request) => {
    try {
      return await answer(request);
    } catch (error) {
      return refusal(
        500,
        `Internal error: the control server could not answer (${
          error instanceof Error ? error.message : String(error)
        })`,
      );
    }
  };
}

/** The reload options of a `POST /reload_certs` query; an unknown parameter or value is an error line. */
export function reloadOptions(query: URLSearchParams): Result<ReloadOptions, string> {
  const options: Record<string, boolean> = {};
  for (const [name, value] of query) {
    if (!Object.hasOwn(RELOAD_PARAMETERS, name)) {
      return err(
        `unknown query parameter "${name}"; ${RELOAD_PATH} takes ` +
          Object.keys(RELOAD_PARAMETERS).map((known) => `${known}=1`).join(" and "),
      );
    }
    const lower = value.toLowerCase();
    if (!TRUE_VALUES.includes(lower) && !FALSE_VALUES.includes(lower)) {
      return err(`${name} must be 1 or 0, got "${value}"`);
    }
    options[RELOAD_PARAMETERS[name as keyof typeof RELOAD_PARAMETERS]] = TRUE_VALUES.includes(
      lower,
    );
  }
  return ok(options);
}

function _wantsJson(request: Request): boolean {
  return (request.headers.get("accept") ?? "").includes(JSON_TYPE);
}

function _answer(
  status: number,
  body: string,
  contentType: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(body, {
    status,
    headers: { "content-type": contentType, "cache-control": "no-store", ...headers },
  });
}
