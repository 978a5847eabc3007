//! Where `now` comes from. Verification never reads a clock itself; binaries construct a
//! [`SystemClock`], tests a [`FixedClock`].

use std::time::{SystemTime, UNIX_EPOCH};

use yibao_shared::UnixTime;

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> UnixTime;
}

/// The operating system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        // A clock before 1970 is treated as the epoch: everything will look not-yet-valid,
        // which is the safe failure.
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        UnixTime::from_secs(secs)
    }
}

/// A clock that always says the same time.
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub UnixTime);

impl Clock for FixedClock {
    fn now(&self) -> UnixTime {
        self.0
    }
}
