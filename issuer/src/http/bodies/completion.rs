//! The completion body: settled amounts in fen, or the 2207 settlement answer's split in yuan
//! as the hospital system already holds it (`medfee_sumamt`, `fund_pay_sumamt`, `acct_pay`,
//! `acct_mulaid_pay`, `psn_cash_pay`).

use serde::Deserialize;
use yibao_shared::VoucherId;

use crate::domain::error::DomainError;
use crate::model::settlement::Amounts;

/// Settled amounts: either the fen fields (`total_fen`, `fund_fen`, `account_fen`,
/// `cash_fen`, optional `mutual_aid_fen`) or the national 2207 fields in yuan
/// (`medfee_sumamt`, `fund_pay_sumamt`, `acct_pay`, `psn_cash_pay`, optional
/// `acct_mulaid_pay`), not both. A mutual-aid part names its payer in `mutual_aid_payer`
/// (a voucher from the `mulaid_payers` of the decode, handoff or person information answer).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompletionRequest {
    /// The whole bill (fen).
    pub total_fen: Option<u64>,
    /// Paid by the pooled fund (fen).
    pub fund_fen: Option<u64>,
    /// Paid from the patient's own personal account (fen).
    pub account_fen: Option<u64>,
    /// Paid from a relative's personal account (fen).
    pub mutual_aid_fen: Option<u64>,
    /// Paid in cash (fen).
    pub cash_fen: Option<u64>,
    /// 医疗费总额 (yuan, two decimals).
    pub medfee_sumamt: Option<f64>,
    /// 基金支付总额 (yuan).
    pub fund_pay_sumamt: Option<f64>,
    /// 个人账户支出 (yuan).
    pub acct_pay: Option<f64>,
    /// 个人账户共济支付金额 (yuan).
    pub acct_mulaid_pay: Option<f64>,
    /// 个人现金支出 (yuan).
    pub psn_cash_pay: Option<f64>,
    /// Whose personal account paid the mutual-aid part (their voucher id).
    #[schema(pattern = "^[0-9a-f]{16}$")]
    pub mutual_aid_payer: Option<String>,
}

/// Above any real bill (100 million yuan), as yuan.
const MAX_YUAN: f64 = 100_000_000.0;

/// Yuan with at most two decimals, as fen.
fn fen(yuan: f64, field: &'static str) -> Result<u64, DomainError> {
    let scaled = yuan * 100.0;
    let rounded = scaled.round();
    // A decimal like 0.29 is 28.999999999999996 fen in binary: a third decimal is not.
    if !yuan.is_finite() || !(0.0..=MAX_YUAN).contains(&yuan) || (scaled - rounded).abs() > 1e-6 {
        return Err(DomainError::InvalidField(field));
    }
    // In range and whole: the cast is exact.
    Ok(rounded as u64)
}

impl CompletionRequest {
    /// The amounts in fen, checked for form (not for adding up: the domain does that).
    ///
    /// # Errors
    ///
    /// [`DomainError::InvalidField`] naming what is missing, mixed or malformed.
    pub fn amounts(&self) -> Result<Amounts, DomainError> {
        let fen_form = [
            self.total_fen,
            self.fund_fen,
            self.account_fen,
            self.mutual_aid_fen,
            self.cash_fen,
        ]
        .iter()
        .any(Option::is_some);
        let national = [
            self.medfee_sumamt,
            self.fund_pay_sumamt,
            self.acct_pay,
            self.acct_mulaid_pay,
            self.psn_cash_pay,
        ]
        .iter()
        .any(Option::is_some);
        let need = |v: Option<u64>, field| v.ok_or(DomainError::InvalidField(field));
        let yuan = |v: Option<f64>, field| fen(v.ok_or(DomainError::InvalidField(field))?, field);
        let mut amounts = match (fen_form, national) {
            (true, false) => Amounts {
                total_fen: need(self.total_fen, "total_fen")?,
                fund_fen: need(self.fund_fen, "fund_fen")?,
                account_fen: need(self.account_fen, "account_fen")?,
                cash_fen: need(self.cash_fen, "cash_fen")?,
                mutual_aid_fen: self.mutual_aid_fen.unwrap_or(0),
                mutual_aid_payer: None,
            },
            (false, true) => Amounts {
                total_fen: yuan(self.medfee_sumamt, "medfee_sumamt")?,
                fund_fen: yuan(self.fund_pay_sumamt, "fund_pay_sumamt")?,
                account_fen: yuan(self.acct_pay, "acct_pay")?,
                cash_fen: yuan(self.psn_cash_pay, "psn_cash_pay")?,
                mutual_aid_fen: yuan(self.acct_mulaid_pay.or(Some(0.0)), "acct_mulaid_pay")?,
                mutual_aid_payer: None,
            },
            (true, true) => {
                return Err(DomainError::InvalidField(
                    "amounts: the fen fields or the 2207 fields, not both",
                ));
            }
            (false, false) => {
                return Err(DomainError::InvalidField(
                    "amounts: total_fen, fund_fen, account_fen, cash_fen (or the 2207 fields)",
                ));
            }
        };
        if let Some(payer) = &self.mutual_aid_payer {
            amounts.mutual_aid_payer =
                Some(VoucherId::parse(payer).ok_or(DomainError::InvalidField("mutual_aid_payer"))?);
        }
        Ok(amounts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_become_fen_exactly_or_are_refused() {
        assert_eq!(fen(0.29, "x").ok(), Some(29));
        assert_eq!(fen(123.45, "x").ok(), Some(12_345));
        assert_eq!(fen(0.0, "x").ok(), Some(0));
        for bad in [0.001, -1.0, f64::NAN, f64::INFINITY, 1e9] {
            assert!(fen(bad, "x").is_err(), "{bad}");
        }
    }

    #[test]
    fn one_form_or_the_other() {
        let national = CompletionRequest {
            medfee_sumamt: Some(100.0),
            fund_pay_sumamt: Some(60.0),
            acct_pay: Some(10.0),
            acct_mulaid_pay: Some(20.5),
            psn_cash_pay: Some(9.5),
            mutual_aid_payer: Some("00112233445566ff".into()),
            ..CompletionRequest::default()
        };
        let amounts = national.amounts().expect("national form");
        assert_eq!(
            (amounts.total_fen, amounts.mutual_aid_fen, amounts.cash_fen),
            (10_000, 2_050, 950)
        );
        assert!(amounts.is_consistent());
        let mixed = CompletionRequest {
            total_fen: Some(10_000),
            ..national
        };
        assert!(mixed.amounts().is_err());
        assert!(CompletionRequest::default().amounts().is_err());
        let bad_payer = CompletionRequest {
            total_fen: Some(1),
            fund_fen: Some(1),
            account_fen: Some(0),
            cash_fen: Some(0),
            mutual_aid_payer: Some("not-a-voucher".into()),
            ..CompletionRequest::default()
        };
        assert!(bad_payer.amounts().is_err());
    }
}
