#!/usr/bin/env bash
# Registry import throughput: `yibao-issuer import` of a synthetic CSV, then the same file
# again (idempotent re-import), into the embedded store, one Redis with `appendfsync always`,
# and a six-node Redis Cluster (3 primaries, 3 replicas, every piece waiting for a replica).
# Usage: scripts/bench-import.sh [rows, default 200000]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-200000}
command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server redis-tools >/dev/null; }
cargo build --release -q -p yibao-issuer
WORK=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# redis-server on port $1 with appendfsync $2, extra arguments after.
server() {
  local port=$1 fsync=$2; shift 2
  mkdir -p "$WORK/r$port"
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly yes --appendfsync "$fsync" \
    --dir "$WORK/r$port" "$@" >/dev/null &
  PIDS+=($!)
}
# Two imports of the file with the environment given: first, then re-import.
twice() {
  echo -n "  first:     "; env "$@" target/release/yibao-issuer import "$WORK/registry.csv" | tail -1
  echo -n "  re-import: "; env "$@" target/release/yibao-issuer import "$WORK/registry.csv" | tail -1
}

target/release/yibao-issuer synthetic-registry --rows "$ROWS" > "$WORK/registry.csv"
echo "$ROWS rows, $(du -h "$WORK/registry.csv" | cut -f1)"

echo "embedded (redb):"
twice YIBAO__DATA_DIR="$WORK/embedded"

PORT=$(free_port)
server "$PORT" always
until redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.1; done
echo "one Redis, appendfsync always:"
twice YIBAO__DATA_DIR="$WORK/redis" YIBAO__STORE__TYPE=redis YIBAO__STORE__URL="redis://127.0.0.1:$PORT/0"

NODES=()
for _ in 1 2 3 4 5 6; do
  p=$(free_port)
  server "$p" everysec --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000
  NODES+=("127.0.0.1:$p")
done
for n in "${NODES[@]}"; do
  until redis-cli -p "${n#*:}" ping >/dev/null 2>&1; do sleep 0.1; done
done
redis-cli --cluster create "${NODES[@]}" --cluster-replicas 1 --cluster-yes >/dev/null
until redis-cli -p "${NODES[0]#*:}" cluster info | grep -q cluster_state:ok; do sleep 0.2; done
sleep 2 # replicas finish their first sync
URLS=$(printf 'redis://%s,' "${NODES[@]}")
echo "Redis Cluster, 3 primaries + 3 replicas, replica_acks 1:"
twice YIBAO__DATA_DIR="$WORK/cluster" YIBAO__STORE__TYPE=redis-cluster YIBAO__STORE__NODES="${URLS%,}"
