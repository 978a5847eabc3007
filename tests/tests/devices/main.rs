//! Device-bound codes through the HTTP API (`router(state).oneshot`), on both storage
//! backends: registration with proof of possession, certificates for the holder and each
//! active family member, renewal, removal; revocation reaching the status list on removal,
//! lost phone, suspension and unbinding; settlement of device codes once, and refusal of one
//! accepted after its certificate was revoked.

mod login;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use yibao_issuer::demo::{REGISTRY_HEADER, synthetic_person, synthetic_row};
use yibao_issuer::domain::registry;
use yibao_shared::UnixTime;
use yibao_tests::api::{ADMIN, Harness, NOW, assert_code, code_of, credential_of};
use yibao_tests::on_both_backends;
use yibao_tests::phone::TestPhone;
use yibao_verifier::{Policy, Verifier};

const HOSPITAL: &str = "H11010500001";

async fn holder(h: &Harness, i: usize) -> (String, String) {
    let (status, body) = h.activate(&h.channel, i).await;
    assert!(status.is_success(), "{body}");
    let voucher = body["voucher_id"].as_str().expect("id").to_owned();
    (credential_of(&body), voucher)
}

/// Binds synthetic person `member` to `binder` through the channel (attested: active at once).
async fn bind(h: &Harness, binder: &str, member: usize) -> String {
    let (p, _, _) = synthetic_person(member);
    let body = json!({"name": p.name, "id_number": p.id_number, "relation": "parent",
        "member_attestation": {"real_name": true, "real_person": true, "method": "face"}});
    let key = [("x-channel-key", h.channel.as_str())];
    let (status, got) = h
        .json_with_headers(
            Method::POST,
            "/v1/family/members",
            Some(binder),
            &key,
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{got}");
    got["member"].as_str().expect("member voucher").to_owned()
}

async fn register(h: &Harness, phone: &mut TestPhone, credential: &str, voucher: &str) {
    let body = phone.registration(voucher, NOW);
    let (status, got) = h
        .json(Method::POST, "/v1/devices", Some(credential), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{got}");
    phone.keep(&got);
}

/// A terminal's verifier holding the served bundle and the complete status list.
async fn terminal_verifier(h: &Harness) -> Verifier {
    let root = yibao_keys::KeyDir::new(&h.state.keys_dir)
        .root_public()
        .expect("root");
    let mut verifier = Verifier::new(root, Policy::default());
    let now = UnixTime::from_secs(NOW);
    verifier
        .install_bundle(h.state.keys().bundle_document(), now)
        .expect("bundle");
    let status = status_list(h, 0).await;
    verifier.install_status(&status, now).expect("status list");
    verifier
}

async fn status_list(h: &Harness, since: u64) -> Vec<u8> {
    let (status, body, _) = h
        .raw(
            Method::GET,
            &format!("/v1/status-list?since={since}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    body
}

async fn a_device_gets_certificates_for_itself_and_its_family(h: Harness) {
    let (credential, voucher) = holder(&h, 0).await;
    let member = bind(&h, &credential, 1).await;
    let mut phone = TestPhone::new(0x21);
    register(&h, &mut phone, &credential, &voucher).await;
    assert_eq!(phone.certificates.len(), 2, "{:?}", phone.certificates);
    let own = phone
        .certificates
        .iter()
        .find(|c| c.voucher_id == voucher)
        .expect("own certificate");
    assert_eq!(own.expires_at, NOW + 72 * 3_600);
    assert_eq!(own.relation, None);

    let verifier = terminal_verifier(&h).await;
    let now = UnixTime::from_secs(NOW + 60);
    let token = verifier
        .verify_text(&phone.code(&voucher, NOW + 60), now)
        .expect("own device code verifies");
    assert_eq!(token.voucher_id().to_string(), voucher);
    assert!(token.certificate().is_some());
    let proxied = verifier
        .verify_text(&phone.code(&member, NOW + 60), now)
        .expect("member's device code verifies");
    let proxy = proxied.proxy().expect("proxy part");
    assert_eq!(proxy.binder.to_string(), voucher);

    // Listed; renewal gives new certificates to the same device.
    let (status, list) = h
        .json(Method::GET, "/v1/devices", Some(&credential), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let id = phone.device_id.clone().expect("device id");
    h.clock.set(NOW + 3_600);
    let (status, renewed) = h
        .json(
            Method::POST,
            &format!("/v1/devices/{id}/renew"),
            Some(&credential),
            Some(phone.renewal(&voucher, NOW + 3_600)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    assert_eq!(renewed["device_id"], id.as_str());
    assert_eq!(
        renewed["certificates"][0]["expires_at"].as_u64(),
        Some(NOW + 3_600 + 72 * 3_600)
    );
}

async fn proofs_keys_and_limits_are_checked(h: Harness) {
    let (credential, voucher) = holder(&h, 0).await;
    let phone = TestPhone::new(0x22);
    let post = |body: Value| {
        let credential = credential.clone();
        let h = &h;
        async move {
            h.json(Method::POST, "/v1/devices", Some(&credential), Some(body))
                .await
        }
    };
    // An old proof (a replayed registration) and a proof for another holder are refused.
    let stale = phone.registration(&voucher, NOW - 600);
    assert_code(
        post(stale).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "device-proof-invalid",
    );
    let (_, other_voucher) = holder(&h, 2).await;
    let mut wrong_holder = phone.registration(&other_voucher, NOW);
    assert_code(
        post(wrong_holder.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "device-proof-invalid",
    );
    // A key that is no P-256 point.
    wrong_holder["public_key"] = json!("AAAA");
    assert_code(
        post(wrong_holder).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-device-key",
    );
    // Another phone's key with this phone's proof.
    let mut swapped = phone.registration(&voucher, NOW);
    swapped["public_key"] = TestPhone::new(0x23).registration(&voucher, NOW)["public_key"].clone();
    assert_code(
        post(swapped).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "device-proof-invalid",
    );

    // Five devices; the same key again is the same device; a sixth is refused.
    for seed in 0x30..0x35 {
        let (status, got) = post(TestPhone::new(seed).registration(&voucher, NOW)).await;
        assert_eq!(status, StatusCode::CREATED, "{got}");
    }
    let (status, _) = post(TestPhone::new(0x30).registration(&voucher, NOW)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_code(
        post(TestPhone::new(0x35).registration(&voucher, NOW)).await,
        StatusCode::CONFLICT,
        "device-limit-reached",
    );
    // Another holder's device cannot be renewed or removed.
    let (other, _) = holder(&h, 3).await;
    let (_, list) = h
        .json(Method::GET, "/v1/devices", Some(&credential), None)
        .await;
    let id = list[0]["device_id"].as_str().expect("id");
    let got = h
        .json(
            Method::DELETE,
            &format!("/v1/devices/{id}"),
            Some(&other),
            None,
        )
        .await;
    assert_code(got, StatusCode::NOT_FOUND, "not-found");
}

async fn removal_loss_suspension_and_unbinding_revoke_certificates(h: Harness) {
    let (credential, voucher) = holder(&h, 0).await;
    let member = bind(&h, &credential, 1).await;
    let mut phone = TestPhone::new(0x24);
    register(&h, &mut phone, &credential, &voucher).await;
    let mut second = TestPhone::new(0x25);
    register(&h, &mut second, &credential, &voucher).await;
    let mut verifier = terminal_verifier(&h).await;
    let now = UnixTime::from_secs(NOW + 60);
    assert!(
        verifier
            .verify_text(&phone.code(&member, NOW + 60), now)
            .is_ok()
    );

    // Unbinding: the member's certificates on the binder's phones are revoked.
    let got = h
        .json(
            Method::DELETE,
            &format!("/v1/family/members/{member}"),
            Some(&credential),
            None,
        )
        .await;
    assert!(got.0.is_success(), "{}", got.1);
    let held = verifier.status().expect("held").sequence();
    let delta = status_list(&h, held).await;
    let update = verifier.install_status(&delta, now).expect("delta");
    assert_eq!(update.added, 2, "one member certificate per phone");
    let refused = verifier
        .verify_text(&phone.code(&member, NOW + 60), now)
        .expect_err("revoked");
    assert_eq!(refused.code(), "certificate-revoked");
    // The holder's own code is untouched.
    assert!(
        verifier
            .verify_text(&phone.code(&voucher, NOW + 60), now)
            .is_ok()
    );

    // Removing one device revokes its certificates only.
    let id = phone.device_id.clone().expect("id");
    let (status, _) = h
        .json(
            Method::DELETE,
            &format!("/v1/devices/{id}"),
            Some(&credential),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let delta = status_list(&h, verifier.status().expect("held").sequence()).await;
    verifier.install_status(&delta, now).expect("delta");
    let refused = verifier
        .verify_text(&phone.code(&voucher, NOW + 60), now)
        .expect_err("removed device");
    assert_eq!(refused.code(), "certificate-revoked");
    assert!(
        verifier
            .verify_text(&second.code(&voucher, NOW + 60), now)
            .is_ok()
    );

    // Suspension revokes the voucher's certificates on every device.
    let got = h
        .json(
            Method::POST,
            &format!("/v1/admin/vouchers/{voucher}/suspend"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(got.0, StatusCode::NO_CONTENT, "{}", got.1);
    let delta = status_list(&h, verifier.status().expect("held").sequence()).await;
    verifier.install_status(&delta, now).expect("delta");
    let refused = verifier
        .verify_text(&second.code(&voucher, NOW + 60), now)
        .expect_err("suspended");
    assert_eq!(refused.code(), "certificate-revoked");
    // A suspended holder cannot get new certificates either.
    let got = h
        .json(
            Method::POST,
            "/v1/devices",
            Some(&credential),
            Some(TestPhone::new(0x26).registration(&voucher, NOW)),
        )
        .await;
    assert_eq!(code_of(&got), "voucher-suspended", "{}", got.1);
}

async fn a_lost_phone_is_revoked_by_deactivation(h: Harness) {
    let (credential, voucher) = holder(&h, 0).await;
    let mut phone = TestPhone::new(0x27);
    register(&h, &mut phone, &credential, &voucher).await;
    let mut verifier = terminal_verifier(&h).await;
    let (p, _, _) = synthetic_person(0);
    let got = h
        .json(
            Method::POST,
            "/v1/deactivations",
            Some(&h.channel),
            Some(json!({"name": p.name, "id_number": p.id_number})),
        )
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let now = UnixTime::from_secs(NOW + 60);
    // A terminal that has not synced still accepts (the documented residual risk) …
    assert!(
        verifier
            .verify_text(&phone.code(&voucher, NOW + 60), now)
            .is_ok()
    );
    // … one that has synced refuses.
    let delta = status_list(&h, verifier.status().expect("held").sequence()).await;
    verifier.install_status(&delta, now).expect("delta");
    let refused = verifier
        .verify_text(&phone.code(&voucher, NOW + 60), now)
        .expect_err("lost phone");
    assert_eq!(refused.code(), "certificate-revoked");
}

async fn settlement_takes_a_device_code_once_and_not_after_its_revocation(h: Harness) {
    let body = json!({"code": HOSPITAL, "name": "测试医院", "kind": "hospital",
        "region": "110105", "accepts_voucher": true});
    let got = h
        .json(
            Method::POST,
            "/v1/admin/institutions",
            Some(ADMIN),
            Some(body),
        )
        .await;
    assert!(got.0.is_success(), "{}", got.1);
    let uri = format!("/v1/admin/institutions/{HOSPITAL}/terminals");
    let (_, terminal) = h
        .json(Method::POST, &uri, Some(ADMIN), Some(json!({"id": "h-1"})))
        .await;
    let terminal = terminal["credential"]
        .as_str()
        .expect("credential")
        .to_owned();
    let (credential, voucher) = holder(&h, 0).await;
    let mut phone = TestPhone::new(0x28);
    register(&h, &mut phone, &credential, &voucher).await;
    let item = |code: &str, at: u64| {
        json!({"code": code, "institution": HOSPITAL, "operator": "cashier-1",
            "business_type": "01301", "verified_at": at, "offline": true})
    };
    let before = phone.code(&voucher, NOW + 30);
    let after = phone.code(&voucher, NOW + 200);
    let hand_off = |items: Vec<Value>| {
        let terminal = terminal.clone();
        let h = &h;
        async move {
            h.json(
                Method::POST,
                "/v1/handoffs",
                Some(&terminal),
                Some(json!({ "handoffs": items })),
            )
            .await
        }
    };
    // Revoked at NOW + 100 (the phone was removed).
    h.clock.set(NOW + 100);
    let id = phone.device_id.clone().expect("id");
    let (status, _) = h
        .json(
            Method::DELETE,
            &format!("/v1/devices/{id}"),
            Some(&credential),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    h.clock.set(NOW + 300);
    let (status, got) = hand_off(vec![
        item(&before, NOW + 40),
        item(&before, NOW + 40),
        item(&after, NOW + 210),
    ])
    .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    let results = &got["results"];
    assert_eq!(results[0]["status"], "settled", "{got}");
    // The same presentation again is the same settlement, not a second one.
    assert_eq!(results[1]["reference"], results[0]["reference"], "{got}");
    assert_eq!(results[2]["code"], "certificate-revoked", "{got}");
}

/// Imports synthetic person `i`'s row with `status`: what the import did.
async fn reimport(h: &Harness, i: usize, status: &str) -> registry::ImportReport {
    let csv = format!("{REGISTRY_HEADER}{}", synthetic_row(i, status));
    registry::import(
        csv.as_bytes(),
        registry::Format::Csv,
        &*h.state.store,
        &h.state.index,
        UnixTime::from_secs(NOW + 30),
        |_| {},
    )
    .await
    .expect("re-import")
}

async fn a_person_the_registry_no_longer_insures_keeps_no_offline_code(h: Harness) {
    // Person 0 holds a phone and acts for person 1, who has a phone of their own.
    let (binder, binder_voucher) = holder(&h, 0).await;
    let member = bind(&h, &binder, 1).await;
    let (member_credential, member_voucher) = holder(&h, 1).await;
    assert_eq!(member_voucher, member);
    let mut binder_phone = TestPhone::new(0x31);
    register(&h, &mut binder_phone, &binder, &binder_voucher).await;
    let mut member_phone = TestPhone::new(0x32);
    register(&h, &mut member_phone, &member_credential, &member).await;
    let mut verifier = terminal_verifier(&h).await;
    let now = UnixTime::from_secs(NOW + 60);
    for code in [
        binder_phone.code(&member, NOW + 60),
        member_phone.code(&member, NOW + 60),
    ] {
        assert!(verifier.verify_text(&code, now).is_ok());
    }

    // The registry now says person 1 left the scheme.
    let report = reimport(&h, 1, "terminated").await;
    assert_eq!(
        (report.vouchers_stopped, report.certificates_revoked),
        (1, 2),
        "the member's own certificate and the proxy one: {report:?}"
    );
    let delta = status_list(&h, verifier.status().expect("held").sequence()).await;
    assert_eq!(
        verifier.install_status(&delta, now).expect("delta").added,
        2
    );
    for code in [
        binder_phone.code(&member, NOW + 60),
        member_phone.code(&member, NOW + 60),
    ] {
        let refused = verifier.verify_text(&code, now).expect_err("revoked");
        assert_eq!(refused.code(), "certificate-revoked");
    }
    // The binder's own code is untouched; a second import of the same row revokes nothing.
    assert!(
        verifier
            .verify_text(&binder_phone.code(&binder_voucher, NOW + 60), now)
            .is_ok()
    );
    assert_eq!(reimport(&h, 1, "terminated").await.certificates_revoked, 0);
    // No new certificate while not insured; insured again, the phone is certified again.
    let got = h
        .json(
            Method::POST,
            "/v1/devices",
            Some(&member_credential),
            Some(TestPhone::new(0x33).registration(&member, NOW)),
        )
        .await;
    assert_eq!(code_of(&got), "not-insured", "{}", got.1);
    reimport(&h, 1, "insured").await;
    let mut again = TestPhone::new(0x34);
    register(&h, &mut again, &member_credential, &member).await;
    assert!(
        verifier
            .verify_text(&again.code(&member, NOW + 60), now)
            .is_ok()
    );
}

on_both_backends!(
    a_person_the_registry_no_longer_insures_keeps_no_offline_code,
    a_device_gets_certificates_for_itself_and_its_family,
    proofs_keys_and_limits_are_checked,
    removal_loss_suspension_and_unbinding_revoke_certificates,
    a_lost_phone_is_revoked_by_deactivation,
    settlement_takes_a_device_code_once_and_not_after_its_revocation,
);
