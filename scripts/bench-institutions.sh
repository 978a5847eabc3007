#!/usr/bin/env bash
# Institution import through the operator's command line: `yibao-issuer admin institution
# import` of a synthetic national list (CSV), then the same file again (idempotent), against
# a running release issuer on the embedded store and on one Redis (`appendfsync always`).
# Usage: scripts/bench-institutions.sh [rows, default 800000]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-800000}
command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server redis-tools >/dev/null; }
cargo build --release -q -p yibao-issuer -p yibao-keys
BIN=target/release
WORK=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

python3 - "$ROWS" > "$WORK/institutions.csv" <<'PY'
import sys
rows = int(sys.argv[1])
print("code,name,kind,region,accepts_voucher")
for i in range(rows):
    kind = "pharmacy" if i % 3 else "hospital"
    print(f"{'P' if i % 3 else 'H'}{i:011d},测试机构{i},{kind},{110101 + i % 90},{'true' if i % 10 else 'false'}")
PY
echo "$ROWS rows, $(du -h "$WORK/institutions.csv" | cut -f1)"

run() { # name; the store comes from YIBAO__STORE__*
  local data="$WORK/$1" port
  mkdir -p "$data"
  "$BIN/yibao-keys" --dir "$data/keys" root init >/dev/null
  "$BIN/yibao-keys" --dir "$data/keys" issuer new >/dev/null
  "$BIN/yibao-keys" --dir "$data/keys" bundle sign >/dev/null
  port=$(free_port)
  YIBAO__DATA_DIR="$data" YIBAO__LISTEN="127.0.0.1:$port" RUST_LOG=warn \
    "$BIN/yibao-issuer" serve > "$data/serve.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do grep -q "serving on" "$data/serve.log" && break; sleep 0.1; done
  for round in first re-import; do
    echo -n "$1, $round: "
    "$BIN/yibao-issuer" admin --url "http://127.0.0.1:$port" --data-dir "$data" \
      institution import "$WORK/institutions.csv"
  done
  kill "${PIDS[-1]}"; unset 'PIDS[-1]'
}

unset YIBAO__STORE__TYPE YIBAO__STORE__URL
run embedded
REDIS_PORT=$(free_port)
mkdir -p "$WORK/redis"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly yes \
  --appendfsync always --dir "$WORK/redis" >/dev/null &
PIDS+=($!)
sleep 0.5
YIBAO__STORE__TYPE=redis YIBAO__STORE__URL="redis://127.0.0.1:$REDIS_PORT/0" run redis
