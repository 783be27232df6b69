import { formatOutcome, formatStartError, serveWithReload } from "../mod.ts";
const [port = "8443", controlPort = "3001"] = Deno.args;
const started = await serveWithReload({
  cert: "cert.pem",
  key: "key.pem",
  port: Number(port),
  control: { port: Number(controlPort) },
  handler: (request) => new Response(`Hello from ${new URL(request.url).pathname}\n`),
  onReload: (outcome) => console.log(formatOutcome(outcome)),
});
if (!started.ok) {
  console.error(formatStartError(started.error));
  Deno.exit(1);
}
console.log(`ready: https://localhost:${started.value.addr.port}/ (pid ${Deno.pid})`);
