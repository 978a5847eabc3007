//! What the issuer keeps about settlements: one record per settled token, its amounts, and
//! each refused second handoff (double use).

use serde::{Deserialize, Serialize};
use yibao_shared::{BusinessType, TokenId, UnixTime, VisitContext, VoucherId};

use super::InstitutionKind;

/// The settlement of one presented token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Settlement {
    /// Opaque reference (≤ 40 characters) for the hospital system's later calls.
    pub reference: String,
    /// Whose voucher was settled (the member's, for a family-proxy code).
    #[schema(value_type = String)]
    pub voucher_id: VoucherId,
    /// The token.
    #[schema(value_type = String)]
    pub token_id: TokenId,
    /// The binder who showed the code, for a family-proxy code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub shown_by: Option<VoucherId>,
    /// The terminal whose handoff settled it.
    pub terminal: String,
    /// Its institution.
    pub institution: String,
    /// Hospital or pharmacy.
    pub institution_kind: InstitutionKind,
    /// The cashier or operator.
    pub operator: String,
    /// National business-type code.
    #[schema(value_type = crate::model::names::BusinessTypeCode, example = "01301")]
    pub business_type: BusinessType,
    /// The operator's name, the office and the device, when the hospital system gave them.
    #[serde(default, skip_serializing_if = "VisitContext::is_empty")]
    #[schema(value_type = crate::model::names::VisitContextFields)]
    pub context: VisitContext,
    /// When the terminal verified the code.
    #[schema(value_type = u64)]
    pub verified_at: UnixTime,
    /// Verified by the terminal itself (not through online decode).
    pub offline: bool,
    /// When the issuer received the handoff.
    #[schema(value_type = u64)]
    pub received_at: UnixTime,
    /// The settled amounts, once the hospital system completed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amounts: Option<Amounts>,
    /// When it was completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u64>)]
    pub completed_at: Option<UnixTime>,
    /// Every time the settling institution read the patient's identity (1101), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identity_reads: Vec<IdentityRead>,
}

/// One read of a settled patient's identity by the settling institution (实名就医).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IdentityRead {
    /// When.
    #[schema(value_type = u64)]
    pub at: UnixTime,
    /// The terminal that asked.
    pub terminal: String,
}

/// Settled amounts in fen (1/100 yuan): `fund + account + mutual_aid + cash = total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Amounts {
    /// The whole bill.
    pub total_fen: u64,
    /// Paid by the pooled fund (统筹基金).
    pub fund_fen: u64,
    /// Paid from the personal account (个人账户).
    pub account_fen: u64,
    /// Paid by the patient in cash (现金).
    pub cash_fen: u64,
    /// Paid from a relative's personal account (个人账户家庭共济).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mutual_aid_fen: u64,
    /// Whose personal account paid `mutual_aid_fen`: present exactly when it is above zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{16}$")]
    pub mutual_aid_payer: Option<VoucherId>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Above any real bill (100 million yuan): a typo, not a visit.
const MAX_TOTAL_FEN: u64 = 10_000_000_000;

impl Amounts {
    /// Whether the parts add up to the total, the total is plausible, and a mutual-aid part
    /// names its payer (and only a mutual-aid part does).
    pub fn is_consistent(&self) -> bool {
        self.total_fen <= MAX_TOTAL_FEN
            && (self.mutual_aid_fen > 0) == self.mutual_aid_payer.is_some()
            && self
                .fund_fen
                .checked_add(self.account_fen)
                .and_then(|s| s.checked_add(self.mutual_aid_fen))
                .and_then(|s| s.checked_add(self.cash_fen))
                == Some(self.total_fen)
    }

    /// Adds `other`'s sums (saturating; totals stay far below `u64::MAX`). A sum of several
    /// visits names no payer.
    pub fn add(&mut self, other: &Self) {
        self.total_fen = self.total_fen.saturating_add(other.total_fen);
        self.fund_fen = self.fund_fen.saturating_add(other.fund_fen);
        self.account_fen = self.account_fen.saturating_add(other.account_fen);
        self.mutual_aid_fen = self.mutual_aid_fen.saturating_add(other.mutual_aid_fen);
        self.cash_fen = self.cash_fen.saturating_add(other.cash_fen);
        self.mutual_aid_payer = None;
    }
}

/// A handoff refused because another terminal settled the token first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DoubleUse {
    /// The settlement that won.
    pub reference: String,
    /// Whose voucher.
    #[schema(value_type = String)]
    pub voucher_id: VoucherId,
    /// The token.
    #[schema(value_type = String)]
    pub token_id: TokenId,
    /// The terminal that settled it.
    pub settled_by: String,
    /// The terminal whose handoff was refused.
    pub terminal: String,
    /// Its institution.
    pub institution: String,
    /// Its operator.
    pub operator: String,
    /// When that terminal says it verified the code.
    #[schema(value_type = u64)]
    pub verified_at: UnixTime,
    /// When the refused handoff arrived (the first one, if it was retried).
    #[schema(value_type = u64)]
    pub received_at: UnixTime,
}

/// The reference of a token's settlement: `yb` + voucher id + token id in hex (34
/// characters). Deterministic, so the once-only key and the reference cannot disagree;
/// knowing it grants nothing (completing needs a terminal of the settling institution).
pub fn reference(voucher: VoucherId, token: TokenId) -> String {
    format!("yb{voucher}{token}")
}

/// The voucher and token a reference names, if it is one.
pub fn parse_reference(reference: &str) -> Option<(VoucherId, TokenId)> {
    let rest = reference.strip_prefix("yb")?;
    if rest.len() != 32 || !rest.is_ascii() {
        return None;
    }
    Some((VoucherId::parse(&rest[..16])?, TokenId::parse(&rest[16..])?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_round_trip_and_fit_the_ec_token_size() {
        let (voucher, token) = (VoucherId([0xab; 8]), TokenId([0x01; 8]));
        let r = reference(voucher, token);
        assert!(r.len() <= 40);
        assert_eq!(parse_reference(&r), Some((voucher, token)));
        for bad in [
            "",
            "yb",
            "xx".repeat(17).as_str(),
            &r[..33],
            &format!("{r}0"),
            "yb中文",
        ] {
            assert_eq!(parse_reference(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn amounts_must_add_up() {
        let ok = Amounts {
            total_fen: 12_345,
            fund_fen: 8_000,
            account_fen: 3_000,
            cash_fen: 1_345,
            ..Amounts::default()
        };
        assert!(ok.is_consistent());
        assert!(
            !Amounts {
                cash_fen: 1_344,
                ..ok
            }
            .is_consistent()
        );
        let overflow = Amounts {
            total_fen: 5,
            fund_fen: u64::MAX,
            account_fen: 6,
            ..Amounts::default()
        };
        assert!(!overflow.is_consistent());
        let huge = Amounts {
            total_fen: MAX_TOTAL_FEN + 1,
            fund_fen: MAX_TOTAL_FEN + 1,
            ..Amounts::default()
        };
        assert!(!huge.is_consistent());
        let aided = Amounts {
            account_fen: 0,
            mutual_aid_fen: 3_000,
            mutual_aid_payer: Some(VoucherId([7; 8])),
            ..ok
        };
        assert!(aided.is_consistent());
        let unnamed = Amounts {
            mutual_aid_payer: None,
            ..aided
        };
        assert!(
            !unnamed.is_consistent(),
            "a mutual-aid part names its payer"
        );
        let named_without_part = Amounts {
            mutual_aid_payer: Some(VoucherId([7; 8])),
            ..ok
        };
        assert!(!named_without_part.is_consistent());
        assert!(
            !Amounts {
                mutual_aid_fen: 1,
                ..aided
            }
            .is_consistent(),
            "the mutual-aid part counts toward the total"
        );
    }
}
