//! The operator's command line against a running issuer, on the embedded store and on
//! Redis: every command, what it changes (a disabled channel's or revoked terminal's key
//! stops working, a suspended voucher gets no token), an institution import with bad rows
//! reported by line and run twice, and the exit codes (0 done, 1 refused, 2 usage or
//! unreachable).

use std::path::Path;
use std::process::Command;

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use tempfile::TempDir;
use yibao_issuer::demo::{synthetic_person, synthetic_registry};
use yibao_tests::process::{Issuer, binary};
use yibao_tests::redis_server::RedisServer;

use super::issuer::{import, operator_keys};

#[test]
fn every_admin_command_works_on_the_embedded_store() {
    let data = TempDir::new().expect("tempdir");
    let env = vec![("YIBAO__DATA_DIR", data.path().display().to_string())];
    every_admin_command(&env, data.path(), "embedded");
}

#[test]
fn every_admin_command_works_on_redis() {
    let data = TempDir::new().expect("tempdir");
    let redis = RedisServer::start();
    let env = vec![
        ("YIBAO__DATA_DIR", data.path().display().to_string()),
        ("YIBAO__STORE__TYPE", "redis".into()),
        ("YIBAO__STORE__URL", redis.url()),
    ];
    every_admin_command(&env, data.path(), "redis");
}

/// `yibao-issuer admin <args>` against `base`: (exit code, stdout, stderr).
fn admin(env: &[(&str, String)], base: &str, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(binary("yibao-issuer"));
    cmd.arg("admin").args(args).env("YIBAO_ADMIN_URL", base);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run yibao-issuer admin");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `admin --json <args>`, which must succeed: its JSON.
fn admin_json(env: &[(&str, String)], base: &str, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (code, out, err) = admin(env, base, &all);
    assert_eq!(code, 0, "admin {args:?}: {out}{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("admin {args:?}: {e}: {out}"))
}

/// Activates the registry's first person (again: activation is idempotent).
fn activate(http: &Client, base: &str, channel_key: &str) -> (StatusCode, Value) {
    let (person, _, _) = synthetic_person(0);
    let response = http
        .post(format!("{base}/v1/activations"))
        .bearer_auth(channel_key)
        .json(&json!({"name": person.name, "id_number": person.id_number,
            "attestation": {"real_name": true, "real_person": true, "method": "face"}}))
        .send()
        .expect("activation");
    let status = response.status();
    (status, response.json().unwrap_or(Value::Null))
}

fn every_admin_command(env: &[(&str, String)], data: &Path, backend: &str) {
    operator_keys(&data.join("keys"));
    let registry = data.join("registry.csv");
    std::fs::write(&registry, synthetic_registry(5)).expect("write");
    let (code, out, err) = import(env, &registry);
    assert_eq!(code, 0, "{out}{err}");
    let issuer = Issuer::start(env, &data.join("issuer.log"));
    let base = issuer.base_url.clone();
    let http = Client::new();

    // Channels: add shows the key once; list; disable stops the key; rekey replaces it.
    let added = admin_json(
        env,
        &base,
        &[
            "channel",
            "add",
            "app",
            "--name",
            "测试渠道",
            "--region",
            "11",
        ],
    );
    let first_key = added["credential"].as_str().expect("credential").to_owned();
    let (status, activation) = activate(&http, &base, &first_key);
    assert!(status.is_success(), "{status} {activation}");
    let holder = activation["holder_credential"]
        .as_str()
        .expect("holder")
        .to_owned();
    let voucher = activation["voucher_id"]
        .as_str()
        .expect("voucher")
        .to_owned();
    let (code, table, _) = admin(env, &base, &["channel", "list"]);
    assert_eq!(code, 0);
    assert!(
        table.contains("测试渠道") && table.contains("NAME"),
        "{table}"
    );
    let listed = admin_json(env, &base, &["channel", "list"]);
    assert_eq!(listed[0]["id"], "app");
    assert_eq!(listed[0]["disabled"], false);
    assert!(
        listed[0].get("key_hash").is_none(),
        "no key material listed: {listed}"
    );
    let disabled = admin_json(env, &base, &["channel", "disable", "app"]);
    assert_eq!(disabled["disabled"], true);
    assert_eq!(
        activate(&http, &base, &first_key).0,
        StatusCode::UNAUTHORIZED
    );
    let rekeyed = admin_json(env, &base, &["channel", "rekey", "app"]);
    let second_key = rekeyed["credential"]
        .as_str()
        .expect("credential")
        .to_owned();
    assert_ne!(first_key, second_key);
    let (status, body) = activate(&http, &base, &second_key);
    assert!(status.is_success(), "{status} {body}");
    assert_eq!(
        activate(&http, &base, &first_key).0,
        StatusCode::UNAUTHORIZED
    );

    // Institutions: one added, a list imported (bad rows by line, exit 1), imported again.
    let added = admin_json(
        env,
        &base,
        &[
            "institution",
            "add",
            "P11010500001",
            "--name",
            "测试药店",
            "--kind",
            "pharmacy",
            "--region",
            "110105",
        ],
    );
    assert_eq!(added["accepts_voucher"], true);
    let list = data.join("institutions.csv");
    let mut csv = String::from("code,name,kind,region,accepts_voucher\n");
    for i in 0..2_500 {
        csv.push_str(&format!("H3101{i:07},测试医院{i},hospital,310101,true\n"));
    }
    csv.push_str("BAD1,坏区划,hospital,31,true\n"); // line 2502: region refused by the issuer
    csv.push_str("BAD2,坏类型,clinic,310101,true\n"); // line 2503: kind refused here
    csv.push_str("BAD3,少一列,hospital,310101\n"); // line 2504: a field missing
    std::fs::write(&list, csv).expect("write");
    for round in 0..2 {
        let (code, out, err) = admin(
            env,
            &base,
            &[
                "--json",
                "institution",
                "import",
                list.to_str().expect("path"),
            ],
        );
        assert_eq!(
            code, 1,
            "round {round}: bad rows make the exit code 1: {out}{err}"
        );
        let report: Value = serde_json::from_str(&out).expect("report");
        assert_eq!(report["rows"], 2_503, "{report}");
        assert_eq!(report["imported"], 2_500, "{report}");
        let lines: Vec<u64> = report["bad"]
            .as_array()
            .expect("bad")
            .iter()
            .map(|b| b["line"].as_u64().expect("line"))
            .collect();
        assert_eq!(lines, [2_502, 2_503, 2_504], "{report}");
        assert!(err.contains("line 2502: invalid-field"), "{err}");
    }
    let page = admin_json(
        env,
        &base,
        &["institution", "list", "--region", "3101", "--limit", "1000"],
    );
    assert_eq!(page["institutions"].as_array().expect("page").len(), 1_000);
    let next = page["next"].as_str().expect("a next page").to_owned();
    let last = admin_json(
        env,
        &base,
        &[
            "institution",
            "list",
            "--region",
            "3101",
            "--limit",
            "1000",
            "--after",
            &next,
        ],
    );
    assert_eq!(last["institutions"].as_array().expect("page").len(), 1_000);
    let jsonl = data.join("more.jsonl");
    std::fs::write(&jsonl, "{\"code\":\"P4401\",\"name\":\"药店\",\"kind\":\"pharmacy\",\"region\":\"440106\",\"accepts_voucher\":false}\n").expect("write");
    let (code, out, err) = admin(
        env,
        &base,
        &["institution", "import", jsonl.to_str().expect("path")],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 imported, 0 bad"), "{out}");
    // A spreadsheet's export (byte-order mark, columns in another order) imports; a file
    // without the columns is a usage error, not 800,000 bad rows.
    let exported = data.join("exported.csv");
    std::fs::write(
        &exported,
        "\u{feff}name,code,kind,region,accepts_voucher\n药店,P4402,pharmacy,440106,true\n",
    )
    .expect("write");
    let (code, out, err) = admin(
        env,
        &base,
        &["institution", "import", exported.to_str().expect("path")],
    );
    assert_eq!(code, 0, "{out}{err}");
    let headless = data.join("headless.csv");
    std::fs::write(&headless, "P4403,药店,pharmacy,440106,true\n").expect("write");
    let (code, _, err) = admin(
        env,
        &base,
        &["institution", "import", headless.to_str().expect("path")],
    );
    assert_eq!(
        (code, err.contains("expected the columns")),
        (2, true),
        "{err}"
    );

    // Terminals: add shows the credential once; list; revoke stops it.
    let terminal = admin_json(env, &base, &["terminal", "add", "P11010500001", "pos-1"]);
    let terminal_key = terminal["credential"]
        .as_str()
        .expect("credential")
        .to_owned();
    let decode = |key: &str| {
        http.post(format!("{base}/v1/decode"))
            .bearer_auth(key)
            .json(&json!({"qr": "not a code"}))
            .send()
            .expect("decode")
            .status()
    };
    assert_ne!(decode(&terminal_key), StatusCode::UNAUTHORIZED);
    let terminals = admin_json(env, &base, &["terminal", "list", "P11010500001"]);
    assert_eq!(terminals[0]["id"], "pos-1");
    assert_eq!(terminals[0]["revoked"], false);
    let revoked = admin_json(env, &base, &["terminal", "revoke", "pos-1"]);
    assert_eq!(revoked["revoked"], true);
    assert_eq!(decode(&terminal_key), StatusCode::UNAUTHORIZED);

    // Vouchers: show (never the person), suspend (no token), reinstate.
    let token = |expected: StatusCode| {
        let status = http
            .get(format!("{base}/v1/token"))
            .bearer_auth(&holder)
            .send()
            .expect("token")
            .status();
        assert_eq!(status, expected);
    };
    let shown = admin_json(env, &base, &["voucher", "show", &voucher]);
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["activated_by"], "app");
    let (person, _, _) = synthetic_person(0);
    let (_, shown_text, _) = admin(env, &base, &["voucher", "show", &voucher]);
    assert!(!shown_text.contains(&person.name) && !shown_text.contains(&person.id_number));
    admin_json(env, &base, &["voucher", "suspend", &voucher]);
    token(StatusCode::FORBIDDEN);
    assert_eq!(
        admin_json(env, &base, &["voucher", "show", &voucher])["status"],
        "suspended"
    );
    admin_json(env, &base, &["voucher", "reinstate", &voucher]);
    token(StatusCode::OK);

    // Keys and status.
    let reloaded = admin_json(env, &base, &["keys", "reload"]);
    assert!(reloaded["key_id"].is_u64(), "{reloaded}");
    let status = admin_json(env, &base, &["status"]);
    assert_eq!(status["store"]["backend"], backend);
    assert_eq!(status["signing_key"]["key_id"], reloaded["key_id"]);
    assert!(
        status["bundle"]["age_secs"].is_u64() && status["status_list_sequence"].is_u64(),
        "{status}"
    );

    // Refused: exit 1 with the API's code; usage and unreachable: exit 2.
    let (code, _, err) = admin(env, &base, &["voucher", "show", "0000000000000000"]);
    assert_eq!((code, err.contains("not-found")), (1, true), "{err}");
    let (code, _, err) = admin(env, &base, &["--token", "wrong", "status"]);
    assert_eq!((code, err.contains("unauthorized")), (1, true), "{err}");
    let (code, _, _) = admin(env, &base, &["channel", "frobnicate"]);
    assert_eq!(code, 2);
    let (code, _, err) = admin(env, "http://127.0.0.1:9", &["status"]);
    assert_eq!((code, err.contains("cannot reach")), (2, true), "{err}");
    issuer.stop();
}
