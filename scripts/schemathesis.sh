#!/usr/bin/env bash
# Contract test of the issuer's HTTP API: schemathesis (PyPI) generates requests from the
# served /openapi.json and checks that nothing answers 5xx, that every status code, content
# type and body (errors included: JSON {code, message}) is the one the document promises,
# and that invalid input is refused. Bounded: N examples per operation and a time budget per
# caller group. Runs against `yibao-issuer demo` on a free loopback port, one group per kind
# of credential (holder, channel, terminal, admin, public).
#
# Usage: scripts/schemathesis.sh [max-examples-per-operation] [seconds-per-group]
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-15}"
budget="${2:-40}"

if ! command -v schemathesis >/dev/null 2>&1; then
  echo "installing schemathesis (pip) for the API contract test"
  python3 -m pip install --quiet schemathesis \
    || { echo "cannot install schemathesis: run 'python3 -m pip install schemathesis'" >&2; exit 1; }
fi

cargo build -q -p yibao-issuer
dir="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:${port}"
# Quotas high enough that the generated load is not one long 429; binds keep theirs small
# on purpose, and 429 is a documented answer.
YIBAO__LIMITS__HOLDER_PER_MIN=1000000 YIBAO__LIMITS__CHANNEL_PER_SEC=100000 \
  target/debug/yibao-issuer demo --data-dir "$dir/demo" --listen "127.0.0.1:${port}" \
  >"$dir/issuer.log" 2>&1 &
issuer=$!
trap 'kill "$issuer" 2>/dev/null || true; wait "$issuer" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 300); do
  curl -sf "${base}/healthz" >/dev/null 2>&1 && break
  kill -0 "$issuer" 2>/dev/null || { cat "$dir/issuer.log" >&2; exit 1; }
  sleep 0.1
done
curl -sf "${base}/healthz" >/dev/null || { echo "the demo issuer did not start" >&2; exit 1; }

cred() { python3 -c "import json,sys; d=json.load(open('$dir/demo/demo.json')); print(eval(sys.argv[1]))" "$1"; }
holder="$(cred "d['holders'][0]['holder_credential']")"
channel="$(cred "d['channel_key']")"
terminal="$(cred "d['terminal']['credential']")"
admin="$(cat "$dir/demo/admin.token")"

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection
status=0
run() {
  local name="$1" bearer="$2"; shift 2
  echo "--- schemathesis: ${name} operations"
  local auth=()
  [ -n "$bearer" ] && auth=(-H "Authorization: Bearer ${bearer}")
  # From the scratch directory: schemathesis and hypothesis leave caches where they run.
  # One worker: workers are threads, and hypothesis parses source with `ast` to describe its
  # strategies, which CPython 3.11.7 (the one here) does not do safely from two threads at
  # once (a "SystemError: AST constructor recursion depth mismatch" now and then, a crash of the
  # tool rather than a finding about the API).
  (cd "$dir" && schemathesis run "${base}/openapi.json" --checks "$checks" \
    --max-examples "$examples" --max-time "$budget" --phases examples,coverage,fuzzing \
    --seed 1 --no-color --generation-database none --workers 1 "${auth[@]}" "$@") || status=1
}
# Revoking one's own credential would end the holder run early: it is covered by the API
# tests instead.
run holder "$holder" --include-path-regex '^/v1/(token|family|expenses|account-shares|identity-reads)' \
  --exclude-path /v1/holder/credential
run channel "$channel" --include-path-regex '^/v1/(activations|deactivations)$'
run terminal "$terminal" --include-path-regex '^/v1/(handoffs|decode|settlements|person-info)'
run admin "$admin" --include-path-regex '^/v1/admin/'
run public "" --include-path-regex '^/(v1/(trust-bundle|institutions)|healthz|readyz|openapi\.json)$'
exit "$status"
