/**
 * Connection floods for hardening tests and benchmarks: many connections from
 * one python3 process (cheaper than as many Deno connections), idle or
 * slowloris, to a TCP port or a Unix socket.
 *
 * @module
 */

import { CLIENT_CPU } from "../bench/_measure.ts";

/** Where a flood connects: the app's (or control's) TCP port, or a Unix socket's path. */
export type FloodTarget = { readonly port: number } | { readonly path: string };

/**
 * How each connection of a flood behaves: `idle` sends nothing, `slowloris` trickles the headers
 * of a request that never ends, a byte each 200 ms, `keepalive` sends one `GET /hello` and stays
 * open idle once answered.
 */
export type FloodFlavour = "idle" | "slowloris" | "keepalive";

/** What a flood saw when it ended: connections made, and how many of them the server closed. */
export interface FloodReport {
  /** Connections made. */
  readonly connected: number;
  /** Of those, the ones the server closed before the flood ended. */
  readonly closedByServer: number;
}

/** A running flood. */
export interface Flood {
  /** Settles once every connection was tried once (those that found a Unix queue full go on trying). */
  readonly ready: Promise<void>;
  /** Closes every connection and tells what the flood saw. */
  close(): Promise<FloodReport>;
}

/**
 * Opens `count` connections without waiting for each (the kernel's queue fills once the server
 * stops accepting; a Unix socket's connect that finds it full is tried again every 200 ms): a
 * python3 process holds them until closed; `flavour` says what each sends.
 */
export function flood(
  target: FloodTarget,
  count: number,
  flavour: FloodFlavour = "idle",
): Flood {
  const address = "port" in target ? `("127.0.0.1", ${target.port})` : JSON.stringify(target.path);
  const script = `
import errno, json, resource, select, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
target = ${address}
family = socket.AF_UNIX if isinstance(target, str) else socket.AF_INET
head = b"GET /healthz HTTP/1.1\\r\\nHost: x\\r\\nX-Slow: "
flavour = "${flavour}"
ask = b"GET /hello HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
pending, held, sent, closed = [], [], {}, set()
def attempt(s):
    try: s.connect(target)
    except BlockingIOError as e:
        if e.errno == errno.EAGAIN and family == socket.AF_UNIX: return "again"
    except OSError: s.close(); return "gone"
    held.append(s); sent[s] = 0; return "held"
for _ in range(${count}):
    s = socket.socket(family); s.setblocking(False)
    if attempt(s) == "again": pending.append(s)
def sweep(trickle):
    for s in held:
        if s in closed: continue
        try:
            if s.recv(4096) == b"": closed.add(s); continue
        except BlockingIOError: pass
        except OSError: closed.add(s); continue
        if not trickle or (flavour == "keepalive" and sent[s] > 0): continue
        try:
            if flavour == "keepalive": s.send(ask); sent[s] = 1
            else: s.send(head[sent[s]:sent[s] + 1] or b"a"); sent[s] += 1
        except BlockingIOError: pass
        except OSError: closed.add(s)
print("ready", flush=True)
while not select.select([sys.stdin], [], [], 0.2)[0]:
    pending = [s for s in pending if attempt(s) == "again"]
    sweep(flavour != "idle")
sweep(False)
print(json.dumps({"connected": len(held), "closedByServer": len(closed)}))
`;
  // A load client runs on the other CPU, off the one the server's CPU time is measured on.
  const [command, ...args] = navigator.hardwareConcurrency >= 2
    ? ["taskset", "-c", String(CLIENT_CPU), "python3", "-c", script]
    : ["python3", "-c", script];
  const child = new Deno.Command(command as string, {
    args,
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const { promise: ready, resolve: markReady } = Promise.withResolvers<void>();
  // Its stdout: "ready" once every connection was tried, then the report as one JSON line.
  const output = (async () => {
    let text = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      if (text.startsWith("ready\n")) markReady();
    }
    markReady();
    return text;
  })();
  return {
    ready,
    async close() {
      await child.stdin.close();
      const text = await output;
      await child.status;
      return JSON.parse(text.replace(/^ready\n/, "")) as FloodReport;
    },
  };
}
