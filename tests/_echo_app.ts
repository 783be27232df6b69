/**
 * A test app served through `mod.ts` that shows what its handler received
 * and answers with every kind of response: it echoes the request as JSON,
 * hashes a streamed body, sets two cookies, and streams its own body.
 * Run with the same flags as `main.ts`; prints `[startup] ready` when serving.
 *
 * @module
 */

import { parseArgs } from "node:util";
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
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      cert: { type: "string" },
      key: { type: "string" },
      hostname: { type: "string" },
      port: { type: "string" },
      "control-hostname": { type: "string" },
      "control-port": { type: "string" },
      "tls-front": { type: "string" },
    },
  });
  const log = (tag: string, text: string) =>
    console.log(`${new Date().toISOString()} [${tag}] ${text}`);
  const started = await serveWithReload({
    cert: values.cert ?? "cert.pem",
    key: values.key,
    hostname: values.hostname,
    port: Number(values.port),
    control: { hostname: values["control-hostname"], port: Number(values["control-port"]) },
    handler,
    tlsFront: values["tls-front"] as "native" | "node" | undefined,
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
