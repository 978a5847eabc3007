//! What a terminal records about an accepted code, and what settlement said about it.

use serde::{Deserialize, Serialize};
use yibao_shared::{BusinessType, TokenId, UnixTime, VisitContext, VoucherId};

/// Where and why a code is presented: the counter, the cashier, the business step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    /// The designated institution's code (the terminal's institution).
    pub institution: String,
    /// The cashier or operator id, as the hospital system names them.
    pub operator: String,
    /// The national business-type code.
    pub business_type: BusinessType,
    /// The operator's name, the office, the device, when the hospital system gave them
    /// (absent in records written before they were kept).
    #[serde(default, flatten)]
    pub context: VisitContext,
}

/// An accepted presentation as the outbox holds it until settlement has answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presentation {
    /// Position in this terminal's outbox (increasing, never reused).
    pub seq: u64,
    /// The code as verified, handed to settlement, which re-verifies it.
    pub code: String,
    /// Whose voucher.
    pub voucher_id: VoucherId,
    /// The token's id (settlement's once-only key).
    pub token_id: TokenId,
    /// Where and why.
    #[serde(flatten)]
    pub visit: Visit,
    /// When this terminal verified it.
    pub verified_at: UnixTime,
    /// Verified by this terminal against its trust bundle, without asking the issuer.
    pub offline: bool,
    /// Settlement's answer, once there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

/// Settlement's final answer for one presentation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// Settled: the reference for the hospital system's later calls.
    Settled {
        /// Opaque settlement reference.
        reference: String,
        /// When the answer arrived.
        at: UnixTime,
    },
    /// Refused for good (double use at another terminal, a code settlement does not accept):
    /// kept for the operator, never retried.
    Refused {
        /// Stable error code from the issuer.
        code: String,
        /// The issuer's words.
        message: String,
        /// When the answer arrived.
        at: UnixTime,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_written_before_the_visit_context_was_kept_still_reads() {
        let old = r#"{"seq":3,"code":"x","voucher_id":"0123456789abcdef","token_id":"0123456789abcdef",
            "institution":"P1","operator":"op","business_type":"02121","verified_at":5,"offline":true}"#;
        let read: Presentation = serde_json::from_str(old).expect("reads");
        assert_eq!(read.visit.context, VisitContext::default());
        assert_eq!(read.visit.operator, "op");
        let mut with = read.clone();
        with.visit.context.office_name = Some("消化内科".into());
        let again: Presentation =
            serde_json::from_str(&serde_json::to_string(&with).expect("writes")).expect("reads");
        assert_eq!(again, with);
    }
}
