//! How long an unattested bind takes to answer, by who the member is: an activated person
//! (the request is delivered: a pending link is written), an insured person with no voucher
//! (nothing to deliver), and someone not in the registry. The answer must not tell them apart,
//! neither by its body (tests) nor by its time (this measurement; no test asserts on time).
//!
//! Run: `cargo run -q -p yibao-tests --example bind_timing` (embedded store and one Redis with
//! `appendfsync always`, through the in-process router). Bounded: 50 binds per kind and store,
//! interleaved so drift hits every kind alike. Prints the medians and their ratio to the
//! absent person's.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, header};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;
use yibao_issuer::demo::synthetic_person;
use yibao_issuer::domain::family::PENDING_SECS;
use yibao_tests::api::{Backend, Harness, NOW, credential_of, generous};

/// Binds per kind.
const SAMPLES: usize = 50;
/// Activated targets (persons 1..=ACTIVATED); the next ones stay without a voucher.
const ACTIVATED: usize = 25;

#[tokio::main]
async fn main() {
    println!(
        "| store | member activated (request delivered) | insured, no voucher | not in the registry | ratio activated / absent |"
    );
    println!("|---|---|---|---|---|");
    for backend in [Backend::Embedded, Backend::Redis] {
        let h = Harness::start(backend, generous()).await;
        let (_, binder) = h.activate(&h.channel, 0).await;
        let binder = credential_of(&binder);
        for i in 1..=ACTIVATED {
            let (status, body) = h.activate(&h.channel, i).await;
            assert!(status.is_success(), "{body}");
        }
        let mut times: [Vec<Duration>; 3] = Default::default();
        for n in 0..SAMPLES {
            // A lapsed request may be sent again: each round starts after the last one lapsed.
            if n % ACTIVATED == 0 {
                h.clock
                    .set(NOW + (n / ACTIVATED) as u64 * (PENDING_SECS + 1));
            }
            let targets = [1 + n % ACTIVATED, ACTIVATED + 1 + n % 20, 10_000 + n];
            for (kind, person) in targets.into_iter().enumerate() {
                times[kind].push(bind(&h, &binder, person).await);
            }
        }
        let medians = times.map(|mut t| {
            t.sort();
            t[t.len() / 2]
        });
        println!(
            "| {backend:?} | {:.3} ms | {:.3} ms | {:.3} ms | {:.2} |",
            ms(medians[0]),
            ms(medians[1]),
            ms(medians[2]),
            ms(medians[0]) / ms(medians[2]),
        );
    }
}

/// One bind of synthetic person `person` by `binder`: the time to the whole answer. What the
/// issuer does after answering is then awaited, untimed, so it cannot slow the next sample.
async fn bind(h: &Harness, binder: &str, person: usize) -> Duration {
    let (p, _, _) = synthetic_person(person);
    let body = json!({"name": p.name, "id_number": p.id_number, "relation": "parent"});
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/family/members")
        .header(header::AUTHORIZATION, format!("Bearer {binder}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    let started = Instant::now();
    let response = h.router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let _ = response.into_body().collect().await.expect("body");
    let took = started.elapsed();
    assert_eq!(status.as_u16(), 202, "every such bind is `requested`");
    h.state.deliveries_done().await;
    took
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
