//! The committed test vectors encode byte-identically: every properly signed case re-signs to
//! exactly its code, and every code decodes back to its token.

use serde_json::Value;
use yibao_shared::{SecretKey, TokenBody, UntrustedToken};

fn vectors() -> Value {
    let text = include_str!("../testdata/vectors.json");
    serde_json::from_str(text).expect("vectors.json is JSON")
}

fn seed(hex_text: &str) -> [u8; 32] {
    hex::decode(hex_text)
        .expect("hex")
        .try_into()
        .expect("32 bytes")
}

#[test]
fn signed_vectors_encode_byte_identically() {
    let doc = vectors();
    let cases = doc["cases"].as_array().expect("cases");
    let mut checked = 0;
    for case in cases {
        let Some(token) = case.get("token") else {
            continue;
        };
        let name = case["name"].as_str().expect("name");
        let body: TokenBody = serde_json::from_value(token.clone()).expect("token json");
        let key = SecretKey::from_seed(&seed(case["signer_seed"].as_str().expect("seed")));
        let code = body.sign(&key).expect("encodable");
        assert_eq!(code, case["code"].as_str().expect("code"), "{name}");
        let parsed = UntrustedToken::parse(&code).expect("parses");
        assert_eq!(parsed.unverified_body(), &body, "{name}");
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} signed vectors");
}

#[test]
fn vectors_are_current_with_the_generator() {
    // The generator is deterministic; if the format changed without regenerating, this fails.
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "run",
            "-q",
            "-p",
            "yibao-shared",
            "--example",
            "gen_vectors",
        ])
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let regenerated: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        regenerated,
        vectors(),
        "run the generator and review the diff"
    );
}
