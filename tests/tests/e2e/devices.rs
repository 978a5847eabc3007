//! Device-bound codes with real processes: a phone registers its key and gets certificates;
//! the issuer is stopped; the codes the phone signs are accepted offline and a replay is
//! refused; the issuer comes back and every code settles once; a lost phone's codes are
//! refused by a terminal after its next sync and still accepted by one that has not synced
//! (the residual risk `docs/terminal.md` states); a person the registry stops insuring loses
//! every offline code the same way.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use yibao_issuer::demo::{REGISTRY_HEADER, synthetic_person, synthetic_row};
use yibao_tests::phone::TestPhone;

use super::platform::{HOSPITAL, PHARMACY, Platform, TerminalDir, settled_tokens};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `check --json` of `code`: (exit code, the verdict).
fn check(terminal: &TerminalDir, code: &str) -> (i32, Value) {
    let (exit, out) = terminal.run(&["check", "--json", code]);
    let verdict = out
        .lines()
        .next()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON verdict: {out}"));
    (exit, verdict)
}

#[test]
fn device_codes_carry_care_through_an_outage_and_a_lost_phone_is_refused_after_sync() {
    let mut platform = Platform::new();
    let pharmacy = platform.terminal(PHARMACY, "p-1");
    let hospital = platform.terminal(HOSPITAL, "h-1");
    let (holder, voucher) = platform.holder(0);
    let member = platform.bind_attested(&holder, 1)["member"]
        .as_str()
        .expect("member")
        .to_owned();
    let mut phone = TestPhone::new(0x41);
    let answer = platform.post("/v1/devices", &holder, phone.registration(&voucher, now()));
    phone.keep(&answer);
    assert_eq!(phone.certificates.len(), 2, "{answer}");
    for terminal in [&pharmacy, &hospital] {
        let (exit, out) = terminal.run(&["sync"]);
        assert_eq!(exit, 0, "{out}");
    }

    // The platform goes down: the phone keeps showing codes, the terminal keeps accepting.
    platform.stop();
    let mut own_tokens = Vec::new();
    for _ in 0..3 {
        let code = phone.code(&voucher, now());
        let (exit, verdict) = check(&pharmacy, &code);
        assert_eq!(exit, 0, "accepted offline: {verdict}");
        assert_eq!(verdict["kind"], "device-bound", "{verdict}");
        own_tokens.push(verdict["token_id"].as_str().expect("token").to_owned());
    }
    // The same code twice: accepted once, then refused as a replay.
    let replay = phone.code(&voucher, now());
    let (exit, verdict) = check(&pharmacy, &replay);
    assert_eq!(exit, 0, "{verdict}");
    own_tokens.push(verdict["token_id"].as_str().expect("token").to_owned());
    let (exit, verdict) = check(&pharmacy, &replay);
    assert_eq!(
        (exit, verdict["code"].as_str()),
        (1, Some("replayed")),
        "{verdict}"
    );
    own_tokens.sort();
    let proxied = phone.code(&member, now());
    let (exit, verdict) = check(&pharmacy, &proxied);
    assert_eq!(exit, 0, "{verdict}");
    assert_eq!(
        verdict["claims"]["proxy"]["binder"],
        voucher.as_str(),
        "{verdict}"
    );
    let member_token = verdict["token_id"].as_str().expect("token").to_owned();

    // Back online: every code settles, once.
    platform.start();
    let (exit, out) = pharmacy.run(&["flush"]);
    assert_eq!(exit, 0, "{out}");
    assert!(out.contains("answered 5, still queued 0"), "{out}");
    assert_eq!(settled_tokens(&platform.audit(&voucher)), own_tokens);
    assert_eq!(settled_tokens(&platform.audit(&member)), vec![member_token]);

    // The phone is lost: the channel deactivates the holder.
    let (p, _, _) = synthetic_person(0);
    let revoked = platform.post(
        "/v1/deactivations",
        &platform.channel,
        json!({"name": p.name, "id_number": p.id_number}),
    );
    assert_eq!(revoked["revoked"], 1, "{revoked}");
    let (exit, out) = pharmacy.run(&["sync"]);
    assert_eq!(exit, 0, "{out}");
    assert!(out.contains("2 new revocations"), "{out}");
    let stolen = phone.code(&voucher, now());
    let (exit, verdict) = check(&pharmacy, &stolen);
    assert_eq!(
        (exit, verdict["code"].as_str()),
        (1, Some("certificate-revoked")),
        "{verdict}"
    );
    // The hospital terminal has not synced since: it still accepts (residual risk) …
    let (exit, verdict) = check(&hospital, &stolen);
    assert_eq!(exit, 0, "{verdict}");
    // … and settlement refuses the visit, since it was accepted after the revocation.
    let (exit, out) = hospital.run(&["flush"]);
    assert_eq!(exit, 0, "{out}");
    let status = hospital.status();
    assert_eq!(status["refused"], 1, "{status}");
    // `status` shows the list's age.
    assert!(pharmacy.status()["status_list"]["age_secs"].is_u64());
}

#[test]
fn a_person_who_leaves_the_insurance_is_refused_offline_after_the_next_sync() {
    let mut platform = Platform::new();
    let pharmacy = platform.terminal(PHARMACY, "p-1");
    let hospital = platform.terminal(HOSPITAL, "h-1");
    let (holder, voucher) = platform.holder(2);
    let mut phone = TestPhone::new(0x42);
    let answer = platform.post("/v1/devices", &holder, phone.registration(&voucher, now()));
    phone.keep(&answer);
    for terminal in [&pharmacy, &hospital] {
        let (exit, out) = terminal.run(&["sync"]);
        assert_eq!(exit, 0, "{out}");
    }
    let (exit, verdict) = check(&pharmacy, &phone.code(&voucher, now()));
    assert_eq!(exit, 0, "accepted while insured: {verdict}");

    let printed = platform.import(&format!(
        "{REGISTRY_HEADER}{}",
        synthetic_row(2, "terminated")
    ));
    assert!(
        printed.contains("1 vouchers of persons no longer insured: 1 device and proxy"),
        "{printed}"
    );
    let (exit, out) = pharmacy.run(&["sync"]);
    assert_eq!(exit, 0, "{out}");
    assert!(out.contains("1 new revocations"), "{out}");
    let code = phone.code(&voucher, now());
    let (exit, verdict) = check(&pharmacy, &code);
    assert_eq!(
        (exit, verdict["code"].as_str()),
        (1, Some("certificate-revoked")),
        "{verdict}"
    );
    // A terminal that has not synced accepts it, and settlement refuses the visit online.
    let (exit, verdict) = check(&hospital, &code);
    assert_eq!(exit, 0, "{verdict}");
    let (exit, out) = hospital.run(&["flush"]);
    assert_eq!(exit, 0, "{out}");
    assert_eq!(hospital.status()["refused"], 1, "{}", hospital.status());
}
