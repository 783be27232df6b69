/**
 * Malformed requests on the control port, written by hand on real sockets: broken Host headers,
 * absolute-form targets, CONNECT, OPTIONS *, and path tricks each get a 4xx with a one-line
 * reason, answered at once, and the server logs no stack trace.
 */

import assert from "node:assert/strict";
import { ServerProcess } from "./_server.ts";
import { test } from "./_time_limit.ts";

/** One raw HTTP/1.1 exchange: what is sent, and the status and reason expected back. */
interface Case {
  readonly name: string;
  readonly request: string;
  readonly status: number;
  readonly reason: RegExp;
}

const CERTS = "GET /certs HTTP/1.1\r\n";

const CASES: readonly Case[] = [
  ...["local host", "[::1", "%", "localhost:abc", "127.0.0.1:3000:1", "[::1]x"].map((host) => ({
    name: `Host: ${host}`,
    request: `${CERTS}Host: ${host}\r\n\r\n`,
    status: 400,
    reason: /^Bad request: the Host header ".*" is not a host name or address/,
  })),
  {
    name: "absolute-form naming another host",
    request: "GET http://evil.example/certs HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    status: 403,
    reason:
      /^Forbidden: Host "evil\.example" is not this control server's address; use 127\.0\.0\.1 or localhost or ::1 /,
  },
  {
    name: "absolute-form with a broken authority",
    request: "GET http://local%20host/certs HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    status: 400,
    reason: /^Bad request: the Host header/,
  },
  {
    name: "CONNECT",
    request: "CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n",
    status: 400,
    reason:
      /^Bad request: the request target must be a path .*CONNECT and OPTIONS \* are not served/,
  },
  {
    name: "OPTIONS *",
    request: "OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    status: 404,
    reason: /^Not found: the control server answers POST \/reload_certs/,
  },
  ...[
    "//reload_certs",
    "/reload_certs/../certs",
    "/reload_certs/%2e%2e/certs",
    "/%2e%2e/certs",
    "/./certs",
    "/x%2fcerts",
    "/%63erts",
    "/certs/.",
  ].map((path) => ({
    name: `path ${path}`,
    request: `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
    status: 400,
    reason: /^Bad request: the path must be written plainly/,
  })),
  {
    name: "POST //reload_certs",
    request: "POST //reload_certs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
    status: 400,
    reason: /^Bad request: the path must be written plainly/,
  },
  {
    name: "a path named like an Object property",
    request: "GET /constructor HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    status: 404,
    reason: /^Not found/,
  },
];

/** Sends raw bytes and reads one response (headers, then Content-Length bytes), without waiting for the connection to close. */
async function exchange(port: number, request: string): Promise<{ status: number; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(request));
    let text = "";
    const buffer = new Uint8Array(8192);
    while (true) {
      const end = text.indexOf("\r\n\r\n");
      if (end !== -1) {
        const length = Number(/content-length: (\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
        // Content-Length counts bytes, and a body may hold more than ASCII (`…`).
        const body = new TextEncoder().encode(text.slice(end + 4));
        if (body.length >= length) {
          const status = Number(text.split(" ")[1]);
          return { status, body: new TextDecoder().decode(body.subarray(0, length)) };
        }
      }
      const read = await conn.read(buffer);
      if (read === null) throw new Error(`connection closed before a whole response: ${text}`);
      text += new TextDecoder().decode(buffer.subarray(0, read));
    }
  } finally {
    conn.close();
  }
}

test("malformed control requests get a 4xx with a one-line reason, answered at once, and no stack trace", async () => {
  await using server = await ServerProcess.start({ options: { cert: "cert.pem" } });
  const port = server.options.controlPort;
  for (const testCase of CASES) {
    const { status, body } = await exchange(port, testCase.request);
    assert.equal(status, testCase.status, `${testCase.name}: ${body}`);
    assert.match(body, testCase.reason, testCase.name);
    assert.equal(
      body.split("\n").length,
      2,
      `${testCase.name}: one line, got ${JSON.stringify(body)}`,
    );
  }
  // The requests that are well-formed still work, the absolute form to this server included.
  const plain = await exchange(port, `${CERTS}Host: 127.0.0.1\r\n\r\n`);
  assert.equal(plain.status, 200);
  const absolute = await exchange(
    port,
    "GET http://127.0.0.1/certs?x=1 HTTP/1.1\r\nHost: x\r\n\r\n",
  );
  assert.equal(absolute.status, 200);
  server.signal("SIGTERM");
  await server.exited();
  const output = server.lines.join("\n") + server.stderr;
  assert.doesNotMatch(output, /TypeError|Error:|\n\s+at /, output);
});
