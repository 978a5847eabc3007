#!/usr/bin/env python3
"""An independent verifier of yibao codes, written from docs/token-format.md alone (no Rust
code consulted), run over every case of shared/testdata/vectors.json. If it disagrees with a
vector's expected verdict, the specification is not precise enough (or the Rust code does not
follow it). Needs Python 3.9+ and the `cryptography` package (Ed25519 via OpenSSL, which
refuses a non-canonical S); key encoding, small-order and torsion checks are done here with
plain integer arithmetic.

    python3 tests/independent/verify_vectors.py
"""
import base64
import json
import pathlib
import sys
import unicodedata

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:
    sys.exit("missing the Python package 'cryptography': pip install cryptography")

ROOT = pathlib.Path(__file__).resolve().parents[2]
WIDTH = {0: 0, 3: 1, 5: 2, 8: 3, 10: 4, 13: 5, 15: 6, 17: 7}  # digits -> bytes (§2)


class Reject(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- Ed25519 point arithmetic, only to judge public keys (§6) ----------------------------
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493  # order of the prime-order subgroup
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
SEQUENCE_STEP = 2**20  # §6: largest step up from the held bundle sequence


def decompress(raw):
    """The point, for a canonical encoding of a curve point; None otherwise."""
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    sign = raw[31] >> 7
    if y >= P:
        return None
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = pow(u * pow(v, P - 2, P), (P + 3) // 8, P)
    if (v * x * x - u) % P != 0:
        x = x * SQRT_M1 % P
    if (v * x * x - u) % P != 0:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y)


def double(pt):
    x, y = pt
    denom_x = (1 + D * x * x * y * y) % P
    denom_y = (1 - D * x * x * y * y) % P
    return (
        (2 * x * y) * pow(denom_x, P - 2, P) % P,
        (y * y + x * x) * pow(denom_y, P - 2, P) % P,
    )


def add(a, b):
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    return (
        (x1 * y2 + y1 * x2) * pow(1 + t, P - 2, P) % P,
        (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P,
    )


def multiply(point, n):
    out = (0, 1)
    while n:
        if n & 1:
            out = add(out, point)
        point, n = double(point), n >> 1
    return out


def key_problem(raw):
    """None for a usable key, else the rejection code (§6: encoding first, then order)."""
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    if y >= P:
        return "bundle-noncanonical-key"
    point = decompress(raw)
    if point is None:
        # Not on the curve, or a sign bit on x = 0 (which only y = ±1 have).
        return "bundle-noncanonical-key" if y in (1, P - 1) else "bundle-invalid"
    small = point
    for _ in range(3):  # multiply by the cofactor 8
        small = double(small)
    if small == (0, 1) or multiply(point, L) != (0, 1):
        return "bundle-weak-key"
    return None


# --- §6 trust bundle ---------------------------------------------------------------------
def open_bundle(document, root_public):
    try:
        env = json.loads(document)
    except ValueError:
        raise Reject("bundle-invalid")
    if set(env) != {"format", "payload", "signature"} or env["format"] != "yibao-trust-bundle-v1":
        raise Reject("bundle-invalid")
    payload, signature = b64url(env["payload"]), b64url(env["signature"])
    try:
        Ed25519PublicKey.from_public_bytes(root_public).verify(signature, b"yibao.bundle.v1" + payload)
    except InvalidSignature:
        raise Reject("bundle-bad-signature")
    bundle = json.loads(payload)
    seen = set()
    for key in bundle["keys"]:
        if key["key_id"] in seen:
            raise Reject("bundle-invalid")
        seen.add(key["key_id"])
        raw = b64url(key["public_key"])
        if len(raw) != 32:
            raise Reject("bundle-invalid")
        problem = key_problem(raw)
        if problem:
            raise Reject(problem)
    return bundle


def install(document, root_public, now, held=0):
    bundle = open_bundle(document, root_public)
    if bundle["sequence"] > held + SEQUENCE_STEP:
        raise Reject("bundle-sequence-jump")
    if now >= bundle["expires_at"]:
        raise Reject("stale-bundle")
    return bundle


# --- §2 text form, §3 layout -------------------------------------------------------------
def decode_text(text):
    text = text.strip(" \t\r\n\f\v")
    if len(text) > 512 or not text.startswith("96"):
        raise Reject("wrong-prefix" if len(text) <= 512 else "malformed")
    digits = text[2:]
    if not all("0" <= c <= "9" for c in digits) or len(digits) % 17 not in WIDTH:
        raise Reject("malformed")
    out = b""
    for i in range(0, len(digits), 17):
        group = digits[i : i + 17]
        n = WIDTH[len(group)]
        value = int(group)
        if value >= 256**n:
            raise Reject("malformed")
        out += value.to_bytes(n, "big")
    return out


def parse(data):
    if len(data) < 64:
        raise Reject("malformed")
    body, signature = data[:-64], data[-64:]
    if len(body) < 1:
        raise Reject("malformed")
    if body[0] != 1:
        raise Reject("unsupported-version")
    if len(body) < 2:
        raise Reject("malformed")
    kind, flags = body[1] & 0x0F, body[1] & 0xF0
    if kind != 1:
        raise Reject("unsupported-kind")
    if flags & ~0x10:
        raise Reject("malformed")
    if len(body) < 30:
        raise Reject("malformed")
    packed = int.from_bytes(body[25:28], "big")
    token = {
        "key_id": int.from_bytes(body[2:4], "big"),
        "voucher": body[4:12],
        "token_id": body[12:20],
        "issued_at": int.from_bytes(body[20:24], "big"),
        "lifetime": body[24],
        "region": packed >> 4,
        "insurance": (packed >> 2) & 3,
        "gender": packed & 3,
        "birth_year": 1900 + body[28],
    }
    n = body[29]
    end = 30 + n + (9 if flags else 0)
    if (
        token["lifetime"] == 0
        or not 100000 <= token["region"] <= 999999
        or token["insurance"] not in (1, 2)
        or token["gender"] == 3
        or not 2 <= n <= 16
        or len(body) != end
    ):
        raise Reject("malformed")
    try:
        name = body[30 : 30 + n].decode("utf-8")
    except UnicodeDecodeError:
        raise Reject("malformed")
    if "*" not in name or any(
        c.isspace() or ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or unicodedata.category(c) == "Cf"
        for c in name
    ):
        raise Reject("malformed")
    if flags and body[38 + n] not in (1, 2, 3, 4):
        raise Reject("malformed")
    return token, body, signature


# --- §5 verification order ---------------------------------------------------------------
def verify(text, bundle, now, policy):
    token, body, signature = parse(decode_text(text))
    if now >= bundle["expires_at"]:
        raise Reject("stale-bundle")
    key = next((k for k in bundle["keys"] if k["key_id"] == token["key_id"]), None)
    if key is None:
        raise Reject("unknown-key")
    if key["status"] == "revoked":
        raise Reject("key-revoked")
    try:
        Ed25519PublicKey.from_public_bytes(b64url(key["public_key"])).verify(
            signature, b"yibao.token.v1" + body
        )
    except InvalidSignature:
        raise Reject("bad-signature")
    if not key["not_before"] <= token["issued_at"] <= key["not_after"]:
        raise Reject("key-not-valid")
    region = "%06d" % token["region"]
    if key["regions"] and not any(region.startswith(p) for p in key["regions"]):
        raise Reject("key-out-of-scope")
    if token["lifetime"] > policy["max_lifetime_secs"]:
        raise Reject("lifetime-too-long")
    if token["issued_at"] > now + policy["leeway_secs"]:
        raise Reject("not-yet-valid")
    if now >= token["issued_at"] + token["lifetime"] + policy["leeway_secs"]:
        raise Reject("expired")
    return token


def main():
    doc = json.loads((ROOT / "shared" / "testdata" / "vectors.json").read_text())
    root_public = b64url(doc["root_public_key"])
    now, policy = doc["now"], doc["policy"]
    passed, failed = 0, 0
    for case in doc["cases"]:
        try:
            bundle = install(case.get("bundle", doc["bundle"]), root_public, now)
            verify(case["code"], bundle, now, policy)
            got = "accept"
        except Reject as rejection:
            got = rejection.code
        if got == case["expect"]:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {case['name']}: expected {case['expect']}, got {got}")
    print(f"vectors: {passed} passed, {failed} failed")
    return 1 if failed or passed < 46 else 0


if __name__ == "__main__":
    sys.exit(main())
