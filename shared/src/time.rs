//! Time as plain values: this crate never reads a clock.

use core::fmt;

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch (UTC), as a value the caller supplies.
///
/// The shared crate and the verifier never read the system clock: terminals run offline and
/// their clocks drift, so `now` is always an argument and the policy decides how much skew
/// to forgive.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct UnixTime(u64);

impl UnixTime {
    /// A time `secs` seconds after 1970-01-01T00:00:00Z.
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs)
    }

    /// Seconds since the epoch.
    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// `self + secs`, saturating at the far future instead of wrapping.
    pub const fn saturating_add(self, secs: u64) -> Self {
        Self(self.0.saturating_add(secs))
    }

    /// `self - secs`, saturating at the epoch.
    pub const fn saturating_sub(self, secs: u64) -> Self {
        Self(self.0.saturating_sub(secs))
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
