/**
 * The built-in app: `GET /hello` answers `Hello, world!`. It is on the hot
 * path of every request, so it reads the path straight out of `request.url`
 * (no `URL` object) and answers hello with a bare `Response`, whose default
 * content type for a text body is `text/plain;charset=UTF-8`.
 *
 * @module
 */

/** The path the app serves. */
export const HELLO_PATH = "/hello";

/** The body of `GET /hello`. */
export const HELLO_BODY = "Hello, world!";

const TEXT_PLAIN = { "content-type": "text/plain; charset=utf-8" } as const;
const NOT_ALLOWED_HEADERS = { ...TEXT_PLAIN, allow: "GET, HEAD" } as const;

/** The path of an absolute request URL (`http://host:port/path?query` → `/path`), without parsing it. */
export function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return "/";
  const query = url.indexOf("?", start);
  return query === -1 ? url.slice(start) : url.slice(start, query);
}

/** The app as a web-standard handler: hello, 405 for other methods on it, 404 elsewhere. */
export function appHandler(request: Request): Response {
  if (pathOf(request.url) !== HELLO_PATH) {
    return new Response("Not found\n", { status: 404, headers: TEXT_PLAIN });
  }
  const method = request.method;
  if (method === "GET" || method === "HEAD") return new Response(HELLO_BODY);
  return new Response("Method not allowed: use GET\n", {
    status: 405,
    headers: NOT_ALLOWED_HEADERS,
  });
}
