//! Completion: the hospital system records the settled amounts of a settlement it made,
//! including a part paid from a relative's personal account (家庭共济) when that relative's
//! authorisation was active when the code was verified.

use yibao_shared::UnixTime;

use crate::domain::caller::TerminalCaller;
use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::domain::family::shares::check_payer;
use crate::domain::settlement::of_institution;
use crate::model::settlement::{Amounts, Settlement, parse_reference};

/// Records `amounts` (fen) on the settlement `reference` of the caller's institution.
/// Idempotent with the same amounts; other amounts after completion are refused.
///
/// # Errors
///
/// [`DomainError::AmountsInconsistent`], [`DomainError::SettlementNotFound`] (also for
/// another institution's reference), [`DomainError::SettlementCompleted`],
/// [`DomainError::MutualAidNotAuthorised`] for a payer with no authorisation active when the
/// code was verified (or the patient themselves),
/// [`DomainError::Conflict`] after three lost races; store failures.
pub async fn complete(
    state: &Context,
    by: &TerminalCaller,
    reference: &str,
    amounts: Amounts,
    now: UnixTime,
) -> Result<Settlement, DomainError> {
    if !amounts.is_consistent() {
        return Err(DomainError::AmountsInconsistent);
    }
    let key = parse_reference(reference).ok_or(DomainError::SettlementNotFound)?;
    // Compare-and-set, retried: a concurrent completion either matches ours or wins.
    for _ in 0..3 {
        let current = of_institution(state, by, key).await?;
        match current.amounts {
            Some(done) if done == amounts => return Ok(current),
            Some(_) => return Err(DomainError::SettlementCompleted),
            None => {}
        }
        if let Some(payer) = amounts.mutual_aid_payer {
            if payer == current.voucher_id {
                return Err(DomainError::MutualAidNotAuthorised);
            }
            check_payer(state, payer, current.voucher_id, current.verified_at).await?;
        }
        let completed = Settlement {
            amounts: Some(amounts),
            completed_at: Some(now),
            ..current.clone()
        };
        if state.store.replace_settlement(&current, &completed).await? {
            metrics::counter!("yibao_settlements_completed_total").increment(1);
            return Ok(completed);
        }
    }
    Err(DomainError::Conflict)
}
