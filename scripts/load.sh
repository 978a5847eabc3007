#!/usr/bin/env bash
# Load benchmark of the issuer, on the embedded store, on Redis and on a six-node Redis
# Cluster with two issuer nodes, in one run:
#   GET /healthz       the HTTP ceiling of this binary on this machine (baseline)
#   GET /v1/token      holder auth + registry read + Ed25519 signature
#   GET /v1/token.svg  the same plus QR rendering
# Each is driven by wrk for a fixed time over loopback (bounded: it stops by itself).
# Usage: scripts/load.sh [seconds per run, default 10]
# RUNS=n repeats the whole benchmark n times and ends with the median of each figure over
# the runs: one run on a shared 2-core machine moves a ratio by ±0.05.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNECTIONS=${CONNECTIONS:-32}

for tool in wrk redis-server curl python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "installing $tool (apt-get)"
    apt-get update -qq && apt-get install -y -qq "$tool" >/dev/null \
      || { echo "cannot install $tool: apt-get install -y $tool" >&2; exit 1; }
  fi
done

cargo build --release -q -p yibao-issuer -p yibao-keys
RUNS=${RUNS:-1}
if [ "$RUNS" -gt 1 ]; then
  TABLES=$(mktemp -d)
  trap 'rm -rf "$TABLES"' EXIT
  for run in $(seq "$RUNS"); do
    echo "run $run of $RUNS"
    # Zero-padded so that the glob below lists the runs in order.
    RUNS=1 scripts/load.sh "$DURATION" | tee "$TABLES/$(printf %03d "$run")"
    echo
  done
  echo "median over $RUNS runs (each figure separately; the ratios of each run in brackets)"
  echo
  python3 scripts/lib/load_median.py "$TABLES"/*
  exit
fi
BIN=target/release
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

# shellcheck source=scripts/lib/bench-issuer.sh
. scripts/lib/bench-issuer.sh
CLK_TCK=$(getconf CLK_TCK)

# Commands every Redis server in REDIS_PORTS (none for the embedded store) has processed.
REDIS_PORTS=()
redis_commands() {
  local total=0 p n
  for p in "${REDIS_PORTS[@]}"; do
    n=$(redis-cli -p "$p" info stats | tr -d '\r' | sed -n 's/^total_commands_processed://p')
    total=$((total + n))
  done
  echo "$total"
}

wrk_run() { # url bearer issuer_pid -> "rps p99_ms issuer_cpu_us_per_request redis_commands_per_request"
  local out before after commands_before commands_after
  before=$(cpu_ticks "$3")
  commands_before=$(redis_commands)
  out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "Authorization: Bearer $2" "$1")
  after=$(cpu_ticks "$3")
  commands_after=$(redis_commands)
  python3 - "$out" "$before" "$after" "$CLK_TCK" "$commands_before" "$commands_after" \
    "${#REDIS_PORTS[@]}" <<'PY'
import re, sys
text = sys.argv[1]
commands = (int(sys.argv[6]) - int(sys.argv[5])) if int(sys.argv[7]) else None
ticks = (int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4])
total = int(re.search(r"(\d+) requests in", text).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
m = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", text)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
if errors:
    sys.exit(f"wrk saw {errors.group(1)} error responses:\n{text}")
per_request = "-" if commands is None else f"{commands / total:.2f}"
print(f"{rps:.0f} {p99:.2f} {ticks * 1e6 / total:.1f} {per_request}")
PY
}

start_issuer() { # log -> sets ISSUER_PORT; the store comes from YIBAO__STORE__*
  ISSUER_PORT=$(free_port)
  YIBAO__LISTEN="127.0.0.1:$ISSUER_PORT" RUST_LOG=warn "$BIN/yibao-issuer" serve > "$1" 2>&1 &
  ISSUER_PID=$!
  PIDS+=($!)
  for _ in $(seq 100); do grep -q "serving on" "$1" && break; sleep 0.1; done
}

bench_backend() { # name [issuer nodes, default 1]; the store comes from YIBAO__STORE__*
  local name=$1 nodes=${2:-1} data="$WORK/$1" port
  mkdir -p "$data"
  export YIBAO__DATA_DIR="$data"
  issuer_keys
  export YIBAO__LIMITS__HOLDER_PER_MIN=1000000000 YIBAO__LIMITS__CHANNEL_PER_SEC=1000000
  "$BIN/yibao-issuer" synthetic-registry --rows 10000 > "$data/registry.csv"
  "$BIN/yibao-issuer" import "$data/registry.csv" >/dev/null
  local ports=() pids=()
  for n in $(seq "$nodes"); do
    start_issuer "$data/serve-$n.log"; ports+=("$ISSUER_PORT"); pids+=("$ISSUER_PID")
  done
  port=${ports[0]}
  local base="http://127.0.0.1:$port" holder
  holder=$(activate_holder "$base" "$data/registry.csv")
  if [ "$nodes" -gt 1 ]; then
    # Every node: its own /healthz baseline, then the token endpoint (the holder was
    # activated through the first node; the others read the shared store).
    for n in $(seq "$nodes"); do
      local node_base="http://127.0.0.1:${ports[$((n - 1))]}" pid=${pids[$((n - 1))]}
      read -r h_rps h_p99 h_cpu h_cmd < <(wrk_run "$node_base/healthz" none "$pid")
      read -r t_rps t_p99 t_cpu t_cmd < <(wrk_run "$node_base/v1/token" "$holder" "$pid")
      python3 - "$name node $n" "$h_rps" "$h_p99" "$h_cpu" "$h_cmd" \
        "$t_rps" "$t_p99" "$t_cpu" "$t_cmd" <<'PY'
import sys
name, h, hp, hc, hk, t, tp, tc, tk = sys.argv[1:]
h, hp, hc, t, tp, tc = map(float, (h, hp, hc, t, tp, tc))
print(f"| {name} | /healthz | {h:,.0f} | {hp:.2f} | 1.00 | {hc:.1f} | {hk} |")
print(f"| {name} | /v1/token | {t:,.0f} | {tp:.2f} | {t / h:.2f} | {tc:.1f} | {tk} |")
PY
    done
  else
    local pid=${pids[0]}
    read -r h_rps h_p99 h_cpu h_cmd < <(wrk_run "$base/healthz" none "$pid")
    read -r t_rps t_p99 t_cpu t_cmd < <(wrk_run "$base/v1/token" "$holder" "$pid")
    read -r s_rps s_p99 s_cpu s_cmd < <(wrk_run "$base/v1/token.svg" "$holder" "$pid")
    python3 - "$name" "$h_rps" "$h_p99" "$h_cpu" "$h_cmd" "$t_rps" "$t_p99" "$t_cpu" "$t_cmd" \
      "$s_rps" "$s_p99" "$s_cpu" "$s_cmd" <<'PY'
import sys
name, h, hp, hc, hk, t, tp, tc, tk, s, sp, sc, sk = sys.argv[1:]
h, hp, hc, t, tp, tc, s, sp, sc = map(float, (h, hp, hc, t, tp, tc, s, sp, sc))
print(f"| {name} | /healthz | {h:,.0f} | {hp:.2f} | 1.00 | {hc:.1f} | {hk} |")
print(f"| {name} | /v1/token | {t:,.0f} | {tp:.2f} | {t / h:.2f} | {tc:.1f} | {tk} |")
print(f"| {name} | /v1/token.svg | {s:,.0f} | {sp:.2f} | {s / h:.2f} | {sc:.1f} | {sk} |")
PY
  fi
  for _ in $(seq "$nodes"); do kill "${PIDS[-1]}" 2>/dev/null || true; unset 'PIDS[-1]'; done
}

start_cluster() { # -> sets CLUSTER_NODES, a comma-separated list (six nodes, three primaries)
  local ports=() all dir i port
  # Twelve distinct ports (client and bus port of six nodes), held open while picked.
  read -r -a all < <(python3 -c 'import socket
ss = [socket.socket() for _ in range(12)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
  for i in 0 1 2 3 4 5; do
    port=${all[$i]}; dir=$(mktemp -d -p "$WORK")
    redis-server --port "$port" --cluster-port "${all[$((i + 6))]}" --bind 127.0.0.1 \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
      --save "" --appendonly yes --appendfsync everysec --dir "$dir" >/dev/null &
    PIDS+=($!)
    ports+=("$port")
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
  done
  redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") --cluster-replicas 1 \
    --cluster-yes >/dev/null
  local ok
  for _ in $(seq 300); do
    ok=0
    for p in "${ports[@]}"; do redis-cli -p "$p" cluster info | grep -q 'cluster_state:ok' && ok=$((ok + 1)); done
    # ...and every primary's replica in sync, or the first writes' WAIT would time out.
    for p in "${ports[@]}"; do redis-cli -p "$p" info replication | grep -q 'slave0:.*state=online' && ok=$((ok + 1)); done
    [ "$ok" = 9 ] && break
    sleep 0.1
  done
  CLUSTER_NODES=$(printf 'redis://127.0.0.1:%s,' "${ports[@]}" | sed 's/,$//')
  REDIS_PORTS=("${ports[@]}") # replicas count the writes they apply too
}

echo "wrk -t2 -c$CONNECTIONS -d${DURATION}s on $(nproc) cores; issuer, wrk (and redis) share them"
echo
echo "| store | endpoint | requests/s | p99 ms | ratio to /healthz | issuer CPU µs/request | Redis commands/request |"
echo "|---|---|---|---|---|---|---|"
unset YIBAO__STORE__TYPE YIBAO__STORE__URL YIBAO__STORE__NODES
bench_backend embedded
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly yes --appendfsync always --dir "$(mktemp -d -p "$WORK")" >/dev/null &
PIDS+=($!)
sleep 0.5
export YIBAO__STORE__TYPE=redis YIBAO__STORE__URL="redis://127.0.0.1:$REDIS_PORT/0"
REDIS_PORTS=("$REDIS_PORT")
bench_backend redis
# The cost of shared rate limits: the same with the limits kept per process.
redis-cli -p "$REDIS_PORT" flushall >/dev/null
YIBAO__LIMITS__SHARED=false bench_backend redis-per-process-limits
unset YIBAO__STORE__URL
start_cluster
export YIBAO__STORE__TYPE=redis-cluster YIBAO__STORE__NODES="$CLUSTER_NODES"
bench_backend redis-cluster 2
