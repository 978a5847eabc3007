//! Family accounts through the HTTP API (`router(state).oneshot`), on both storage backends:
//! every rule of the family-account issue, and the hardening of issue 10 (guardianship is
//! established, never claimed; a bind is no registry oracle; one authorisation check).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use yibao_issuer::config::Limits;
use yibao_issuer::demo::synthetic_person;
use yibao_issuer::family::bind::COOLING_OFF_SECS;
use yibao_issuer::id_number::IdNumber;
use yibao_shared::{Relation, UnixTime};
use yibao_tests::api::{
    ADMIN, Backend, GUARDIANS, Harness, NOW, code_of, credential_of, generous, teenager,
};
use yibao_tests::on_both_backends;
use yibao_verifier::{Policy, Verifier};

const DAY: u64 = 86_400;

/// The family flows a test drives.
trait FamilyCalls {
    /// Activates a person's own voucher through the harness's channel:
    /// (credential, voucher id).
    async fn holder(&self, name: &str, id_number: &str) -> (String, String);
    /// The same for synthetic person `i`.
    async fn synthetic_holder(&self, i: usize) -> (String, String);
    /// Binds a member with relation `parent` plus `extra` fields.
    async fn bind(
        &self,
        binder: &str,
        name: &str,
        id_number: &str,
        extra: Value,
    ) -> (StatusCode, Value);
    /// [`Self::bind`] relayed by the harness's channel with its own key (its attestations
    /// count).
    async fn bind_via_channel(
        &self,
        binder: &str,
        name: &str,
        id_number: &str,
        extra: Value,
    ) -> (StatusCode, Value);
    /// The member's token as the binder fetches it.
    async fn member_token(&self, binder: &str, member: &str) -> (StatusCode, Value);
}

impl FamilyCalls for Harness {
    async fn holder(&self, name: &str, id_number: &str) -> (String, String) {
        let (status, body) = self.activate_person(&self.channel, name, id_number).await;
        assert!(status.is_success(), "{body}");
        let voucher = body["voucher_id"].as_str().expect("id").to_owned();
        (credential_of(&body), voucher)
    }

    async fn synthetic_holder(&self, i: usize) -> (String, String) {
        let (p, _, _) = synthetic_person(i);
        self.holder(&p.name, &p.id_number).await
    }

    async fn bind(
        &self,
        binder: &str,
        name: &str,
        id_number: &str,
        extra: Value,
    ) -> (StatusCode, Value) {
        let mut body = json!({"name": name, "id_number": id_number, "relation": "parent"});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        self.json(Method::POST, "/v1/family/members", Some(binder), Some(body))
            .await
    }

    async fn bind_via_channel(
        &self,
        binder: &str,
        name: &str,
        id_number: &str,
        extra: Value,
    ) -> (StatusCode, Value) {
        let mut body = json!({"name": name, "id_number": id_number, "relation": "parent"});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let key = [("x-channel-key", self.channel.as_str())];
        self.json_with_headers(
            Method::POST,
            "/v1/family/members",
            Some(binder),
            &key,
            Some(body),
        )
        .await
    }

    async fn member_token(&self, binder: &str, member: &str) -> (StatusCode, Value) {
        let uri = format!("/v1/family/members/{member}/token");
        self.json(Method::GET, &uri, Some(binder), None).await
    }
}

fn attested() -> Value {
    json!({"member_attestation": {"real_name": true, "real_person": true, "method": "face"}})
}

async fn sixth_member_is_refused(h: Harness) {
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

async fn a_sixteen_year_old_is_pending_until_consent(h: Harness) {
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

async fn a_child_is_bound_at_once_only_by_an_established_guardian(h: Harness) {
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

async fn a_child_cannot_approve_for_itself(h: Harness) {
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

async fn a_bind_tells_a_holder_nothing_about_the_registry(h: Harness) {
    let (binder, _) = h.synthetic_holder(0).await;
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

async fn a_rejected_request_cools_off(h: Harness) {
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

async fn a_suspended_binder_acts_for_nobody(h: Harness) {
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

async fn nobody_acts_for_someone_not_actively_bound(h: Harness) {
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

async fn suspension_revocation_and_the_audit_trail(h: Harness) {
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

async fn binding_checks_identity_and_self(h: Harness) {
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

on_both_backends!(
    sixth_member_is_refused,
    a_sixteen_year_old_is_pending_until_consent,
    a_child_is_bound_at_once_only_by_an_established_guardian,
    a_child_cannot_approve_for_itself,
    a_bind_tells_a_holder_nothing_about_the_registry,
    a_rejected_request_cools_off,
    a_suspended_binder_acts_for_nobody,
    nobody_acts_for_someone_not_actively_bound,
    suspension_revocation_and_the_audit_trail,
    binding_checks_identity_and_self,
);
