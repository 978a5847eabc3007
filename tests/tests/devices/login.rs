//! The phone's login is its registered device key: a signed challenge opens a session that
//! works wherever the holder credential does; a challenge is answered once and not late; a
//! session ends with its time and with its device; a sign-out statement signed offline
//! removes the device whenever it arrives.

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use yibao_issuer::domain::devices::session::{CHALLENGE_SECS, SESSION_SECS};
use yibao_shared::UnixTime;
use yibao_tests::api::{Harness, NOW, assert_code};
use yibao_tests::on_both_backends;
use yibao_tests::phone::TestPhone;

use super::{holder, register, status_list, terminal_verifier};

async fn challenge(h: &Harness) -> String {
    let (status, got) = h
        .json(Method::POST, "/v1/device-sessions/challenge", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    got["challenge"].as_str().expect("challenge").to_owned()
}

async fn open(h: &Harness, body: Value) -> (StatusCode, Value) {
    h.json(Method::POST, "/v1/device-sessions", None, Some(body))
        .await
}

/// A session for `phone`, opened with a fresh challenge.
async fn session(h: &Harness, phone: &TestPhone, voucher: &str) -> String {
    let body = phone.session_request(voucher, &challenge(h).await);
    let (status, got) = open(h, body).await;
    assert_eq!(status, StatusCode::CREATED, "{got}");
    got["session"].as_str().expect("session").to_owned()
}

async fn a_registered_device_key_is_the_phones_login(h: Harness) {
    let (credential, voucher) = holder(&h, 0).await;
    let mut phone = TestPhone::new(0x41);
    register(&h, &mut phone, &credential, &voucher).await;
    // The pasted credential is gone (signed out of the channel): the key still signs in.
    let got = h
        .json(
            Method::DELETE,
            "/v1/holder/credential",
            Some(&credential),
            None,
        )
        .await;
    assert_eq!(got.0, StatusCode::NO_CONTENT);
    let session = session(&h, &phone, &voucher).await;
    assert!(session.starts_with("yds1."), "{session}");

    let (status, token) = h.token(&session).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["voucher_id"], json!(voucher));
    let (status, _) = h
        .json(Method::GET, "/v1/expenses?year=2026", Some(&session), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, members) = h
        .json(Method::GET, "/v1/family/members", Some(&session), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{members}");
    // Renewal with the session: fresh certificates for the same device.
    let device = phone.device_id.clone().expect("registered");
    let (status, renewed) = h
        .json(
            Method::POST,
            &format!("/v1/devices/{device}/renew"),
            Some(&session),
            Some(phone.renewal(&voucher, NOW)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    assert_eq!(renewed["device_id"], json!(device));

    // A session names its holder under the issuer's MAC: another holder's id in it is refused.
    let (_, other) = holder(&h, 1).await;
    let mut raw = URL_SAFE_NO_PAD
        .decode(session.trim_start_matches("yds1."))
        .expect("base64url");
    let other_id: Vec<u8> = (0..16)
        .step_by(2)
        .map(|i| u8::from_str_radix(&other[i..i + 2], 16).expect("hex"))
        .collect();
    raw[..8].copy_from_slice(&other_id);
    let forged = format!("yds1.{}", URL_SAFE_NO_PAD.encode(raw));
    assert_code(
        h.token(&forged).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
}

async fn a_challenge_is_answered_once_and_not_late(h: Harness) {
    let (credential, voucher) = holder(&h, 0).await;
    let mut phone = TestPhone::new(0x42);
    register(&h, &mut phone, &credential, &voucher).await;
    let fresh = challenge(&h).await;

    // Signed by another key, or for another holder: refused, and the challenge still holds.
    let mut stranger = TestPhone::new(0x43);
    stranger.device_id = phone.device_id.clone();
    let refused = open(&h, stranger.session_request(&voucher, &fresh)).await;
    assert_code(refused, StatusCode::UNAUTHORIZED, "unauthorized");
    let (_, other) = holder(&h, 1).await;
    let refused = open(&h, phone.session_request(&other, &fresh)).await;
    assert_code(refused, StatusCode::UNAUTHORIZED, "unauthorized");
    let body = phone.session_request(&voucher, &fresh);
    let (status, got) = open(&h, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{got}");
    // The same answer again (a replayed login) is refused.
    assert_code(
        open(&h, body).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );

    // A challenge the issuer did not make (one bit off), and one answered too late.
    let mut raw = URL_SAFE_NO_PAD.decode(challenge(&h).await).expect("b64");
    raw[0] ^= 1;
    let made_up = URL_SAFE_NO_PAD.encode(raw);
    let refused = open(&h, phone.session_request(&voucher, &made_up)).await;
    assert_code(refused, StatusCode::UNAUTHORIZED, "unauthorized");
    let late = challenge(&h).await;
    h.clock.set(NOW + CHALLENGE_SECS);
    let refused = open(&h, phone.session_request(&voucher, &late)).await;
    assert_code(refused, StatusCode::UNAUTHORIZED, "unauthorized");
    // Garbage in every field: the same answer, never a 500.
    for body in [
        json!({"voucher_id": "x", "device_id": "y", "challenge": "z", "signature": "w"}),
        json!({"voucher_id": voucher, "device_id": "0123456789abcdef", "challenge": late,
            "signature": URL_SAFE_NO_PAD.encode([0u8; 64])}),
    ] {
        assert_code(
            open(&h, body).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
    }
}

async fn a_session_ends_with_its_time_and_with_its_device(h: Harness) {
    let (credential, voucher) = holder(&h, 0).await;
    let mut phone = TestPhone::new(0x44);
    register(&h, &mut phone, &credential, &voucher).await;
    let first = session(&h, &phone, &voucher).await;
    h.clock.set(NOW + SESSION_SECS - 1);
    assert_eq!(h.token(&first).await.0, StatusCode::OK);
    h.clock.set(NOW + SESSION_SECS);
    assert_code(
        h.token(&first).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );

    // Signing out with a session removes its device: that session and any new one end.
    let second = session(&h, &phone, &voucher).await;
    let got = h
        .json(Method::DELETE, "/v1/holder/credential", Some(&second), None)
        .await;
    assert_eq!(got.0, StatusCode::NO_CONTENT, "{}", got.1);
    assert_code(
        h.token(&second).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let refused = open(&h, phone.session_request(&voucher, &challenge(&h).await)).await;
    assert_code(refused, StatusCode::UNAUTHORIZED, "unauthorized");
    let (_, devices) = h
        .json(Method::GET, "/v1/devices", Some(&credential), None)
        .await;
    assert_eq!(devices, json!([]));
}

async fn a_sign_out_signed_offline_removes_the_device_when_it_arrives(h: Harness) {
    let (credential, voucher) = holder(&h, 0).await;
    let mut phone = TestPhone::new(0x45);
    register(&h, &mut phone, &credential, &voucher).await;
    let mut verifier = terminal_verifier(&h).await;
    let device = phone.device_id.clone().expect("registered");
    let uri = format!("/v1/devices/{device}/sign-out");
    // Signed while offline; it arrives a day later.
    let statement = phone.sign_out(&voucher);
    h.clock.set(NOW + 86_400);

    // Another key's statement is refused and changes nothing.
    let mut stranger = TestPhone::new(0x46);
    stranger.device_id = phone.device_id.clone();
    let forged = stranger.sign_out(&voucher);
    let got = h.json(Method::POST, &uri, None, Some(forged)).await;
    assert_code(got, StatusCode::UNAUTHORIZED, "unauthorized");
    let (_, devices) = h
        .json(Method::GET, "/v1/devices", Some(&credential), None)
        .await;
    assert_eq!(devices.as_array().map(Vec::len), Some(1));

    let got = h
        .json(Method::POST, &uri, None, Some(statement.clone()))
        .await;
    assert_eq!(got.0, StatusCode::NO_CONTENT, "{}", got.1);
    let (_, devices) = h
        .json(Method::GET, "/v1/devices", Some(&credential), None)
        .await;
    assert_eq!(devices, json!([]));
    // Its certificates reach the terminals' status list.
    let now = UnixTime::from_secs(NOW + 86_400);
    let held = verifier.status().expect("held").sequence();
    let update = verifier
        .install_status(&status_list(&h, held).await, now)
        .expect("delta");
    assert_eq!(update.added, 1, "the holder's own certificate");
    // Sent again (a retry after a lost answer): done already.
    let got = h.json(Method::POST, &uri, None, Some(statement)).await;
    assert_eq!(got.0, StatusCode::NO_CONTENT);
    let got = h
        .json(
            Method::POST,
            "/v1/devices/zz/sign-out",
            None,
            Some(json!({
            "voucher_id": voucher, "signature": "AA"})),
        )
        .await;
    assert_code(got, StatusCode::UNAUTHORIZED, "unauthorized");
}

on_both_backends!(
    a_registered_device_key_is_the_phones_login,
    a_challenge_is_answered_once_and_not_late,
    a_session_ends_with_its_time_and_with_its_device,
    a_sign_out_signed_offline_removes_the_device_when_it_arrives,
);
