/**
 * A test app served through `mod.ts` that shows what its handler received
 * and answers with every kind of response: it echoes the request as JSON,
 * hashes a streamed body, sets two cookies, and streams its own body.
 * Run with the same flags as `main.ts`; prints `[startup] ready` when serving.
 *
 * @module
 */

import { parseOptions } from "../lib/cli/options.ts";
import { formatNotice, formatOutcome, formatStartError, serveWithReload } from "../mod.ts";

/** How many chunks `GET /stream` sends. */
export const STREAM_CHUNKS = 5;

async function handler(request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) {
  const url = new URL(request.url);
  switch (url.pathname) {
    case "/echo": {
      let bytes = 0;
      let chunks = 0;
      for await (const chunk of request.body ?? []) {
        bytes += chunk.byteLength;
        chunks++;
      }
      return Response.json({
        method: request.method,
        url: request.url,
        headers: [...request.headers],
        bytes,
        chunks,
        remote: info.remoteAddr,
      });
    }
    case "/cookies": {
      const headers = new Headers({ "x-one": "1" });
      headers.append("set-cookie", "a=1; Path=/");
      headers.append("set-cookie", "b=2; Path=/; HttpOnly");
      return new Response("two cookies\n", { status: 202, statusText: "Accepted", headers });
    }
    case "/stream": {
      const pause = Number(url.searchParams.get("pause") ?? 20);
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          await new Promise((resolve) => setTimeout(resolve, pause));
          controller.enqueue(new TextEncoder().encode(`chunk ${++sent}\n`));
          if (sent === STREAM_CHUNKS) controller.close();
        },
      });
      return new Response(body, { headers: { "content-type": "text/plain" } });
    }
    case "/throw":
      throw new Error("the handler failed on purpose");
    default:
      return new Response("not found\n", { status: 404 });
  }
}

if (import.meta.main) {
  // The same flags as main.ts, parsed by the same function.
  const command = parseOptions(Deno.args);
  if (!command.ok || command.value.kind !== "run") throw new Error(`bad flags: ${Deno.args}`);
  const options = command.value.options;
  const log = (tag: string, text: string) =>
    console.log(`${new Date().toISOString()} [${tag}] ${text}`);
  const started = await serveWithReload({
    cert: options.cert,
    key: options.key,
    hostname: options.hostname,
    port: options.port,
    control: { hostname: options.controlHostname, port: options.controlPort },
    handler,
    tlsFront: options.tlsFront,
    onReload: (outcome) => log(outcome.trigger, formatOutcome(outcome)),
    onNotice: (notice) => log("startup", formatNotice(notice)),
    onStop: (event) => log(event.signal, event.phase),
  });
  if (!started.ok) {
    console.error(formatStartError(started.error));
    Deno.exit(1);
  }
  log("startup", "ready");
  await started.value.finished;
}
