//! The bodies of the operator's endpoints.

use serde::{Deserialize, Serialize};

use crate::model::InstitutionKind;
use crate::secrets::NewCredential;

/// A new channel.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChannel {
    /// Short id (`[a-z0-9-]`, up to 32), e.g. `wechat`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Region prefixes it may serve (2, 4 or 6 digits); empty for all.
    #[serde(default)]
    pub regions: Vec<String>,
}

/// A credential, shown once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IssuedCredential {
    /// The id it belongs to.
    pub id: String,
    /// The credential (`Authorization: Bearer …`). Not shown again; registering the same
    /// id again replaces it.
    pub credential: String,
}

impl IssuedCredential {
    /// The answer that shows `key` of `id` once.
    pub fn new(id: String, key: &NewCredential) -> Self {
        Self {
            id,
            credential: key.secret.to_string(),
        }
    }
}

impl std::fmt::Debug for IssuedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IssuedCredential({}, <redacted>)", self.id)
    }
}

/// A designated institution.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInstitution {
    /// National code (letters and digits, up to 32).
    pub code: String,
    /// Name.
    pub name: String,
    /// Hospital or pharmacy.
    pub kind: InstitutionKind,
    /// 6-digit region.
    pub region: String,
    /// Accepts the voucher.
    pub accepts_voucher: bool,
}

/// A terminal of an institution.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTerminal {
    /// Terminal id (`[a-z0-9-]`, up to 32).
    pub id: String,
}

/// Which key now signs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeysReloaded {
    /// Signing key id.
    pub key_id: u16,
    /// Sequence of the served bundle.
    pub bundle_sequence: u64,
}
