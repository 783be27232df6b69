/**
 * A small JSON API served through `mod.ts`: its own routes, HTTPS with a
 * certificate that reloads on `POST /reload_certs` (control server) or SIGHUP,
 * and a log line for every outcome, worded exactly as signal-server words it.
 *
 * ```sh
 * deno task example      # https://127.0.0.1:8443/items, control on 127.0.0.1:3001
 * curl --cacert cert.pem https://localhost:8443/items
 * curl --cacert cert.pem -X POST https://localhost:8443/items -d '{"name":"tea"}'
 * curl -X POST 127.0.0.1:3001/reload_certs
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { formatOutcome, formatStartError, serveWithReload } from "../mod.ts";

/** One stored item. */
interface Item {
  readonly id: number;
  readonly name: string;
}

const items: Item[] = [];

/** The API: `GET /items`, `GET /items/:id`, `POST /items` with `{ "name": … }`. */
async function api(request: Request): Promise<Response> {
  const { pathname } = new URL(request.url);
  if (pathname === "/items" && request.method === "GET") return Response.json(items);
  if (pathname === "/items" && request.method === "POST") {
    const body = await request.json().catch(() => undefined);
    if (typeof body?.name !== "string" || body.name === "") {
      return Response.json({ error: 'expected JSON {"name": "…"}' }, { status: 400 });
    }
    const item = { id: items.length + 1, name: body.name };
    items.push(item);
    return Response.json(item, { status: 201, headers: { location: `/items/${item.id}` } });
  }
  const found = /^\/items\/(\d+)$/.exec(pathname);
  const item = found && items.find((candidate) => candidate.id === Number(found[1]));
  if (item && request.method === "GET") return Response.json(item);
  return Response.json({ error: "not found" }, { status: 404 });
}

function log(text: string): void {
  console.log(`${new Date().toISOString()} [example] ${text}`);
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    cert: { type: "string", default: "cert.pem" },
    key: { type: "string", default: "key.pem" },
    hostname: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "8443" },
    "control-hostname": { type: "string", default: "127.0.0.1" },
    "control-port": { type: "string", default: "3001" },
  },
});
const started = await serveWithReload({
  cert: values.cert,
  key: values.key,
  hostname: values.hostname,
  port: Number(values.port),
  control: { hostname: values["control-hostname"], port: Number(values["control-port"]) },
  handler: api,
  onReload: (outcome) => log(`${outcome.trigger}: ${formatOutcome(outcome)}`),
  onStop: (event) => log(`${event.signal}: ${event.phase}`),
});
if (!started.ok) {
  console.error(formatStartError(started.error));
  Deno.exit(1);
}
log(`ready: https://localhost:${started.value.addr.port}/items, pid ${Deno.pid}`);
await started.value.finished;
