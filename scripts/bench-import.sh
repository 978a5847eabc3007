#!/usr/bin/env bash
# Registry import throughput on both backends: `yibao-issuer import` of a synthetic CSV.
# Usage: scripts/bench-import.sh [rows, default 200000]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-200000}
command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }
cargo build --release -q -p yibao-issuer
WORK=$(mktemp -d)
REDIS_PID=
trap '[ -n "$REDIS_PID" ] && kill $REDIS_PID; rm -rf "$WORK"' EXIT
target/release/yibao-issuer synthetic-registry --rows "$ROWS" > "$WORK/registry.csv"
echo "$ROWS rows, $(du -h "$WORK/registry.csv" | cut -f1)"

echo -n "embedded: "
YIBAO__DATA_DIR="$WORK/embedded" target/release/yibao-issuer import "$WORK/registry.csv" | tail -1
echo -n "embedded, re-import (idempotent): "
YIBAO__DATA_DIR="$WORK/embedded" target/release/yibao-issuer import "$WORK/registry.csv" | tail -1

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly yes --appendfsync always --dir "$(mktemp -d)" >/dev/null &
REDIS_PID=$!
sleep 0.5
echo -n "redis: "
YIBAO__DATA_DIR="$WORK/redis" YIBAO__STORE__TYPE=redis YIBAO__STORE__URL="redis://127.0.0.1:$PORT/0" \
  target/release/yibao-issuer import "$WORK/registry.csv" | tail -1
