/**
 * The baseline of the performance benchmark: a bare `Deno.serve` hello server.
 * Its handler takes the request parameter on purpose: Deno skips building the
 * `Request` for a handler that declares none, and signal-server's must read it
 * to route, so that would not be a fair baseline.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1:8081 bench/bare_server.ts 8081
 * ```
 *
 * @module
 */

if (import.meta.main) {
  const port = Number(Deno.args[0] ?? 8081);
  Deno.serve({
    hostname: "127.0.0.1",
    port,
    onListen: ({ port }) => console.log(`bare baseline listening on 127.0.0.1:${port}`),
  }, (_request) => new Response("Hello, world!"));
}
