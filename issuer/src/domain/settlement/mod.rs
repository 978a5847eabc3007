//! Settlement intake: terminals hand off verified presentations, each token settles once
//! across all terminals, settled amounts make up the expense ledger.
//!
//! The once-only key is the token (voucher id + token id). The settlement record is
//! written with insert-if-absent, so the first handoff wins on both backends; a repeat from
//! the same terminal is answered with the same reference (a retry after a lost reply is
//! harmless), a handoff from another terminal is **double use** and recorded for audit.

pub mod completion;
pub mod expenses;
pub mod intake;
pub mod person_info;

use std::collections::HashMap;

use yibao_shared::{TokenId, VoucherId};

use crate::domain::caller::TerminalCaller;
use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::model::settlement::{DoubleUse, Settlement};

/// How long after a token's expiry a terminal may still hand it off, if it verified the
/// token while it was valid: a terminal offline for a week (a city platform cut-over took
/// three days) still gets its visits settled; older claims are refused as too late.
pub const DEFAULT_HANDOFF_WINDOW_SECS: u64 = 7 * 86_400;

/// A voucher's settlements (oldest first) and refused double uses (oldest first), for the
/// operator.
///
/// # Errors
///
/// [`DomainError::NotFound`] for a malformed voucher id; store failures.
pub async fn audit(
    state: &Context,
    voucher: &str,
) -> Result<(Vec<Settlement>, Vec<DoubleUse>), DomainError> {
    let id = VoucherId::parse(voucher).ok_or(DomainError::NotFound)?;
    let mut settlements = state.store.settlements_of(id).await?;
    settlements.sort_by_key(|s| (s.verified_at, s.token_id));
    let mut double_uses = state.store.double_uses_of(id).await?;
    double_uses.sort_by_key(|d| (d.received_at, d.token_id));
    Ok((settlements, double_uses))
}

/// The settlement of `voucher`'s token `token`, if the caller's institution made it.
///
/// # Errors
///
/// [`DomainError::SettlementNotFound`] also for another institution's: references are not a
/// way to learn about other institutions' patients; store failures.
pub(crate) async fn of_institution(
    state: &Context,
    by: &TerminalCaller,
    (voucher, token): (VoucherId, TokenId),
) -> Result<Settlement, DomainError> {
    state
        .store
        .settlement(voucher, token)
        .await?
        .filter(|s| s.institution == by.institution.code)
        .ok_or(DomainError::SettlementNotFound)
}

/// Institution codes and names, for the holder's lists.
///
/// # Errors
///
/// Store failures.
pub(crate) async fn institution_names(
    state: &Context,
) -> Result<HashMap<String, String>, DomainError> {
    Ok(state
        .store
        .institutions()
        .await?
        .into_iter()
        .map(|i| (i.code, i.name))
        .collect())
}
