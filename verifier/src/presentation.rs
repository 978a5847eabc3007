//! What a terminal records about an accepted code, and what settlement said about it.

use serde::{Deserialize, Serialize};
use yibao_shared::{BusinessType, TokenId, UnixTime, VoucherId};

/// Where and why a code is presented: the counter, the cashier, the business step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    /// The designated institution's code (the terminal's institution).
    pub institution: String,
    /// The cashier or operator id, as the hospital system names them.
    pub operator: String,
    /// The national business-type code.
    pub business_type: BusinessType,
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
