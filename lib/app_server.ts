/**
 * The app server's routes: `GET /hello` answers `Hello, world!`.
 *
 * @module
 */

/** The path the app serves. */
export const HELLO_PATH = "/hello";

/** The body of `GET /hello`. */
export const HELLO_BODY = "Hello, world!";

const TEXT_PLAIN = { "content-type": "text/plain; charset=utf-8" };

/** Answers an app request: the hello route, 405 for other methods on it, 404 elsewhere. */
export function appHandler(request: Request): Response {
  if (new URL(request.url).pathname !== HELLO_PATH) {
    return new Response("Not found\n", { status: 404, headers: TEXT_PLAIN });
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("Method not allowed: use GET\n", {
      status: 405,
      headers: { ...TEXT_PLAIN, allow: "GET, HEAD" },
    });
  }
  return new Response(HELLO_BODY, { headers: TEXT_PLAIN });
}
