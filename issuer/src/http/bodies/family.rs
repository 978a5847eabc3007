//! The bodies of the family endpoints, and how the domain's values become them.

use serde::{Deserialize, Serialize};
use yibao_shared::{Relation, UnixTime, VoucherId};

use crate::domain::family::{self, Bind, Guardianship, LinkAudit, LinkSummary, Requested};
use crate::http::bodies::activation::Attestation;
use crate::model::{Consent, LinkEvent, LinkKind, LinkStatus};

/// A request to add a family member.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindRequest {
    /// The member's full name as in the registry.
    pub name: String,
    /// The member's ID number.
    pub id_number: String,
    /// How the member relates to the binder (`parent`: the member is the binder's parent).
    #[schema(value_type = crate::model::names::RelationName, example = "parent")]
    pub relation: Relation,
    /// For a member under 16: the guardianship the calling channel verified itself from a
    /// document. Needs the channel's own key in `X-Channel-Key`.
    #[serde(default)]
    pub guardianship: Option<GuardianshipAttestation>,
    /// For a member 16 or over: the calling channel attests the member's real-person
    /// verification at binding time (consent given in person). Needs the channel's own key
    /// in `X-Channel-Key`.
    #[serde(default)]
    pub member_attestation: Option<Attestation>,
}

impl std::fmt::Debug for BindRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BindRequest(<redacted>)")
    }
}

/// A channel's statement that it verified a guardianship from a document.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardianshipAttestation {
    /// Which document the channel checked.
    pub document: GuardianshipDocument,
    /// The channel's own reference for the check, for audit (at most 64 printable
    /// characters).
    #[serde(default)]
    pub reference: Option<String>,
}

/// A document that proves a guardianship.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum GuardianshipDocument {
    /// 户口簿: the household register lists the child and the guardian.
    HouseholdRegister,
    /// 出生医学证明: the birth certificate names the parents.
    BirthCertificate,
}

/// The answer to a bind that needs someone's consent. The same whether or not the person
/// exists, the name matches, or the request was dropped.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BindRequested {
    /// Always `requested`.
    pub status: &'static str,
    /// If the person exists and matches, they (or a registered guardian) may approve until
    /// then; the link then appears in `GET /v1/family/members`.
    #[schema(value_type = u64)]
    pub pending_until: UnixTime,
}

/// A link as either side sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct LinkView {
    /// The binder's voucher.
    #[schema(value_type = String)]
    pub binder: VoucherId,
    /// The member's voucher.
    #[schema(value_type = String)]
    pub member: VoucherId,
    /// Masked name of the other side (the member for the binder, the binder for the member).
    pub masked_name: String,
    /// How the member relates to the binder.
    #[schema(value_type = crate::model::names::RelationName)]
    pub relation: Relation,
    /// Status now (a lapsed pending request shows `expired`).
    pub status: LinkStatus,
    /// How it became active.
    pub consent: Option<Consent>,
    /// Deadline of a pending request.
    #[schema(value_type = Option<u64>)]
    pub pending_until: Option<UnixTime>,
    /// Whether binding activated the member's voucher.
    pub member_activated_by_proxy: bool,
}

/// One audit entry with the link it belongs to.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// The binder.
    #[schema(value_type = String)]
    pub binder: VoucherId,
    /// The member.
    #[schema(value_type = String)]
    pub member: VoucherId,
    /// What happened.
    pub event: LinkEvent,
}

impl From<BindRequest> for Bind {
    fn from(r: BindRequest) -> Self {
        Self {
            kind: LinkKind::Proxy,
            name: r.name,
            id_number: r.id_number,
            relation: r.relation,
            guardianship: r.guardianship.map(|g| Guardianship {
                document: match g.document {
                    GuardianshipDocument::HouseholdRegister => {
                        family::GuardianshipDocument::HouseholdRegister
                    }
                    GuardianshipDocument::BirthCertificate => {
                        family::GuardianshipDocument::BirthCertificate
                    }
                },
                reference: g.reference,
            }),
            member_attestation: r.member_attestation.map(Into::into),
        }
    }
}

impl From<Requested> for BindRequested {
    fn from(r: Requested) -> Self {
        Self {
            status: "requested",
            pending_until: r.pending_until,
        }
    }
}

impl From<LinkSummary> for LinkView {
    fn from(l: LinkSummary) -> Self {
        Self {
            binder: l.binder,
            member: l.member,
            masked_name: l.masked_name,
            relation: l.relation,
            status: l.status,
            consent: l.consent,
            pending_until: l.pending_until,
            member_activated_by_proxy: l.member_activated_by_proxy,
        }
    }
}

impl From<LinkAudit> for AuditEntry {
    fn from(a: LinkAudit) -> Self {
        Self {
            binder: a.binder,
            member: a.member,
            event: a.event,
        }
    }
}

/// Each domain value of `items` as its body.
pub fn all<T, B: From<T>>(items: Vec<T>) -> Vec<B> {
    items.into_iter().map(B::from).collect()
}
