//! The cashier page (`yibao-verify serve`) with real processes: checks, background
//! forwarding, its API contract, and that no single connection can freeze it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use yibao_tests::phone::TestPhone;

use super::platform::{Cashier, HOSPITAL, PHARMACY, Platform, settled_tokens};

#[test]
fn the_cashier_page_checks_codes_and_forwards_in_the_background() {
    let platform = Platform::new();
    let terminal = platform.terminal(PHARMACY, "p-1");
    let cashier = Cashier::start(&terminal);
    let (holder, voucher) = platform.holder(7);
    let code = platform.code(&holder);
    let check = |code: &str| -> Value {
        cashier
            .check(
                &platform.http,
                &json!({"code": code, "business_type": "02121"}),
            )
            .json()
            .expect("json")
    };
    let page = reqwest::blocking::get(&cashier.url)
        .expect("page")
        .text()
        .expect("html");
    assert!(
        page.contains("医保码核验") && page.contains("autofocus"),
        "{page}"
    );

    let first = check(&code);
    assert_eq!(first["accepted"], true, "{first}");
    assert!(
        first["masked_name"]
            .as_str()
            .is_some_and(|n| n.contains('*'))
    );
    let again = check(&code);
    assert_eq!(
        (again["accepted"].clone(), again["code"].clone()),
        (json!(false), json!("replayed"))
    );
    let forged = format!(
        "{}{}",
        &code[..code.len() - 1],
        if code.ends_with('0') { "1" } else { "0" }
    );
    let refused = check(&forged);
    assert_eq!(refused["accepted"], false, "{refused}");
    assert!(refused["reason_zh"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(first["offline_code"].is_null(), "{first}");

    // A device code (离线码) is marked as one, with its certificate's expiry.
    let mut phone = TestPhone::new(0x51);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    phone.keep(&platform.post("/v1/devices", &holder, phone.registration(&voucher, now)));
    let device = check(&phone.code(&voucher, now));
    assert_eq!(device["accepted"], true, "{device}");
    assert!(
        device["offline_code"]["certificate_expires_at"].is_u64(),
        "{device}"
    );

    // The background thread reaches the issuer and hands the visit off by itself.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status: Value = reqwest::blocking::get(format!("{}/api/status", cashier.url))
            .expect("status")
            .json()
            .expect("json");
        if status["online"] == true && status["queued"] == 0 {
            assert_eq!(status["status_list"]["stale"], false, "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "not forwarded: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(settled_tokens(&platform.audit(&voucher)).len(), 2);

    // A code another institution settled first: accepted here offline, refused at settlement
    // as double use, and shown on the page with what to do, not only counted.
    let elsewhere = platform.terminal(HOSPITAL, "h-1");
    let twice = platform.code(&holder);
    for args in [vec!["check", twice.as_str()], vec!["flush"]] {
        let (exit, out) = elsewhere.run(&args);
        assert_eq!(exit, 0, "{out}");
    }
    assert_eq!(check(&twice)["accepted"], true);
    let deadline = Instant::now() + Duration::from_secs(20);
    let shown = loop {
        let status: Value = reqwest::blocking::get(format!("{}/api/status", cashier.url))
            .expect("status")
            .json()
            .expect("json");
        if let Some(first) = status["recent_refusals"].get(0) {
            break first.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the refusal is not shown: {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(shown["code"], "double-use", "{shown}");
    assert!(
        shown["reason_zh"]
            .as_str()
            .is_some_and(|r| r.contains("重复使用")),
        "{shown}"
    );
    assert!(
        shown["masked_name"]
            .as_str()
            .is_some_and(|n| n.contains('*')),
        "{shown}"
    );
}

#[test]
fn a_stalled_client_does_not_freeze_the_cashier_page() {
    let platform = Platform::new();
    let terminal = platform.terminal(PHARMACY, "p-1");
    let cashier = Cashier::start(&terminal);
    let (holder, _) = platform.holder(3);
    let addr = cashier.url.trim_start_matches("http://").to_owned();

    // A client announces a body and never sends it.
    let mut stalled = TcpStream::connect(&addr).expect("connect");
    stalled
        .write_all(
            format!(
                "POST /api/check HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
                 X-Cashier-Token: {}\r\nContent-Length: 200\r\n\r\n{{\"code\": \"",
                cashier.token
            )
            .as_bytes(),
        )
        .expect("write");

    // Meanwhile the cashier's own checks and status calls are answered (the client gives up
    // after 3 s; the stalled request is held for 5 s before it is timed out).
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("client");
    let verdict: Value = cashier
        .check(&http, &json!({"code": platform.code(&holder)}))
        .json()
        .expect("json");
    assert_eq!(verdict["accepted"], true, "{verdict}");
    assert_eq!(
        http.get(format!("{}/api/status", cashier.url))
            .send()
            .expect("status is answered while another client stalls")
            .status(),
        StatusCode::OK
    );

    // The stalled request itself ends with a 408 and a JSON error.
    stalled
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let mut answer = String::new();
    let _ = stalled.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"timeout\""), "{answer}");
}

#[test]
fn the_cashier_api_answers_errors_with_stable_codes() {
    let platform = Platform::new();
    let terminal = platform.terminal(PHARMACY, "p-1");
    let cashier = Cashier::start(&terminal);
    let url = format!("{}/api/check", cashier.url);
    let send = |body: &str, content_type: &str| -> (StatusCode, Value) {
        let response = platform
            .http
            .post(&url)
            .header("x-cashier-token", &cashier.token)
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .expect("request");
        (response.status(), response.json().unwrap_or(Value::Null))
    };
    let cases = [
        (send("[\"960\"]", "application/json"), 422, "invalid-body"),
        (
            send("{\"code\":", "application/json"),
            400,
            "malformed-json",
        ),
        (
            send("{\"code\": 5}", "application/json"),
            422,
            "invalid-body",
        ),
        (
            send("{\"code\": \"9\", \"extra\": 1}", "application/json"),
            422,
            "invalid-body",
        ),
        (
            send(
                "{\"code\": \"9\", \"business_type\": \"99999\"}",
                "application/json",
            ),
            422,
            "invalid-business-type",
        ),
        (
            send("{\"code\": \"9\"}", "text/plain"),
            415,
            "unsupported-media-type",
        ),
        (
            send(&"x".repeat(20_000), "application/json"),
            413,
            "body-too-large",
        ),
    ];
    for ((status, body), want_status, want_code) in cases {
        assert_eq!(
            (status.as_u16(), body["code"].as_str()),
            (want_status, Some(want_code)),
            "{body}"
        );
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let wrong_method = platform.http.get(&url).send().expect("request");
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    let missing = platform
        .http
        .get(format!("{}/nowhere", cashier.url))
        .send()
        .expect("request");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.json::<Value>().expect("json")["code"], "not-found");
}

/// DNS rebinding and cross-site requests: a page the cashier visits can neither read the
/// terminal's state nor post checks (`serve/guard.rs`).
#[test]
fn the_cashier_api_serves_its_own_page_only() {
    let platform = Platform::new();
    let terminal = platform.terminal(PHARMACY, "p-1");
    let cashier = Cashier::start(&terminal);
    let (holder, _) = platform.holder(5);
    let http = &platform.http;
    let refused = |request: reqwest::blocking::RequestBuilder| -> (u16, Value) {
        let response = request.send().expect("answered");
        (
            response.status().as_u16(),
            response.json().unwrap_or(Value::Null),
        )
    };
    let cases = [
        // A rebound name: the browser sends the attacker's Host.
        (
            refused(
                http.get(format!("{}/api/status", cashier.url))
                    .header("host", "attacker.example:8090"),
            ),
            "host-not-allowed",
        ),
        (
            refused(
                http.post(format!("{}/api/check", cashier.url))
                    .header("host", "attacker.example")
                    .header("x-cashier-token", &cashier.token)
                    .json(&json!({"code": platform.code(&holder)})),
            ),
            "host-not-allowed",
        ),
        // A cross-site post, with or without a guessed token.
        (
            refused(
                http.post(format!("{}/api/check", cashier.url))
                    .header("origin", "http://attacker.example")
                    .header("x-cashier-token", &cashier.token)
                    .json(&json!({"code": platform.code(&holder)})),
            ),
            "cross-origin",
        ),
        // The page's own origin without its token (a script injected elsewhere on it).
        (
            refused(
                http.post(format!("{}/api/check", cashier.url))
                    .header("origin", &cashier.url)
                    .json(&json!({"code": platform.code(&holder)})),
            ),
            "page-token",
        ),
    ];
    for ((status, body), code) in cases {
        assert_eq!((status, body["code"].as_str()), (403, Some(code)), "{body}");
    }
    let status: Value = http
        .get(format!("{}/api/status", cashier.url))
        .send()
        .and_then(reqwest::blocking::Response::json)
        .expect("status");
    assert_eq!(
        status["queued"], 0,
        "nothing refused was recorded: {status}"
    );
    let verdict: Value = cashier
        .check(http, &json!({"code": platform.code(&holder)}))
        .json()
        .expect("json");
    assert_eq!(verdict["accepted"], true, "{verdict}");
}

/// A flood of garbage checks from 16 threads (a broken or hostile program on the PC) while
/// the cashier checks a real code through the page: the real check is answered, and how long
/// it took is printed (a measurement: docs/PERFORMANCE.md), never asserted.
#[test]
fn a_flood_of_garbage_checks_does_not_hold_up_the_cashier() {
    const THREADS: usize = 16;
    const PER_THREAD: usize = 2_000;
    let platform = Platform::new();
    let terminal = platform.terminal(PHARMACY, "p-1");
    let cashier = Cashier::start(&terminal);
    let (holder, _) = platform.holder(12);
    let url = format!("{}/api/check", cashier.url);
    // Garbage of three kinds: digits that are no code, a real code with a digit changed (a
    // full signature check), and a real code already used (a replay).
    let (other, _) = platform.holder(13);
    let used = platform.code(&other);
    let first = cashier
        .check(&platform.http, &json!({"code": used}))
        .json::<Value>()
        .expect("json");
    assert_eq!(first["accepted"], true, "{first}");
    let garbage = |n: usize| -> String {
        match n % 3 {
            0 => format!("96{n:0>240}"),
            1 => {
                let at = 30 + n % 200;
                let digit = if &used[at..=at] == "0" { "1" } else { "0" };
                format!("{}{digit}{}", &used[..at], &used[at + 1..])
            }
            _ => used.clone(),
        }
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (took, sent) = std::thread::scope(|s| {
        let flooders: Vec<_> = (0..THREADS)
            .map(|t| {
                let (url, stop, garbage) = (&url, &stop, &garbage);
                s.spawn(move || {
                    let http = reqwest::blocking::Client::new();
                    let mut sent = 0;
                    for i in 0..PER_THREAD {
                        if stop.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                        let code = garbage(t * PER_THREAD + i);
                        if http.post(url).json(&json!({"code": code})).send().is_ok() {
                            sent += 1;
                        }
                    }
                    sent
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(500));
        let started = Instant::now();
        let verdict: Value = cashier
            .check(&platform.http, &json!({"code": platform.code(&holder)}))
            .json()
            .expect("json");
        let took = started.elapsed();
        assert_eq!(verdict["accepted"], true, "{verdict}");
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let sent: usize = flooders.into_iter().map(|f| f.join().unwrap_or(0)).sum();
        (took, sent)
    });
    eprintln!(
        "flood: a real check through the page answered in {took:?} while {THREADS} threads \
         sent garbage ({sent} garbage checks answered in all)"
    );
}
