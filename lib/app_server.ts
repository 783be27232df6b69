/**
 * The app's routes: `GET /hello` answers `Hello, world!`. The routing is one
 * pure function, {@linkcode answerApp}, so that the plain `Deno.serve` server
 * and the HTTPS front each adapt it without building objects they do not need.
 *
 * @module
 */

/** The path the app serves. */
export const HELLO_PATH = "/hello";

/** The body of `GET /hello`. */
export const HELLO_BODY = "Hello, world!";

/** What the app answers to a request: status, headers and body. */
export interface AppAnswer {
  /** HTTP status code. */
  readonly status: number;
  /** Response headers. */
  readonly headers: Readonly<Record<string, string>>;
  /** Response body. */
  readonly body: string;
}

const TEXT_PLAIN = { "content-type": "text/plain; charset=utf-8" } as const;
const HELLO: AppAnswer = { status: 200, headers: TEXT_PLAIN, body: HELLO_BODY };
const NOT_FOUND: AppAnswer = { status: 404, headers: TEXT_PLAIN, body: "Not found\n" };
const NOT_ALLOWED: AppAnswer = {
  status: 405,
  headers: { ...TEXT_PLAIN, allow: "GET, HEAD" },
  body: "Method not allowed: use GET\n",
};

/** Routes a request by method and path (query ignored): hello, 405 for other methods on it, 404 elsewhere. */
export function answerApp(method: string, path: string): AppAnswer {
  const query = path.indexOf("?");
  if ((query === -1 ? path : path.slice(0, query)) !== HELLO_PATH) return NOT_FOUND;
  return method === "GET" || method === "HEAD" ? HELLO : NOT_ALLOWED;
}

/** The app as a web-standard handler, for `Deno.serve`. */
export function appHandler(request: Request): Response {
  const answer = answerApp(request.method, new URL(request.url).pathname);
  return new Response(answer.body, { status: answer.status, headers: answer.headers });
}
