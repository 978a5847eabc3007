//! Handoff intake throughput: a release `yibao-issuer` on the embedded store, on one Redis
//! (AOF `appendfsync always`) and on a six-node Redis Cluster (AOF `everysec`, each write
//! confirmed by a replica with `WAIT`, and once without, to show what `WAIT` costs), fed batches of freshly signed codes by two client threads over loopback, against the
//! crypto ceiling measured in the same run (one core of `verify_strict`, since intake
//! re-verifies every code).
//!
//! Run through `scripts/bench-handoffs.sh` (it builds the release binaries first).
//! Bounded: a fixed number of handoffs per backend.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{Value, json};
use yibao_issuer::demo::ensure_keys;
use yibao_issuer::signing::KeyMaterial;
use yibao_shared::{
    Claims, Gender, InsuranceType, MaskedName, RegionCode, TokenId, UntrustedToken, VoucherId,
};
use yibao_tests::process::Issuer;
use yibao_tests::redis_cluster::RedisCluster;
use yibao_tests::redis_server::{RedisServer, free_port};
use yibao_verifier::{Clock, SystemClock};

const HANDOFFS: usize = 20_000;
const BATCH: usize = 100;
const CLIENTS: usize = 2;

fn main() {
    let issuer_bin = std::env::var("YIBAO_ISSUER_BIN")
        .unwrap_or_else(|_| "target/release/yibao-issuer".to_owned());
    let crypto = verify_ceiling();
    println!(
        "| backend | handoffs/s | batch p50 ms | batch p99 ms | vs one core of verify_strict |"
    );
    println!("|---|---|---|---|---|");
    println!("| (baseline) raw `verify_strict`, one core | {crypto:.0} | | | 1.00 |");
    for backend in [
        "embedded",
        "redis",
        "redis-cluster",
        "redis-cluster-no-wait",
    ] {
        let (rate, p50, p99) = run(Path::new(&issuer_bin), backend);
        println!(
            "| {backend} | {rate:.0} | {p50:.1} | {p99:.1} | {:.2} |",
            rate / crypto
        );
    }
}

/// Signed codes for `n` distinct tokens (vouchers need not exist: intake checks the code).
fn codes(keys: &KeyMaterial, n: usize, salt: u8) -> Vec<String> {
    let now = SystemClock.now();
    (0..n)
        .map(|i| {
            let i = u32::try_from(i).unwrap_or(u32::MAX).to_be_bytes();
            let claims = Claims {
                voucher_id: VoucherId([salt, 1, 2, 3, i[0], i[1], i[2], i[3]]),
                region: RegionCode::parse("110105").expect("region"),
                insurance: InsuranceType::Employee,
                masked_name: MaskedName::mask("测试甲").expect("mask"),
                gender: Gender::Female,
                birth_year: 1960,
                proxy: None,
            };
            let token = TokenId([salt, 9, 9, 9, i[0], i[1], i[2], i[3]]);
            keys.sign(claims, token, now, 120).expect("sign")
        })
        .collect()
}

fn verify_ceiling() -> f64 {
    let dir = tempfile::tempdir().expect("tempdir");
    ensure_keys(dir.path(), SystemClock.now()).expect("keys");
    let keys = KeyMaterial::load(dir.path(), SystemClock.now()).expect("keys");
    let key = keys.bundle().keys[0].public_key;
    let tokens: Vec<UntrustedToken> = codes(&keys, 5_000, 0)
        .iter()
        .map(|c| UntrustedToken::parse(c).expect("parses"))
        .collect();
    let started = Instant::now();
    for token in &tokens {
        token.verify_signature(&key).expect("verifies");
    }
    tokens.len() as f64 / started.elapsed().as_secs_f64()
}

fn run(issuer_bin: &Path, backend: &str) -> (f64, f64, f64) {
    let data = tempfile::tempdir().expect("tempdir");
    ensure_keys(&data.path().join("keys"), SystemClock.now()).expect("keys");
    let port = free_port();
    let mut env = vec![
        ("YIBAO__DATA_DIR", data.path().display().to_string()),
        ("YIBAO__LISTEN", format!("127.0.0.1:{port}")),
        ("RUST_LOG", "warn".to_owned()),
    ];
    let redis = (backend == "redis").then(RedisServer::start);
    if let Some(redis) = &redis {
        env.push(("YIBAO__STORE__TYPE", "redis".into()));
        env.push(("YIBAO__STORE__URL", redis.url()));
    }
    let cluster = backend
        .starts_with("redis-cluster")
        .then(RedisCluster::start);
    if let Some(cluster) = &cluster {
        env.push(("YIBAO__STORE__TYPE", "redis-cluster".into()));
        env.push(("YIBAO__STORE__NODES", cluster.urls().join(",")));
        let acks = if backend.ends_with("no-wait") {
            "0"
        } else {
            "1"
        };
        env.push(("YIBAO__STORE__REPLICA_ACKS", acks.into()));
    }
    let issuer = Issuer::start_binary(issuer_bin, &env, &data.path().join("serve.log"));
    let base = issuer.base_url.clone();
    let admin = std::fs::read_to_string(data.path().join("admin.token")).expect("admin");
    let http = Client::new();
    let post = |path: &str, bearer: &str, body: Value| -> Value {
        http.post(format!("{base}{path}"))
            .bearer_auth(bearer.trim())
            .json(&body)
            .send()
            .expect("request")
            .json()
            .expect("json")
    };
    post(
        "/v1/admin/institutions",
        &admin,
        json!({"code": "H11010500001", "name": "负载测试医院", "kind": "hospital",
            "region": "110105", "accepts_voucher": true}),
    );
    let terminal = post(
        "/v1/admin/institutions/H11010500001/terminals",
        &admin,
        json!({"id": "load-1"}),
    )["credential"]
        .as_str()
        .expect("credential")
        .to_owned();

    let keys = KeyMaterial::load(&data.path().join("keys"), SystemClock.now()).expect("keys");
    let now = SystemClock.now().as_secs();
    let bodies: Vec<String> = codes(&keys, HANDOFFS, 1)
        .chunks(BATCH)
        .map(|chunk| {
            let items: Vec<Value> = chunk
                .iter()
                .map(|code| {
                    json!({"code": code, "institution": "H11010500001", "operator": "load",
                        "business_type": "01301", "verified_at": now, "offline": true})
                })
                .collect();
            json!({ "handoffs": items }).to_string()
        })
        .collect();

    let started = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (bodies, base, terminal) = (&bodies, &base, &terminal);
                scope.spawn(move || {
                    let http = Client::new();
                    let mut out = Vec::new();
                    for body in bodies.iter().skip(c).step_by(CLIENTS) {
                        let t = Instant::now();
                        let answer: Value = http
                            .post(format!("{base}/v1/handoffs"))
                            .bearer_auth(terminal)
                            .header("content-type", "application/json")
                            .body(body.clone())
                            .send()
                            .expect("request")
                            .json()
                            .expect("json");
                        out.push(t.elapsed());
                        let settled = answer["results"]
                            .as_array()
                            .map_or(0, |r| r.iter().filter(|x| x["status"] == "settled").count());
                        assert_eq!(settled, BATCH, "every handoff settles: {answer}");
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect()
    });
    let rate = HANDOFFS as f64 / started.elapsed().as_secs_f64();
    latencies.sort();
    let pick = |q: f64| {
        latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1e3
    };
    let result = (rate, pick(0.5), pick(0.99));
    issuer.stop();
    drop(redis);
    drop(cluster);
    result
}
