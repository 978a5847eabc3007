"""The national-shaped call from Python (ctypes), with caller buffers:

    python3 ec_trans.py <library> <terminal dir> <institution> <code> <yibao.init request file>

version; set-up (yibao.init); the code accepted through ec.query with a GBK operator name;
replayed and forged copies refused; a buffer too small; flush to the running issuer; ec.result
gives settlement's ecToken. Prints "OK <ecToken>" and exits 0.
"""

import ctypes
import json
import sys

OK, REJECTED, ERROR, NO_ANSWER, BUFFER_TOO_SMALL = 0, 1, 2, 3, 4

lib_path, terminal_dir, institution, code, init_file = sys.argv[1:6]
# WinDLL on 32-bit Windows (stdcall); the C convention elsewhere.
lib = ctypes.CDLL(lib_path)
lib.yibao_ec_trans.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int32,
                               ctypes.POINTER(ctypes.c_int32)]
lib.yibao_ec_trans.restype = ctypes.c_int32
lib.yibao_version.argtypes = [ctypes.c_char_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_int32)]
lib.yibao_version.restype = ctypes.c_int32
lib.yibao_set_charset.argtypes = [ctypes.c_char_p]
lib.yibao_set_charset.restype = ctypes.c_int32

failures = 0
charset = "utf-8"


def trans(request, size=8192):
    """One call: its status, the answer's bytes and `needed`."""
    out = ctypes.create_string_buffer(size)
    needed = ctypes.c_int32(0)
    data = request if isinstance(request, bytes) else json.dumps(request, ensure_ascii=False).encode(charset)
    rc = lib.yibao_ec_trans(terminal_dir.encode(charset), data, out, size, ctypes.byref(needed))
    return rc, out.value, needed.value


def expect(what, got, want, answer, check=None):
    global failures
    text = answer.decode(charset, errors="replace")
    ok = got == want and (check is None or check(json.loads(text)))
    print(("ok  " if ok else "FAIL"), what, got, text)
    if not ok:
        failures += 1
    return json.loads(text) if text else {}


out = ctypes.create_string_buffer(512)
needed = ctypes.c_int32(0)
rc = lib.yibao_version(out, 512, ctypes.byref(needed))
expect("version", rc, OK, out.value, lambda a: a["abiVersion"] == 1 and a["build"])

with open(init_file, "rb") as f:
    rc, answer, _ = trans(f.read())
expect("init", rc, OK, answer, lambda a: a["code"] == "0000")


def query(qr):
    return {"transType": "ec.query", "orgId": institution, "data": {
        "orgId": institution, "businessType": "02121", "operatorId": "c-01",
        "operatorName": "测试收银员", "officeId": "A03", "officeName": "", "deviceType": "",
        "ecQrCode": qr}}


# An ANSI program: GBK in and out.
assert lib.yibao_set_charset(b"GBK") == OK
charset = "gbk"
rc, answer, _ = trans(query(code))
accepted = expect("ec.query (GBK)", rc, OK, answer, lambda a: a["data"]["ecToken"].startswith("ybp"))
if "成功".encode("gbk") not in answer:
    print("FAIL the answer is not GBK")
    failures += 1
ec_token = accepted.get("data", {}).get("ecToken", "")
lib.yibao_set_charset(b"UTF-8")
charset = "utf-8"

rc, answer, _ = trans(query(code))
expect("replayed", rc, REJECTED, answer, lambda a: a["reason"] == "replayed")
forged = code[:-1] + ("1" if code[-1] == "0" else "0")
rc, answer, _ = trans(query(forged))
expect("forged", rc, REJECTED, answer, lambda a: a["code"] == "1001")
rc, answer, needed = trans(query(forged), size=100)
ok = rc == BUFFER_TOO_SMALL and needed == 4096 and answer == b""
print(("ok  " if ok else "FAIL"), "buffer too small", rc, needed)
failures += 0 if ok else 1

rc, answer, _ = trans({"transType": "yibao.flush", "data": {"timeoutSecs": 30}})
expect("flush", rc, OK, answer, lambda a: a["data"]["answered"] == 1)
rc, answer, _ = trans({"transType": "ec.result", "data": {"ecToken": ec_token}})
result = expect("ec.result", rc, OK, answer, lambda a: a["data"]["settled"] is True)
reference = result.get("data", {}).get("ecToken", "")
rc, answer, _ = trans({"transType": "yibao.close"})
expect("close", rc, OK, answer)

if failures == 0 and reference and not reference.startswith("ybp"):
    print("OK", reference)
    sys.exit(0)
sys.exit(1)
