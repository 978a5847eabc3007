# Shared by the issuer's load scripts (scripts/load.sh, scripts/ab-token.sh); sourced, not run.
# Expects BIN (the release binaries' directory) and YIBAO__DATA_DIR to be set by the caller.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system time of a process

# A root key, an issuer key and a signed bundle under $YIBAO__DATA_DIR/keys.
issuer_keys() {
  "$BIN/yibao-keys" --dir "$YIBAO__DATA_DIR/keys" root init >/dev/null
  "$BIN/yibao-keys" --dir "$YIBAO__DATA_DIR/keys" issuer new >/dev/null
  "$BIN/yibao-keys" --dir "$YIBAO__DATA_DIR/keys" bundle sign >/dev/null
}

# Registers a channel through the admin API and activates the registry's first person:
# prints that holder's credential. Usage: activate_holder <issuer base URL> <registry CSV>
activate_holder() {
  local base=$1 registry=$2 admin key
  admin=$(cat "$YIBAO__DATA_DIR/admin.token")
  key=$(curl -s -X POST "$base/v1/admin/channels" -H "Authorization: Bearer $admin" \
    -H 'content-type: application/json' -d '{"id":"load","name":"load test","regions":[]}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["credential"])')
  python3 - "$(sed -n 2p "$registry")" <<'PY' \
    | curl -s -X POST "$base/v1/activations" -H "Authorization: Bearer $key" \
      -H 'content-type: application/json' -d @- \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["holder_credential"])'
import json, sys
f = sys.argv[1].split(",")
print(json.dumps({"name": f[1], "id_number": f[2], "attestation": {"real_name": True, "real_person": True, "method": "face"}}))
PY
}
