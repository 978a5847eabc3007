//! How strict a terminal is about time, applied after the signature check.

/// Verification policy. `Policy::default()` is what the CLI and the cashier page use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Seconds of clock difference forgiven at both ends of a token's validity window.
    /// Default 30: terminals run offline for days and their clocks drift, but a code shown
    /// more than half a minute after it expired is more likely a screenshot than drift.
    pub leeway_secs: u64,
    /// Tokens claiming a longer lifetime are refused even though they are signed. Default
    /// 180 (the issuer's default is 60): a long-lived code is a screenshot waiting to happen.
    pub max_lifetime_secs: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            leeway_secs: 30,
            max_lifetime_secs: 180,
        }
    }
}
