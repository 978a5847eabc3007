//! `kill -9` of a Redis primary under a bounded load of activations and handoffs on two
//! issuer nodes: its replica takes over, the killed node is restarted (as a supervisor
//! would) and rejoins as a replica. Meanwhile the issuer answers 503 `unavailable` and
//! nothing else; afterwards every acknowledged activation and settlement is still there,
//! nothing settled twice, and the issuer recovered without a restart.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use yibao_tests::redis_server::Flavour;

use super::{Deployment, PEOPLE, is_unavailable};

/// Client threads (each: activate, fetch a token from the other node, hand the code to both
/// nodes from two terminals).
const WORKERS: usize = 4;
/// Load before the kill.
const BEFORE_KILL: Duration = Duration::from_secs(2);
/// How long the killed node stays down (longer than a failover takes).
const DOWN_FOR: Duration = Duration::from_secs(4);
/// Load after the cluster is whole again.
const AFTER_RECOVERY: Duration = Duration::from_secs(2);
/// A request still refused this long after the load stops means the issuer did not recover.
const RETRY_LIMIT: Duration = Duration::from_secs(40);

#[derive(Default)]
struct Tally {
    ok: usize,
    unavailable: usize,
    other_5xx: Vec<String>,
    last_unavailable: Option<Instant>,
}

/// What the issuer acknowledged.
#[derive(Default)]
struct Acknowledged {
    /// holder credential → voucher id.
    activations: Vec<(String, String)>,
    /// token id → (voucher, every answer it got).
    handoffs: BTreeMap<String, (String, Vec<Answer>)>,
}

/// One terminal's answer for a code: (terminal, status, settlement reference).
type Answer = (usize, String, Option<String>);

struct Load<'a> {
    d: &'a Deployment,
    tally: Mutex<Tally>,
    acked: Mutex<Acknowledged>,
    next_person: AtomicUsize,
}

impl Load<'_> {
    /// Sends until the answer is not 503 (a client retrying), counting every answer.
    fn until_answered(
        &self,
        mut request: impl FnMut() -> (StatusCode, Value),
    ) -> (StatusCode, Value) {
        let give_up = Instant::now() + RETRY_LIMIT;
        loop {
            let (status, body) = request();
            let mut tally = self.tally.lock().expect("tally");
            if is_unavailable(status, &body) {
                tally.unavailable += 1;
                tally.last_unavailable = Some(Instant::now());
                drop(tally);
                assert!(
                    Instant::now() < give_up,
                    "still 503 after {RETRY_LIMIT:?}: {body}"
                );
                thread::sleep(Duration::from_millis(50));
                continue;
            }
            if status.is_server_error() {
                tally.other_5xx.push(format!("{status} {body}"));
            } else {
                tally.ok += 1;
            }
            return (status, body);
        }
    }

    /// One visit: a holder activated (a person activated again gets a new credential for
    /// the same voucher), a code, handed to both nodes by two terminals.
    fn visit(&self, worker: usize) {
        let person = self.next_person.fetch_add(1, Ordering::Relaxed) % PEOPLE;
        let node = worker % 2;
        let (status, activation) = self.until_answered(|| self.d.activate(node, person));
        if status == StatusCode::FORBIDDEN && activation["code"] == "not-insured" {
            return; // the synthetic registry has a few of those
        }
        assert!(status.is_success(), "activation: {status} {activation}");
        let holder = activation["holder_credential"]
            .as_str()
            .expect("credential")
            .to_owned();
        let voucher = activation["voucher_id"]
            .as_str()
            .expect("voucher")
            .to_owned();
        self.acked
            .lock()
            .expect("acked")
            .activations
            .push((holder.clone(), voucher.clone()));
        let (status, token) = self.until_answered(|| {
            self.d
                .send(1 - node, Method::GET, "/v1/token", &holder, None)
        });
        assert_eq!(status, StatusCode::OK, "token: {token}");
        let code = token["code"].as_str().expect("code").to_owned();
        for (terminal, node) in [(0, node), (1, 1 - node)] {
            let (status, body) = self.until_answered(|| self.d.hand_off(node, terminal, &code));
            assert_eq!(status, StatusCode::OK, "handoff: {body}");
            let result = &body["results"][0];
            let token_id = result["token_id"].as_str().expect("token id").to_owned();
            let mut acked = self.acked.lock().expect("acked");
            let entry = acked
                .handoffs
                .entry(token_id)
                .or_insert_with(|| (voucher.clone(), Vec::new()));
            entry.1.push((
                terminal,
                result["status"].as_str().unwrap_or_default().to_owned(),
                result["reference"].as_str().map(str::to_owned),
            ));
        }
    }
}

#[test]
fn a_primary_killed_under_load_loses_no_acknowledged_write_and_settles_nothing_twice_on_redis() {
    a_primary_killed_under_load_loses_no_acknowledged_write_and_settles_nothing_twice(
        Flavour::Redis,
    );
}

#[test]
fn a_primary_killed_under_load_loses_no_acknowledged_write_and_settles_nothing_twice_on_valkey() {
    a_primary_killed_under_load_loses_no_acknowledged_write_and_settles_nothing_twice(
        Flavour::Valkey,
    );
}

fn a_primary_killed_under_load_loses_no_acknowledged_write_and_settles_nothing_twice(
    flavour: Flavour,
) {
    let d = Deployment::start(flavour, 10_000);
    let victim = d.cluster.primary_of(0);
    let load = Load {
        d: &d,
        tally: Mutex::new(Tally::default()),
        acked: Mutex::new(Acknowledged::default()),
        next_person: AtomicUsize::new(0),
    };
    let running = AtomicBool::new(true);
    let (killed_at, failed_over_after) = thread::scope(|s| {
        for worker in 0..WORKERS {
            let (load, running) = (&load, &running);
            s.spawn(move || {
                while running.load(Ordering::Relaxed) {
                    load.visit(worker);
                }
            });
        }
        thread::sleep(BEFORE_KILL);
        d.cluster.kill(victim);
        let killed_at = Instant::now();
        // The replica is promoted once the others judge the primary failed.
        while d.cluster.serving(0).is_none() {
            assert!(killed_at.elapsed() < RETRY_LIMIT, "no failover");
            thread::sleep(Duration::from_millis(50));
        }
        let failed_over_after = killed_at.elapsed();
        thread::sleep(DOWN_FOR.saturating_sub(failed_over_after));
        d.cluster.restart(victim);
        d.cluster.wait_healthy(RETRY_LIMIT);
        thread::sleep(AFTER_RECOVERY);
        running.store(false, Ordering::Relaxed);
        (killed_at, failed_over_after)
    });
    let tally = load.tally.into_inner().expect("tally");
    let acked = load.acked.into_inner().expect("acked");

    // Recovered by itself: a new visit goes through at once on both nodes.
    let after = Load {
        d: &d,
        tally: Mutex::new(Tally::default()),
        acked: Mutex::new(Acknowledged::default()),
        next_person: AtomicUsize::new(0),
    };
    after.visit(0);
    after.visit(1);
    assert_eq!(after.tally.lock().expect("tally").unavailable, 0);

    // Every acknowledged activation: its credential still works, for its voucher.
    let mut lost = Vec::new();
    for (holder, voucher) in &acked.activations {
        let (status, token) = d.send(0, Method::GET, "/v1/token", holder, None);
        if status != StatusCode::OK || token["voucher_id"] != voucher.as_str() {
            lost.push(format!("activation of {voucher}: {status} {token}"));
        }
    }
    // Every acknowledged settlement is in its voucher's ledger; one terminal settled each
    // code, the other's double use is recorded.
    let mut settled_twice = Vec::new();
    let mut settlements = 0;
    let vouchers: BTreeSet<&String> = acked.handoffs.values().map(|(v, _)| v).collect();
    let ledgers: BTreeMap<&String, Value> = vouchers.iter().map(|v| (*v, d.audit(1, v))).collect();
    for (token, (voucher, answers)) in &acked.handoffs {
        let winners: BTreeSet<usize> = answers
            .iter()
            .filter(|(_, status, _)| status == "settled")
            .map(|(terminal, _, _)| *terminal)
            .collect();
        if winners.len() != 1 {
            settled_twice.push(format!("{token}: {answers:?}"));
        }
        let ledger = &ledgers[voucher];
        for (_, _, reference) in answers.iter().filter(|(_, s, _)| s == "settled") {
            settlements += 1;
            let kept = ledger["settlements"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| {
                    s["token_id"] == token.as_str()
                        && s["reference"] == reference.as_deref().unwrap_or_default()
                });
            if !kept {
                lost.push(format!("settlement of {token}: {ledger}"));
            }
        }
        let double_uses = ledger["double_uses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|u| u["token_id"] == token.as_str())
            .count();
        if double_uses != 1 {
            lost.push(format!(
                "double use of {token} recorded {double_uses} times: {ledger}"
            ));
        }
    }
    let recovered_after = tally
        .last_unavailable
        .map(|t| t.saturating_duration_since(killed_at));
    eprintln!(
        "failover on {flavour:?}: {} activations and {settlements} settlements acknowledged, lost {}, \
         settled twice {}, answers {} ok / {} 503 / {} other 5xx; replica promoted after \
         {failed_over_after:?}, last 503 {recovered_after:?} after the kill (node down {DOWN_FOR:?})",
        acked.activations.len(),
        lost.len(),
        settled_twice.len(),
        tally.ok,
        tally.unavailable,
        tally.other_5xx.len(),
    );
    assert!(lost.is_empty(), "lost acknowledged writes: {lost:#?}");
    assert!(
        settled_twice.is_empty(),
        "settled twice: {settled_twice:#?}"
    );
    assert!(tally.other_5xx.is_empty(), "{:#?}", tally.other_5xx);
    assert!(
        tally.unavailable > 0,
        "no request met the failover: the test did not test it"
    );
    assert!(
        acked.activations.len() >= 2 * WORKERS && settlements >= 2 * WORKERS,
        "too little load to mean anything"
    );
}
