//! Family accounts through the HTTP API (`router(state).oneshot`), on both storage backends:
//! every rule of the family-account issue, and the hardening of issue 10 (guardianship is
//! established, never claimed; a bind is no registry oracle; one authorisation check).

mod flows;
mod hardening;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use yibao_issuer::demo::synthetic_person;
use yibao_issuer::domain::family::bind::COOLING_OFF_SECS;
use yibao_issuer::domain::limits::Limits;
use yibao_issuer::id_number::IdNumber;
use yibao_shared::{Relation, UnixTime};
use yibao_tests::api::{
    ADMIN, Backend, GUARDIANS, Harness, NOW, code_of, credential_of, generous, teenager,
};
use yibao_tests::on_both_backends;
use yibao_verifier::{Policy, Verifier};

const DAY: u64 = 86_400;

/// The family flows a test drives.
pub(crate) trait FamilyCalls {
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

pub(crate) fn attested() -> Value {
    json!({"member_attestation": {"real_name": true, "real_person": true, "method": "face"}})
}

use self::flows::*;
use self::hardening::*;

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
