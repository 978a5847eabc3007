//! The expense ledger: completed settlements of a voucher, by year, with totals per
//! institution kind. Read by the holder, and by a binder for an actively bound member.

use std::collections::{BTreeMap, HashMap};

use yibao_shared::{UnixTime, VoucherId};

use crate::domain::caller::Holder;
use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::domain::family::{self, today};
use crate::model::InstitutionKind;
use crate::model::settlement::{Amounts, Settlement};

/// One settled visit with its amounts, and the institution's name while it is registered.
#[derive(Clone, Debug)]
pub struct LedgerVisit {
    /// The settlement.
    pub settlement: Settlement,
    /// Its amounts (only completed settlements are in the ledger).
    pub amounts: Amounts,
    /// The institution's name, when the institution is still registered.
    pub institution_name: Option<String>,
}

/// Totals of one institution kind.
#[derive(Clone, Copy, Debug)]
pub struct KindTotal {
    /// Hospital or pharmacy.
    pub institution_kind: InstitutionKind,
    /// Settled visits.
    pub visits: u64,
    /// Summed amounts.
    pub amounts: Amounts,
}

/// A voucher's expenses in one year.
#[derive(Clone, Debug)]
pub struct Ledger {
    /// Whose.
    pub voucher_id: VoucherId,
    /// Which year (China Standard Time).
    pub year: u16,
    /// Visits, newest first.
    pub visits: Vec<LedgerVisit>,
    /// Totals per institution kind.
    pub by_kind: Vec<KindTotal>,
    /// Grand total.
    pub total: Amounts,
}

/// The expenses of `target` in `year`, if `caller` may see them.
///
/// # Errors
///
/// [`DomainError::NotBound`] unless `target` is the caller's own voucher or an actively bound
/// member ([`family::may_act_for`]); store failures.
pub async fn expenses(
    state: &Context,
    caller: &Holder,
    target: VoucherId,
    year: Option<u16>,
    now: UnixTime,
) -> Result<Ledger, DomainError> {
    family::may_act_for(state, caller, target, now).await?;
    let year = year.unwrap_or_else(|| today(now).year);
    let names: HashMap<String, String> = state
        .store
        .institutions()
        .await?
        .into_iter()
        .map(|i| (i.code, i.name))
        .collect();
    let mut settled: Vec<(Settlement, Amounts)> = state
        .store
        .settlements_of(target)
        .await?
        .into_iter()
        .filter(|s| today(s.verified_at).year == year)
        .filter_map(|s| s.amounts.map(|a| (s, a)))
        .collect();
    settled.sort_by_key(|(s, _)| std::cmp::Reverse(s.verified_at));

    let mut by_kind: BTreeMap<InstitutionKind, KindTotal> = BTreeMap::new();
    let mut total = Amounts::default();
    let visits = settled
        .into_iter()
        .map(|(settlement, amounts)| {
            let kind = by_kind
                .entry(settlement.institution_kind)
                .or_insert_with(|| KindTotal {
                    institution_kind: settlement.institution_kind,
                    visits: 0,
                    amounts: Amounts::default(),
                });
            kind.visits += 1;
            kind.amounts.add(&amounts);
            total.add(&amounts);
            LedgerVisit {
                institution_name: names.get(&settlement.institution).cloned(),
                settlement,
                amounts,
            }
        })
        .collect();
    Ok(Ledger {
        voucher_id: target,
        year,
        visits,
        by_kind: by_kind.into_values().collect(),
        total,
    })
}
