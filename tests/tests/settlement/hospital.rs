//! The hospital's door through the HTTP API, on both backends: person information (1101) for
//! the settling institution only, within its window, for a voucher not suspended, every read
//! shown to the holder; 家庭共济 authorised by an employee-insured owner, listed to the
//! settling side, and charged at completion only when it was active at verification.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use yibao_issuer::demo::synthetic_person;
use yibao_issuer::domain::settlement::person_info::{MAX_IDENTITY_READS, PERSON_INFO_WINDOW_SECS};
use yibao_tests::api::{ADMIN, Harness, NOW, assert_code};
use yibao_tests::on_both_backends;

use super::{HOSPITAL, SettlementCalls, item};

/// Hands `code` off at `terminal` of `institution`, verified at `at`; the settled result.
async fn settled(h: &Harness, terminal: &str, institution: &str, code: &str, at: u64) -> Value {
    let (status, answer) = h
        .hand_off(terminal, vec![item(code, institution, at)])
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["results"][0]["status"], "settled", "{answer}");
    answer["results"][0].clone()
}

fn reference_of(result: &Value) -> String {
    result["reference"].as_str().expect("reference").to_owned()
}

async fn person_info(h: &Harness, terminal: &str, reference: &str) -> (StatusCode, Value) {
    let body = json!({"mdtrt_cert_type": "01", "mdtrt_cert_no": reference, "card_sn": "",
        "begntime": "", "psn_cert_type": "", "certno": "", "psn_name": ""});
    h.json(Method::POST, "/v1/person-info", Some(terminal), Some(body))
        .await
}

async fn person_info_goes_to_the_settling_institution_alone(h: Harness) {
    let [h1, h2, p1] = h.terminals().await;
    let (holder, voucher) = h.holder(0).await;
    let (stranger, _) = h.holder(2).await;
    let reference = reference_of(&settled(&h, &h1, HOSPITAL, &h.code(&holder).await, NOW).await);

    // Another institution learns nothing, not even that the reference exists.
    let not_found = |got| assert_code(got, StatusCode::NOT_FOUND, "settlement-not-found");
    not_found(person_info(&h, &p1, &reference).await);
    not_found(person_info(&h, &h1, "yb0011223344556677").await);
    let other_type = json!({"mdtrt_cert_type": "02", "mdtrt_cert_no": reference});
    assert_code(
        h.json(Method::POST, "/v1/person-info", Some(&h1), Some(other_type))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-field",
    );

    // Any terminal of the settling institution reads it, in the national names and codes.
    let (status, info) = person_info(&h, &h2, &reference).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    let (person, birth, region) = synthetic_person(0);
    let base = &info["baseinfo"];
    assert_eq!(base["certno"], person.id_number.as_str());
    assert_eq!(base["psn_name"], person.name.as_str());
    assert_eq!(base["psn_cert_type"], "01");
    assert_eq!(base["gend"], "2", "synthetic person 0 is female");
    assert_eq!(base["brdy"], birth.to_string());
    assert_eq!(base["psn_no"], "DEMO000000");
    assert!(base["age"].as_u64().is_some_and(|a| a > 80), "{info}");
    let insured = &info["insuinfo"][0];
    assert_eq!(
        insured["insutype"], "310",
        "synthetic person 0 is employee-insured"
    );
    assert_eq!(insured["psn_insu_stas"], "1");
    assert_eq!(insured["insuplc_admdvs"], region);
    assert_eq!(insured["cvlserv_flag"], "0");
    assert_eq!(info["mulaid_payers"], json!([]));

    // The holder sees who read it (the refused calls read nothing); a stranger sees nothing.
    let (status, reads) = h
        .json(Method::GET, "/v1/identity-reads", Some(&holder), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{reads}");
    let reads = reads["reads"].as_array().expect("reads").clone();
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(reads[0]["institution"], HOSPITAL);
    assert_eq!(reads[0]["reference"], reference.as_str());
    assert!(reads[0]["institution_name"].is_string());
    let theirs = format!("/v1/identity-reads?voucher={voucher}");
    assert_code(
        h.json(Method::GET, &theirs, Some(&stranger), None).await,
        StatusCode::FORBIDDEN,
        "not-bound",
    );
    // The operator's audit carries each read with its terminal.
    let uri = format!("/v1/admin/vouchers/{voucher}/settlements");
    let (_, audit) = h.json(Method::GET, &uri, Some(ADMIN), None).await;
    assert_eq!(
        audit["settlements"][0]["identity_reads"][0]["terminal"],
        "h-2"
    );

    // Reads are capped per visit.
    for _ in 1..MAX_IDENTITY_READS {
        assert_eq!(person_info(&h, &h1, &reference).await.0, StatusCode::OK);
    }
    assert_code(
        person_info(&h, &h1, &reference).await,
        StatusCode::CONFLICT,
        "identity-reads-exhausted",
    );
}

async fn person_info_has_a_window_and_stops_at_suspension(h: Harness) {
    let [h1, _, _] = h.terminals().await;
    let (holder, voucher) = h.holder(3).await;
    let early = reference_of(&settled(&h, &h1, HOSPITAL, &h.code(&holder).await, NOW).await);
    let late = reference_of(&settled(&h, &h1, HOSPITAL, &h.code(&holder).await, NOW).await);

    h.clock.set(NOW + PERSON_INFO_WINDOW_SECS);
    assert_eq!(person_info(&h, &h1, &early).await.0, StatusCode::OK);
    h.clock.set(NOW + PERSON_INFO_WINDOW_SECS + 1);
    assert_code(
        person_info(&h, &h1, &early).await,
        StatusCode::FORBIDDEN,
        "person-info-window-closed",
    );

    h.clock.set(NOW + 60);
    let suspend = format!("/v1/admin/vouchers/{voucher}/suspend");
    let (status, _, _) = h.raw(Method::POST, &suspend, Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_code(
        person_info(&h, &h1, &late).await,
        StatusCode::FORBIDDEN,
        "voucher-suspended",
    );
}

/// Synthetic people: 3 and 6 are employee-insured, 1 and 4 resident.
const PAYER: usize = 3;
const MEMBER: usize = 1;

/// `payer` authorises synthetic person `member` (in person: the channel attests the member's
/// real-person check, so it is active at once).
async fn share(h: &Harness, payer: &str, member: usize) -> (StatusCode, Value) {
    let (p, _, _) = synthetic_person(member);
    let body = json!({"name": p.name, "id_number": p.id_number, "relation": "parent",
        "member_attestation": {"real_name": true, "real_person": true, "method": "face"}});
    h.json_with_headers(
        Method::POST,
        "/v1/account-shares/members",
        Some(payer),
        &[("x-channel-key", h.channel.as_str())],
        Some(body),
    )
    .await
}

/// 2207's split in yuan, with a mutual-aid part paid by `payer`.
fn split_2207(payer: &str) -> Value {
    json!({"medfee_sumamt": 100.00, "fund_pay_sumamt": 60.00, "acct_pay": 0,
        "acct_mulaid_pay": 30.00, "psn_cash_pay": 10.00, "mutual_aid_payer": payer})
}

async fn complete(
    h: &Harness,
    terminal: &str,
    reference: &str,
    body: Value,
) -> (StatusCode, Value) {
    let uri = format!("/v1/settlements/{reference}/complete");
    h.json(Method::POST, &uri, Some(terminal), Some(body)).await
}

async fn mutual_aid_is_charged_only_as_authorised(h: Harness) {
    let [h1, _, _] = h.terminals().await;
    let (payer, payer_voucher) = h.holder(PAYER).await;
    let (member, member_voucher) = h.holder(MEMBER).await;
    let (stranger, stranger_voucher) = h.holder(6).await;

    // Only employee insurance has a personal account to share.
    assert_code(
        share(&h, &member, 4).await,
        StatusCode::FORBIDDEN,
        "account-share-needs-employee",
    );
    let (status, link) = share(&h, &payer, MEMBER).await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    let (_, payers) = h
        .json(
            Method::GET,
            "/v1/account-shares/payers",
            Some(&member),
            None,
        )
        .await;
    assert_eq!(payers[0]["binder"], payer_voucher.as_str(), "{payers}");
    assert_eq!(payers[0]["status"], "active");
    // Sharing an account is not showing a code.
    let uri = format!("/v1/family/members/{member_voucher}/token");
    assert_code(
        h.json(Method::GET, &uri, Some(&payer), None).await,
        StatusCode::FORBIDDEN,
        "not-bound",
    );

    // The settling side learns who may pay from the person information (and decode).
    let before_end = h.code(&member).await;
    let result = settled(&h, &h1, HOSPITAL, &h.code(&member).await, NOW).await;
    assert!(
        result.get("mulaid_payers").is_none(),
        "handoffs answer the outbox only"
    );
    let reference = reference_of(&result);
    let (_, info) = person_info(&h, &h1, &reference).await;
    let payer_seen = &info["mulaid_payers"][0];
    assert_eq!(payer_seen["voucher_id"], payer_voucher.as_str(), "{info}");
    assert!(
        payer_seen["masked_name"]
            .as_str()
            .is_some_and(|m| m.contains('*')),
        "{info}"
    );
    assert_eq!(payer_seen["relation"], "parent");

    // A payer who never authorised the member, or the member themselves, is refused.
    for wrong in [&stranger_voucher, &member_voucher] {
        assert_code(
            complete(&h, &h1, &reference, split_2207(wrong)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "mutual-aid-not-authorised",
        );
    }
    let mut unnamed = split_2207(&payer_voucher);
    unnamed
        .as_object_mut()
        .map(|o| o.remove("mutual_aid_payer"));
    assert_code(
        complete(&h, &h1, &reference, unnamed).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "amounts-inconsistent",
    );
    let (status, done) = complete(&h, &h1, &reference, split_2207(&payer_voucher)).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["amounts"]["mutual_aid_fen"], 3_000);
    assert_eq!(done["amounts"]["total_fen"], 10_000);
    // Replayed: the same answer; other amounts: refused.
    let (status, again) = complete(&h, &h1, &reference, split_2207(&payer_voucher)).await;
    assert_eq!(
        (status, &again["amounts"]),
        (StatusCode::OK, &done["amounts"])
    );
    let mut other = split_2207(&payer_voucher);
    other["acct_mulaid_pay"] = json!(20.00);
    other["psn_cash_pay"] = json!(20.00);
    assert_code(
        complete(&h, &h1, &reference, other).await,
        StatusCode::CONFLICT,
        "settlement-completed",
    );

    // Both sides see it in their expenses.
    let (_, mine) = h
        .json(Method::GET, "/v1/expenses?year=2026", Some(&member), None)
        .await;
    assert_eq!(
        mine["items"][0]["amounts"]["mutual_aid_fen"], 3_000,
        "{mine}"
    );
    assert!(
        mine["items"][0]["mutual_aid_payer_name"].is_string(),
        "{mine}"
    );
    let (_, paid) = h
        .json(Method::GET, "/v1/expenses?year=2026", Some(&payer), None)
        .await;
    assert_eq!(paid["aid_given_fen"], 3_000, "{paid}");
    assert_eq!(paid["aid_given"][0]["member"], member_voucher.as_str());
    assert_eq!(paid["aid_given"][0]["reference"], reference.as_str());
    assert_eq!(
        paid["total"]["total_fen"], 0,
        "the payer's own visits are apart"
    );
    let (_, nothing) = h
        .json(Method::GET, "/v1/expenses?year=2026", Some(&stranger), None)
        .await;
    assert_eq!(nothing["aid_given"], json!([]));

    // The member ends it: at once for codes verified later, not for a visit verified before.
    h.clock.set(NOW + 10);
    let uri = format!("/v1/account-shares/payers/{payer_voucher}");
    let (status, _, _) = h.raw(Method::DELETE, &uri, Some(&member), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let after = settled(&h, &h1, HOSPITAL, &h.code(&member).await, NOW + 10).await;
    let (_, info) = person_info(&h, &h1, &reference_of(&after)).await;
    assert_eq!(info["mulaid_payers"], json!([]), "{info}");
    assert_code(
        complete(&h, &h1, &reference_of(&after), split_2207(&payer_voucher)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "mutual-aid-not-authorised",
    );
    let earlier = settled(&h, &h1, HOSPITAL, &before_end, NOW + 5).await;
    let (status, body) =
        complete(&h, &h1, &reference_of(&earlier), split_2207(&payer_voucher)).await;
    assert_eq!(status, StatusCode::OK, "verified while authorised: {body}");
    // The trail shows both sides what happened.
    let (_, audit) = h
        .json(Method::GET, "/v1/account-shares/audit", Some(&payer), None)
        .await;
    let actions: Vec<&str> = audit
        .as_array()
        .expect("audit")
        .iter()
        .filter_map(|e| e["event"]["action"].as_str())
        .collect();
    assert_eq!(actions, ["bound", "unbound"], "{audit}");
}

async fn an_account_pays_for_at_most_eight(h: Harness) {
    let (payer, _) = h.holder(PAYER).await;
    for member in 10..18 {
        let (status, body) = share(&h, &payer, member).await;
        assert_eq!(status, StatusCode::CREATED, "member {member}: {body}");
    }
    assert_code(
        share(&h, &payer, 18).await,
        StatusCode::CONFLICT,
        "account-share-limit-reached",
    );
    let (_, members) = h
        .json(
            Method::GET,
            "/v1/account-shares/members",
            Some(&payer),
            None,
        )
        .await;
    assert_eq!(members.as_array().map(Vec::len), Some(8), "{members}");
    // Family links are counted apart: the same owner still adds family members.
    let (p, _, _) = synthetic_person(18);
    let body = json!({"name": p.name, "id_number": p.id_number, "relation": "parent",
        "member_attestation": {"real_name": true, "real_person": true, "method": "face"}});
    let (status, body) = h
        .json_with_headers(
            Method::POST,
            "/v1/family/members",
            Some(&payer),
            &[("x-channel-key", h.channel.as_str())],
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn a_relative_confirms_or_declines_and_either_side_ends_it(h: Harness) {
    let (payer, payer_voucher) = h.holder(PAYER).await;
    let (member, member_voucher) = h.holder(4).await;
    let (declines, declines_voucher) = h.holder(7).await;
    let (stranger, _) = h.holder(6).await;
    // Without a channel's attestation an adult relative confirms first.
    for i in [4, 7] {
        let (p, _, _) = synthetic_person(i);
        let body = json!({"name": p.name, "id_number": p.id_number, "relation": "spouse"});
        let (status, sent) = h
            .json(
                Method::POST,
                "/v1/account-shares/members",
                Some(&payer),
                Some(body),
            )
            .await;
        assert_eq!(
            (status, &sent["status"]),
            (StatusCode::ACCEPTED, &json!("requested"))
        );
    }
    h.state.deliveries_done().await;
    let (_, asked) = h
        .json(
            Method::GET,
            "/v1/account-shares/requests",
            Some(&member),
            None,
        )
        .await;
    assert_eq!(asked[0]["binder"], payer_voucher.as_str(), "{asked}");
    // The 亲情账户 requests are another list.
    let (_, family) = h
        .json(Method::GET, "/v1/family/requests", Some(&member), None)
        .await;
    assert_eq!(family, json!([]));
    let decide = |voucher: &str, verdict: &str| {
        format!("/v1/account-shares/requests/{payer_voucher}/{voucher}/{verdict}")
    };
    assert_code(
        h.json(
            Method::POST,
            &decide(&member_voucher, "approve"),
            Some(&stranger),
            None,
        )
        .await,
        StatusCode::FORBIDDEN,
        "not-bound",
    );
    let (status, approved) = h
        .json(
            Method::POST,
            &decide(&member_voucher, "approve"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["status"], "active");
    assert_eq!(approved["consent"], "member-approved");
    let (status, declined) = h
        .json(
            Method::POST,
            &decide(&declines_voucher, "reject"),
            Some(&declines),
            None,
        )
        .await;
    assert_eq!(
        (status, &declined["status"]),
        (StatusCode::OK, &json!("rejected"))
    );
    // The payer sees the one who confirmed, not the one who declined.
    let (_, members) = h
        .json(
            Method::GET,
            "/v1/account-shares/members",
            Some(&payer),
            None,
        )
        .await;
    let listed: Vec<&str> = members
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["member"].as_str())
        .collect();
    assert_eq!(listed, [member_voucher.as_str()], "{members}");
    // The payer ends it; the member sees it ended.
    let uri = format!("/v1/account-shares/members/{member_voucher}");
    let (status, _, _) = h.raw(Method::DELETE, &uri, Some(&payer), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, payers) = h
        .json(
            Method::GET,
            "/v1/account-shares/payers",
            Some(&member),
            None,
        )
        .await;
    assert_eq!(payers[0]["status"], "unbound", "{payers}");
    let (status, _, _) = h.raw(Method::DELETE, &uri, Some(&payer), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "nothing left to end");
}

on_both_backends!(
    a_relative_confirms_or_declines_and_either_side_ends_it,
    person_info_goes_to_the_settling_institution_alone,
    person_info_has_a_window_and_stops_at_suspension,
    mutual_aid_is_charged_only_as_authorised,
    an_account_pays_for_at_most_eight,
);
