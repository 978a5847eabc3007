//! A hospital system through a platform outage, written against the national field names
//! only (`tests/his/his.py`): the patient's code scanned through the terminal library's
//! `ec.query` while the issuer is down, the visit flushed when it is back, the patient's
//! identity read with 1101 (实名就医), and the bill settled with a part paid from a relative's
//! personal account (个账家庭共济); both relatives' expenses then show it.

use std::path::Path;
use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};
use yibao_issuer::demo::synthetic_person;
use yibao_tests::process::workspace_root;

use super::ffi::library;
use super::platform::{HOSPITAL, Platform};

/// Synthetic people: 3 is employee-insured (has a personal account), 1 resident.
const PAYER: usize = 3;
const MEMBER: usize = 1;

/// Runs one step of the HIS; its standard output.
fn his(platform: &Platform, dir: &Path, credential: &str, step: &[&str]) -> String {
    let script = workspace_root().join("tests/his/his.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(library())
        .arg(dir)
        .arg(HOSPITAL)
        .arg(platform.url(""))
        .arg(credential)
        .arg(dir.with_extension("his.json"))
        .args(step)
        .output()
        .unwrap_or_else(|e| panic!("python3 is missing ({e}): apt-get install -y python3"));
    assert!(
        out.status.success(),
        "HIS step {step:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_hospital_system_registers_offline_then_reads_the_identity_and_settles_mutual_aid() {
    let mut platform = Platform::new();
    let (payer, payer_voucher) = platform.holder(PAYER);
    let (member, member_voucher) = platform.holder(MEMBER);
    platform.share_attested(&payer, MEMBER);
    let (p, _, _) = synthetic_person(MEMBER);

    let credential = platform.register_terminal(HOSPITAL, "his-1");
    let dir = platform.data.path().join("terminal-his-1");
    let init = dir.with_extension("init.json");
    let request = json!({"transType": "yibao.init", "orgId": HOSPITAL, "data": {
        "issuerUrl": platform.url(""), "credential": credential, "orgId": HOSPITAL,
        "rootKeyFile": platform.root_key_path(), "operatorId": "reg-01"}});
    std::fs::write(&init, request.to_string()).expect("init request");
    his(
        &platform,
        &dir,
        &credential,
        &["setup", &init.display().to_string()],
    );

    // The platform goes down; the desk registers the patient all the same.
    let code = platform.code(&member);
    platform.stop();
    his(&platform, &dir, &credential, &["scan", &code]);
    platform.start();
    let printed = his(&platform, &dir, &credential, &["settle"]);
    let record: Value = serde_json::from_str(printed.trim()).expect("the HIS's record");

    assert_eq!(record["offline"], true, "{record}");
    assert_eq!(record["certno"], p.id_number.as_str(), "{record}");
    assert_eq!(record["psn_name"], p.name.as_str());
    assert_eq!(
        record["insutype"], "390",
        "synthetic person 1 is resident-insured"
    );
    assert_eq!(record["payer"], payer_voucher.as_str());
    assert_eq!(record["amounts"]["total_fen"], 25_680);
    assert_eq!(record["amounts"]["mutual_aid_fen"], 3_000);
    assert_eq!(record["amounts"]["cash_fen"], 4_680);

    // The member sees the visit, what the relative's account paid, and who read the identity.
    let (status, mine) = platform.get("/v1/expenses", &member);
    assert_eq!(status, StatusCode::OK, "{mine}");
    let item = &mine["items"][0];
    assert_eq!(item["reference"], record["mdtrt_cert_no"], "{mine}");
    assert_eq!(item["amounts"]["mutual_aid_fen"], 3_000);
    assert!(item["mutual_aid_payer_name"].is_string(), "{mine}");
    let (_, reads) = platform.get("/v1/identity-reads", &member);
    assert_eq!(reads["reads"][0]["institution"], HOSPITAL, "{reads}");
    assert_eq!(reads["reads"].as_array().map(Vec::len), Some(1));
    // The payer sees what their account paid, for whom.
    let (_, theirs) = platform.get("/v1/expenses", &payer);
    assert_eq!(theirs["aid_given_fen"], 3_000, "{theirs}");
    assert_eq!(theirs["aid_given"][0]["member"], member_voucher.as_str());
}
