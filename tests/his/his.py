"""A hospital information system (HIS) at the registration desk and the settlement window,
written against the national interface's field names only: the voucher DLL's ec.query for the
scan (the terminal library, through ctypes), 1101 人员信息获取 and the 2207 settlement split
over HTTP with the terminal's credential.

    python3 his.py <library> <terminal dir> <institution> <issuer url> <credential> <record> setup <init file>
    python3 his.py ... scan <code>        (works with the platform down)
    python3 his.py ... settle             (the platform is back)

`record` is the HIS's own patient file (JSON), kept between the steps as a HIS keeps its
database. `settle` prints one JSON line: what the HIS recorded and settled.
"""

import ctypes
import json
import sys
import urllib.error
import urllib.request

OK = 0

lib_path, terminal_dir, institution, issuer, credential, record_file, step = sys.argv[1:8]
lib = ctypes.CDLL(lib_path)
lib.yibao_ec_trans.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int32,
                               ctypes.POINTER(ctypes.c_int32)]
lib.yibao_ec_trans.restype = ctypes.c_int32


def fail(what, detail):
    print(f"HIS FAIL {what}: {detail}", file=sys.stderr)
    sys.exit(1)


def trans(request):
    out = ctypes.create_string_buffer(16384)
    needed = ctypes.c_int32(0)
    data = request if isinstance(request, bytes) else json.dumps(request, ensure_ascii=False).encode()
    rc = lib.yibao_ec_trans(terminal_dir.encode(), data, out, len(out), ctypes.byref(needed))
    answer = json.loads(out.value.decode()) if out.value else {}
    return rc, answer


def platform(path, body):
    """One national call over HTTP: (status, answer)."""
    request = urllib.request.Request(
        issuer + path, data=json.dumps(body).encode(), method="POST",
        headers={"authorization": "Bearer " + credential, "content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def load():
    with open(record_file, encoding="utf-8") as f:
        return json.load(f)


def save(record):
    with open(record_file, "w", encoding="utf-8") as f:
        json.dump(record, f, ensure_ascii=False)


if step == "setup":
    with open(sys.argv[8], "rb") as f:
        rc, answer = trans(f.read())
    if rc != OK:
        fail("yibao.init", answer)
    save({})
elif step == "scan":
    # Registration: the patient shows the code; the desk records what the code carries.
    rc, answer = trans({"transType": "ec.query", "orgId": institution, "data": {
        "orgId": institution, "businessType": "01101", "operatorId": "reg-01",
        "operatorName": "测试挂号员", "officeId": "A01", "officeName": "", "deviceType": "",
        "ecQrCode": sys.argv[8]}})
    if rc != OK:
        fail("ec.query", answer)
    data = answer["data"]
    save({"ecToken": data["ecToken"], "userName": data["userName"], "gender": data["gender"],
          "birthday": data["birthday"], "insutype": data["insutype"], "insuOrg": data["insuOrg"],
          "offline": data["offline"]})
elif step == "settle":
    record = load()
    rc, answer = trans({"transType": "yibao.flush", "data": {"timeoutSecs": 30}})
    if rc != OK:
        fail("flush", answer)
    rc, answer = trans({"transType": "ec.result", "data": {"ecToken": record["ecToken"]}})
    if rc != OK or not answer["data"]["settled"]:
        fail("ec.result", answer)
    mdtrt_cert_no = answer["data"]["ecToken"]

    # 实名就医: 1101 with the voucher as the certificate.
    status, info = platform("/v1/person-info", {"mdtrt_cert_type": "01", "mdtrt_cert_no": mdtrt_cert_no,
                                                 "card_sn": "", "begntime": "", "psn_cert_type": "",
                                                 "certno": "", "psn_name": ""})
    if status != 200:
        fail("1101", info)
    base, insu = info["baseinfo"], info["insuinfo"][0]
    # What the code carried at registration must be the same person.
    if (base["psn_name"][0] != record["userName"][0] or base["gend"] != record["gender"]
            or not base["brdy"].startswith(record["birthday"]) or insu["insutype"] != record["insutype"]):
        fail("1101 is not the registered patient", {"registered": record})
    payers = info.get("mulaid_payers", [])
    if not payers:
        fail("1101", "no 个账共济 account to pay from")

    # 2207: the split as the settlement answer gives it, 30 yuan from the relative's account.
    split = {"medfee_sumamt": 256.80, "fund_pay_sumamt": 180.00, "acct_pay": 0,
             "acct_mulaid_pay": 30.00, "psn_cash_pay": 46.80,
             "mutual_aid_payer": payers[0]["voucher_id"]}
    path = f"/v1/settlements/{mdtrt_cert_no}/complete"
    status, done = platform(path, split)
    if status != 200:
        fail("2207 completion", done)
    # A retry after a lost answer is harmless.
    status, again = platform(path, split)
    if status != 200 or again["amounts"] != done["amounts"]:
        fail("2207 retry", again)
    record.update({"mdtrt_cert_no": mdtrt_cert_no, "psn_no": base["psn_no"], "certno": base["certno"],
                   "psn_name": base["psn_name"], "insutype": insu["insutype"],
                   "payer": payers[0]["voucher_id"], "amounts": done["amounts"]})
    save(record)
    print(json.dumps(record, ensure_ascii=False))
else:
    fail("step", step)
