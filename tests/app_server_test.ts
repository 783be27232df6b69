import assert from "node:assert/strict";
import { answerApp, appHandler } from "../lib/app_server.ts";

Deno.test("GET /hello answers Hello, world!", async () => {
  const response = appHandler(new Request("http://127.0.0.1:8080/hello"));
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "Hello, world!");
});

Deno.test("other methods on /hello answer 405 with Allow, other paths 404", async () => {
  const post = appHandler(new Request("http://127.0.0.1:8080/hello", { method: "POST" }));
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  await post.body?.cancel();
  const missing = appHandler(new Request("http://127.0.0.1:8080/"));
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

Deno.test("the router ignores the query string and answers HEAD like GET", () => {
  assert.equal(answerApp("GET", "/hello?x=1").body, "Hello, world!");
  assert.equal(answerApp("HEAD", "/hello").status, 200);
  assert.equal(answerApp("GET", "/hello/").status, 404);
  assert.equal(answerApp("DELETE", "/hello").status, 405);
});
