//! 个账家庭共济: an employee-insured owner lets relatives' visits be paid from their personal
//! account. The links are the family machinery's ([`LinkKind::AccountShare`]: binding,
//! consent, guardians, unbinding, audit), kept apart from 亲情账户 (showing someone's code);
//! this module answers what settlement asks of them: who may pay for a member's visit.

use yibao_shared::{Relation, UnixTime, VoucherId};

use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::domain::family::owner;
use crate::model::LinkKind;

/// A personal account that may pay for a member's visit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payer {
    /// The account owner's voucher.
    pub voucher: VoucherId,
    /// Their masked name.
    pub masked_name: String,
    /// How the member relates to the owner (the owner's child, spouse, parent, …).
    pub relation: Relation,
}

/// The accounts whose authorisation for `member` was active at `at` (when the code was
/// verified), ordered by voucher.
///
/// # Errors
///
/// Store failures.
pub async fn payers_of(
    state: &Context,
    member: VoucherId,
    at: UnixTime,
) -> Result<Vec<Payer>, DomainError> {
    let mut out = Vec::new();
    for link in state
        .store
        .links_of_member(LinkKind::AccountShare, member)
        .await?
    {
        if !link.was_active_at(at) {
            continue;
        }
        if let Some(owner) = owner(state, link.binder).await? {
            out.push(Payer {
                voucher: link.binder,
                masked_name: owner.masked_name.to_string(),
                relation: link.relation,
            });
        }
    }
    out.sort_by_key(|p| p.voucher);
    Ok(out)
}

/// Whether `payer`'s account could pay for `member`'s visit verified at `at`.
///
/// # Errors
///
/// [`DomainError::MutualAidNotAuthorised`] unless an authorisation was active at `at`; store
/// failures.
pub async fn check_payer(
    state: &Context,
    payer: VoucherId,
    member: VoucherId,
    at: UnixTime,
) -> Result<(), DomainError> {
    match state
        .store
        .link(LinkKind::AccountShare, payer, member)
        .await?
    {
        Some(link) if link.was_active_at(at) => Ok(()),
        _ => Err(DomainError::MutualAidNotAuthorised),
    }
}
