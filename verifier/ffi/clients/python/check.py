#!/usr/bin/env python3
"""The terminal scenario through the C ABI from Python's ctypes:

    check.py <libyibao_verifier_ffi.so> <terminal dir> <institution> <code>

open; the code accepted; a replay and a forged copy refused; malformed JSON answered with an
error code; status; flush to the running issuer; the settlement reference. Prints
"OK <reference>" and exits 0.
"""
import ctypes
import json
import sys

OK, REJECTED, ERROR = 0, 1, 2


def main(lib_path, directory, institution, code):
    lib = ctypes.CDLL(lib_path)
    answer_p = ctypes.POINTER(ctypes.c_char)
    for name, args in {
        "yibao_terminal_open": [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(answer_p)],
        "yibao_check": [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(answer_p)],
        "yibao_status": [ctypes.c_void_p, ctypes.POINTER(answer_p)],
        "yibao_flush": [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(answer_p)],
        "yibao_presentation": [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(answer_p)],
    }.items():
        getattr(lib, name).argtypes = args
        getattr(lib, name).restype = ctypes.c_int32
    lib.yibao_string_free.argtypes = [answer_p]
    lib.yibao_terminal_close.argtypes = [ctypes.c_void_p]

    def call(name, *args):
        """(status, answer as a dict); the answer string is freed here."""
        out = answer_p()
        status = getattr(lib, name)(*args, ctypes.byref(out))
        text = ctypes.cast(out, ctypes.c_char_p).value.decode("utf-8")
        lib.yibao_string_free(out)
        return status, json.loads(text)

    failures = []

    def expect(what, got, status, check):
        ok = got[0] == status and check(got[1])
        print(("ok   " if ok else "FAIL ") + what, got[0], json.dumps(got[1], ensure_ascii=False))
        if not ok:
            failures.append(what)

    if lib.yibao_abi_version() != 1:
        sys.exit("FAIL abi version")
    handle = ctypes.c_void_p()
    got = call("yibao_terminal_open", json.dumps({"dir": directory}).encode(), ctypes.byref(handle))
    expect("open", got, OK, lambda a: a["institution"] == institution)
    request = {"code": code, "institution": institution, "operator": "cashier-py", "business_type": "02121"}
    got = call("yibao_check", handle, json.dumps(request).encode())
    expect("check", got, OK, lambda a: a["accepted"] and "*" in a["masked_name"])
    queued = got[1].get("queued")
    expect("replay", call("yibao_check", handle, json.dumps(request).encode()), REJECTED,
           lambda a: a["code"] == "replayed" and a["reason_zh"])
    forged = dict(request, code=code[:-1] + ("1" if code.endswith("0") else "0"))
    expect("forged", call("yibao_check", handle, json.dumps(forged).encode()), REJECTED,
           lambda a: not a["accepted"])
    expect("malformed json", call("yibao_check", handle, b"{"), ERROR,
           lambda a: a["error"] == "malformed-json")
    expect("unknown field", call("yibao_check", handle, b'{"code": "96", "x": 1}'), ERROR,
           lambda a: a["error"] == "invalid-request")
    expect("status", call("yibao_status", handle), OK, lambda a: a["queued"] == 1)
    expect("flush", call("yibao_flush", handle, None), OK, lambda a: a["answered"] == 1)
    got = call("yibao_presentation", handle, json.dumps({"queued": queued}).encode())
    expect("settled", got, OK, lambda a: a["outcome"]["outcome"] == "settled")
    lib.yibao_terminal_close(handle)
    if failures:
        sys.exit(1)
    print("OK", got[1]["outcome"]["reference"])


if __name__ == "__main__":
    main(*sys.argv[1:])
