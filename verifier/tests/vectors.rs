//! Every committed test vector gets exactly its expected verdict from the library.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use yibao_shared::{PublicKey, UnixTime};
use yibao_verifier::{Policy, Verifier};

fn vectors() -> Value {
    serde_json::from_str(include_str!("../../shared/testdata/vectors.json")).expect("json")
}

/// Status list documents are binary; the vectors carry them as base64url.
fn binary(document: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(document)
        .expect("base64url status list")
}

fn verdict(doc: &Value, case: &Value) -> String {
    let root = PublicKey::from_base64(doc["root_public_key"].as_str().expect("root")).expect("key");
    let policy = Policy {
        leeway_secs: doc["policy"]["leeway_secs"].as_u64().expect("leeway"),
        max_lifetime_secs: doc["policy"]["max_lifetime_secs"].as_u64().expect("max"),
        max_certificate_hours: doc["policy"]["max_certificate_hours"]
            .as_u64()
            .expect("max certificate hours"),
        max_status_age_secs: doc["policy"]["max_status_age_secs"]
            .as_u64()
            .expect("max status age"),
    };
    let now = UnixTime::from_secs(doc["now"].as_u64().expect("now"));
    let bundle = case
        .get("bundle")
        .unwrap_or(&doc["bundle"])
        .as_str()
        .expect("bundle");
    let mut verifier = Verifier::new(root, policy);
    if let Err(rejection) = verifier.install_bundle(bundle, now) {
        return rejection.code().to_owned();
    }
    // A case may replace the default status list, or hold none (`null`).
    let status = case.get("status_list").unwrap_or(&doc["status_list"]);
    if let Some(document) = status.as_str()
        && let Err(rejection) = verifier.install_status(&binary(document), now)
    {
        return rejection.code().to_owned();
    }
    match verifier.verify_text(case["code"].as_str().expect("code"), now) {
        Ok(_) => "accept".to_owned(),
        Err(rejection) => rejection.code().to_owned(),
    }
}

#[test]
fn every_vector_gets_its_expected_verdict() {
    let doc = vectors();
    let cases = doc["cases"].as_array().expect("cases");
    let mut wrong = Vec::new();
    for case in cases {
        let expected = case["expect"].as_str().expect("expect");
        let got = verdict(&doc, case);
        if got != expected {
            wrong.push(format!("{}: expected {expected}, got {got}", case["name"]));
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
    assert!(cases.len() >= 40, "only {} vectors", cases.len());
}

#[test]
fn the_vectors_cover_every_required_failure() {
    let doc = vectors();
    let names: Vec<&str> = doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for required in [
        "wrong-key",
        "signature-s-plus-l",
        "small-order-key-in-bundle",
        "truncated-last-byte",
        "trailing-byte",
        "wrong-prefix",
        "expired",
        "not-yet-valid",
        "revoked-key",
        "valid-normal",
        "valid-family-proxy",
        "device-valid-normal",
        "device-valid-family-proxy",
        "device-signed-by-another-phone",
        "device-certificate-wrong-issuer-key",
        "device-certificate-revoked",
        "device-certificate-expired",
        "device-stale-status-list",
        "device-no-status-list",
    ] {
        assert!(names.contains(&required), "missing vector {required}");
    }
    let flipped = names.iter().filter(|n| n.starts_with("flipped-")).count();
    assert!(flipped >= 14, "only {flipped} flipped-field vectors");
}

#[test]
fn a_status_list_offered_after_a_held_one_gets_its_expected_verdict() {
    let doc = vectors();
    let root = PublicKey::from_base64(doc["root_public_key"].as_str().expect("root")).expect("key");
    let now = UnixTime::from_secs(doc["now"].as_u64().expect("now"));
    let sequences = doc["status_list_sequences"].as_array().expect("sequences");
    let mut wrong = Vec::new();
    for case in sequences {
        let mut verifier = Verifier::new(root, Policy::default());
        verifier
            .install_bundle(doc["bundle"].as_str().expect("bundle"), now)
            .expect("bundle");
        verifier
            .install_status(&binary(case["held"].as_str().expect("held")), now)
            .expect("the held list installs");
        let before = verifier.status().cloned();
        let got = match verifier
            .install_status(&binary(case["offered"].as_str().expect("offered")), now)
        {
            Ok(_) => "accept".to_owned(),
            Err(rejection) => {
                assert_eq!(
                    verifier.status(),
                    before.as_ref(),
                    "refused: the held list stays"
                );
                rejection.code().to_owned()
            }
        };
        if got != case["expect"].as_str().expect("expect") {
            wrong.push(format!(
                "{}: expected {}, got {got}",
                case["name"], case["expect"]
            ));
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
    assert!(
        sequences
            .iter()
            .any(|c| c["expect"] == "status-list-rollback"),
        "rollback cases present"
    );
}
