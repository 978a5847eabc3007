//! The family-account rules: the member limit, consent from 16, what grants nothing,
//! suspension and revocation, identity checks.

use super::*;

pub(crate) async fn sixth_member_is_refused(h: Harness) {
    let (binder, _) = h.synthetic_holder(0).await;
    for i in 1..=5 {
        let (p, _, _) = synthetic_person(i);
        let got = h
            .bind_via_channel(&binder, &p.name, &p.id_number, attested())
            .await;
        assert_eq!(got.0, StatusCode::CREATED, "member {i}: {}", got.1);
        assert_eq!(got.1["status"], "active");
    }
    // Refused before anything is created: the sixth person (who has no voucher) gets none.
    let (p, _, _) = synthetic_person(6);
    let got = h
        .bind_via_channel(&binder, &p.name, &p.id_number, attested())
        .await;
    assert_eq!(
        (got.0, code_of(&got)),
        (StatusCode::CONFLICT, "family-limit-reached"),
        "{}",
        got.1
    );
    let key = h
        .state
        .index
        .id_key(&IdNumber::parse(&p.id_number).expect("id"));
    assert_eq!(h.state.store.voucher_of(&key).await.expect("store"), None);
    // The same person may be a member of several binders.
    let (other, _) = h.synthetic_holder(7).await;
    let (p1, _, _) = synthetic_person(1);
    assert_eq!(
        h.bind_via_channel(&other, &p1.name, &p1.id_number, attested())
            .await
            .0,
        StatusCode::CREATED
    );
}

pub(crate) async fn a_sixteen_year_old_is_pending_until_consent(h: Harness) {
    let (binder, binder_voucher) = h.synthetic_holder(0).await;
    let (name, id) = teenager(true);
    let (member_cred, member) = h.holder(&name, &id).await;
    let (status, sent) = h.bind(&binder, &name, &id, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    assert_eq!(sent["status"], "requested");
    assert!(sent.get("member").is_none(), "{sent}");
    let got = h.member_token(&binder, &member).await;
    assert_eq!((got.0, code_of(&got)), (StatusCode::FORBIDDEN, "not-bound"));

    // The member consents from their own account.
    let (status, binders) = h
        .json(Method::GET, "/v1/family/binders", Some(&member_cred), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(binders[0]["binder"], binder_voucher.as_str());
    assert_eq!(binders[0]["status"], "pending");
    let (status, approved) = h
        .json(
            Method::POST,
            &format!("/v1/family/binders/{binder_voucher}/approve"),
            Some(&member_cred),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(
        (approved["status"].as_str(), approved["consent"].as_str()),
        (Some("active"), Some("member-approved"))
    );

    // Now the binder shows the member's code, and a terminal sees who showed it.
    let (status, token) = h.member_token(&binder, &member).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let bundle = h.state.keys().bundle_document().to_owned();
    let root = yibao_keys::KeyDir::new(&h.state.keys_dir)
        .root_public()
        .expect("root");
    let mut verifier = Verifier::new(root, Policy::default());
    verifier
        .install_bundle(&bundle, UnixTime::from_secs(NOW))
        .expect("bundle");
    let verified = verifier
        .verify_text(
            token["code"].as_str().expect("code"),
            UnixTime::from_secs(NOW),
        )
        .expect("verifies");
    assert_eq!(
        verified.voucher_id().to_string(),
        member,
        "settles against the member's voucher"
    );
    let proxy = verified.proxy().expect("proxy part");
    assert_eq!(proxy.binder.to_string(), binder_voucher);
    assert_eq!(proxy.relation, Relation::Parent);
    assert_eq!(verified.claims().masked_name.as_str(), "测*六");
    // Approving twice is not possible.
    let again = h
        .json(
            Method::POST,
            &format!("/v1/family/binders/{binder_voucher}/approve"),
            Some(&member_cred),
            None,
        )
        .await;
    assert_eq!(
        (again.0, code_of(&again)),
        (StatusCode::CONFLICT, "not-pending")
    );
}

pub(crate) async fn nobody_acts_for_someone_not_actively_bound(h: Harness) {
    let (a, a_voucher) = h.synthetic_holder(0).await;
    let forbidden = |got: (StatusCode, Value)| {
        assert_eq!(
            (got.0, code_of(&got).to_owned()),
            (StatusCode::FORBIDDEN, "not-bound".to_owned()),
            "{}",
            got.1
        )
    };

    // Never bound.
    let (b_cred, b) = h.synthetic_holder(1).await;
    forbidden(h.member_token(&a, &b).await);
    // Pending.
    let (p2, _, _) = synthetic_person(2);
    let (p2_cred, p2_voucher) = h.synthetic_holder(2).await;
    h.bind(&a, &p2.name, &p2.id_number, json!({})).await;
    forbidden(h.member_token(&a, &p2_voucher).await);
    // Rejected.
    let (p1, _, _) = synthetic_person(1);
    h.bind(&a, &p1.name, &p1.id_number, json!({})).await;
    let (status, _) = h
        .json(
            Method::POST,
            &format!("/v1/family/binders/{a_voucher}/reject"),
            Some(&b_cred),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    forbidden(h.member_token(&a, &b).await);
    // Expired: seven days without consent.
    let (p3, _, _) = synthetic_person(3);
    let (_, member3) = h.synthetic_holder(3).await;
    h.bind(&a, &p3.name, &p3.id_number, json!({})).await;
    h.clock.set(NOW + 7 * DAY + 1);
    forbidden(h.member_token(&a, &member3).await);
    let (_, list) = h
        .json(Method::GET, "/v1/family/binders", Some(&p2_cred), None)
        .await;
    assert_eq!(list[0]["status"], "expired", "{list}");
    let expired = h
        .json(
            Method::POST,
            &format!("/v1/family/binders/{a_voucher}/approve"),
            Some(&p2_cred),
            None,
        )
        .await;
    assert_eq!(
        (expired.0, code_of(&expired)),
        (StatusCode::CONFLICT, "not-pending")
    );
    h.clock.set(NOW);

    // Unbound by the binder, and by the member: effective at once.
    let (p4, _, _) = synthetic_person(4);
    let (_, link4) = h
        .bind_via_channel(&a, &p4.name, &p4.id_number, attested())
        .await;
    let m4 = link4["member"].as_str().expect("member").to_owned();
    assert_eq!(h.member_token(&a, &m4).await.0, StatusCode::OK);
    assert_eq!(
        h.json(
            Method::DELETE,
            &format!("/v1/family/members/{m4}"),
            Some(&a),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    forbidden(h.member_token(&a, &m4).await);

    let (c_cred, c) = h.synthetic_holder(5).await;
    let (_, link5) = h
        .bind_via_channel(
            &a,
            &synthetic_person(5).0.name,
            &synthetic_person(5).0.id_number,
            attested(),
        )
        .await;
    assert_eq!(link5["member"], c.as_str());
    assert_eq!(h.member_token(&a, &c).await.0, StatusCode::OK);
    assert_eq!(
        h.json(
            Method::DELETE,
            &format!("/v1/family/binders/{a_voucher}"),
            Some(&c_cred),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    forbidden(h.member_token(&a, &c).await);
    let (_, binders) = h
        .json(Method::GET, "/v1/family/binders", Some(&c_cred), None)
        .await;
    assert_eq!(binders[0]["status"], "unbound");

    // The other direction never was bound.
    forbidden(h.member_token(&c_cred, &a_voucher).await);
}

pub(crate) async fn suspension_revocation_and_the_audit_trail(h: Harness) {
    let (a, a_voucher) = h.synthetic_holder(0).await;
    let (p1, _, _) = synthetic_person(1);
    let (_, link) = h
        .bind_via_channel(&a, &p1.name, &p1.id_number, attested())
        .await;
    let m = link["member"].as_str().expect("member").to_owned();
    assert_eq!(
        h.json(
            Method::POST,
            &format!("/v1/admin/vouchers/{m}/suspend"),
            Some(ADMIN),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    let got = h.member_token(&a, &m).await;
    assert_eq!(
        (got.0, code_of(&got)),
        (StatusCode::FORBIDDEN, "voucher-suspended")
    );
    assert_eq!(
        h.json(
            Method::POST,
            &format!("/v1/admin/vouchers/{m}/reinstate"),
            Some(ADMIN),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(h.member_token(&a, &m).await.0, StatusCode::OK);

    let (_, audit) = h
        .json(Method::GET, "/v1/family/audit", Some(&a), None)
        .await;
    let actions: Vec<&str> = audit
        .as_array()
        .expect("audit")
        .iter()
        .filter_map(|e| e["event"]["action"].as_str())
        .collect();
    assert!(actions.contains(&"bound"), "{audit}");
    assert!(
        audit[0]["event"]["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("channel:") || a == "binder")
    );
    let (status, admin_view) = h
        .json(
            Method::GET,
            &format!("/v1/admin/family/{a_voucher}/audit"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(admin_view, audit);
    let (stranger, _) = h.synthetic_holder(9).await;
    let (_, theirs) = h
        .json(Method::GET, "/v1/family/audit", Some(&stranger), None)
        .await;
    assert_eq!(theirs, json!([]));

    // The binder's revoked credential cannot act for anyone.
    assert_eq!(
        h.json(Method::DELETE, "/v1/holder/credential", Some(&a), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let got = h.member_token(&a, &m).await;
    assert_eq!(
        (got.0, code_of(&got)),
        (StatusCode::UNAUTHORIZED, "credential-revoked")
    );
}

pub(crate) async fn binding_checks_identity_and_self(h: Harness) {
    let (a, _) = h.synthetic_holder(0).await;
    let (p0, _, _) = synthetic_person(0);
    let me = h.bind(&a, &p0.name, &p0.id_number, json!({})).await;
    assert_eq!(
        (me.0, code_of(&me)),
        (StatusCode::UNPROCESSABLE_ENTITY, "cannot-bind-self")
    );
    let typo = h.bind(&a, &p0.name, "1101051949123100", json!({})).await;
    assert_eq!(typo.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", typo.1);
    // A channel that attests is told what is wrong; a holder alone is not (see above).
    let (p1, _, _) = synthetic_person(1);
    let wrong = h
        .bind_via_channel(&a, "测试错名", &p1.id_number, attested())
        .await;
    assert_eq!(
        (wrong.0, code_of(&wrong)),
        (StatusCode::UNPROCESSABLE_ENTITY, "name-mismatch")
    );
    let (stranger, _, _) = synthetic_person(900);
    let absent = h
        .bind_via_channel(&a, &stranger.name, &stranger.id_number, attested())
        .await;
    assert_eq!(
        (absent.0, code_of(&absent)),
        (StatusCode::NOT_FOUND, "not-in-registry")
    );
    let wrong_key = [("x-channel-key", "ybc_not-a-channel")];
    let body = json!({"name": p1.name, "id_number": p1.id_number, "relation": "parent"});
    let refused = h
        .json_with_headers(
            Method::POST,
            "/v1/family/members",
            Some(&a),
            &wrong_key,
            Some(body),
        )
        .await;
    assert_eq!(
        (refused.0, code_of(&refused)),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
}
