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
  return { token, hostnames: names.map((name) => name.toLowerCase()), withoutToken };
}

/** The refusal for a request that fails a check, or `undefined` when it may go on. */
export function refuseRequest(request: Request, policy: AccessPolicy): Response | undefined {
  const url = new URL(request.url);
  if (policy.hostnames !== undefined) {
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
    if (!policy.hostnames.includes(host)) {
      return refusal(
        403,
        `Forbidden: Host "${host}" is not this control server's address; ` +
          `use ${policy.hostnames.join(" or ")} (this blocks DNS rebinding)`,
      );
    }
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
    policy.token !== undefined && !policy.withoutToken.includes(url.pathname) &&
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

/** A one-line plain-text refusal. */
export function refusal(
  status: number,
  line: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(`${line}\n`, {
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "no-store",
      ...headers,
    },
  });
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
