//! The retry that once lost a settlement: a terminal's handoff through node 0 is refused
//! (the replica of the primary holding the voucher's ledger is frozen), the terminal retries
//! through node 1, which finds the settlement the first attempt wrote. That answer must wait
//! for a replica too: Valkey's `WAIT` returns at once for a connection that wrote nothing, and
//! an acknowledged settlement was then lost when the primary died. Afterwards the primary is
//! killed, the stale replica promoted, and every acknowledged settlement must still be there.
//! The same for an activation retried through the other node: it finds the person's voucher
//! the first attempt claimed, and must not be acknowledged before a replica holds that claim
//! (otherwise the person's next activation after the failover creates a second voucher, and a
//! lost-phone deactivation revokes only that one).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use yibao_tests::redis_cluster::RedisCluster;
use yibao_tests::redis_server::Flavour;

use super::{Deployment, is_unavailable};

/// How long a failover may take before the test gives up.
const FAILOVER_LIMIT: Duration = Duration::from_secs(40);

#[test]
fn a_retry_through_the_other_node_waits_for_a_replica_on_redis() {
    a_retry_through_the_other_node_waits_for_a_replica(Flavour::Redis);
}

#[test]
fn a_retry_through_the_other_node_waits_for_a_replica_on_valkey() {
    a_retry_through_the_other_node_waits_for_a_replica(Flavour::Valkey);
}

fn a_retry_through_the_other_node_waits_for_a_replica(flavour: Flavour) {
    let d = Deployment::start(flavour, 10_000);
    let (status, activation) = d.activate(0, 3);
    assert_eq!(status, StatusCode::CREATED, "{activation}");
    let holder = activation["holder_credential"]
        .as_str()
        .expect("credential");
    let voucher = activation["voucher_id"].as_str().expect("voucher");
    let (status, token) = d.send(1, Method::GET, "/v1/token", holder, None);
    assert_eq!(status, StatusCode::OK, "{token}");
    let code = token["code"].as_str().expect("code").to_owned();

    let slot: u16 = d
        .cluster
        .cli(
            0,
            &["CLUSTER", "KEYSLOT", &format!("yb:v:{{{voucher}}}:settled")],
        )
        .trim()
        .parse()
        .expect("slot");
    let primary = d.cluster.primary_of(slot);
    let replica = d.cluster.replica_of(primary);
    d.cluster.freeze(replica);
    // More than the sockets between them hold, so what follows stays in the primary's
    // buffers and dies with it (the tester's 24 MB).
    fill(&d.cluster.urls()[primary], voucher, 24);

    // Both attempts while no replica can take anything: neither may be acknowledged.
    let mut acknowledged: Vec<(usize, Value)> = Vec::new();
    for node in [0, 1] {
        let (status, body) = d.hand_off(node, 0, &code);
        if status == StatusCode::OK {
            acknowledged.push((0, body));
        } else {
            assert!(
                is_unavailable(status, &body),
                "through node {node}: {status} {body}"
            );
        }
    }
    assert!(
        acknowledged.is_empty(),
        "acknowledged while the only replica was frozen: {acknowledged:?}"
    );

    // The primary dies; the replica, which never got the settlement, is promoted.
    promote_the_frozen_replica(&d.cluster, slot, primary, replica);

    // The other terminal and the first one again: one settles, the other is a double use,
    // and the ledger holds exactly what was acknowledged.
    for terminal in [1, 0] {
        let body = until_answered(|| d.hand_off(1, terminal, &code));
        acknowledged.push((terminal, body));
    }
    let settled: Vec<&Value> = acknowledged
        .iter()
        .map(|(_, body)| &body["results"][0])
        .filter(|r| r["status"] == "settled")
        .collect();
    assert_eq!(settled.len(), 1, "{acknowledged:?}");
    let ledger = d.audit(0, voucher);
    let settlements = ledger["settlements"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(settlements.len(), 1, "{ledger}");
    assert_eq!(
        settlements[0]["reference"], settled[0]["reference"],
        "{ledger}"
    );
    activation_retry(&d, flavour);
    eprintln!(
        "retry on {flavour:?}: 2 of 2 attempts refused while the replica was frozen; after \
         the failover {:?}, the one settlement in the ledger",
        acknowledged
            .iter()
            .map(|(t, b)| (t, b["results"][0]["status"].clone()))
            .collect::<Vec<_>>()
    );
}

/// The activation half: person 7's voucher pointer lives on a slot whose replica is frozen.
fn activation_retry(d: &Deployment, flavour: Flavour) {
    const PERSON: usize = 7;
    let index = yibao_issuer::setup::index_key(d.data_dir()).expect("index secret");
    let (p, _, _) = yibao_issuer::demo::synthetic_person(PERSON);
    let id = yibao_issuer::id_number::IdNumber::parse(&p.id_number).expect("valid");
    let pointer = format!("yb:p:{{{}}}:v", index.id_key(&id).to_hex());
    let slot: u16 = d
        .cluster
        .cli(0, &["CLUSTER", "KEYSLOT", &pointer])
        .trim()
        .parse()
        .expect("slot");
    let primary = d.cluster.primary_of(slot);
    let replica = d.cluster.replica_of(primary);
    d.cluster.freeze(replica);
    fill(&d.cluster.urls()[primary], &index.id_key(&id).to_hex(), 24);
    for node in [0, 1] {
        let (status, body) = d.activate(node, PERSON);
        assert!(
            is_unavailable(status, &body),
            "activation through node {node} on {flavour:?} while the only replica was \
             frozen: {status} {body}"
        );
    }
    promote_the_frozen_replica(&d.cluster, slot, primary, replica);
    // Two activations now: one voucher, and each credential works for it.
    let mut vouchers = Vec::new();
    for node in [1, 0] {
        let body = until_answered(|| d.activate(node, PERSON));
        let holder = body["holder_credential"].as_str().expect("credential");
        let (status, token) = d.send(node, Method::GET, "/v1/token", holder, None);
        assert_eq!(status, StatusCode::OK, "{token}");
        assert_eq!(token["voucher_id"], body["voucher_id"], "{token}");
        vouchers.push(body["voucher_id"].clone());
    }
    assert_eq!(vouchers[0], vouchers[1], "one voucher per person");
}

/// The primary dies, the frozen replica (which never got what followed the freeze) resumes
/// and is promoted, and the old primary comes back as its replica.
fn promote_the_frozen_replica(cluster: &RedisCluster, slot: u16, primary: usize, replica: usize) {
    cluster.kill(primary);
    cluster.thaw(replica);
    let killed_at = Instant::now();
    while cluster.serving(slot) != Some(replica) {
        assert!(killed_at.elapsed() < FAILOVER_LIMIT, "no failover");
        std::thread::sleep(Duration::from_millis(50));
    }
    cluster.restart(primary);
    cluster.wait_healthy(FAILOVER_LIMIT);
}

/// Sends until the answer is a success (a client retrying 503s): its body.
fn until_answered(mut send: impl FnMut() -> (StatusCode, Value)) -> Value {
    let deadline = Instant::now() + FAILOVER_LIMIT;
    loop {
        let (status, body) = send();
        if status.is_success() {
            return body;
        }
        assert!(is_unavailable(status, &body), "{status} {body}");
        assert!(Instant::now() < deadline, "never answered: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Writes `megabytes` of filler to the primary at `url`, on the slot of hash tag `tag`.
fn fill(url: &str, tag: &str, megabytes: usize) {
    let client = redis::Client::open(url).expect("node url");
    let mut conn = client.get_connection().expect("connects to the primary");
    let value = vec![b'x'; 1 << 20];
    for i in 0..megabytes {
        let _: () = redis::cmd("SET")
            .arg(format!("filler:{{{tag}}}:{i}"))
            .arg(&value)
            .query(&mut conn)
            .expect("filler write");
    }
}
