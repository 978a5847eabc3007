//! Stateless issuer nodes: what one node writes the other reads, a code handed to both by two
//! terminals settles once (the double use recorded once), and a holder's token quota is one
//! quota across nodes.

use std::thread;

use reqwest::{Method, StatusCode};

use yibao_tests::redis_server::Flavour;

use super::Deployment;

/// Token quota per holder per minute in this test.
const QUOTA: u32 = 6;

#[test]
fn two_issuer_nodes_share_vouchers_settlements_and_rate_limits_on_redis() {
    two_issuer_nodes_share_vouchers_settlements_and_rate_limits(Flavour::Redis);
}

#[test]
fn two_issuer_nodes_share_vouchers_settlements_and_rate_limits_on_valkey() {
    two_issuer_nodes_share_vouchers_settlements_and_rate_limits(Flavour::Valkey);
}

fn two_issuer_nodes_share_vouchers_settlements_and_rate_limits(flavour: Flavour) {
    let d = Deployment::start(flavour, QUOTA);

    // Activation on node 0, token from node 1.
    let (status, activation) = d.activate(0, 1);
    assert_eq!(status, StatusCode::CREATED, "{activation}");
    let holder = activation["holder_credential"]
        .as_str()
        .expect("credential");
    let voucher = activation["voucher_id"].as_str().expect("voucher");
    let (status, token) = d.send(1, Method::GET, "/v1/token", holder, None);
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["voucher_id"], voucher, "{token}");
    let code = token["code"].as_str().expect("code").to_owned();

    // The same code, at the same moment, to node 0 by the hospital's terminal and to node 1
    // by the pharmacy's.
    let answers: Vec<(StatusCode, serde_json::Value)> = thread::scope(|s| {
        let a = s.spawn(|| d.hand_off(0, 0, &code));
        let b = s.spawn(|| d.hand_off(1, 1, &code));
        vec![a.join().expect("thread"), b.join().expect("thread")]
    });
    let mut outcomes: Vec<String> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, StatusCode::OK, "{body}");
            body["results"][0]["status"]
                .as_str()
                .expect("status")
                .to_owned()
        })
        .collect();
    outcomes.sort();
    assert_eq!(outcomes, ["double-use", "settled"], "{answers:?}");
    let winner = answers
        .iter()
        .position(|(_, b)| b["results"][0]["status"] == "settled")
        .expect("one settled");
    // The winning terminal asking again, on the other node, gets the same reference.
    let (_, repeat) = d.hand_off(1 - winner, winner, &code);
    assert_eq!(
        repeat["results"][0]["reference"],
        answers[winner].1["results"][0]["reference"]
    );
    for node in [0, 1] {
        let audit = d.audit(node, voucher);
        assert_eq!(
            audit["settlements"].as_array().map(Vec::len),
            Some(1),
            "{audit}"
        );
        assert_eq!(
            audit["double_uses"].as_array().map(Vec::len),
            Some(1),
            "{audit}"
        );
    }

    // One quota across both nodes: the holder already used one token; alternating nodes,
    // QUOTA - 1 more are served, then both nodes refuse. Per-process limits would serve
    // 2 × QUOTA.
    let mut served = 1;
    let mut refused_by = Vec::new();
    for i in 0..2 * QUOTA {
        let node = (i % 2) as usize;
        let (status, body) = d.send(node, Method::GET, "/v1/token", holder, None);
        match status {
            StatusCode::OK => served += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(body["code"], "rate-limited", "{body}");
                refused_by.push(node);
            }
            other => panic!("token: {other} {body}"),
        }
    }
    assert_eq!(served, QUOTA, "tokens served across two nodes");
    refused_by.dedup();
    assert!(
        refused_by.contains(&0) && refused_by.contains(&1),
        "{refused_by:?}"
    );

    // Each node reports the cluster it shares.
    for node in [0, 1] {
        let (status, ready) = d.send(node, Method::GET, "/readyz", "", None);
        assert_eq!(status, StatusCode::OK, "{ready}");
        assert_eq!(ready["store"]["backend"], "redis-cluster", "{ready}");
        assert_eq!(ready["store"]["cluster"]["state"], "ok", "{ready}");
        assert_eq!(ready["store"]["cluster"]["primaries"], 3, "{ready}");
    }
    // And times its store operations.
    let metrics = d
        .http
        .get(d.url(1, "/metrics"))
        .send()
        .and_then(|r| r.text())
        .expect("metrics");
    assert!(
        metrics.contains("yibao_store_seconds_count{op=\"insert_settlements\"}"),
        "{metrics}"
    );
}
