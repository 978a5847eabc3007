#!/usr/bin/env bash
# Handoff intake throughput (POST /v1/handoffs, batches of 100, two client threads) on the
# embedded store, on Redis and on a six-node Redis Cluster (with and without WAIT), against
# one core of raw verify_strict measured in the same
# run. Bounded: 20,000 handoffs per backend.
# Usage: scripts/bench-handoffs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null; then
  echo "installing redis-server (apt-get)"
  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null \
    || { echo "cannot install redis-server: apt-get install -y redis-server" >&2; exit 1; }
fi
cargo build --release -q -p yibao-issuer
YIBAO_ISSUER_BIN="$PWD/target/release/yibao-issuer" \
  cargo run --release -q -p yibao-tests --example handoff_load
