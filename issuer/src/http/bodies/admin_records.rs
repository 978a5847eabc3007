//! The bodies of the operator's listing and upkeep endpoints: what a channel, terminal or
//! voucher looks like to the operator (never a key hash, never a person), an institution
//! import batch and its outcome, and the service's status.

use serde::{Deserialize, Serialize};
use yibao_shared::UnixTime;

use crate::domain::operator_records::{InstitutionImport, VoucherSummary};
use crate::domain::service_status::ServiceStatus;
use crate::http::bodies::admin::NewInstitution;
use crate::http::bodies::ops::StoreHealth;
use crate::http::error::ApiError;
use crate::model::{Channel, InstitutionKind, Terminal, VoucherStatus};

/// A channel, as the operator lists it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChannelView {
    /// Short id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Region prefixes it may serve; empty for all.
    pub regions: Vec<String>,
    /// When registered.
    #[schema(value_type = u64)]
    pub created_at: UnixTime,
    /// Disabled: its key no longer signs in.
    pub disabled: bool,
}

impl From<Channel> for ChannelView {
    fn from(c: Channel) -> Self {
        Self {
            id: c.id,
            name: c.name,
            regions: c.regions,
            created_at: c.created_at,
            disabled: c.disabled,
        }
    }
}

/// A terminal, as the operator lists it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TerminalView {
    /// Terminal id.
    pub id: String,
    /// Its institution's code.
    pub institution: String,
    /// When registered.
    #[schema(value_type = u64)]
    pub created_at: UnixTime,
    /// Revoked: its credential no longer signs in.
    pub revoked: bool,
}

impl From<Terminal> for TerminalView {
    fn from(t: Terminal) -> Self {
        Self {
            id: t.id,
            institution: t.institution,
            created_at: t.created_at,
            revoked: t.revoked,
        }
    }
}

/// Which institutions to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InstitutionQuery {
    /// Region prefix (2, 4 or 6 digits).
    pub region: Option<String>,
    /// Hospital or pharmacy.
    pub kind: Option<InstitutionKind>,
    /// Codes after this one (the previous page's `next`).
    pub after: Option<String>,
    /// At most this many (1 to 1000, default 100).
    pub limit: Option<usize>,
}

/// One page of institutions, by code.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstitutionPage {
    /// The institutions.
    pub institutions: Vec<crate::model::Institution>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Institutions to register or update (at most 1000).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstitutionBatch {
    /// The institutions.
    pub institutions: Vec<NewInstitution>,
}

/// An entry of a batch that was refused.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RejectedEntry {
    /// Its position in the batch (from 0).
    pub index: usize,
    /// Stable error code.
    pub code: &'static str,
    /// Why.
    pub message: String,
}

/// What an import batch did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstitutionImportAnswer {
    /// Institutions written.
    pub imported: usize,
    /// Entries refused.
    pub rejected: Vec<RejectedEntry>,
}

impl From<InstitutionImport> for InstitutionImportAnswer {
    fn from(outcome: InstitutionImport) -> Self {
        Self {
            imported: outcome.imported,
            rejected: outcome
                .rejected
                .into_iter()
                .map(|(index, e)| {
                    let e = ApiError::from(e);
                    RejectedEntry {
                        index,
                        code: e.code(),
                        message: e.to_string(),
                    }
                })
                .collect(),
        }
    }
}

/// A voucher, as the operator sees it (no person).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VoucherView {
    /// The voucher.
    #[schema(value_type = String)]
    pub voucher_id: yibao_shared::VoucherId,
    /// Active or suspended.
    pub status: VoucherStatus,
    /// First activated.
    #[schema(value_type = u64)]
    pub activated_at: UnixTime,
    /// By which channel.
    pub activated_by: String,
    /// Phones registered for offline codes.
    pub devices: usize,
}

impl From<VoucherSummary> for VoucherView {
    fn from(v: VoucherSummary) -> Self {
        Self {
            voucher_id: v.voucher_id,
            status: v.status,
            activated_at: v.activated_at,
            activated_by: v.activated_by,
            devices: v.devices,
        }
    }
}

/// The service's state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServiceStatusView {
    /// `ok` (a store that does not answer is a 503 instead).
    pub status: &'static str,
    /// The store and, on a cluster, its state.
    pub store: StoreHealth,
    /// The issuer's clock (Unix seconds).
    #[schema(value_type = u64)]
    pub now: UnixTime,
    /// The key that signs.
    pub signing_key: KeyAge,
    /// The served trust bundle.
    pub bundle: BundleAge,
    /// The status list's sequence.
    pub status_list_sequence: u64,
}

/// The signing key's validity.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyAge {
    /// Key id.
    pub key_id: u16,
    /// Valid from (Unix seconds).
    #[schema(value_type = u64)]
    pub not_before: UnixTime,
    /// Valid until.
    #[schema(value_type = u64)]
    pub not_after: UnixTime,
    /// Seconds since `not_before`.
    pub age_secs: u64,
}

/// The trust bundle's sequence and age.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BundleAge {
    /// Sequence.
    pub sequence: u64,
    /// Issued (Unix seconds).
    #[schema(value_type = u64)]
    pub issued_at: UnixTime,
    /// Terminals stop accepting it.
    #[schema(value_type = u64)]
    pub expires_at: UnixTime,
    /// Seconds since issued.
    pub age_secs: u64,
}

impl From<ServiceStatus> for ServiceStatusView {
    fn from(s: ServiceStatus) -> Self {
        Self {
            status: "ok",
            store: s.store.into(),
            now: s.now,
            signing_key: KeyAge {
                key_id: s.signing_key_id,
                not_before: s.signing_key_not_before,
                not_after: s.signing_key_not_after,
                age_secs: s
                    .now
                    .as_secs()
                    .saturating_sub(s.signing_key_not_before.as_secs()),
            },
            bundle: BundleAge {
                sequence: s.bundle_sequence,
                issued_at: s.bundle_issued_at,
                expires_at: s.bundle_expires_at,
                age_secs: s.now.as_secs().saturating_sub(s.bundle_issued_at.as_secs()),
            },
            status_list_sequence: s.status_list_sequence,
        }
    }
}
