//! The issuer on a Redis that restarts: while Redis loads a large dataset it answers 503
//! `unavailable` (never 500), the first request after the restart succeeds (the broken pipe
//! is retried on a new connection), an acknowledged activation survives (AOF), and a server
//! with AOF off is refused at start. See: issue 15, items 6 and 7.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use yibao_issuer::demo::{synthetic_person, synthetic_registry};
use yibao_tests::process::Issuer;
use yibao_tests::redis_server::RedisServer;

use super::issuer::{import, operator_keys};

/// Keys added so that loading after a restart takes long enough to be seen (about 2 s).
const BULK_KEYS: u64 = 3_000_000;

fn redis_env(data: &Path, redis: &RedisServer) -> Vec<(&'static str, String)> {
    vec![
        ("YIBAO__DATA_DIR", data.display().to_string()),
        ("YIBAO__STORE__TYPE", "redis".into()),
        ("YIBAO__STORE__URL", redis.url()),
        ("YIBAO__LIMITS__HOLDER_PER_MIN", "100000".into()),
    ]
}

/// Keys, registry, issuer, channel, one activated holder: (issuer, holder credential).
fn issuer_with_a_holder(data: &Path, env: &[(&str, String)]) -> (Issuer, String) {
    operator_keys(&data.join("keys"));
    let registry = data.join("registry.csv");
    std::fs::write(&registry, synthetic_registry(20)).expect("write");
    let (code, out, err) = import(env, &registry);
    assert_eq!(code, 0, "{out}{err}");
    let issuer = Issuer::start(env, &data.join("issuer.log"));
    let http = Client::new();
    let admin = std::fs::read_to_string(data.join("admin.token")).expect("admin token");
    let channel: Value = http
        .post(format!("{}/v1/admin/channels", issuer.base_url))
        .bearer_auth(admin.trim())
        .json(&json!({"id": "app", "name": "测试渠道", "regions": []}))
        .send()
        .expect("request")
        .json()
        .expect("json");
    let (person, _, _) = synthetic_person(0);
    let activation: Value = http
        .post(format!("{}/v1/activations", issuer.base_url))
        .bearer_auth(channel["credential"].as_str().expect("key"))
        .json(&json!({"name": person.name, "id_number": person.id_number,
            "attestation": {"real_name": true, "real_person": true, "method": "face"}}))
        .send()
        .expect("request")
        .json()
        .expect("json");
    let holder = activation["holder_credential"]
        .as_str()
        .expect("credential")
        .to_owned();
    (issuer, holder)
}

fn redis_cli(redis: &RedisServer, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &redis.port().to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs (installed with redis-server)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn loading(redis: &RedisServer) -> bool {
    redis_cli(redis, &["PING"]).contains("LOADING")
}

#[test]
fn a_redis_restart_answers_503_never_500_and_keeps_what_was_acknowledged() {
    let mut redis = RedisServer::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let env = redis_env(tmp.path(), &redis);
    let (issuer, holder) = issuer_with_a_holder(tmp.path(), &env);
    let http = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let token = || {
        let response = http
            .get(format!("{}/v1/token", issuer.base_url))
            .bearer_auth(&holder)
            .send()
            .expect("request");
        let status = response.status();
        (status, response.json::<Value>().unwrap_or(Value::Null))
    };
    assert_eq!(token().0, StatusCode::OK);

    // A large dataset in the AOF, so the restarted server spends a while loading it.
    let populated = Command::new("redis-cli")
        .args(["-p", &redis.port().to_string()])
        .args(["EVAL", &populate_script(), "0"])
        .output()
        .expect("redis-cli");
    assert!(populated.status.success());
    redis_cli(&redis, &["BGREWRITEAOF"]);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !redis_cli(&redis, &["INFO", "persistence"]).contains("aof_rewrite_in_progress:0")
        || redis_cli(&redis, &["INFO", "persistence"]).contains("aof_rewrite_scheduled:1")
    {
        assert!(Instant::now() < deadline, "AOF rewrite did not finish");
        std::thread::sleep(Duration::from_millis(100));
    }

    redis.restart();
    // While Redis answers LOADING (seen directly before and after), the issuer says 503.
    let mut during_loading = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let before = loading(&redis);
        let answer = token();
        let after = loading(&redis);
        if before && after {
            during_loading.push(answer);
        } else if !before && !after {
            break;
        }
        assert!(Instant::now() < deadline, "Redis kept loading");
    }
    assert!(
        !during_loading.is_empty(),
        "the restart loaded too fast to be observed: raise BULK_KEYS"
    );
    for (status, body) in &during_loading {
        assert_eq!(
            (*status, body["code"].as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable")),
            "{body}"
        );
    }

    // Loaded: the acknowledged activation is still there (AOF), and answers at once.
    let (status, body) = token();
    assert_eq!(status, StatusCode::OK, "{body}");

    // A plain restart (small dataset loads at once): the very first request after it is
    // answered, not failed on the broken pipe of the old connection.
    redis_cli(&redis, &["FLUSHDB", "ASYNC"]);
    drop(issuer);
    let tmp2 = tempfile::tempdir().expect("tempdir");
    let (issuer2, holder2) = issuer_with_a_holder(tmp2.path(), &redis_env(tmp2.path(), &redis));
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    while loading(&redis) || !redis_cli(&redis, &["PING"]).contains("PONG") {
        assert!(Instant::now() < deadline, "Redis did not come back");
        std::thread::sleep(Duration::from_millis(50));
    }
    let first = http
        .get(format!("{}/v1/token", issuer2.base_url))
        .bearer_auth(&holder2)
        .send()
        .expect("request");
    assert_eq!(
        first.status(),
        StatusCode::OK,
        "first request after restart"
    );
    issuer2.stop();
}

/// A Lua script that writes `BULK_KEYS` small strings (AOF-rewritten afterwards).
fn populate_script() -> String {
    format!("for i = 1, {BULK_KEYS} do redis.call('SET', 'bulk:' .. i, 'x') end return {BULK_KEYS}")
}

#[test]
fn the_issuer_refuses_a_redis_without_aof_unless_told_it_is_a_test() {
    let redis = RedisServer::start();
    redis_cli(&redis, &["CONFIG", "SET", "appendonly", "no"]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let registry = tmp.path().join("registry.csv");
    std::fs::write(&registry, synthetic_registry(3)).expect("write");
    let mut env = redis_env(tmp.path(), &redis);
    let (code, _, err) = import(&env, &registry);
    assert_ne!(code, 0);
    assert!(err.contains("AOF off"), "{err}");
    env.push(("YIBAO__STORE__ALLOW_WITHOUT_AOF", "true".into()));
    let (code, out, err) = import(&env, &registry);
    assert_eq!(code, 0, "{out}{err}");
}
