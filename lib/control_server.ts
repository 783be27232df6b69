/**
 * The control server's routes: `POST /reload_certs` runs a reload and
 * answers with its outcome line: 200 when the certificate was reloaded or was
 * already current, 500 when it was rejected (so `curl -f` fails).
 *
 * @module
 */

import { formatOutcome, OUTCOME_HTTP_STATUS } from "./format.ts";
import type { ReloadOutcome } from "./reloader.ts";

/** The path that triggers a reload. */
export const RELOAD_PATH = "/reload_certs";

const TEXT_PLAIN = { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" };

/** What the control server needs: a way to reload (which also reports the outcome, e.g. to the log). */
export interface ControlServerOptions {
  /** Runs one (serialized) reload triggered by `POST /reload_certs`. */
  readonly reload: () => Promise<ReloadOutcome>;
}

/** Builds the control server's request handler. */
export function controlHandler(
  options: ControlServerOptions,
): (request: Request) => Promise<Response> {
  return async (request) => {
    if (new URL(request.url).pathname !== RELOAD_PATH) {
      return _text(404, `Not found: the control server answers POST ${RELOAD_PATH}`);
    }
    if (request.method !== "POST") {
      return _text(405, `Method not allowed: use POST ${RELOAD_PATH}`, { allow: "POST" });
    }
    if (request.headers.has("origin")) {
      // Browsers send Origin on cross-site POSTs; refuse them so a web page cannot trigger reloads.
      return _text(
        403,
        "Forbidden: requests from web browsers (with an Origin header) are refused",
      );
    }
    const outcome = await options.reload();
    return _text(OUTCOME_HTTP_STATUS[outcome.kind], formatOutcome(outcome), {
      "x-reload-outcome": outcome.kind,
    });
  };
}

function _text(status: number, line: string, headers: Record<string, string> = {}): Response {
  return new Response(`${line}\n`, { status, headers: { ...TEXT_PLAIN, ...headers } });
}
