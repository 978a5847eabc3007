//! The expense ledger: completed settlements of a voucher, by year, with totals per
//! institution kind. Read by the holder, and by a binder for an actively bound member.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use yibao_shared::{UnixTime, VoucherId};

use crate::domain::caller::Holder;
use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::domain::family::{self, today};
use crate::model::InstitutionKind;
use crate::model::settlement::{Amounts, Settlement};

/// Which ledger to read.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExpenseQuery {
    /// A family member's voucher (default: the caller's own).
    #[param(pattern = "^[0-9a-f]{16}$")]
    pub voucher: Option<String>,
    /// Calendar year in China Standard Time (default: this year).
    #[param(minimum = 2000, maximum = 2100)]
    pub year: Option<u16>,
}

/// One settled visit.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ExpenseItem {
    /// Settlement reference.
    pub reference: String,
    /// Visit date (China Standard Time), `YYYY-MM-DD`.
    pub date: String,
    /// Institution code.
    pub institution: String,
    /// Institution name, when the institution is still registered.
    pub institution_name: Option<String>,
    /// Hospital or pharmacy.
    pub institution_kind: InstitutionKind,
    /// Business-type code.
    pub business_type: String,
    /// Its Chinese name.
    pub business_name_zh: &'static str,
    /// Whether a family member showed the code.
    pub shown_by_family: bool,
    /// Amounts in fen.
    pub amounts: Amounts,
}

/// Totals of one institution kind.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct KindTotals {
    /// Hospital or pharmacy.
    pub institution_kind: InstitutionKind,
    /// Settled visits.
    pub visits: u64,
    /// Summed amounts in fen.
    pub amounts: Amounts,
}

/// A voucher's expenses in one year.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Expenses {
    /// Whose.
    #[schema(value_type = String)]
    pub voucher_id: VoucherId,
    /// Which year.
    pub year: u16,
    /// Visits, newest first.
    pub items: Vec<ExpenseItem>,
    /// Totals per institution kind.
    pub by_kind: Vec<KindTotals>,
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
) -> Result<Expenses, DomainError> {
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

    let mut by_kind: BTreeMap<InstitutionKind, KindTotals> = BTreeMap::new();
    let mut total = Amounts::default();
    let items = settled
        .into_iter()
        .map(|(s, amounts)| {
            let kind = by_kind
                .entry(s.institution_kind)
                .or_insert_with(|| KindTotals {
                    institution_kind: s.institution_kind,
                    visits: 0,
                    amounts: Amounts::default(),
                });
            kind.visits += 1;
            kind.amounts.add(&amounts);
            total.add(&amounts);
            let date = today(s.verified_at);
            ExpenseItem {
                date: format!("{:04}-{:02}-{:02}", date.year, date.month, date.day),
                institution_name: names.get(&s.institution).cloned(),
                institution: s.institution,
                institution_kind: s.institution_kind,
                business_type: s.business_type.code().to_owned(),
                business_name_zh: s.business_type.label_zh(),
                shown_by_family: s.shown_by.is_some(),
                reference: s.reference,
                amounts,
            }
        })
        .collect();
    Ok(Expenses {
        voucher_id: target,
        year,
        items,
        by_kind: by_kind.into_values().collect(),
        total,
    })
}
