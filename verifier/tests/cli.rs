//! `yibao-verify check` as a terminal operator runs it: every committed vector through the
//! real binary, exit codes 0/1/2, standard input as a scanner types it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use yibao_shared::PublicKey;
use yibao_shared::key_file::{KeyRole, PublicKeyFile};

const BIN: &str = env!("CARGO_BIN_EXE_yibao-verify");

fn vectors() -> Value {
    serde_json::from_str(include_str!("../../shared/testdata/vectors.json")).expect("json")
}

struct Terminal {
    _dir: tempfile::TempDir,
    root_key: PathBuf,
    bundle: PathBuf,
}

fn terminal(doc: &Value, bundle: &str) -> Terminal {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = PublicKey::from_base64(doc["root_public_key"].as_str().expect("root")).expect("key");
    let root_key = dir.path().join("root.public.json");
    std::fs::write(
        &root_key,
        PublicKeyFile::new(KeyRole::Root, None, root).to_json(),
    )
    .expect("write");
    let bundle_path = dir.path().join("bundle.json");
    std::fs::write(&bundle_path, bundle).expect("write");
    Terminal {
        _dir: dir,
        root_key,
        bundle: bundle_path,
    }
}

fn check(t: &Terminal, now: u64, extra: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("check")
        .arg("--bundle")
        .arg(&t.bundle)
        .arg("--root-key")
        .arg(&t.root_key)
        .arg("--now")
        .arg(now.to_string())
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("yibao-verify runs");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("finishes")
}

#[test]
fn every_vector_gets_its_verdict_and_exit_code_from_the_cli() {
    let doc = vectors();
    let now = doc["now"].as_u64().expect("now");
    let default_bundle = doc["bundle"].as_str().expect("bundle");
    let mut wrong = Vec::new();
    for case in doc["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        let expect = case["expect"].as_str().expect("expect");
        let bundle = case
            .get("bundle")
            .and_then(Value::as_str)
            .unwrap_or(default_bundle);
        let t = terminal(&doc, bundle);
        let code = case["code"].as_str().expect("code");
        // A case may replace the default status list, or hold none (`null`).
        let status = case.get("status_list").unwrap_or(&doc["status_list"]);
        let status_path = t._dir.path().join("status.bin");
        let mut extra = vec!["--json".to_owned()];
        if let Some(document) = status.as_str() {
            // Binary; the vectors carry it as base64url.
            let document = URL_SAFE_NO_PAD.decode(document).expect("base64url");
            std::fs::write(&status_path, document).expect("write");
            extra.extend([
                "--status-list".to_owned(),
                status_path.display().to_string(),
            ]);
        }
        if code.is_empty() {
            // No code at all is a usage error for the CLI (exit 2), not a verdict.
            let out = check(&t, now, &["--json", "-"], Some("\n"));
            assert_eq!(out.status.code(), Some(2), "{name}");
            continue;
        }
        extra.push(code.to_owned());
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let out = check(&t, now, &extra, None);
        let got = match out.status.code() {
            Some(0) => "accept".to_owned(),
            Some(1) => {
                let json: Value = serde_json::from_slice(&out.stdout).expect("json verdict");
                json["code"].as_str().unwrap_or("?").to_owned()
            }
            other => format!("exit {other:?}: {}", String::from_utf8_lossy(&out.stderr)),
        };
        if got != expect {
            wrong.push(format!("{name}: expected {expect}, got {got}"));
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

#[test]
fn a_code_typed_on_standard_input_is_checked() {
    let doc = vectors();
    let valid = &doc["cases"][0];
    assert_eq!(valid["expect"], "accept");
    let t = terminal(&doc, doc["bundle"].as_str().expect("bundle"));
    let code = valid["code"].as_str().expect("code");
    let out = check(
        &t,
        doc["now"].as_u64().expect("now"),
        &[],
        Some(&format!("{code}\r\n")),
    );
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("通过 ACCEPTED"), "{text}");
    assert!(text.contains("测*甲"), "{text}");
}

#[test]
fn a_rejection_is_explained_in_chinese_and_english() {
    let doc = vectors();
    let t = terminal(&doc, doc["bundle"].as_str().expect("bundle"));
    let out = check(
        &t,
        doc["now"].as_u64().expect("now"),
        &["134567890123456789"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("拒绝 REJECTED"), "{text}");
    assert!(text.contains("不是医保码"), "{text}");
    assert!(text.contains("[wrong-prefix]"), "{text}");
}

#[test]
fn missing_files_and_empty_input_are_usage_errors() {
    let doc = vectors();
    let mut t = terminal(&doc, doc["bundle"].as_str().expect("bundle"));
    let out = check(&t, 0, &[], Some(""));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no code given"));

    t.bundle = Path::new("/nonexistent/bundle.json").to_owned();
    let out = check(&t, 0, &["96"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reading trust bundle"));

    let out = Command::new(BIN).arg("check").output().expect("runs");
    assert_eq!(out.status.code(), Some(2), "clap usage error");
}

#[test]
fn a_secret_key_file_is_refused_as_the_root_key() {
    let doc = vectors();
    let t = terminal(&doc, doc["bundle"].as_str().expect("bundle"));
    let secret = yibao_shared::key_file::SecretKeyFile {
        role: KeyRole::Root,
        key_id: None,
        secret: yibao_shared::SecretKey::from_seed(&[0x52; 32]),
    };
    std::fs::write(&t.root_key, secret.to_json().as_bytes()).expect("write");
    let out = check(&t, 0, &["96"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("expected a public key file"), "{err}");
}

#[test]
fn a_status_list_that_is_not_one_is_a_verdict_not_an_io_error() {
    let doc = vectors();
    let t = terminal(&doc, doc["bundle"].as_str().expect("bundle"));
    let status = t._dir.path().join("status.bin");
    std::fs::write(&status, [0xff, 0xfe, 0x00, 0x7b]).expect("write");
    let code = doc["cases"][0]["code"].as_str().expect("code");
    let out = check(
        &t,
        doc["now"].as_u64().expect("now"),
        &[
            "--json",
            "--status-list",
            &status.display().to_string(),
            code,
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdict: Value = serde_json::from_slice(&out.stdout).expect("json verdict");
    assert_eq!(verdict["code"], "status-list-invalid", "{verdict}");
}

#[test]
fn a_time_override_never_touches_a_terminal() {
    // See: issue 20 (a `--now` in the future raised the clock mark of the terminal's outbox).
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .args(["check", "--now", "4000000000", "--terminal"])
        .arg(dir.path())
        .arg("96000")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--now") && stderr.contains("--terminal"),
        "{stderr}"
    );
}
