/**
 * Who may use the control server: the checks every control request passes
 * before it is routed. A `Host` that is not the control address or a loopback
 * name is refused (DNS rebinding), so is any browser request (an `Origin`
 * header, or `Sec-Fetch-Site: cross-site`/`same-site`), and with a token
 * configured, any request without `Authorization: Bearer <token>` (compared in
 * constant time), except on the paths the policy leaves open to probes. A body over {@linkcode MAX_CONTROL_BODY_BYTES} is refused
 * without being read to the end.
 *
 * @module
 */

import { escapeControl } from "../ground/printable.ts";

/** The largest request body the control server accepts. */
export const MAX_CONTROL_BODY_BYTES = 64 * 1024;

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "::1"];
const WILDCARD_ADDRESSES = ["0.0.0.0", "::"];
const BROWSER_SITES = ["cross-site", "same-site"];
const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** What the checks need to know. */
export interface AccessPolicy {
  /** The bearer token every request must carry, or `undefined` for none. */
  readonly token: string | undefined;
  /** The host names a `Host` header may name, or `undefined` to skip the check (wildcard address). */
  readonly hostnames: readonly string[] | undefined;
  /** Paths answered without the token (e.g. `/healthz` for probes); every other check still applies. */
  readonly withoutToken: readonly string[];
}

/** What else an {@linkcode accessPolicy} allows. */
export interface AccessPolicyOptions {
  /** Paths answered without the token, e.g. `["/healthz"]`; none by default. */
  readonly withoutToken?: readonly string[];
}

/** The policy for a control server on `hostname` (`undefined` for a Unix socket), with an optional token. */
export function accessPolicy(
  hostname: string | undefined,
  token: string | undefined,
  options: AccessPolicyOptions = {},
): AccessPolicy {
  const withoutToken = options.withoutToken ?? [];
  if (hostname !== undefined && WILDCARD_ADDRESSES.includes(hostname)) {
    return { token, hostnames: undefined, withoutToken };
  }
  const names = hostname === undefined ? LOOPBACK_NAMES : [hostname, ...LOOPBACK_NAMES];
  const hostnames = [...new Set(names.map((name) => name.toLowerCase()))];
  return { token, hostnames, withoutToken };
}

/** Where a request is addressed: the host it names (lowercase, without brackets or port) and its path. */
export interface RequestTarget {
  /** The host of the `Host` header (or of an absolute-form target), e.g. `127.0.0.1` or `::1`. */
  readonly hostname: string;
  /** The path exactly as the client wrote it, without the query, e.g. `/certs`. */
  readonly path: string;
  /** The query without its `?`, e.g. `dry_run=1`; empty when there is none. */
  readonly query: string;
}

/**
 * The URL Deno builds from the request line and `Host`: scheme (`http`, `https`, or `http+unix` on
 * a Unix socket), authority, then the target as sent.
 */
const REQUEST_URL = /^(?:https?|http\+unix):\/\/([^/?#]*)(.*)$/s;
/** A host name or an IPv4 address, or an IPv6 address in brackets, then an optional port. */
const HOST = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::\d{1,5})?$/i;
/** What a path written plainly never holds: percent-encoding, a backslash, an empty or dot segment. */
const UNPLAIN_PATH = /[%\\]|\/\/|\/\.\.?(?:\/|$)/;

/**
 * Reads the host and path a request is addressed to, without `new URL` (which throws on a broken
 * `Host` and resolves `..` and `%2e`): a broken `Host`, a target that is not a path (`CONNECT`,
 * `OPTIONS *`), or a path not written plainly is a one-line reason, for a 400.
 */
export function requestTarget(url: string): { ok: true; value: RequestTarget } | {
  ok: false;
  error: string;
} {
  const [, authority = "", target = ""] = REQUEST_URL.exec(url) ?? [];
  const host = HOST.exec(authority);
  if (host === null) {
    return {
      ok: false,
      error: `Bad request: the Host header "${authority}" is not a host name or address ` +
        "with an optional port",
    };
  }
  const hostname = (host[1] as string).replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (!target.startsWith("/")) {
    return {
      ok: false,
      error: "Bad request: the request target must be a path such as /certs " +
        "(CONNECT and OPTIONS * are not served)",
    };
  }
  const path = target.replace(/[?#].*$/s, "");
  const query = /^[^?#]*\?([^#]*)/s.exec(target)?.[1] ?? "";
  if (UNPLAIN_PATH.test(path)) {
    return {
      ok: false,
      error: "Bad request: the path must be written plainly (no percent-encoding, backslash, " +
        "empty or dot segments)",
    };
  }
  return { ok: true, value: { hostname, path, query } };
}

/** The refusal for a request that fails a check, or `undefined` when it may go on. */
export function refuseRequest(
  request: Request,
  target: RequestTarget,
  policy: AccessPolicy,
): Response | undefined {
  if (policy.hostnames !== undefined && !policy.hostnames.includes(target.hostname)) {
    return refusal(
      403,
      `Forbidden: Host "${target.hostname}" is not this control server's address; ` +
        `use ${policy.hostnames.join(" or ")} (this blocks DNS rebinding)`,
    );
  }
  const site = request.headers.get("sec-fetch-site")?.toLowerCase();
  if (request.headers.has("origin") || (site !== undefined && BROWSER_SITES.includes(site))) {
    return refusal(
      403,
      "Forbidden: requests from web browsers (an Origin header or a cross-site fetch) are " +
        "refused, so that no web page can reload certificates",
    );
  }
  if (
    policy.token !== undefined && !policy.withoutToken.includes(target.path) &&
    !_tokenMatches(request, policy.token)
  ) {
    return refusal(
      401,
      "Unauthorized: send the control token as Authorization: Bearer <token>",
      { "www-authenticate": 'Bearer realm="signal-server"' },
    );
  }
  return undefined;
}

/** A 413 when the body is over the limit, read no further than needed; `undefined` otherwise. */
export async function refuseLargeBody(request: Request): Promise<Response | undefined> {
  const tooLarge = () =>
    refusal(
      413,
      `Payload too large: the control server takes at most ${MAX_CONTROL_BODY_BYTES} bytes`,
    );
  const length = request.headers.get("content-length");
  // Content-Length: 0 (what fetch and `deno task reload` send) has no body to read. Deno gives
  // every POST a body stream all the same; made and read, it outlives the request and ends up as
  // ~1.4 KB of garbage per request in V8's old generation (a reload storm's main one). A POST with
  // no length at all (`curl -X POST`) is still read: over HTTP/1.1 it has no body, but Deno.serve
  // also takes HTTP/2 without TLS (prior knowledge), where a body needs no length, and the handler
  // cannot tell the two apart.
  if (length === "0") return undefined;
  const declared = Number(length ?? 0);
  if (declared > MAX_CONTROL_BODY_BYTES) {
    await request.body?.cancel();
    return tooLarge();
  }
  if (request.body === null) return undefined;
  let received = 0;
  const reader = request.body.getReader();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    received += chunk.value.byteLength;
    if (received > MAX_CONTROL_BODY_BYTES) {
      await reader.cancel();
      return tooLarge();
    }
  }
  return undefined;
}

/** A one-line plain-text refusal (control characters in it escaped). */
export function refusal(
  status: number,
  line: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(textLine(line), {
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "no-store",
      ...headers,
    },
  });
}

/** A line of a plain-text answer: its control characters escaped, then a newline. */
export function textLine(line: string): string {
  return `${escapeControl(line)}\n`;
}

function _tokenMatches(request: Request, token: string): boolean {
  const given = BEARER.exec(request.headers.get("authorization") ?? "")?.[1];
  if (given === undefined) return false;
  return _sameText(given, token);
}

const UTF8 = new TextEncoder();

/**
 * Whether two texts are equal, in a time that depends on the length of `secret` only: every byte
 * of it is compared, whatever the given text and wherever it first differs.
 */
function _sameText(given: string, secret: string): boolean {
  const [a, b] = [UTF8.encode(given), UTF8.encode(secret)];
  let difference = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) difference |= (a[i % a.length] ?? 0) ^ (b[i] as number);
  return difference === 0;
}
