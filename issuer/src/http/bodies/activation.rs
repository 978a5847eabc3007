//! The bodies of activation, deactivation and the code endpoints, and how the domain's
//! values become them.

use serde::{Deserialize, Serialize};
use yibao_shared::{UnixTime, VoucherId};

use crate::domain::activation::{self, Activated, SignedToken};

/// A channel's statement about how it verified the person (实名 + 实人).
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    /// Real-name verification against the ID number passed.
    pub real_name: bool,
    /// Real-person (liveness, face) verification passed.
    pub real_person: bool,
    /// How, e.g. `face`.
    pub method: String,
    /// The channel's own reference for the check, for audit.
    #[serde(default)]
    pub reference: Option<String>,
}

/// An activation request from a channel.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivationRequest {
    /// Full name as in the registry.
    pub name: String,
    /// 18-character ID number.
    pub id_number: String,
    /// The channel's verification.
    pub attestation: Attestation,
}

impl std::fmt::Debug for ActivationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ActivationRequest(<redacted>)")
    }
}

/// The answer to an activation: the holder credential is shown this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ActivationResponse {
    /// Pseudonymous voucher id.
    #[schema(value_type = String, example = "a0a1a2a3a4a5a6a7")]
    pub voucher_id: VoucherId,
    /// The phone's credential for this voucher (store it; it is not shown again).
    pub holder_credential: String,
    /// e.g. `张*三`.
    pub masked_name: String,
    /// Whether this call created the voucher (false: it existed, a new credential was added).
    pub created: bool,
}

impl std::fmt::Debug for ActivationResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ActivationResponse({}, created: {})",
            self.voucher_id, self.created
        )
    }
}

/// A deactivation (lost phone) request from a channel.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeactivationRequest {
    /// Full name as in the registry.
    pub name: String,
    /// 18-character ID number.
    pub id_number: String,
}

impl std::fmt::Debug for DeactivationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeactivationRequest(<redacted>)")
    }
}

/// A freshly signed token.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedToken {
    /// The text to put in the QR code.
    pub code: String,
    /// Whose voucher (the holder's own, or the family member's).
    #[schema(value_type = String)]
    pub voucher_id: VoucherId,
    /// Signing key id.
    pub key_id: u16,
    /// Token id (hex).
    pub token_id: String,
    /// Unix seconds.
    #[schema(value_type = u64)]
    pub issued_at: UnixTime,
    /// Unix seconds; fetch a new one before this.
    #[schema(value_type = u64)]
    pub expires_at: UnixTime,
    /// e.g. `张*三`.
    pub masked_name: String,
}

impl From<Attestation> for activation::Attestation {
    fn from(a: Attestation) -> Self {
        Self {
            real_name: a.real_name,
            real_person: a.real_person,
            method: a.method,
            reference: a.reference,
        }
    }
}

impl From<Activated> for ActivationResponse {
    fn from(a: Activated) -> Self {
        Self {
            voucher_id: a.voucher_id,
            holder_credential: a.holder_credential,
            masked_name: a.masked_name,
            created: a.created,
        }
    }
}

impl From<SignedToken> for IssuedToken {
    fn from(t: SignedToken) -> Self {
        Self {
            code: t.code,
            voucher_id: t.voucher_id,
            key_id: t.key_id,
            token_id: t.token_id.to_string(),
            issued_at: t.issued_at,
            expires_at: t.expires_at,
            masked_name: t.masked_name,
        }
    }
}
