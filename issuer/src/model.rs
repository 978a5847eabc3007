//! What the issuer stores. Every record is a whole value written atomically; no record holds
//! an ID number, a full name or a credential in clear.

use serde::{Deserialize, Serialize};
use yibao_shared::{Gender, InsuranceType, MaskedName, RegionCode, UnixTime, VoucherId};

use crate::id_number::BirthDate;
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
}

/// Voucher status, set by an operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl Channel {
    /// Whether the channel may serve people insured in `region`.
    pub fn serves(&self, region: RegionCode) -> bool {
        self.regions.is_empty() || self.regions.iter().any(|r| region.is_within(r))
    }
}

/// Hospital or pharmacy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
}
