//! The bodies of the settlement endpoints (handoffs, online decode, expenses, the operator's
//! audit), and how the domain's values become them.

use serde::{Deserialize, Serialize};
use yibao_shared::{Claims, TokenId, UnixTime, VisitContext, VoucherId};
use yibao_verifier::Rejection;

use crate::domain::family::today;
use crate::domain::settlement::expenses::{AidGiven, KindTotal, Ledger, LedgerVisit};
use crate::domain::settlement::intake::{Decoded, Handoff, HandoffOutcome};
use crate::http::bodies::person_info::MutualAidPayer;
use crate::model::InstitutionKind;
use crate::model::settlement::{Amounts, DoubleUse, Settlement};

/// A batch of handoffs.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoffBatch {
    /// 1 to 500 presentations.
    pub handoffs: Vec<HandoffItem>,
}

/// The answers, one per handoff in request order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HandoffAnswers {
    /// Results in request order.
    pub results: Vec<HandoffResult>,
}

/// One presentation a terminal verified and queued.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoffItem {
    /// The code as scanned.
    pub code: String,
    /// The institution code (must be the terminal's).
    pub institution: String,
    /// Cashier or operator id.
    pub operator: String,
    /// National business-type code, e.g. `01301` (see `BusinessTypeCode`). Checked per
    /// item: an unknown code refuses that item with `invalid-business-type`, not the batch.
    pub business_type: String,
    /// The operator's name (national `operatorName`), 1-64 characters.
    #[serde(default)]
    pub operator_name: Option<String>,
    /// The office (科室) code (`officeId`), 1-32 characters.
    #[serde(default)]
    pub office_id: Option<String>,
    /// The office's name (`officeName`), 1-64 characters.
    #[serde(default)]
    pub office_name: Option<String>,
    /// The reading device's type (`deviceType`), 1-16 characters.
    #[serde(default)]
    pub device_type: Option<String>,
    /// When the terminal verified it (unix seconds).
    pub verified_at: u64,
    /// Verified by the terminal against its trust bundle.
    #[serde(default = "yes")]
    pub offline: bool,
}

fn yes() -> bool {
    true
}

/// What became of one handoff.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HandoffStatus {
    /// Settled by this terminal (now or on an earlier try): see `reference`.
    Settled,
    /// Another terminal settled this token first; recorded for audit.
    DoubleUse,
    /// Refused: see `code` (a verifier rejection code, `handoff-too-late`, …).
    Rejected,
}

/// The answer for one handoff, in request order.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct HandoffResult {
    /// Outcome.
    pub status: HandoffStatus,
    /// The token, when the code could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub token_id: Option<TokenId>,
    /// Settlement reference (settled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Stable code (double use, rejected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// Explanation (double use, rejected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A code to decode online.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecodeRequest {
    /// The code as scanned.
    pub code: String,
    /// The institution code (must be the terminal's).
    pub institution: String,
    /// Cashier or operator id.
    pub operator: String,
    /// National business-type code.
    #[schema(value_type = crate::model::names::BusinessTypeCode)]
    pub business_type: String,
    /// The operator's name (national `operatorName`), 1-64 characters.
    #[serde(default)]
    pub operator_name: Option<String>,
    /// The office (科室) code (`officeId`), 1-32 characters.
    #[serde(default)]
    pub office_id: Option<String>,
    /// The office's name (`officeName`), 1-64 characters.
    #[serde(default)]
    pub office_name: Option<String>,
    /// The reading device's type (`deviceType`), 1-16 characters.
    #[serde(default)]
    pub device_type: Option<String>,
}

impl DecodeRequest {
    /// The visit context the request carries.
    pub fn context(&self) -> VisitContext {
        VisitContext {
            operator_name: self.operator_name.clone(),
            office_id: self.office_id.clone(),
            office_name: self.office_name.clone(),
            device_type: self.device_type.clone(),
        }
    }
}

/// The verdict, as the offline verifier would give it, plus the settlement reference.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct DecodeResponse {
    /// Whether the code is accepted.
    pub accepted: bool,
    /// Rejection code (`expired`, `bad-signature`, `replayed`, `double-use`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// Reason for the cashier, in Chinese.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_zh: Option<&'static str>,
    /// Reason in English.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_en: Option<&'static str>,
    /// Settlement reference: when accepted, and for `replayed` (this terminal's own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The token id.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub token_id: Option<TokenId>,
    /// Whose voucher.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub voucher_id: Option<VoucherId>,
    /// Expiry of the code.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u64>)]
    pub expires_at: Option<UnixTime>,
    /// What the cashier checks: masked name, gender, birth year, region, family proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub claims: Option<Claims>,
    /// Accepted: accounts that may pay for the visit (家庭共济).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mulaid_payers: Vec<MutualAidPayer>,
}

impl DecodeResponse {
    fn refused(rejection: &Rejection) -> Self {
        Self {
            accepted: false,
            code: Some(rejection.code()),
            reason_zh: Some(rejection.reason_zh()),
            reason_en: Some(rejection.reason_en()),
            reference: None,
            token_id: None,
            voucher_id: None,
            expires_at: None,
            claims: None,
            mulaid_payers: Vec::new(),
        }
    }
}

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
    /// The masked name of the relative whose personal account paid `mutual_aid_fen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mutual_aid_payer_name: Option<String>,
}

/// A relative's visit the voucher's personal account paid for (家庭共济).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AidGivenItem {
    /// The relative's settlement reference.
    pub reference: String,
    /// Visit date (China Standard Time), `YYYY-MM-DD`.
    pub date: String,
    /// The relative's voucher.
    #[schema(value_type = String)]
    pub member: VoucherId,
    /// Their masked name.
    pub member_name: String,
    /// Institution code.
    pub institution: String,
    /// Institution name, when the institution is still registered.
    pub institution_name: Option<String>,
    /// What the account paid (fen).
    pub paid_fen: u64,
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
    /// Relatives' visits the voucher's personal account paid for, newest first.
    pub aid_given: Vec<AidGivenItem>,
    /// Their sum (fen).
    pub aid_given_fen: u64,
}

/// A voucher's settlements and refused double uses.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SettlementAudit {
    /// Every settlement, oldest first.
    pub settlements: Vec<Settlement>,
    /// Every refused double use.
    pub double_uses: Vec<DoubleUse>,
}

impl From<HandoffItem> for Handoff {
    fn from(h: HandoffItem) -> Self {
        Self {
            code: h.code,
            institution: h.institution,
            operator: h.operator,
            business_type: h.business_type,
            context: VisitContext {
                operator_name: h.operator_name,
                office_id: h.office_id,
                office_name: h.office_name,
                device_type: h.device_type,
            },
            verified_at: h.verified_at,
            offline: h.offline,
        }
    }
}

impl From<HandoffOutcome> for HandoffResult {
    fn from(o: HandoffOutcome) -> Self {
        match o {
            HandoffOutcome::Settled {
                token_id,
                reference,
            } => Self {
                status: HandoffStatus::Settled,
                token_id: Some(token_id),
                reference: Some(reference),
                code: None,
                message: None,
            },
            HandoffOutcome::DoubleUse { token_id } => Self {
                status: HandoffStatus::DoubleUse,
                token_id: Some(token_id),
                reference: None,
                code: Some("double-use"),
                message: Some("already settled at another terminal".into()),
            },
            HandoffOutcome::Rejected {
                token_id,
                code,
                message,
            } => Self {
                status: HandoffStatus::Rejected,
                token_id,
                reference: None,
                code: Some(code),
                message: Some(message),
            },
        }
    }
}

impl From<Decoded> for DecodeResponse {
    fn from(d: Decoded) -> Self {
        match d {
            Decoded::Refused(rejection) => Self::refused(&rejection),
            Decoded::Accepted {
                token,
                reference,
                payers,
            } => Self {
                accepted: true,
                code: None,
                reason_zh: None,
                reason_en: None,
                reference: Some(reference),
                token_id: Some(token.token_id()),
                voucher_id: Some(token.voucher_id()),
                expires_at: Some(token.expires_at()),
                claims: Some(token.claims().clone()),
                mulaid_payers: payers.into_iter().map(Into::into).collect(),
            },
            // The same terminal decoding the same code again: the offline verifier's
            // "replayed", with the terminal's own reference so a retry after a lost answer
            // can recover it.
            Decoded::Repeat(s) => Self {
                reference: Some(s.reference),
                token_id: Some(s.token_id),
                ..Self::refused(&Rejection::Replayed {
                    token_id: s.token_id,
                })
            },
            Decoded::DoubleUse(s) => Self {
                accepted: false,
                code: Some("double-use"),
                reason_zh: Some("医保码已在其他终端使用"),
                reason_en: Some("code already used at another terminal"),
                token_id: Some(s.token_id),
                ..Self::refused(&Rejection::Replayed {
                    token_id: s.token_id,
                })
            },
        }
    }
}

impl From<LedgerVisit> for ExpenseItem {
    fn from(v: LedgerVisit) -> Self {
        let s = v.settlement;
        let date = today(s.verified_at);
        Self {
            date: format!("{:04}-{:02}-{:02}", date.year, date.month, date.day),
            institution_name: v.institution_name,
            institution: s.institution,
            institution_kind: s.institution_kind,
            business_type: s.business_type.code().to_owned(),
            business_name_zh: s.business_type.label_zh(),
            shown_by_family: s.shown_by.is_some(),
            reference: s.reference,
            amounts: v.amounts,
            mutual_aid_payer_name: v.mutual_aid_payer_name,
        }
    }
}

impl From<AidGiven> for AidGivenItem {
    fn from(a: AidGiven) -> Self {
        let s = a.settlement;
        Self {
            date: today(s.verified_at).to_string(),
            member: s.voucher_id,
            member_name: a.member_name,
            institution: s.institution,
            institution_name: a.institution_name,
            reference: s.reference,
            paid_fen: a.paid_fen,
        }
    }
}

impl From<KindTotal> for KindTotals {
    fn from(k: KindTotal) -> Self {
        Self {
            institution_kind: k.institution_kind,
            visits: k.visits,
            amounts: k.amounts,
        }
    }
}

impl From<Ledger> for Expenses {
    fn from(l: Ledger) -> Self {
        Self {
            voucher_id: l.voucher_id,
            year: l.year,
            items: l.visits.into_iter().map(ExpenseItem::from).collect(),
            by_kind: l.by_kind.into_iter().map(KindTotals::from).collect(),
            total: l.total,
            aid_given_fen: l.aid_given.iter().map(|a| a.paid_fen).sum(),
            aid_given: l.aid_given.into_iter().map(AidGivenItem::from).collect(),
        }
    }
}
