#!/usr/bin/env python3
"""An independent verifier of yibao codes, written from docs/token-format.md alone (no Rust
code consulted), run over every case of shared/testdata/vectors.json. If it disagrees with a
vector's expected verdict, the specification is not precise enough (or the Rust code does not
follow it). Needs Python 3.9+ and the `cryptography` package (Ed25519 via OpenSSL, which
refuses a non-canonical S; ECDSA P-256 for device-bound codes); key encoding, small-order and
torsion checks are done here with plain integer arithmetic.

    python3 tests/independent/verify_vectors.py
"""
import base64
import hashlib
import json
import pathlib
import sys
import unicodedata

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
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
    text = text.strip(" \t\r\n\f")
    if len(text) > 600 or not text.startswith("96"):
        raise Reject("wrong-prefix" if len(text) <= 600 else "malformed")
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


def claims(data, flags):
    """§3 offsets 25 onward (shared by §8.1): the claims and where they end."""
    if len(data) < 30:
        raise Reject("malformed")
    packed = int.from_bytes(data[25:28], "big")
    region, insurance, gender = packed >> 4, (packed >> 2) & 3, packed & 3
    n = data[29]
    end = 30 + n + (9 if flags else 0)
    if (
        not 100000 <= region <= 999999
        or insurance not in (1, 2)
        or gender == 3
        or not 2 <= n <= 16
        or len(data) < end
    ):
        raise Reject("malformed")
    try:
        name = data[30 : 30 + n].decode("utf-8")
    except UnicodeDecodeError:
        raise Reject("malformed")
    if "*" not in name or any(
        c.isspace() or ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or unicodedata.category(c) == "Cf"
        for c in name
    ):
        raise Reject("malformed")
    if flags and data[38 + n] not in (1, 2, 3, 4):
        raise Reject("malformed")
    return {"region": region, "voucher": data[4:12]}, end


def parse(data):
    if len(data) < 65:
        raise Reject("malformed")
    if data[0] != 1:
        raise Reject("unsupported-version")
    kind, flags = data[1] & 0x0F, data[1] & 0xF0
    if kind not in (1, 2):
        raise Reject("unsupported-kind")
    if flags & ~0x10:
        raise Reject("malformed")
    if kind == 2:
        return parse_device(data, flags)
    body, signature = data[:-64], data[-64:]
    token, end = claims(body, flags)
    token.update(
        kind=1,
        key_id=int.from_bytes(body[2:4], "big"),
        token_id=body[12:20],
        issued_at=int.from_bytes(body[20:24], "big"),
        lifetime=body[24],
    )
    if token["lifetime"] == 0 or len(body) != end:
        raise Reject("malformed")
    token["signed"] = [(b"yibao.token.v1" + body, signature)]
    return token


def parse_device(data, flags):
    """§8.1-8.3: certificate, issuer signature, presentation, device signature."""
    token, end = claims(data, flags)
    if data[24] == 0 or len(data) != end + 33 + 64 + 7 + 64:
        raise Reject("malformed")
    try:
        device_key = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), data[end : end + 33]
        )
    except ValueError:
        raise Reject("malformed")
    if data[end] not in (2, 3):
        raise Reject("malformed")
    cert_end = end + 33
    presentation = data[cert_end + 64 : cert_end + 71]
    if presentation[4] == 0:
        raise Reject("malformed")
    token.update(
        kind=2,
        key_id=int.from_bytes(data[2:4], "big"),
        certificate_id=data[12:20],
        certificate_issued_at=int.from_bytes(data[20:24], "big"),
        validity=data[24],
        issued_at=int.from_bytes(presentation[0:4], "big"),
        lifetime=presentation[4],
        device_key=device_key,
        certificate_signed=(b"yibao.devcert.v1" + data[:cert_end], data[cert_end : cert_end + 64]),
        device_signed=(b"yibao.present.v1" + data[: cert_end + 71], data[cert_end + 71 :]),
    )
    token["token_id"] = hashlib.sha256(
        b"yibao.devtoken.v1" + token["certificate_id"] + presentation
    ).digest()[:8]
    return token


def ecdsa_ok(key, message, raw):
    r, s_ = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    if not (0 < r < n and 0 < s_ < n):
        return False
    try:
        key.verify(encode_dss_signature(r, s_), message, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


# --- §5 and §8.4 verification order -------------------------------------------------------
def ed25519_ok(public, message, signature):
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
        return True
    except InvalidSignature:
        return False


def verify(text, bundle, status, now, policy):
    token = parse(decode_text(text))
    if now >= bundle["expires_at"]:
        raise Reject("stale-bundle")
    key = next((k for k in bundle["keys"] if k["key_id"] == token["key_id"]), None)
    if key is None:
        raise Reject("unknown-key")
    if key["status"] == "revoked":
        raise Reject("key-revoked")
    public = b64url(key["public_key"])
    leeway = policy["leeway_secs"]
    if token["kind"] == 1:
        message, signature = token["signed"][0]
        if not ed25519_ok(public, message, signature):
            raise Reject("bad-signature")
        signed_at = token["issued_at"]
    else:
        if not ed25519_ok(public, *token["certificate_signed"]):
            raise Reject("bad-certificate-signature")
        if not ecdsa_ok(token["device_key"], *token["device_signed"]):
            raise Reject("bad-device-signature")
        signed_at = token["certificate_issued_at"]
    if not key["not_before"] <= signed_at <= key["not_after"]:
        raise Reject("key-not-valid")
    region = "%06d" % token["region"]
    if key["regions"] and not any(region.startswith(p) for p in key["regions"]):
        raise Reject("key-out-of-scope")
    if token["kind"] == 2:
        cert_from = token["certificate_issued_at"]
        cert_to = cert_from + token["validity"] * 3600
        if token["validity"] > policy["max_certificate_hours"]:
            raise Reject("certificate-validity-too-long")
        if cert_from > now + leeway:
            raise Reject("certificate-not-yet-valid")
        if now >= cert_to + leeway:
            raise Reject("certificate-expired")
        if not cert_from <= token["issued_at"] + leeway or token["issued_at"] >= cert_to:
            raise Reject("presentation-outside-certificate")
    if token["lifetime"] > policy["max_lifetime_secs"]:
        raise Reject("lifetime-too-long")
    if token["issued_at"] > now + leeway:
        raise Reject("not-yet-valid")
    if now >= token["issued_at"] + token["lifetime"] + leeway:
        raise Reject("expired")
    if token["kind"] == 2:
        if status is None:
            raise Reject("no-status-list")
        if now >= status["issued_at"] + policy["max_status_age_secs"]:
            raise Reject("status-list-stale")
        if token["certificate_id"] in status["revoked"]:
            raise Reject("certificate-revoked")
    return token


# --- §10 status list -----------------------------------------------------------------------
BLOCK = 256


class Bits:
    """Bits read most significant first."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def bit(self):
        if self.pos >= 8 * len(self.data):
            raise Reject("status-list-invalid")
        b = (self.data[self.pos // 8] >> (7 - self.pos % 8)) & 1
        self.pos += 1
        return b

    def rice(self, k):
        q = 0
        while self.bit():
            q += 1
        low = 0
        for _ in range(k):
            low = (low << 1) | self.bit()
        return (q << k) | low


def open_status(document, bundle, now, leeway):
    """Returns {issued_at, sequence, sure, all}: ids surely unexpired, and every id listed."""
    raw = b64url(document)
    if len(raw) < 5 + 2 + 24 + 4 + 4 + 64 or raw[:5] != b"YBSL\x02":
        raise Reject("status-list-invalid")
    signed, signature = raw[:-64], raw[-64:]
    key_id = int.from_bytes(signed[5:7], "big")
    key = next((k for k in bundle["keys"] if k["key_id"] == key_id), None)
    if key is None or key["status"] == "revoked":
        raise Reject("status-list-invalid")
    if not ed25519_ok(b64url(key["public_key"]), b"yibao.status.v2" + signed, signature):
        raise Reject("status-list-bad-signature")
    pos = 7

    def take(n):
        nonlocal pos
        if pos + n > len(signed):
            raise Reject("status-list-invalid")
        pos += n
        return signed[pos - n : pos]

    def u(n):
        return int.from_bytes(take(n), "big")

    since, sequence, issued_at = u(8), u(8), u(8)
    if since != 0:  # a verifier holding nothing takes only a complete list
        raise Reject("status-list-out-of-order")
    cutoff = now - leeway
    sure, listed = set(), set()
    count = u(4)
    if count:
        first, k = u(8), u(1)
        if k > 63:
            raise Reject("status-list-invalid")
        blocks = [(u(4), u(4)) for _ in range((count + BLOCK - 1) // BLOCK)]
        bits = Bits(take(u(4)))
        value = first
        for i in range(count):
            if i:
                value += bits.rice(k) + 1
            if value >= 1 << 64:
                raise Reject("status-list-invalid")
            earliest, latest = blocks[i // BLOCK]
            listed.add(value.to_bytes(8, "big"))
            if earliest > cutoff:
                sure.add(value.to_bytes(8, "big"))
        # The gaps end in the last byte, padded with zero bits.
        if (bits.pos + 7) // 8 != len(bits.data) or any(bits.bit() for _ in range(8 * len(bits.data) - bits.pos)):
            raise Reject("status-list-invalid")
    plain = u(4)
    if len(signed) - pos != 16 * plain:
        raise Reject("status-list-invalid")
    for i in range(plain):
        entry = take(16)
        listed.add(entry[:8])
        if int.from_bytes(entry[8:12], "big") > cutoff:
            sure.add(entry[:8])
    return {"issued_at": issued_at, "sequence": sequence, "sure": sure, "revoked": listed}


def replace_status(held, offered):
    """§10: a complete list after a held one: never older, never the held sequence with
    other entries (either would undo revocations). "Other" is judged on entries surely
    unexpired on one side, looked up among everything the other lists."""
    if offered["issued_at"] < held["issued_at"]:
        raise Reject("status-list-out-of-order")
    if offered["sequence"] < held["sequence"]:
        raise Reject("status-list-rollback")
    if offered["sequence"] == held["sequence"] and not (
        held["sure"] <= offered["revoked"] and offered["sure"] <= held["revoked"]
    ):
        raise Reject("status-list-rollback")
    return offered


def main():
    doc = json.loads((ROOT / "shared" / "testdata" / "vectors.json").read_text())
    root_public = b64url(doc["root_public_key"])
    now, policy = doc["now"], doc["policy"]
    passed, failed = 0, 0
    for case in doc["cases"]:
        try:
            bundle = install(case.get("bundle", doc["bundle"]), root_public, now)
            document = case["status_list"] if "status_list" in case else doc["status_list"]
            status = None
            if document is not None:
                status = open_status(document, bundle, now, policy["leeway_secs"])
            verify(case["code"], bundle, status, now, policy)
            got = "accept"
        except Reject as rejection:
            got = rejection.code
        if got == case["expect"]:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {case['name']}: expected {case['expect']}, got {got}")
    bundle = install(doc["bundle"], root_public, now)
    for case in doc.get("status_list_sequences", []):
        try:
            held = open_status(case["held"], bundle, now, policy["leeway_secs"])
            replace_status(held, open_status(case["offered"], bundle, now, policy["leeway_secs"]))
            got = "accept"
        except Reject as rejection:
            got = rejection.code
        if got == case["expect"]:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {case['name']}: expected {case['expect']}, got {got}")
    print(f"vectors: {passed} passed, {failed} failed")
    return 1 if failed or passed < 80 else 0


if __name__ == "__main__":
    sys.exit(main())
