//! The operator's view and upkeep of what it registered: listing channels and terminals,
//! re-keying or disabling a channel, revoking a terminal, importing institutions in batches,
//! and a voucher's summary. Credentials drawn here are shown once by the caller.

use yibao_shared::{UnixTime, VoucherId};

use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::domain::operator::{InstitutionEntry, fresh, institution_of};
use crate::model::{Channel, Institution, InstitutionKind, Terminal, VoucherStatus};
use crate::secrets::NewCredential;

/// The most institutions one import request may carry (a national list is sent in many).
pub const INSTITUTION_BATCH: usize = 1_000;

/// Every channel, by id.
///
/// # Errors
///
/// Store failures.
pub async fn channels(state: &Context) -> Result<Vec<Channel>, DomainError> {
    let mut all = state.store.channels().await?;
    all.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(all)
}

/// Gives channel `id` a new API key (shown once) and enables it if it was disabled; its old
/// key stops working at once.
///
/// # Errors
///
/// [`DomainError::NotFound`] for an unknown channel; store failures.
pub async fn rekey_channel(
    state: &Context,
    id: &str,
) -> Result<(Channel, NewCredential), DomainError> {
    let mut channel = state
        .store
        .channel(id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let key = fresh("ybc")?;
    channel.key_hash = key.hash;
    channel.disabled = false;
    state.store.put_channel(&channel).await?;
    tracing::info!(channel = %id, "channel re-keyed");
    Ok((channel, key))
}

/// Disables channel `id`: its key no longer signs in (activations, relayed attestations).
/// Holders it activated keep their vouchers. Re-keying restores it.
///
/// # Errors
///
/// [`DomainError::NotFound`] for an unknown channel; store failures.
pub async fn disable_channel(state: &Context, id: &str) -> Result<Channel, DomainError> {
    let mut channel = state
        .store
        .channel(id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if !channel.disabled {
        channel.disabled = true;
        state.store.put_channel(&channel).await?;
        tracing::info!(channel = %id, "channel disabled");
    }
    Ok(channel)
}

/// The terminals of institution `code`, by id.
///
/// # Errors
///
/// [`DomainError::NotFound`] for an unknown institution; store failures.
pub async fn terminals_of(state: &Context, code: &str) -> Result<Vec<Terminal>, DomainError> {
    state
        .store
        .institution(code)
        .await?
        .ok_or(DomainError::NotFound)?;
    let mut all = state.store.terminals_of(code).await?;
    all.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(all)
}

/// Revokes terminal `id`: its credential no longer signs in. Visits it already handed off
/// stay settled; registering the id again gives it a new credential.
///
/// # Errors
///
/// [`DomainError::NotFound`] for an unknown terminal; store failures.
pub async fn revoke_terminal(state: &Context, id: &str) -> Result<Terminal, DomainError> {
    let mut terminal = state
        .store
        .terminal(id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if !terminal.revoked {
        terminal.revoked = true;
        state.store.put_terminal(&terminal).await?;
        tracing::info!(terminal = %id, "terminal revoked");
    }
    Ok(terminal)
}

/// What an institution import request did.
#[derive(Debug, Default)]
pub struct InstitutionImport {
    /// Institutions written (created or replaced).
    pub imported: usize,
    /// Entries refused, by their position in the request, and why.
    pub rejected: Vec<(usize, DomainError)>,
}

/// Registers or updates a batch of institutions in one write: each valid entry is
/// written, each invalid one reported by position. Re-importing is idempotent.
///
/// # Errors
///
/// [`DomainError::InvalidField`] (`institutions`) for an empty batch or one larger than
/// [`INSTITUTION_BATCH`]; store failures (then nothing of the batch is acknowledged).
pub async fn import_institutions(
    state: &Context,
    entries: &[InstitutionEntry<'_>],
) -> Result<InstitutionImport, DomainError> {
    if entries.is_empty() || entries.len() > INSTITUTION_BATCH {
        return Err(DomainError::InvalidField("institutions"));
    }
    let mut valid = Vec::with_capacity(entries.len());
    let mut outcome = InstitutionImport::default();
    for (index, entry) in entries.iter().enumerate() {
        match institution_of(entry) {
            Ok(institution) => valid.push(institution),
            Err(e) => outcome.rejected.push((index, e)),
        }
    }
    state.store.put_institutions(&valid).await?;
    outcome.imported = valid.len();
    Ok(outcome)
}

/// What the operator sees of a voucher: never the person behind it.
#[derive(Clone, Debug)]
pub struct VoucherSummary {
    /// The voucher.
    pub voucher_id: VoucherId,
    /// Active or suspended.
    pub status: VoucherStatus,
    /// First activated.
    pub activated_at: UnixTime,
    /// By which channel.
    pub activated_by: String,
    /// Phones registered for offline codes.
    pub devices: usize,
}

/// Voucher `id`'s summary.
///
/// # Errors
///
/// [`DomainError::NotFound`] for an unknown voucher; store failures.
pub async fn voucher_summary(state: &Context, id: &str) -> Result<VoucherSummary, DomainError> {
    let id = VoucherId::parse(id).ok_or(DomainError::NotFound)?;
    let (voucher, devices) = tokio::join!(state.store.voucher(id), state.store.devices_of(id));
    let voucher = voucher?.ok_or(DomainError::NotFound)?;
    Ok(VoucherSummary {
        voucher_id: voucher.voucher_id,
        status: voucher.status,
        activated_at: voucher.activated_at,
        activated_by: voucher.activated_by,
        devices: devices?.len(),
    })
}

/// Which institutions to list, a page at a time.
#[derive(Clone, Copy, Debug)]
pub struct InstitutionFilter<'a> {
    /// Region prefix.
    pub region: Option<&'a str>,
    /// Hospital or pharmacy.
    pub kind: Option<InstitutionKind>,
    /// Codes after this one.
    pub after: Option<&'a str>,
    /// At most this many (1 to [`INSTITUTION_BATCH`]).
    pub limit: usize,
}

/// One page of the registered institutions (designated or not), by code, and the code to
/// continue after when more follow.
///
/// # Errors
///
/// [`DomainError::InvalidField`] (`limit`) outside 1 to [`INSTITUTION_BATCH`]; store failures.
pub async fn institutions_page(
    state: &Context,
    filter: InstitutionFilter<'_>,
) -> Result<(Vec<Institution>, Option<String>), DomainError> {
    if filter.limit == 0 || filter.limit > INSTITUTION_BATCH {
        return Err(DomainError::InvalidField("limit"));
    }
    let mut list: Vec<Institution> = state
        .store
        .institutions()
        .await?
        .into_iter()
        .filter(|i| filter.region.is_none_or(|r| i.region.is_within(r)))
        .filter(|i| filter.kind.is_none_or(|k| i.kind == k))
        .filter(|i| filter.after.is_none_or(|a| i.code.as_str() > a))
        .collect();
    list.sort_by(|a, b| a.code.cmp(&b.code));
    let next = (list.len() > filter.limit).then(|| list[filter.limit - 1].code.clone());
    list.truncate(filter.limit);
    Ok((list, next))
}
