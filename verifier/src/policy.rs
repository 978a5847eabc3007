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
    /// Device certificates claiming a longer validity are refused. Default 168 hours (the
    /// issuer's default is 72): a week bounds what a stolen, unrevoked phone can do.
    pub max_certificate_hours: u64,
    /// A held status list older than this (since the issuer signed it) vouches for no
    /// device-bound code (`status-list-stale`); kind 1 is unaffected. Default 72 hours: a
    /// terminal that cannot reach the issuer through a weekend outage (62 hours in the seed
    /// story) keeps accepting offline codes, and `docs/terminal.md` states the residual risk.
    pub max_status_age_secs: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            leeway_secs: 30,
            max_lifetime_secs: 180,
            max_certificate_hours: 168,
            max_status_age_secs: 72 * 3_600,
        }
    }
}
