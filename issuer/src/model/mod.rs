//! What the issuer stores. Every record is a whole value written atomically; no record holds
//! an ID number, a full name or a credential in clear (the identity a settling hospital may
//! read is sealed, `crate::sealed`).

pub mod device;
pub mod names;
pub mod settlement;

use serde::{Deserialize, Serialize};
use yibao_shared::{Gender, InsuranceType, MaskedName, RegionCode, UnixTime, VoucherId};

use crate::id_number::BirthDate;
use crate::sealed::SealedIdentity;
use crate::secrets::{CredentialHash, IdKey, NameKey};

/// Insurance status in the registry (参保状态).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InsuredStatus {
    /// Insured: may activate and use a voucher.
    Insured,
    /// Contributions interrupted (参保中断): no activation, no tokens until insured again.
    Suspended,
    /// Left the scheme (终止参保).
    Terminated,
}

/// One insured person from the registry (医保基础信息库).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Keyed hash of the ID number: the person's key.
    pub id_key: IdKey,
    /// The registry's own person number (个人编号).
    pub person_no: String,
    /// Keyed hash of the full name, for matching at activation.
    pub name_key: NameKey,
    /// Masked name, the only form of the name that is stored.
    pub masked_name: MaskedName,
    /// Gender.
    pub gender: Gender,
    /// Date of birth (checked against the ID number at import).
    pub birth_date: BirthDate,
    /// Insured region (参保地).
    pub region: RegionCode,
    /// Employee or resident insurance.
    pub insurance: InsuranceType,
    /// Insurance status.
    pub status: InsuredStatus,
    /// For a minor: the registered guardians' ID-number keys (who enrolled the child).
    /// A guardian binds the child at once and approves anyone else's request to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardians: Vec<IdKey>,
    /// The ID number, full name and 1101 fields, sealed (`crate::sealed`); absent for rows
    /// imported before the registry kept them (re-import to fill it in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<SealedIdentity>,
}

/// Voucher status, set by an operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum VoucherStatus {
    /// In use.
    Active,
    /// Suspended by an operator (fraud investigation, …): no tokens.
    Suspended,
}

/// An activated voucher: one per person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Voucher {
    /// Pseudonymous id carried in tokens.
    pub voucher_id: VoucherId,
    /// Whose voucher.
    pub id_key: IdKey,
    /// Active or suspended.
    pub status: VoucherStatus,
    /// When it was first activated.
    pub activated_at: UnixTime,
    /// The channel that first activated it.
    pub activated_by: String,
}

/// A holder credential (the phone's login to the voucher), stored as its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderCredential {
    /// SHA-256 of the credential.
    pub hash: CredentialHash,
    /// The voucher it unlocks.
    pub voucher_id: VoucherId,
    /// The voucher owner's ID-number key, so a token request can read the voucher and the
    /// person in parallel (one round trip to Redis instead of two).
    pub id_key: IdKey,
    /// The channel that issued it.
    pub channel: String,
    /// When it was issued.
    pub issued_at: UnixTime,
    /// Revoked (lost phone, deactivation): refused at once.
    pub revoked: bool,
}

/// An authorised activation channel (national app, WeChat, Alipay, a bank app, …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// Short id, e.g. `wechat`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Region prefixes it may activate for (2, 4 or 6 digits); empty for every region.
    pub regions: Vec<String>,
    /// SHA-256 of its API key.
    pub key_hash: CredentialHash,
    /// When registered.
    pub created_at: UnixTime,
    /// Disabled by the operator: its key no longer signs in (re-key to restore it).
    #[serde(default)]
    pub disabled: bool,
}

impl Channel {
    /// Whether the channel may serve people insured in `region`.
    pub fn serves(&self, region: RegionCode) -> bool {
        self.regions.is_empty() || self.regions.iter().any(|r| region.is_within(r))
    }
}

/// Hospital or pharmacy.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum InstitutionKind {
    /// 定点医疗机构.
    Hospital,
    /// 定点零售药店.
    Pharmacy,
}

/// A designated institution (定点医药机构).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Institution {
    /// National institution code, e.g. `H11010500001`.
    pub code: String,
    /// Name.
    pub name: String,
    /// Hospital or pharmacy.
    pub kind: InstitutionKind,
    /// Region (6 digits).
    #[schema(value_type = String, example = "110105")]
    pub region: RegionCode,
    /// Whether it accepts the voucher.
    pub accepts_voucher: bool,
}

/// A terminal of an institution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terminal {
    /// Terminal id, unique within the issuer.
    pub id: String,
    /// Its institution.
    pub institution: String,
    /// SHA-256 of its credential.
    pub key_hash: CredentialHash,
    /// When registered.
    pub created_at: UnixTime,
    /// Revoked by the operator: its credential no longer signs in (re-register to restore).
    #[serde(default)]
    pub revoked: bool,
}

/// State of a family link (亲情账户 binding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LinkStatus {
    /// Waiting for the member's consent (member 16 or over).
    Pending,
    /// The binder may show the member's code.
    Active,
    /// The member refused.
    Rejected,
    /// Nobody consented in time.
    Expired,
    /// Ended by either side.
    Unbound,
}

/// How a link became active.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Consent {
    /// Member under 16, bound before guardianship had to be established (the binder's own
    /// word). Kept readable for old records; never written any more.
    Guardian,
    /// Member under 16: the binder is a guardian the registry names for the child, or a
    /// registered guardian approved the request.
    RegisteredGuardian,
    /// Member under 16: a channel attests the guardianship it verified from a document
    /// (household register, birth certificate); the document is in the audit trail.
    GuardianshipAttested,
    /// The member approved from their own account.
    MemberApproved,
    /// The binder's channel attested the member's real-person verification.
    ChannelAttested,
}

/// One entry of a link's audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LinkEvent {
    /// When.
    #[schema(value_type = u64)]
    pub at: UnixTime,
    /// `requested`, `bound`, `approved`, `rejected`, `unbound`, `expired`.
    pub action: String,
    /// `binder`, `member`, `channel:<id>` or `system`.
    pub actor: String,
    /// The channel the acting holder's credential came from.
    pub channel: String,
    /// What established it, when a channel attested something (e.g.
    /// `household-register`, with the channel's reference).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// What a link between two holders grants. Both kinds share one machinery (request, consent,
/// guardian rules, compare-and-set, audit trail) and are stored apart, so one never implies
/// the other: a person may share their account without showing the other's code, and the
/// reverse.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkKind {
    /// 亲情账户: the binder shows the member's code and sees their expenses.
    #[default]
    Proxy,
    /// 个账家庭共济: the binder (an employee-insured owner) lets their personal account pay
    /// the member's personal share at settlement.
    AccountShare,
}

impl LinkKind {
    /// Whether this is the 亲情账户 link (the kind of every record written before shares).
    pub fn is_proxy(&self) -> bool {
        *self == Self::Proxy
    }
}

/// A family link: `binder` may act for `member` while it is active. Stored once, on the
/// binder's side, together with its own audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyLink {
    /// What it grants.
    #[serde(default, skip_serializing_if = "LinkKind::is_proxy")]
    pub kind: LinkKind,
    /// Who shows the code (for an account share: whose account pays).
    pub binder: VoucherId,
    /// Whose code it is.
    pub member: VoucherId,
    /// How the member relates to the binder.
    pub relation: yibao_shared::Relation,
    /// Current status (pending links past `pending_until` read as expired).
    pub status: LinkStatus,
    /// How it became active.
    pub consent: Option<Consent>,
    /// Pending requests lapse after this.
    pub pending_until: Option<UnixTime>,
    /// Whether the binding activated the member's voucher (elderly without a phone).
    pub member_activated_by_proxy: bool,
    /// Incremented by every change (compare-and-set).
    pub version: u64,
    /// Every bind, consent, rejection and unbind.
    pub history: Vec<LinkEvent>,
}

impl FamilyLink {
    /// The status as of `now`: a pending request past its deadline is expired.
    pub fn status_at(&self, now: UnixTime) -> LinkStatus {
        match (self.status, self.pending_until) {
            (LinkStatus::Pending, Some(until)) if now >= until => LinkStatus::Expired,
            (status, _) => status,
        }
    }

    /// Whether it is live: active, or a request still waiting for a decision.
    pub fn occupies_a_place(&self, now: UnixTime) -> bool {
        matches!(
            self.status_at(now),
            LinkStatus::Active | LinkStatus::Pending
        )
    }

    /// Whether it was active at `at`, read from its audit trail (an account share's payer is
    /// checked against the moment the code was verified, which may lie before a later end).
    pub fn was_active_at(&self, at: UnixTime) -> bool {
        let mut active = false;
        for event in self.history.iter().filter(|e| e.at <= at) {
            match event.action.as_str() {
                "bound" | "approved" => active = true,
                "unbound" | "rejected" | "expired" | "requested" => active = false,
                _ => {}
            }
        }
        active
    }

    /// Whether it counts against the binder's limit of members: only active links do.
    /// Pending requests do not, so the limit never tells a binder whether a request reached
    /// a real person; the limit is checked again when a request is approved.
    pub fn counts_against_limit(&self) -> bool {
        self.status == LinkStatus::Active
    }

    /// When the member (or guardian) last rejected a request from this binder.
    pub fn rejected_at(&self) -> Option<UnixTime> {
        (self.status == LinkStatus::Rejected)
            .then(|| self.history.iter().rev().find(|e| e.action == "rejected"))
            .flatten()
            .map(|e| e.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, action: &str) -> LinkEvent {
        LinkEvent {
            at: UnixTime::from_secs(secs),
            action: action.to_owned(),
            actor: "member".to_owned(),
            channel: "wechat".to_owned(),
            evidence: None,
        }
    }

    #[test]
    fn a_link_was_active_between_its_approval_and_its_end() {
        let link = FamilyLink {
            kind: LinkKind::AccountShare,
            binder: VoucherId([1; 8]),
            member: VoucherId([2; 8]),
            relation: yibao_shared::Relation::Parent,
            status: LinkStatus::Active,
            consent: Some(Consent::MemberApproved),
            pending_until: None,
            member_activated_by_proxy: false,
            version: 5,
            history: vec![
                at(100, "requested"),
                at(200, "approved"),
                at(300, "unbound"),
                at(400, "requested"),
                at(500, "approved"),
            ],
        };
        let active: Vec<u64> = [50, 100, 199, 200, 299, 300, 450, 500, 900]
            .into_iter()
            .filter(|&t| link.was_active_at(UnixTime::from_secs(t)))
            .collect();
        assert_eq!(active, vec![200, 299, 500, 900]);
    }
}
