#!/usr/bin/env bash
# A/B of issuer binaries on the token path, one Redis: the binaries take turns, each serving
# /healthz then /v1/token under wrk, and each run reports requests/s, the ratio to /healthz
# and the CPU time per token request of the issuer and of redis-server (/proc/<pid>/stat).
# Alternating in one run is what makes small differences visible on a noisy machine:
# compare CPU per request, which varies far less between runs than requests/s.
# Usage: scripts/ab-token.sh <issuer binary>... (ROUNDS=3 SECONDS_PER_RUN=6 by default)
# The first binary sets up the store (registry, channel, one activated holder).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$#" -ge 1 ] || { echo "usage: $0 <issuer binary>..." >&2; exit 2; }
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-6}
for tool in wrk redis-server curl python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y $tool" >&2; exit 1; }
done
cargo build --release -q -p yibao-keys
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
BIN=target/release
# shellcheck source=scripts/lib/bench-issuer.sh
. scripts/lib/bench-issuer.sh

REDIS_PORT=$(free_port)
mkdir -p "$WORK/redis" "$WORK/data"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly yes \
  --appendfsync always --dir "$WORK/redis" >/dev/null &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
export YIBAO__DATA_DIR="$WORK/data" YIBAO__STORE__TYPE=redis
export YIBAO__STORE__URL="redis://127.0.0.1:$REDIS_PORT/0"
export YIBAO__LIMITS__HOLDER_PER_MIN=1000000000 YIBAO__LIMITS__CHANNEL_PER_SEC=1000000
issuer_keys
"$1" synthetic-registry --rows 1000 > "$WORK/registry.csv"
"$1" import "$WORK/registry.csv" >/dev/null

serve() { # binary -> sets PORT and PID
  PORT=$(free_port)
  YIBAO__LISTEN="127.0.0.1:$PORT" RUST_LOG=warn "$1" serve > "$WORK/serve.log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 100); do grep -q "serving on" "$WORK/serve.log" && break; sleep 0.1; done
}

serve "$1"
base="http://127.0.0.1:$PORT"
holder=$(activate_holder "$base" "$WORK/registry.csv")
kill "$PID"; wait "$PID" 2>/dev/null || true

TCK=$(getconf CLK_TCK)
echo "| binary | /healthz requests/s | /v1/token requests/s | ratio | issuer CPU µs/token | redis-server CPU µs/token |"
echo "|---|---|---|---|---|---|"
for _ in $(seq "$ROUNDS"); do
  for binary in "$@"; do
    serve "$binary"
    wrk -t2 -c32 -d2s "http://127.0.0.1:$PORT/healthz" >/dev/null # warm-up
    healthz=$(wrk -t2 -c32 -d"${SECONDS_PER_RUN}s" "http://127.0.0.1:$PORT/healthz" \
      | sed -n 's/Requests\/sec:\s*//p')
    issuer_before=$(cpu_ticks "$PID"); redis_before=$(cpu_ticks "$REDIS_PID")
    out=$(wrk -t2 -c32 -d"${SECONDS_PER_RUN}s" -H "Authorization: Bearer $holder" \
      "http://127.0.0.1:$PORT/v1/token")
    issuer_after=$(cpu_ticks "$PID"); redis_after=$(cpu_ticks "$REDIS_PID")
    if grep -q "Non-2xx" <<<"$out"; then echo "token requests failed:"; echo "$out"; exit 1; fi
    python3 - "$binary" "$healthz" "$out" "$TCK" "$issuer_before" "$issuer_after" \
      "$redis_before" "$redis_after" <<'PY'
import os, re, sys
binary, healthz, out, tck, ib, ia, rb, ra = sys.argv[1:]
n = int(re.search(r"(\d+) requests in", out).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
per = lambda a, b: (int(b) - int(a)) / int(tck) * 1e6 / n
print(f"| {os.path.basename(binary)} | {float(healthz):,.0f} | {rps:,.0f} | {rps / float(healthz):.3f} "
      f"| {per(ib, ia):.1f} | {per(rb, ra):.1f} |")
PY
    kill "$PID"; wait "$PID" 2>/dev/null || true
  done
done
