//! The issuer as an operator and a phone use it, on each storage backend: keys → registry
//! import → serve → channel → activation → token (JSON, SVG, PNG) → bundle → offline
//! verification.

use std::path::Path;
use std::process::Command;

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use yibao_issuer::demo::{synthetic_person, synthetic_registry};
use yibao_shared::UnixTime;
use yibao_shared::key_file::{KeyRole, PublicKeyFile};
use yibao_tests::process::{Issuer, binary};
use yibao_tests::redis_server::RedisServer;
use yibao_verifier::{Clock, Policy, SystemClock, Verifier};

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(super) fn operator_keys(dir: &Path) {
    let keys = |args: &[&str]| {
        let (code, _, err) = run(Command::new(binary("yibao-keys"))
            .arg("--dir")
            .arg(dir)
            .args(args));
        assert_eq!(code, 0, "yibao-keys {args:?}: {err}");
    };
    keys(&["root", "init"]);
    keys(&["issuer", "new", "--valid-for", "30days"]);
    keys(&["bundle", "sign", "--valid-for", "7days"]);
}

pub(super) fn import(env: &[(&str, String)], file: &Path) -> (i32, String, String) {
    let mut cmd = Command::new(binary("yibao-issuer"));
    cmd.arg("import").arg(file);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

fn flow(env: Vec<(&'static str, String)>, data: &Path) -> Issuer {
    operator_keys(&data.join("keys"));

    // Registry: 200 synthetic people, then a file with one bad row among good ones.
    let registry = data.join("registry.csv");
    std::fs::write(&registry, synthetic_registry(200)).expect("write");
    let (code, out, err) = import(&env, &registry);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("imported 200 of 200 rows"), "{out}");
    let bad = data.join("bad.csv");
    let mut text = synthetic_registry(3);
    text.push_str("BAD1,测试坏,123456789012345678,male,1990-01-01,110105,resident,insured\n");
    std::fs::write(&bad, text).expect("write");
    let (code, out, err) = import(&env, &bad);
    assert_eq!(code, 1, "a bad row makes the import exit 1: {out}{err}");
    assert!(err.contains("line 5: id_number"), "{err}");
    assert!(
        !err.contains("123456789012345678"),
        "the ID number leaked: {err}"
    );
    assert!(out.contains("imported 3 of 4 rows"), "{out}");

    let log = data.join("issuer.log");
    let issuer = Issuer::start(&env, &log);
    let http = Client::new();
    let url = |path: &str| format!("{}{path}", issuer.base_url);
    let admin = std::fs::read_to_string(data.join("admin.token")).expect("admin token");

    let response = http
        .post(url("/v1/admin/channels"))
        .bearer_auth(admin.trim())
        .json(&json!({"id": "national-app", "name": "国家医保服务平台", "regions": []}))
        .send()
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED);
    let channel: Value = response.json().expect("json");
    let channel_key = channel["credential"].as_str().expect("key").to_owned();

    let (person, _, _) = synthetic_person(0);
    let response = http
        .post(url("/v1/activations"))
        .bearer_auth(&channel_key)
        .json(&json!({"name": person.name, "id_number": person.id_number,
            "attestation": {"real_name": true, "real_person": true, "method": "face"}}))
        .send()
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED);
    let activation: Value = response.json().expect("json");
    let holder = activation["holder_credential"]
        .as_str()
        .expect("credential")
        .to_owned();

    let token: Value = http
        .get(url("/v1/token"))
        .bearer_auth(&holder)
        .send()
        .expect("request")
        .json()
        .expect("json");
    let svg = http
        .get(url("/v1/token.svg"))
        .bearer_auth(&holder)
        .send()
        .expect("request");
    assert_eq!(svg.status(), StatusCode::OK);
    assert!(svg.text().expect("text").contains("<svg"));
    let png = http
        .get(url("/v1/token.png"))
        .bearer_auth(&holder)
        .send()
        .expect("request");
    assert_eq!(png.status(), StatusCode::OK);
    assert!(png.bytes().expect("bytes").starts_with(b"\x89PNG"));

    // A terminal syncs the bundle and verifies offline against the pinned root key.
    let bundle = http
        .get(url("/v1/trust-bundle"))
        .send()
        .expect("request")
        .text()
        .expect("text");
    let root_file = std::fs::read_to_string(data.join("keys/root.public.json")).expect("root");
    let root = PublicKeyFile::parse(&root_file, KeyRole::Root)
        .expect("root key")
        .public_key;
    let now: UnixTime = SystemClock.now();
    let mut verifier = Verifier::new(root, Policy::default());
    verifier.install_bundle(&bundle, now).expect("bundle");
    let verified = verifier
        .verify_text(token["code"].as_str().expect("code"), now)
        .expect("the issued token verifies offline");
    assert_eq!(verified.voucher_id().to_string(), activation["voucher_id"]);
    assert_eq!(
        verified.claims().masked_name.as_str(),
        activation["masked_name"]
    );

    let wrong = http
        .get(url("/v1/token"))
        .bearer_auth("ybh_wrong")
        .send()
        .expect("request");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let body: Value = wrong.json().expect("json");
    assert_eq!(body["code"], "unauthorized");

    // The log (debug level, every request) never holds an ID number, a full name or a
    // credential, and does record the activation.
    let logged = std::fs::read_to_string(&log).expect("log");
    assert!(logged.contains("voucher activated"), "{logged}");
    for secret in [&person.id_number, &person.name, &holder, &channel_key] {
        assert!(
            !logged.contains(secret.as_str()),
            "the log leaked a secret value"
        );
    }
    assert!(
        !logged.contains(admin.trim()),
        "the log leaked the admin token"
    );
    issuer
}

fn env_for(data: &Path) -> Vec<(&'static str, String)> {
    vec![("YIBAO__DATA_DIR", data.display().to_string())]
}

#[test]
fn the_whole_issuer_flow_on_the_embedded_store() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let issuer = flow(env_for(tmp.path()), tmp.path());
    issuer.stop();
}

#[test]
fn the_whole_issuer_flow_on_redis_and_an_outage_is_503_not_500() {
    let redis = RedisServer::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut env = env_for(tmp.path());
    env.push(("YIBAO__STORE__TYPE", "redis".into()));
    env.push(("YIBAO__STORE__URL", redis.url()));
    let issuer = flow(env, tmp.path());
    let http = Client::new();
    let ready = http
        .get(format!("{}/readyz", issuer.base_url))
        .send()
        .expect("request");
    assert_eq!(ready.status(), StatusCode::OK);

    drop(redis);
    let ready = http
        .get(format!("{}/readyz", issuer.base_url))
        .send()
        .expect("request");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = ready.json().expect("json");
    assert_eq!(body["code"], "unavailable");
    let token = http
        .get(format!("{}/v1/token", issuer.base_url))
        .bearer_auth("ybh_anything")
        .send()
        .expect("request");
    assert_eq!(token.status(), StatusCode::SERVICE_UNAVAILABLE);
    issuer.stop();
}
