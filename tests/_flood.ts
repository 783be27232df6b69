/**
 * Connection floods for hardening tests and benchmarks: many connections from
 * one python3 process (cheaper than as many Deno connections), idle or
 * slowloris, to a TCP port or a Unix socket.
 *
 * @module
 */

const decoder = new TextDecoder();

/** Where a flood connects: the app's (or control's) TCP port, or a Unix socket's path. */
export type FloodTarget = { readonly port: number } | { readonly path: string };

/** What a flood saw when it ended: connections made, and how many of them the server closed. */
export interface FloodReport {
  /** Connections made. */
  readonly connected: number;
  /** Of those, the ones the server closed before the flood ended. */
  readonly closedByServer: number;
}

/**
 * Opens `count` connections without waiting for each (the kernel's queue fills once the server
 * stops accepting; a Unix socket's connect that finds it full is tried again every 200 ms): a
 * python3 process holds them until closed. `idle` ones send nothing; `slowloris` ones trickle
 * the headers of a request, a byte each 200 ms, that never ends.
 */
export function flood(
  target: FloodTarget,
  count: number,
  flavour: "idle" | "slowloris" = "idle",
): { close(): Promise<FloodReport> } {
  const address = "port" in target ? `("127.0.0.1", ${target.port})` : JSON.stringify(target.path);
  const script = `
import errno, json, resource, select, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
target = ${address}
family = socket.AF_UNIX if isinstance(target, str) else socket.AF_INET
head = b"GET /healthz HTTP/1.1\\r\\nHost: x\\r\\nX-Slow: "
slow = ${flavour === "slowloris" ? "True" : "False"}
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
        if not trickle: continue
        try:
            s.send(head[sent[s]:sent[s] + 1] or b"a"); sent[s] += 1
        except BlockingIOError: pass
        except OSError: closed.add(s)
while not select.select([sys.stdin], [], [], 0.2)[0]:
    pending = [s for s in pending if attempt(s) == "again"]
    sweep(slow)
sweep(False)
print(json.dumps({"connected": len(held), "closedByServer": len(closed)}))
`;
  const child = new Deno.Command("python3", {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  return {
    async close() {
      await child.stdin.close();
      const output = await child.output();
      return JSON.parse(decoder.decode(output.stdout)) as FloodReport;
    },
  };
}
