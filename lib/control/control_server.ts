/**
 * The control server's routes, behind the access checks of
 * `lib/control/control_access.ts`:
 *
 * - `POST /reload_certs`: runs a reload and answers with its outcome line
 *   (JSON under `Accept: application/json`): 200 reloaded or unchanged, 500
 *   failed (so `curl -f` fails);
 * - `GET /certs`: the active certificate and the last reloads (text or JSON);
 * - `GET /metrics`: Prometheus metrics;
 * - `GET /healthz`: 200 while the active certificate is valid, else 503.
 *
 * @module
 */

import type { Certificate } from "../certificate/certificate.ts";
import { formatHealth, formatOutcome, OUTCOME_HTTP_STATUS } from "../reload/outcome_words.ts";
import { type AccessPolicy, refusal, refuseLargeBody, refuseRequest } from "./control_access.ts";
import type { ActiveSince, ReloadOutcome } from "../reload/reloader.ts";
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

/** What the control server needs from the running server. */
export interface ControlServerOptions {
  /** Runs one (serialized) reload triggered by `POST /reload_certs`; it also reports the outcome. */
  readonly reload: () => Promise<ReloadOutcome>;
  /** The certificate being served now. */
  readonly active: () => Certificate;
  /** When and by which trigger it became active. */
  readonly activeSince: () => ActiveSince;
  /** The status view at a time. */
  readonly status: (now: Date) => StatusView;
  /** The Prometheus metrics and their content type. */
  readonly metrics: { render(): Promise<string>; readonly contentType: string };
  /** Token and Host rules. */
  readonly access: AccessPolicy;
  /** The expiry warning window, in days, shown with the certificate. */
  readonly warnDays: number;
  /** The clock; defaults to the current time. */
  readonly clock?: () => Date;
}

type Route = { readonly allow: string; readonly answer: (request: Request) => Promise<Response> };

/** Builds the control server's request handler. */
export function controlHandler(
  options: ControlServerOptions,
): (request: Request) => Promise<Response> {
  const now = options.clock ?? (() => new Date());
  const routes: Readonly<Record<string, Route>> = {
    [RELOAD_PATH]: {
      allow: "POST",
      answer: async (request) => {
        const outcome = await options.reload();
        const headers = { "x-reload-outcome": outcome.kind };
        const status = OUTCOME_HTTP_STATUS[outcome.kind];
        return _wantsJson(request)
          ? _answer(
            status,
            reloadJson(outcome, options.activeSince(), options.warnDays),
            JSON_TYPE,
            headers,
          )
          : _answer(status, formatOutcome(outcome) + "\n", TEXT_TYPE, headers);
      },
    },
    [CERTS_PATH]: {
      allow: READ_METHODS,
      answer: (request) => {
        const view = options.status(now());
        return Promise.resolve(
          _wantsJson(request)
            ? _answer(200, statusJson(view), JSON_TYPE)
            : _answer(200, statusText(view), TEXT_TYPE),
        );
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
        return Promise.resolve(_answer(health.healthy ? 200 : 503, health.line + "\n", TEXT_TYPE));
      },
    },
  };
  return async (request) => {
    const refused = refuseRequest(request, options.access);
    if (refused !== undefined) return refused;
    const route = routes[new URL(request.url).pathname];
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
    return await route.answer(request);
  };
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
