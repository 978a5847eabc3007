#!/usr/bin/env bash
# The README's run command, until the issuer service lands: a walk through the spine of
# yibao on this machine, with no network. Creates a root key and an issuer key, signs a trust
# bundle, mints development codes for a synthetic person and verifies them offline with
# `yibao-verify` (accepted, family proxy, forged, expired, revoked key).
# Everything lives in data/demo/ (recreated on every run).
set -euo pipefail
cd "$(dirname "$0")/.."

DEMO=data/demo
rm -rf "$DEMO"
mkdir -p "$DEMO"
echo "building..."
cargo build -q -p yibao-keys -p yibao-verifier

keys() { target/debug/yibao-keys --dir "$DEMO/keys" "$@"; }
verify() {
  # Exit 1 (rejected) is an expected outcome here; only 2 is an error.
  target/debug/yibao-verify check --bundle "$DEMO/keys/bundle.json" \
    --root-key "$DEMO/keys/root.public.json" "$@" || [ $? -eq 1 ]
}
title() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

title "1. operator: root key (kept offline) and an issuer key for Beijing (11) and Shanghai (31)"
keys root init
keys issuer new --regions 11,31 --valid-for 90days

title "2. operator: sign the trust bundle terminals will hold"
keys bundle sign --valid-for 7days
keys bundle show --root-key "$DEMO/keys/root.public.json" "$DEMO/keys/bundle.json"

title "3. a code for a synthetic person (what the phone shows as a QR code)"
code=$(keys dev-mint --key-id 1 --name 测试甲 --region 110105 --gender female --birth-year 1950 2>/dev/null)
echo "$code"
echo "(${#code} digits: QR version 6 at error-correction level M)"

title "4. terminal, offline: check the code"
verify "$code"

title "5. a daughter shows her father's code (family proxy)"
proxy=$(keys dev-mint --key-id 1 --name 测试乙 --gender male --birth-year 1948 \
  --proxy-binder a0a1a2a3a4a5a6a7 --relation parent 2>/dev/null)
verify "$proxy"

title "6. a forged code: one digit changed"
last=${code: -1}
verify "${code:0:${#code}-1}$(( (last + 1) % 10 ))"

title "7. a screenshot shown two minutes later"
verify --now $(( $(date +%s) + 120 )) "$code"

title "8. operator revokes the issuer key and publishes a new bundle; the terminal refuses at once"
keys issuer revoke 1
keys bundle sign --valid-for 7days
verify "$code"

title "done"
echo "keys, bundle and key files are in $DEMO/keys (secret files are mode 0600)."
echo "try: target/debug/yibao-verify check --help, target/debug/yibao-keys --help"
