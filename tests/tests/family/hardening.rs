//! Issue 10: guardianship is established, never claimed; a bind tells a holder nothing
//! about the registry; one authorisation check for codes and expenses; binds have a quota.

use super::*;

pub(crate) async fn a_child_is_bound_at_once_only_by_an_established_guardian(h: Harness) {
    let (name, id) = teenager(false);
    // A stranger's word is not enough, whatever they claim.
    let (stranger, stranger_voucher) = h.synthetic_holder(0).await;
    let claimed = h
        .bind(&stranger, &name, &id, json!({"guardian_attestation": true}))
        .await;
    assert_eq!(
        (claimed.0, code_of(&claimed)),
        (StatusCode::BAD_REQUEST, "unknown-field")
    );
    let self_attested = json!({"guardianship": {"document": "household-register"}});
    let forged = h.bind(&stranger, &name, &id, self_attested.clone()).await;
    assert_eq!(
        (forged.0, code_of(&forged)),
        (StatusCode::FORBIDDEN, "attestation-not-authenticated")
    );
    let asked = h.bind(&stranger, &name, &id, json!({})).await;
    assert_eq!(asked.0, StatusCode::ACCEPTED, "{}", asked.1);
    // The child had no voucher, so nobody could see that request: nothing was created.
    let key = h.state.index.id_key(&IdNumber::parse(&id).expect("id"));
    assert_eq!(h.state.store.voucher_of(&key).await.expect("store"), None);

    // A guardian the registry names binds at once, activating the child's voucher by proxy.
    let (guardian, _) = h.synthetic_holder(GUARDIANS[0]).await;
    let (status, link) = h.bind(&guardian, &name, &id, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    assert_eq!(
        (link["status"].as_str(), link["consent"].as_str()),
        (Some("active"), Some("registered-guardian"))
    );
    assert_eq!(link["member_activated_by_proxy"], true);
    let child = link["member"].as_str().expect("member").to_owned();
    assert_eq!(h.member_token(&guardian, &child).await.0, StatusCode::OK);
    let again = h.bind(&guardian, &name, &id, json!({})).await;
    assert_eq!(
        (again.0, code_of(&again)),
        (StatusCode::CONFLICT, "already-bound")
    );

    // Now the stranger's request waits for a registered guardian, who sees and decides it.
    assert_eq!(
        h.bind(&stranger, &name, &id, json!({})).await.0,
        StatusCode::ACCEPTED
    );
    let got = h.member_token(&stranger, &child).await;
    assert_eq!((got.0, code_of(&got)), (StatusCode::FORBIDDEN, "not-bound"));
    let (_, requests) = h
        .json(Method::GET, "/v1/family/requests", Some(&guardian), None)
        .await;
    assert_eq!(
        requests[0]["binder"],
        stranger_voucher.as_str(),
        "{requests}"
    );
    assert_eq!(requests[0]["member"], child.as_str());
    // The other registered guardian may decide it too; a third holder may not.
    let (guardian2, _) = h.synthetic_holder(GUARDIANS[1]).await;
    let (outsider, _) = h.synthetic_holder(3).await;
    let path = format!("/v1/family/requests/{stranger_voucher}/{child}/approve");
    let not_theirs = h.json(Method::POST, &path, Some(&outsider), None).await;
    assert_eq!(
        (not_theirs.0, code_of(&not_theirs)),
        (StatusCode::FORBIDDEN, "not-bound")
    );
    // A made-up member id grants nothing and breaks nothing.
    let made_up = format!("/v1/family/requests/{stranger_voucher}/0123456789abcdef/approve");
    let nobody = h.json(Method::POST, &made_up, Some(&guardian), None).await;
    assert_eq!(
        (nobody.0, code_of(&nobody)),
        (StatusCode::FORBIDDEN, "not-bound")
    );
    let (status, approved) = h.json(Method::POST, &path, Some(&guardian2), None).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["consent"], "registered-guardian");
    assert_eq!(h.member_token(&stranger, &child).await.0, StatusCode::OK);

    // A channel that checked a household register itself binds at once, with the document
    // in the audit trail.
    let (aunt, _) = h.synthetic_holder(4).await;
    let attested = json!({"guardianship": {"document": "household-register", "reference": "HR-1"}});
    let (status, link) = h.bind_via_channel(&aunt, &name, &id, attested).await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    assert_eq!(link["consent"], "guardianship-attested");
    let (_, audit) = h
        .json(Method::GET, "/v1/family/audit", Some(&aunt), None)
        .await;
    assert!(
        audit
            .as_array()
            .expect("audit")
            .iter()
            .any(|e| e["event"]["evidence"] == "household-register HR-1"),
        "{audit}"
    );
}

pub(crate) async fn a_child_cannot_approve_for_itself(h: Harness) {
    let (name, id) = teenager(false);
    let (guardian, _) = h.synthetic_holder(GUARDIANS[0]).await;
    assert_eq!(
        h.bind(&guardian, &name, &id, json!({})).await.0,
        StatusCode::CREATED
    );
    let (child, _) = h.holder(&name, &id).await;
    let (stranger, stranger_voucher) = h.synthetic_holder(0).await;
    assert_eq!(
        h.bind(&stranger, &name, &id, json!({})).await.0,
        StatusCode::ACCEPTED
    );
    let got = h
        .json(
            Method::POST,
            &format!("/v1/family/binders/{stranger_voucher}/approve"),
            Some(&child),
            None,
        )
        .await;
    assert_eq!(
        (got.0, code_of(&got)),
        (StatusCode::FORBIDDEN, "guardian-approval-required")
    );
}

pub(crate) async fn a_bind_tells_a_holder_nothing_about_the_registry(h: Harness) {
    let (binder, binder_voucher) = h.synthetic_holder(0).await;
    let (real_cred, _) = h.synthetic_holder(1).await;
    let (p1, _, _) = synthetic_person(1);
    let (absent, _, _) = synthetic_person(900);
    let (suspended, _, _) = synthetic_person(49);
    let answers = [
        h.bind(&binder, &p1.name, &p1.id_number, json!({})).await,
        h.bind(&binder, "测试错名", &p1.id_number, json!({})).await,
        h.bind(&binder, &absent.name, &absent.id_number, json!({}))
            .await,
        h.bind(&binder, &suspended.name, &suspended.id_number, json!({}))
            .await,
        // Sent again while pending: still the same answer.
        h.bind(&binder, &p1.name, &p1.id_number, json!({})).await,
    ];
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body, &answers[0].1);
    }
    // Only the matching, insured person sees it; the binder's list shows nothing pending.
    let (_, theirs) = h
        .json(Method::GET, "/v1/family/requests", Some(&real_cred), None)
        .await;
    assert_eq!(theirs.as_array().map(Vec::len), Some(1), "{theirs}");
    let (_, list) = h
        .json(Method::GET, "/v1/family/members", Some(&binder), None)
        .await;
    assert_eq!(list, json!([]));
    // Nor does the binder's audit: a request that reached someone looks like one that did
    // not, before and after that person rejected it.
    let binder_audit = async || {
        h.json(Method::GET, "/v1/family/audit", Some(&binder), None)
            .await
            .1
    };
    assert_eq!(binder_audit().await, json!([]));
    let reject = format!("/v1/family/binders/{binder_voucher}/reject");
    assert_eq!(
        h.json(Method::POST, &reject, Some(&real_cred), None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(binder_audit().await, json!([]));
    // The member's own audit shows the request and their decision.
    let (_, theirs) = h
        .json(Method::GET, "/v1/family/audit", Some(&real_cred), None)
        .await;
    let actions: Vec<&str> = theirs
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["event"]["action"].as_str())
        .collect();
    assert_eq!(actions, ["requested", "rejected"], "{theirs}");
    // A channel that attests is told precisely, and nobody uninsured gets a voucher.
    let refused = h
        .bind_via_channel(&binder, &suspended.name, &suspended.id_number, attested())
        .await;
    assert_eq!(
        (refused.0, code_of(&refused)),
        (StatusCode::FORBIDDEN, "not-insured")
    );
    let key = h
        .state
        .index
        .id_key(&IdNumber::parse(&suspended.id_number).expect("id"));
    assert_eq!(h.state.store.voucher_of(&key).await.expect("store"), None);
}

pub(crate) async fn a_rejected_request_cools_off(h: Harness) {
    let (binder, binder_voucher) = h.synthetic_holder(0).await;
    let (member, _) = h.synthetic_holder(1).await;
    let (p1, _, _) = synthetic_person(1);
    let pending = async |h: &Harness| {
        let (_, list) = h
            .json(Method::GET, "/v1/family/requests", Some(&member), None)
            .await;
        list.as_array().map_or(0, Vec::len)
    };
    h.bind(&binder, &p1.name, &p1.id_number, json!({})).await;
    let reject = format!("/v1/family/binders/{binder_voucher}/reject");
    assert_eq!(
        h.json(Method::POST, &reject, Some(&member), None).await.0,
        StatusCode::OK
    );
    h.clock.set(NOW + COOLING_OFF_SECS - 1);
    let again = h.bind(&binder, &p1.name, &p1.id_number, json!({})).await;
    assert_eq!(again.0, StatusCode::ACCEPTED);
    assert_eq!(pending(&h).await, 0, "re-sent within the cooling-off time");
    h.clock.set(NOW + COOLING_OFF_SECS);
    h.bind(&binder, &p1.name, &p1.id_number, json!({})).await;
    assert_eq!(pending(&h).await, 1);
}

pub(crate) async fn a_suspended_binder_acts_for_nobody(h: Harness) {
    let (a, a_voucher) = h.synthetic_holder(0).await;
    let (p1, _, _) = synthetic_person(1);
    let (_, link) = h
        .bind_via_channel(&a, &p1.name, &p1.id_number, attested())
        .await;
    let m = link["member"].as_str().expect("member").to_owned();
    let expenses = format!("/v1/expenses?voucher={m}");
    assert_eq!(
        h.json(Method::GET, &expenses, Some(&a), None).await.0,
        StatusCode::OK
    );
    h.json(
        Method::POST,
        &format!("/v1/admin/vouchers/{a_voucher}/suspend"),
        Some(ADMIN),
        None,
    )
    .await;
    for got in [
        h.member_token(&a, &m).await,
        h.json(Method::GET, &expenses, Some(&a), None).await,
    ] {
        assert_eq!(
            (got.0, code_of(&got)),
            (StatusCode::FORBIDDEN, "voucher-suspended"),
            "{}",
            got.1
        );
    }
}

#[tokio::test]
async fn binds_are_rate_limited_per_binder() {
    let limits = Limits {
        binds_per_day: 3,
        ..generous()
    };
    let h = Harness::start(Backend::Embedded, limits).await;
    let (binder, _) = h.synthetic_holder(0).await;
    let (other, _) = h.synthetic_holder(1).await;
    for i in 0..3 {
        let (p, _, _) = synthetic_person(900 + i);
        assert_eq!(
            h.bind(&binder, &p.name, &p.id_number, json!({})).await.0,
            StatusCode::ACCEPTED
        );
    }
    let (p, _, _) = synthetic_person(903);
    let limited = h.bind(&binder, &p.name, &p.id_number, json!({})).await;
    assert_eq!(
        (limited.0, code_of(&limited)),
        (StatusCode::TOO_MANY_REQUESTS, "rate-limited")
    );
    assert_eq!(
        h.bind(&other, &p.name, &p.id_number, json!({})).await.0,
        StatusCode::ACCEPTED,
        "another binder has their own quota"
    );
}
