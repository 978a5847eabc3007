//! The operator's operations: channels, designated institutions and their terminals,
//! voucher suspension, key reload. Credentials are drawn here and shown once by the caller.
//! Listing, re-keying, disabling and revoking are in `operator_records.rs`.

use yibao_shared::{RegionCode, VoucherId};

use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::model::{Channel, Institution, InstitutionKind, Terminal, VoucherStatus};
use crate::secrets::{NewCredential, new_credential};
use crate::signing::KeyMaterial;

pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub(crate) fn fresh(prefix: &str) -> Result<NewCredential, DomainError> {
    new_credential(prefix).map_err(|e| DomainError::Internal(e.to_string()))
}

/// Registers (or re-keys) a channel; its new API key, shown once.
///
/// # Errors
///
/// [`DomainError::InvalidField`] for the id, name or regions; store failures.
pub async fn register_channel(
    state: &Context,
    id: &str,
    name: &str,
    regions: Vec<String>,
) -> Result<NewCredential, DomainError> {
    if !valid_id(id) {
        return Err(DomainError::InvalidField("id"));
    }
    if name.trim().is_empty() || name.len() > 100 {
        return Err(DomainError::InvalidField("name"));
    }
    if !regions
        .iter()
        .all(|r| yibao_shared::trust_list::is_region_scope(r))
    {
        return Err(DomainError::InvalidField("regions"));
    }
    let key = fresh("ybc")?;
    state
        .store
        .put_channel(&Channel {
            id: id.to_owned(),
            name: name.to_owned(),
            regions,
            key_hash: key.hash,
            created_at: state.clock.now(),
            disabled: false,
        })
        .await?;
    tracing::info!(channel = %id, "channel registered");
    Ok(key)
}

/// A designated institution as the operator describes it.
#[derive(Clone, Copy, Debug)]
pub struct InstitutionEntry<'a> {
    /// National code (letters and digits, up to 32).
    pub code: &'a str,
    /// Name.
    pub name: &'a str,
    /// Hospital or pharmacy.
    pub kind: InstitutionKind,
    /// 6-digit region.
    pub region: &'a str,
    /// Accepts the voucher.
    pub accepts_voucher: bool,
}

/// Registers or updates an institution.
///
/// # Errors
///
/// [`DomainError::InvalidField`] for the code, name or region; store failures.
pub async fn register_institution(
    state: &Context,
    entry: &InstitutionEntry<'_>,
) -> Result<Institution, DomainError> {
    let institution = institution_of(entry)?;
    state
        .store
        .put_institutions(std::slice::from_ref(&institution))
        .await?;
    Ok(institution)
}

/// The institution `entry` describes, validated.
///
/// # Errors
///
/// [`DomainError::InvalidField`] for the code, name or region.
pub fn institution_of(entry: &InstitutionEntry<'_>) -> Result<Institution, DomainError> {
    if entry.code.is_empty()
        || entry.code.len() > 32
        || !entry.code.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(DomainError::InvalidField("code"));
    }
    if entry.name.trim().is_empty() || entry.name.len() > 200 {
        return Err(DomainError::InvalidField("name"));
    }
    Ok(Institution {
        code: entry.code.to_owned(),
        name: entry.name.to_owned(),
        kind: entry.kind,
        region: RegionCode::parse(entry.region).ok_or(DomainError::InvalidField("region"))?,
        accepts_voucher: entry.accepts_voucher,
    })
}

/// The designated institutions that accept the voucher, within `region` (a prefix) and of
/// `kind` when given, by code.
///
/// # Errors
///
/// Store failures.
pub async fn designated_institutions(
    state: &Context,
    region: Option<&str>,
    kind: Option<InstitutionKind>,
) -> Result<Vec<Institution>, DomainError> {
    let mut list: Vec<Institution> = state
        .store
        .institutions()
        .await?
        .into_iter()
        .filter(|i| i.accepts_voucher)
        .filter(|i| region.is_none_or(|r| i.region.is_within(r)))
        .filter(|i| kind.is_none_or(|k| i.kind == k))
        .collect();
    list.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(list)
}

/// Registers (or re-keys) terminal `id` of institution `code`; its new credential, shown
/// once.
///
/// # Errors
///
/// [`DomainError::InvalidField`] for the id, [`DomainError::NotFound`] for an unknown
/// institution; store failures.
pub async fn register_terminal(
    state: &Context,
    code: &str,
    id: &str,
) -> Result<NewCredential, DomainError> {
    if !valid_id(id) {
        return Err(DomainError::InvalidField("id"));
    }
    state
        .store
        .institution(code)
        .await?
        .ok_or(DomainError::NotFound)?;
    let key = fresh("ybt")?;
    state
        .store
        .put_terminal(&Terminal {
            id: id.to_owned(),
            institution: code.to_owned(),
            key_hash: key.hash,
            created_at: state.clock.now(),
            revoked: false,
        })
        .await?;
    Ok(key)
}

/// Suspends or reinstates voucher `id`. Suspension also revokes its offline codes: they stop
/// at terminals' next sync, not when their certificates expire.
///
/// # Errors
///
/// [`DomainError::NotFound`] for an unknown voucher; store failures.
pub async fn set_voucher_status(
    state: &Context,
    id: &str,
    status: VoucherStatus,
) -> Result<(), DomainError> {
    let id = VoucherId::parse(id).ok_or(DomainError::NotFound)?;
    if !state.store.set_voucher_status(id, status).await? {
        return Err(DomainError::NotFound);
    }
    if status == VoucherStatus::Suspended {
        crate::domain::devices::revoke::voucher_stopped(&*state.store, state.clock.now(), id)
            .await?;
    }
    tracing::info!(voucher = %id, ?status, "voucher status set");
    Ok(())
}

/// Re-reads the key directory: the newest active key signs from now on and the new bundle
/// is served; on error the old keys stay in use. The signing key id and bundle sequence.
///
/// # Errors
///
/// [`DomainError::Internal`] when the key directory does not load.
pub fn reload_keys(state: &Context) -> Result<(u16, u64), DomainError> {
    let keys = KeyMaterial::load(&state.keys_dir, state.clock.now())
        .map_err(|e| DomainError::Internal(format!("key reload failed: {e}")))?;
    let reloaded = (keys.key_id().0, keys.bundle().sequence);
    state.set_keys(keys);
    tracing::info!(key_id = reloaded.0, sequence = reloaded.1, "keys reloaded");
    Ok(reloaded)
}
