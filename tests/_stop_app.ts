/**
 * A test app served through `mod.ts` whose one request stays in flight until SIGUSR1, so that a
 * second stop signal arrives while the graceful stop waits. Arguments: certificate, port, control
 * port, and `exit` or `keep` for `exitOnSecondSignal`. It logs each stop step, each SIGTERM it
 * sees itself, and a line after `await finished`.
 *
 * @module
 */

import { serveWithReload } from "../mod.ts";

const [cert = "cert.pem", port = "8080", controlPort = "3000", mode = "exit"] = Deno.args;
const { promise: released, resolve: release } = Promise.withResolvers<void>();
Deno.addSignalListener("SIGUSR1", () => release());
let seen = 0;
Deno.addSignalListener("SIGTERM", () => console.log(`app saw SIGTERM ${++seen}`));
const started = await serveWithReload({
  cert,
  port: Number(port),
  control: { port: Number(controlPort) },
  exitOnSecondSignal: mode === "exit",
  handler: async () => {
    console.log("request in flight");
    await released;
    return new Response("done\n");
  },
  onStop: (event) => console.log(`stop ${event.signal} ${event.phase}`),
});
if (!started.ok) Deno.exit(1);
console.log("[startup] ready");
await started.value.finished;
console.log("after finished");
