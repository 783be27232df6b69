#!/usr/bin/env bash
# /hello in user-space instructions per request, counted by valgrind's callgrind, for the bare
# Deno.serve baseline (bench/bare_server.ts), a bare accept loop with serveHttpOnConnection
# (bench/plain_accept_loop_server.ts) and signal-server as `deno task start` runs it. CPU time per
# request drifts by +-20% between runs on a shared machine; this count drifts by a few percent.
# The kernel's share (socket work, the same for every server) is not counted. Each server runs
# under callgrind; after WARMUP requests the counters are zeroed, REQUESTS are sent by h2load over
# 20 keep-alive HTTP/1.1 connections, and the counters of the main thread (JavaScript and I/O) are
# dumped. Needs valgrind and h2load (apt-get install -y valgrind nghttp2-client); 1-2 minutes a
# server and round. All traffic goes to 127.0.0.1; it stops by itself.
#
#   bash bench/instructions.sh [ROUNDS]        # WARMUP=30000 REQUESTS=20000 by default
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
warmup=${WARMUP:-30000}
requests=${REQUESTS:-20000}
deno=${DENO:-$(command -v deno)}
for tool in valgrind callgrind_control h2load curl; do
  command -v "$tool" >/dev/null || { echo "$tool not found: apt-get install -y valgrind nghttp2-client curl" >&2; exit 1; }
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# count NAME ARGS...: prints the main thread's instructions per request.
count() {
  local port=$1; shift
  valgrind --tool=callgrind --separate-threads=yes --smc-check=all-non-file \
    --callgrind-out-file="$out/cg.%p" "$deno" "$@" >/dev/null 2>"$out/valgrind.log" &
  local pid=$!
  local ready=""
  for _ in $(seq 1 240); do
    if curl -fs -o /dev/null "http://127.0.0.1:$port/hello"; then ready=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  if [ -z "$ready" ]; then
    kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    grep -v '^==' "$out/valgrind.log" | head -3 >&2
    echo "n/a"; return
  fi
  h2load --h1 -n "$warmup" -c 20 -t 1 "http://127.0.0.1:$port/hello" >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  local sent
  sent=$(h2load --h1 -n "$requests" -c 20 -t 1 "http://127.0.0.1:$port/hello" | grep -E '^requests:')
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  case $sent in *" $requests succeeded"*) ;; *) echo "failed: $sent" >&2; echo "n/a"; return;; esac
  local dump
  dump=$(ls "$out"/cg."$pid".1-01)
  awk -v n="$requests" '/^(summary|totals):/ { printf "%.2f\n", $2 / n / 1000; exit }' "$dump"
  rm -f "$out"/cg."$pid"*
}

declare -A results
names=(bare loop ours)
for round in $(seq 1 "$rounds"); do
  for name in "${names[@]}"; do
    port=$(free_port)
    case $name in
      bare) value=$(count "$port" run --no-prompt --no-config --allow-net=127.0.0.1:"$port" bench/bare_server.ts "$port") ;;
      loop) value=$(count "$port" run --no-prompt --no-config --allow-net=127.0.0.1:"$port" bench/plain_accept_loop_server.ts "$port") ;;
      ours)
        # Valgrind runs one thread at a time: the loader may give up on the certificate's open
        # (1-2 s, its guard against a FIFO swapped in), and the start fails. Tried three times.
        for _ in 1 2 3; do
          control=$(free_port)
          value=$(count "$port" run --no-prompt --no-config --v8-flags=--max-semi-space-size=1,--optimize-for-size \
            --allow-read=cert.pem --allow-net=127.0.0.1:"$port",127.0.0.1:"$control" main.ts \
            --port "$port" --control-port "$control")
          [ "$value" != n/a ] && break
          port=$(free_port)
        done ;;
    esac
    results[$name]="${results[$name]:-}${results[$name]:+, }$value"
  done
done

median() { tr ',' '\n' | grep -v n/a | sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
bare_median=$(echo "${results[bare]}" | median)
echo "/hello in thousands of user-space instructions per request, main thread (callgrind; $requests requests after $warmup, 20 keep-alive connections; $("$deno" --version | head -1)); ratio: the bare server's median over this one's"
echo
echo "| server | each round | median | ratio |"
echo "| --- | ---: | ---: | ---: |"
for name in "${names[@]}"; do
  m=$(echo "${results[$name]}" | median)
  ratio=$(awk -v b="$bare_median" -v m="$m" 'BEGIN { if (m == "n/a" || b == "n/a") print "n/a"; else printf "%.2fx\n", b / m }')
  case $name in
    bare) label='bare `Deno.serve`' ;;
    loop) label='bare accept loop + `serveHttpOnConnection`' ;;
    ours) label='signal-server (`deno task start` flags)' ;;
  esac
  echo "| $label | ${results[$name]} | $m | $ratio |"
done
