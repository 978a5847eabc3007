//! The expense ledger: completed settlements of a voucher, by year, with totals per
//! institution kind, and what its personal account paid for relatives (家庭共济). Read by the
//! holder, and by a binder for an actively bound member.

use std::collections::{BTreeMap, HashMap};

use yibao_shared::{UnixTime, VoucherId};

use crate::domain::caller::Holder;
use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::domain::family::{self, owner, today};
use crate::domain::settlement::institution_names;
use crate::model::settlement::{Amounts, Settlement};
use crate::model::{InstitutionKind, LinkKind};

/// One settled visit with its amounts, and the institution's name while it is registered.
#[derive(Clone, Debug)]
pub struct LedgerVisit {
    /// The settlement.
    pub settlement: Settlement,
    /// Its amounts (only completed settlements are in the ledger).
    pub amounts: Amounts,
    /// The institution's name, when the institution is still registered.
    pub institution_name: Option<String>,
    /// The masked name of the relative whose account paid the mutual-aid part.
    pub mutual_aid_payer_name: Option<String>,
}

/// A visit of a relative that this voucher's personal account paid for (家庭共济).
#[derive(Clone, Debug)]
pub struct AidGiven {
    /// The relative's settlement.
    pub settlement: Settlement,
    /// The relative's masked name.
    pub member_name: String,
    /// What this account paid (fen).
    pub paid_fen: u64,
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
    /// Relatives' visits this voucher's personal account paid for, newest first.
    pub aid_given: Vec<AidGiven>,
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
    let names = institution_names(state).await?;
    let mut settled: Vec<(Settlement, Amounts)> = state
        .store
        .settlements_of(target)
        .await?
        .into_iter()
        .filter(|s| today(s.verified_at).year == year)
        .filter_map(|s| s.amounts.map(|a| (s, a)))
        .collect();
    settled.sort_by_key(|(s, _)| std::cmp::Reverse(s.verified_at));

    let mut payer_names = HashMap::new();
    for (_, amounts) in &settled {
        if let Some(payer) = amounts.mutual_aid_payer {
            if let std::collections::hash_map::Entry::Vacant(slot) = payer_names.entry(payer) {
                slot.insert(masked_name(state, payer).await?);
            }
        }
    }
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
                mutual_aid_payer_name: amounts
                    .mutual_aid_payer
                    .and_then(|p| payer_names.get(&p).cloned().flatten()),
                settlement,
                amounts,
            }
        })
        .collect();
    let aid_given = aid_given(state, target, year, &names).await?;
    Ok(Ledger {
        voucher_id: target,
        year,
        visits,
        by_kind: by_kind.into_values().collect(),
        total,
        aid_given,
    })
}

async fn masked_name(state: &Context, voucher: VoucherId) -> Result<Option<String>, DomainError> {
    Ok(owner(state, voucher)
        .await?
        .map(|p| p.masked_name.to_string()))
}

/// What `payer`'s account paid in `year` for the members it authorised, ended authorisations
/// included: read from the members' own settlements, so no second record can disagree.
async fn aid_given(
    state: &Context,
    payer: VoucherId,
    year: u16,
    names: &HashMap<String, String>,
) -> Result<Vec<AidGiven>, DomainError> {
    let mut out = Vec::new();
    for link in state
        .store
        .links_of_binder(LinkKind::AccountShare, payer)
        .await?
    {
        let mut paid: Vec<(Settlement, u64)> = state
            .store
            .settlements_of(link.member)
            .await?
            .into_iter()
            .filter(|s| today(s.verified_at).year == year)
            .filter_map(|s| {
                let a = s.amounts?;
                (a.mutual_aid_payer == Some(payer)).then_some((s, a.mutual_aid_fen))
            })
            .collect();
        if paid.is_empty() {
            continue;
        }
        let member_name = masked_name(state, link.member).await?.unwrap_or_default();
        out.extend(paid.drain(..).map(|(settlement, paid_fen)| AidGiven {
            institution_name: names.get(&settlement.institution).cloned(),
            member_name: member_name.clone(),
            settlement,
            paid_fen,
        }));
    }
    out.sort_by_key(|a| std::cmp::Reverse(a.settlement.verified_at));
    Ok(out)
}
