import assert from "node:assert/strict";
import { appHandler, pathOf } from "../lib/serve/app_server.ts";
import { test } from "./_time_limit.ts";

test("GET /hello answers Hello, world! as plain text", async () => {
  const response = appHandler(new Request("http://127.0.0.1:8080/hello"));
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain;\s*charset=utf-8$/i);
  assert.equal(await response.text(), "Hello, world!");
});

test("other methods on /hello answer 405 with Allow, other paths 404", async () => {
  const post = appHandler(new Request("http://127.0.0.1:8080/hello", { method: "POST" }));
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  await post.body?.cancel();
  for (const path of ["/", "/hello/", "/hellox", "/x/hello"]) {
    const missing = appHandler(new Request(`http://127.0.0.1:8080${path}`));
    assert.equal(missing.status, 404, path);
    await missing.body?.cancel();
  }
});

test("the router ignores the query string and answers HEAD like GET", async () => {
  const query = appHandler(new Request("http://127.0.0.1:8080/hello?x=1&y=/z"));
  assert.equal(await query.text(), "Hello, world!");
  const head = appHandler(new Request("http://localhost/hello", { method: "HEAD" }));
  assert.equal(head.status, 200);
  await head.body?.cancel();
});

test("pathOf reads the path of a request URL as new URL() would", () => {
  for (
    const url of [
      "http://127.0.0.1:8080/hello",
      "https://[::1]:8443/hello?x=1",
      "http://localhost/a/b?c=/d",
      "http://localhost/",
      "http://h/hell%6F",
    ]
  ) assert.equal(pathOf(url), new URL(url).pathname, url);
});
