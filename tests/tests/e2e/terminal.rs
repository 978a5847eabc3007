//! The terminal side with real processes: `yibao-issuer serve` on a fixed loopback port (so
//! it can be stopped and started again at the same address) and `yibao-verify` as a
//! pharmacy or hospital runs it: outage, kill -9, double use, scanning a PNG, expenses.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use super::platform::{HOSPITAL, PHARMACY, Platform, settled_tokens, token_id_of};

#[test]
fn outage_codes_verified_offline_all_settle_once_when_the_issuer_is_back() {
    const N: usize = 12;
    let mut platform = Platform::new();
    let terminal = platform.terminal(PHARMACY, "p-1");
    let (holder, voucher) = platform.holder(0);
    let codes: Vec<String> = (0..N).map(|_| platform.code(&holder)).collect();

    platform.stop();
    let mut tokens = Vec::new();
    for code in &codes {
        let (exit, out) = terminal.run(&["check", "--json", code]);
        assert_eq!(exit, 0, "accepted offline: {out}");
        tokens.push(token_id_of(&out).expect("token id"));
    }
    tokens.sort();
    assert_eq!(terminal.status()["queued"], N);
    // While the issuer is down, flush gives up after its deadline and loses nothing.
    let (exit, out) = terminal.run(&["flush", "--timeout", "2"]);
    assert_eq!(exit, 2, "{out}");
    assert!(out.contains("unreachable"), "{out}");
    let status = terminal.status();
    assert_eq!(status["queued"], N);
    assert!(status["last_forward"]["error"].is_string(), "{status}");

    platform.start();
    let (exit, out) = terminal.run(&["flush"]);
    assert_eq!(exit, 0, "{out}");
    assert!(
        out.contains(&format!("answered {N}, still queued 0")),
        "{out}"
    );
    let status = terminal.status();
    assert_eq!(
        (status["queued"].clone(), status["settled"].clone()),
        (json!(0), json!(N))
    );
    assert_eq!(settled_tokens(&platform.audit(&voucher)), tokens);

    // Flushing again sends nothing; the same codes again are replays here.
    let (_, out) = terminal.run(&["flush"]);
    assert!(out.contains("answered 0"), "{out}");
    let (exit, out) = terminal.run(&["check", &codes[0]]);
    assert_eq!(exit, 1, "{out}");
    assert!(out.contains("医保码已使用"), "{out}");
    assert_eq!(settled_tokens(&platform.audit(&voucher)).len(), N);
}

/// Kills `child` after `delay` (or reaps it if it finished first); whether it finished.
fn kill_after(mut child: std::process::Child, delay: Duration) -> (bool, String) {
    let deadline = Instant::now() + delay;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            let out = child.wait_with_output().expect("output");
            return (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    let _ = child.wait();
    (false, String::new())
}

#[test]
fn kill_9_during_check_and_flush_loses_nothing_and_settles_nothing_twice() {
    let platform = Platform::new();
    let terminal = platform.terminal(HOSPITAL, "h-1");
    let (holder, voucher) = platform.holder(1);

    // kill -9 at spread-out moments of `check` (from process start to after the commit).
    let mut accepted = Vec::new();
    for round in 0..16u64 {
        let code = platform.code(&holder);
        let child = terminal
            .command(&["check", "--json", &code])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let (finished, out) = kill_after(child, Duration::from_micros(500 + round * 500));
        if finished {
            accepted.push(token_id_of(&out).expect("token id"));
        }
    }
    let queued = terminal.status()["queued"].as_u64().expect("queued");
    eprintln!(
        "kill -9 during check: {} of 16 finished, {queued} queued",
        accepted.len()
    );
    assert!(
        queued >= accepted.len() as u64,
        "every code reported accepted is in the outbox ({queued} < {})",
        accepted.len()
    );
    // More codes so the flushes below have work to be interrupted in.
    for _ in 0..10 {
        let (exit, out) = terminal.run(&["check", &platform.code(&holder)]);
        assert_eq!(exit, 0, "{out}");
    }

    // kill -9 during flushes of one presentation per request.
    for round in 0..6u64 {
        let child = terminal
            .command(&["flush", "--batch", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        kill_after(child, Duration::from_millis(20 + round * 15));
    }
    let (exit, out) = terminal.run(&["flush"]);
    assert_eq!(exit, 0, "{out}");

    let status = terminal.status();
    let in_outbox = status["settled"].as_u64().expect("settled");
    assert_eq!(status["queued"], 0, "{status}");
    assert_eq!(
        status["refused"], 0,
        "a retry after a lost answer is never mistaken for double use: {status}"
    );
    let settled = settled_tokens(&platform.audit(&voucher));
    assert_eq!(settled.len() as u64, in_outbox, "exactly once each");
    for token in &accepted {
        assert!(settled.contains(token), "accepted {token} was not settled");
    }
}

#[test]
fn one_code_at_two_terminals_settles_once_and_records_the_double_use() {
    let platform = Platform::new();
    let first = platform.terminal(HOSPITAL, "h-1");
    let second = platform.terminal(PHARMACY, "p-1");
    let (holder, voucher) = platform.holder(2);
    let code = platform.code(&holder);

    // Both terminals are offline-capable, so both accept the code at the counter.
    assert_eq!(first.run(&["check", &code]).0, 0);
    assert_eq!(second.run(&["check", &code]).0, 0);
    assert_eq!(first.run(&["flush"]).0, 0);
    assert_eq!(second.run(&["flush"]).0, 0);

    assert_eq!(first.status()["settled"], 1);
    let status = second.status();
    assert_eq!(
        (status["settled"].clone(), status["refused"].clone()),
        (json!(0), json!(1))
    );
    let audit = platform.audit(&voucher);
    assert_eq!(
        audit["settlements"].as_array().map(Vec::len),
        Some(1),
        "{audit}"
    );
    assert_eq!(audit["settlements"][0]["terminal"], "h-1");
    let double_uses = audit["double_uses"].as_array().expect("list");
    assert_eq!(double_uses.len(), 1, "{audit}");
    assert_eq!(double_uses[0]["terminal"], "p-1");
    assert_eq!(double_uses[0]["institution"], PHARMACY);
}

#[test]
fn scan_reads_the_png_the_issuer_serves() {
    let platform = Platform::new();
    let terminal = platform.terminal(PHARMACY, "p-1");
    let (holder, _) = platform.holder(3);
    let png = platform
        .http
        .get(platform.url("/v1/token.png"))
        .bearer_auth(&holder)
        .send()
        .expect("request")
        .bytes()
        .expect("bytes");
    let file = platform.data.path().join("code.png");
    std::fs::write(&file, &png).expect("write");
    let (exit, out) = terminal.run(&["scan", file.to_str().expect("utf-8")]);
    assert_eq!(exit, 0, "{out}");
    assert!(
        out.contains("通过 ACCEPTED") && out.contains("queued for settlement"),
        "{out}"
    );
    let (exit, out) = terminal.run(&["scan", file.to_str().expect("utf-8")]);
    assert_eq!(exit, 1, "the same picture again is a replay: {out}");

    // A picture without a QR code is an I/O-level failure with a clear message.
    let blank = platform.data.path().join("blank.png");
    image_blank(&blank);
    let (exit, out) = terminal.run(&["scan", blank.to_str().expect("utf-8")]);
    assert_eq!(exit, 2, "{out}");
    assert!(out.contains("no readable QR code"), "{out}");
}

fn image_blank(path: &Path) {
    image::GrayImage::from_pixel(64, 64, image::Luma([255]))
        .save(path)
        .expect("save");
}

#[test]
fn expenses_are_shown_to_the_holder_and_a_binder_not_a_stranger() {
    let platform = Platform::new();
    let terminal = platform.terminal(HOSPITAL, "h-1");
    let (member, member_voucher) = platform.holder(4);
    let (binder, _) = platform.holder(5);
    let (stranger, _) = platform.holder(6);
    platform.bind_attested(&binder, 4);

    // The binder shows the member's code; the hospital settles and records the bill.
    let (_, proxy) = platform.get(
        &format!("/v1/family/members/{member_voucher}/token"),
        &binder,
    );
    let code = proxy["code"].as_str().expect("code");
    let (exit, out) = terminal.run(&["check", "--business-type", "01301", code]);
    assert_eq!(exit, 0, "{out}");
    assert!(out.contains("代家人出示"), "{out}");
    assert_eq!(terminal.run(&["flush"]).0, 0);
    let reference = platform.audit(&member_voucher)["settlements"][0]["reference"]
        .as_str()
        .expect("reference")
        .to_owned();
    platform.post(
        &format!("/v1/settlements/{reference}/complete"),
        &terminal.credential,
        json!({"total_fen": 25_000, "fund_fen": 18_000, "account_fen": 5_000, "cash_fen": 2_000}),
    );

    let (status, own) = platform.get("/v1/expenses", &member);
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own["total"]["total_fen"], 25_000, "{own}");
    assert_eq!(own["items"][0]["business_type"], "01301");
    assert_eq!(own["items"][0]["shown_by_family"], true);
    let path = format!("/v1/expenses?voucher={member_voucher}");
    let (status, theirs) = platform.get(&path, &binder);
    assert_eq!(status, StatusCode::OK, "{theirs}");
    assert_eq!(theirs["total"], own["total"]);
    let (status, refused) = platform.get(&path, &stranger);
    assert_eq!(
        (status, refused["code"].clone()),
        (StatusCode::FORBIDDEN, json!("not-bound"))
    );
}
