//! Settlement through the HTTP API (`router(state).oneshot`), on both storage backends:
//! handoffs settle each token once across terminals, double use is refused and recorded,
//! online decode gives the offline verdict, completion checks its sums, and expenses are
//! shown to the holder and an active binder only; the hospital's door (person information,
//! 家庭共济) in `hospital`.

mod hospital;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use yibao_issuer::demo::synthetic_person;
use yibao_tests::api::{ADMIN, Harness, NOW, assert_code, code_of, credential_of};
use yibao_tests::on_both_backends;

pub(crate) const HOSPITAL: &str = "H11010500001";
pub(crate) const PHARMACY: &str = "P11010500002";

/// Settlement calls a test drives.
pub(crate) trait SettlementCalls {
    /// Registers the hospital (with terminals `h-1`, `h-2`) and the pharmacy (`p-1`);
    /// returns the three terminal credentials.
    async fn terminals(&self) -> [String; 3];
    /// Activates synthetic person `i`: (credential, voucher id).
    async fn holder(&self, i: usize) -> (String, String);
    /// A fresh code for the holder.
    async fn code(&self, credential: &str) -> String;
    /// Hands off `items` as `terminal`.
    async fn hand_off(&self, terminal: &str, items: Vec<Value>) -> (StatusCode, Value);
}

impl SettlementCalls for Harness {
    async fn terminals(&self) -> [String; 3] {
        for (code, kind) in [(HOSPITAL, "hospital"), (PHARMACY, "pharmacy")] {
            let body = json!({"code": code, "name": format!("测试{kind}"), "kind": kind,
                "region": "110105", "accepts_voucher": true});
            let (status, body) = self
                .json(
                    Method::POST,
                    "/v1/admin/institutions",
                    Some(ADMIN),
                    Some(body),
                )
                .await;
            assert!(status.is_success(), "{body}");
        }
        let mut out = Vec::new();
        for (institution, id) in [(HOSPITAL, "h-1"), (HOSPITAL, "h-2"), (PHARMACY, "p-1")] {
            let uri = format!("/v1/admin/institutions/{institution}/terminals");
            let (status, body) = self
                .json(Method::POST, &uri, Some(ADMIN), Some(json!({"id": id})))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            out.push(body["credential"].as_str().expect("credential").to_owned());
        }
        [out[0].clone(), out[1].clone(), out[2].clone()]
    }

    async fn holder(&self, i: usize) -> (String, String) {
        let (status, body) = self.activate(&self.channel, i).await;
        assert!(status.is_success(), "{body}");
        let voucher = body["voucher_id"].as_str().expect("id").to_owned();
        (credential_of(&body), voucher)
    }

    async fn code(&self, credential: &str) -> String {
        let (status, body) = self.token(credential).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["code"].as_str().expect("code").to_owned()
    }

    async fn hand_off(&self, terminal: &str, items: Vec<Value>) -> (StatusCode, Value) {
        self.json(
            Method::POST,
            "/v1/handoffs",
            Some(terminal),
            Some(json!({ "handoffs": items })),
        )
        .await
    }
}

pub(crate) fn item(code: &str, institution: &str, verified_at: u64) -> Value {
    json!({"code": code, "institution": institution, "operator": "cashier-1",
        "business_type": "01301", "verified_at": verified_at, "offline": true})
}

async fn each_token_settles_once_across_terminals(h: Harness) {
    let [h1, h2, _] = h.terminals().await;
    let (holder, voucher) = h.holder(0).await;
    let code = h.code(&holder).await;

    let (status, first) = h.hand_off(&h1, vec![item(&code, HOSPITAL, NOW)]).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let result = &first["results"][0];
    assert_eq!(result["status"], "settled", "{first}");
    let reference = result["reference"].as_str().expect("reference").to_owned();
    assert!(reference.len() <= 40, "{reference}");

    // A retry from the same terminal (lost reply) gets the same answer.
    let (_, again) = h.hand_off(&h1, vec![item(&code, HOSPITAL, NOW)]).await;
    assert_eq!(again["results"][0]["reference"], reference.as_str());

    // Another terminal, twice (it retries too): refused both times, recorded once.
    for _ in 0..2 {
        let (status, other) = h.hand_off(&h2, vec![item(&code, HOSPITAL, NOW + 1)]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(other["results"][0]["status"], "double-use", "{other}");
        assert_eq!(other["results"][0]["code"], "double-use");
        assert!(other["results"][0].get("reference").is_none());
    }
    let uri = format!("/v1/admin/vouchers/{voucher}/settlements");
    let (status, audit) = h.json(Method::GET, &uri, Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    assert_eq!(audit["settlements"].as_array().map(Vec::len), Some(1));
    assert_eq!(audit["settlements"][0]["reference"], reference.as_str());
    assert_eq!(audit["settlements"][0]["terminal"], "h-1");
    let double_uses = audit["double_uses"].as_array().expect("list");
    assert_eq!(double_uses.len(), 1, "{audit}");
    assert_eq!(double_uses[0]["settled_by"], "h-1");
    assert_eq!(double_uses[0]["terminal"], "h-2");
    assert_eq!(double_uses[0]["reference"], reference.as_str());
}

async fn a_batch_answers_each_handoff_in_order(h: Harness) {
    let [h1, _, _] = h.terminals().await;
    let (holder, _) = h.holder(0).await;
    let good = h.code(&holder).await;
    let other = h.code(&holder).await;
    let mut forged = good.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'0' { b'1' } else { b'0' };
    let forged = String::from_utf8(forged).expect("digits");
    let mut bad_type = item(&other, HOSPITAL, NOW);
    bad_type["business_type"] = json!("01399");

    let (status, answer) = h
        .hand_off(
            &h1,
            vec![
                item(&good, HOSPITAL, NOW),
                item(&forged, HOSPITAL, NOW),
                bad_type,
                item(&other, PHARMACY, NOW),
                item(&other, HOSPITAL, NOW + 3_600),
                item(&other, HOSPITAL, NOW),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let codes: Vec<&str> = answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            r["code"]
                .as_str()
                .unwrap_or(r["status"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(
        codes,
        [
            "settled",
            "bad-signature",
            "invalid-business-type",
            "institution-mismatch",
            // "Verified" an hour ahead of the issuer's clock: the terminal's clock is wrong,
            // which is what it is told (not that the code had expired by then).
            "verified-in-future",
            "settled",
        ]
    );

    let (status, empty) = h.hand_off(&h1, vec![]).await;
    assert_eq!(
        (status, code_of(&(status, empty))),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid-field")
    );
    let got = h
        .json(
            Method::POST,
            "/v1/handoffs",
            Some("ybt_not-a-terminal"),
            Some(json!({"handoffs": []})),
        )
        .await;
    assert_code(got, StatusCode::UNAUTHORIZED, "unauthorized");
}

async fn late_handoffs_are_bounded_by_the_window(h: Harness) {
    let [h1, _, _] = h.terminals().await;
    let (holder, _) = h.holder(0).await;
    let late = h.code(&holder).await;
    let too_late = h.code(&holder).await;
    let future = h.code(&holder).await;

    // Verified while valid, handed off six days later (a long outage): settled.
    h.clock.set(NOW + 6 * 86_400);
    let (_, answer) = h.hand_off(&h1, vec![item(&late, HOSPITAL, NOW + 10)]).await;
    assert_eq!(answer["results"][0]["status"], "settled", "{answer}");

    // Eight days later: past the seven-day window.
    h.clock.set(NOW + 8 * 86_400);
    let (_, answer) = h
        .hand_off(&h1, vec![item(&too_late, HOSPITAL, NOW + 10)])
        .await;
    assert_eq!(answer["results"][0]["code"], "handoff-too-late", "{answer}");

    // Verified slightly ahead of the issuer's clock, within the leeway: settled.
    h.clock.set(NOW);
    let (_, answer) = h
        .hand_off(&h1, vec![item(&future, HOSPITAL, NOW + 20)])
        .await;
    assert_eq!(
        answer["results"][0]["status"], "settled",
        "within leeway: {answer}"
    );
    // Beyond the leeway the terminal's clock is wrong and its timing cannot be taken.
    let ahead = h.code(&holder).await;
    h.clock.set(NOW - 100);
    let (_, answer) = h
        .hand_off(&h1, vec![item(&ahead, HOSPITAL, NOW + 10)])
        .await;
    assert_eq!(
        answer["results"][0]["code"], "verified-in-future",
        "{answer}"
    );
}

async fn decode(h: &Harness, terminal: &str, institution: &str, code: &str) -> (StatusCode, Value) {
    let body = json!({"code": code, "institution": institution, "operator": "op-9",
        "business_type": "01101"});
    h.json(Method::POST, "/v1/decode", Some(terminal), Some(body))
        .await
}

async fn online_decode_gives_the_offline_verdict(h: Harness) {
    let [h1, h2, p1] = h.terminals().await;
    let (holder, voucher) = h.holder(0).await;
    let code = h.code(&holder).await;
    let (status, first) = decode(&h, &h1, HOSPITAL, &code).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["accepted"], true, "{first}");
    assert_eq!(first["voucher_id"], voucher.as_str());
    assert!(
        first["claims"]["masked_name"]
            .as_str()
            .is_some_and(|n| n.contains('*'))
    );
    let reference = first["reference"].as_str().expect("reference").to_owned();

    let (_, again) = decode(&h, &h1, HOSPITAL, &code).await;
    assert_eq!(
        (again["accepted"].clone(), again["code"].clone()),
        (json!(false), json!("replayed"))
    );
    assert_eq!(again["reason_zh"], "医保码已使用");
    assert_eq!(again["reference"], reference.as_str());

    let (_, elsewhere) = decode(&h, &h2, HOSPITAL, &code).await;
    assert_eq!(elsewhere["code"], "double-use", "{elsewhere}");

    let (_, garbage) = decode(&h, &h1, HOSPITAL, "424000000000000000000012340000").await;
    assert_eq!(garbage["accepted"], false);
    assert!(
        garbage["reason_zh"].as_str().is_some_and(|r| !r.is_empty()),
        "{garbage}"
    );

    assert_code(
        decode(&h, &p1, HOSPITAL, &code).await,
        StatusCode::FORBIDDEN,
        "institution-mismatch",
    );
    let body = json!({"code": code, "institution": HOSPITAL, "operator": "op-9",
        "business_type": "99999"});
    assert_code(
        h.json(Method::POST, "/v1/decode", Some(&h1), Some(body))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-business-type",
    );
}

pub(crate) fn amounts(total: u64, fund: u64, account: u64, cash: u64) -> Value {
    json!({"total_fen": total, "fund_fen": fund, "account_fen": account, "cash_fen": cash})
}

async fn completion_checks_sums_and_institution(h: Harness) {
    let [h1, h2, p1] = h.terminals().await;
    let (holder, _) = h.holder(0).await;
    let code = h.code(&holder).await;
    let (_, answer) = h.hand_off(&h1, vec![item(&code, HOSPITAL, NOW)]).await;
    let reference = answer["results"][0]["reference"]
        .as_str()
        .expect("ref")
        .to_owned();
    let uri = format!("/v1/settlements/{reference}/complete");

    assert_code(
        h.json(
            Method::POST,
            &uri,
            Some(&h1),
            Some(amounts(100, 50, 30, 19)),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "amounts-inconsistent",
    );
    assert_code(
        h.json(
            Method::POST,
            &uri,
            Some(&p1),
            Some(amounts(100, 50, 30, 20)),
        )
        .await,
        StatusCode::NOT_FOUND,
        "settlement-not-found",
    );
    // Any terminal of the settling institution completes it; repeating is harmless.
    let (status, done) = h
        .json(
            Method::POST,
            &uri,
            Some(&h2),
            Some(amounts(100, 50, 30, 20)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["amounts"]["cash_fen"], 20);
    let (status, _) = h
        .json(
            Method::POST,
            &uri,
            Some(&h1),
            Some(amounts(100, 50, 30, 20)),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_code(
        h.json(
            Method::POST,
            &uri,
            Some(&h1),
            Some(amounts(200, 100, 80, 20)),
        )
        .await,
        StatusCode::CONFLICT,
        "settlement-completed",
    );
    assert_code(
        h.json(
            Method::POST,
            "/v1/settlements/yb0000/complete",
            Some(&h1),
            Some(amounts(1, 1, 0, 0)),
        )
        .await,
        StatusCode::NOT_FOUND,
        "settlement-not-found",
    );
}

async fn expenses_for_holder_and_binder_not_a_stranger(h: Harness) {
    let [h1, _, p1] = h.terminals().await;
    let (member, member_voucher) = h.holder(0).await;
    let (binder, _) = h.holder(1).await;
    let (stranger, _) = h.holder(2).await;
    let (p, _, _) = synthetic_person(0);
    let bind = json!({"name": p.name, "id_number": p.id_number, "relation": "parent",
        "member_attestation": {"real_name": true, "real_person": true, "method": "face"}});
    let (status, link) = h
        .json_with_headers(
            Method::POST,
            "/v1/family/members",
            Some(&binder),
            &[("x-channel-key", h.channel.as_str())],
            Some(bind),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{link}");

    // A hospital visit and a pharmacy purchase by the member, one shown by the binder.
    let own = h.code(&member).await;
    let uri = format!("/v1/family/members/{member_voucher}/token");
    let (_, proxy) = h.json(Method::GET, &uri, Some(&binder), None).await;
    let proxy = proxy["code"].as_str().expect("code").to_owned();
    for (terminal, institution, code, bill) in [
        (&h1, HOSPITAL, &own, amounts(10_000, 7_000, 2_000, 1_000)),
        (&p1, PHARMACY, &proxy, amounts(3_550, 0, 3_000, 550)),
    ] {
        let (_, answer) = h
            .hand_off(terminal, vec![item(code, institution, NOW)])
            .await;
        let reference = answer["results"][0]["reference"]
            .as_str()
            .expect("ref")
            .to_owned();
        let uri = format!("/v1/settlements/{reference}/complete");
        let (status, body) = h.json(Method::POST, &uri, Some(terminal), Some(bill)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // One more visit, handed off but not completed: not an expense yet.
    let pending = h.code(&member).await;
    h.hand_off(&h1, vec![item(&pending, HOSPITAL, NOW)]).await;

    let (status, mine) = h
        .json(Method::GET, "/v1/expenses?year=2026", Some(&member), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(2), "{mine}");
    assert_eq!(mine["total"]["total_fen"], 13_550);
    assert_eq!(mine["total"]["cash_fen"], 1_550);
    let kinds: Vec<(String, u64)> = mine["by_kind"]
        .as_array()
        .expect("kinds")
        .iter()
        .map(|k| {
            (
                k["institution_kind"].as_str().unwrap_or("").to_owned(),
                k["amounts"]["total_fen"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("hospital".to_owned(), 10_000),
            ("pharmacy".to_owned(), 3_550)
        ]
    );
    assert_eq!(
        mine["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|i| i["shown_by_family"] == true)
            .count(),
        1
    );

    let uri = format!("/v1/expenses?voucher={member_voucher}&year=2026");
    let (status, theirs) = h.json(Method::GET, &uri, Some(&binder), None).await;
    assert_eq!(status, StatusCode::OK, "{theirs}");
    assert_eq!(theirs["total"], mine["total"]);
    assert_code(
        h.json(Method::GET, &uri, Some(&stranger), None).await,
        StatusCode::FORBIDDEN,
        "not-bound",
    );
    // Another year is empty; an absurd year is refused.
    let (_, last_year) = h
        .json(Method::GET, "/v1/expenses?year=2025", Some(&member), None)
        .await;
    assert_eq!(last_year["items"], json!([]));
    assert_code(
        h.json(Method::GET, "/v1/expenses?year=1900", Some(&member), None)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-field",
    );
}

on_both_backends!(
    each_token_settles_once_across_terminals,
    a_batch_answers_each_handoff_in_order,
    late_handoffs_are_bounded_by_the_window,
    online_decode_gives_the_offline_verdict,
    completion_checks_sums_and_institution,
    expenses_for_holder_and_binder_not_a_stranger,
);
