//! Refusing the same code twice at one terminal.

use std::collections::HashMap;
use std::convert::Infallible;

use yibao_shared::{TokenId, UnixTime, VoucherId};

use crate::verifier::VerifiedToken;

/// Outcome of presenting a verified token to a replay guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// First time seen: it is now recorded.
    First,
    /// Already accepted once.
    Replayed {
        /// When it was first accepted.
        first_seen: UnixTime,
    },
    /// The clock is further behind the latest time this guard accepted at than it allows:
    /// a token it has forgotten could verify again, so nothing is accepted until the clock
    /// is right.
    ClockBehind {
        /// The latest time a code was accepted at.
        high_water: UnixTime,
    },
}

/// Remembers accepted tokens until they could no longer verify anyway.
///
/// An implementation only has to remember a token until `forget_after` (its expiry plus the
/// clock-skew leeway): after that the verifier refuses it as expired, so memory is bounded by
/// the tokens accepted in one validity window. The durable implementation lives with the
/// terminal's outbox so replay is refused across restarts.
pub trait ReplayGuard {
    /// Why the guard itself failed (I/O for a durable guard); not a verdict on the token.
    type Error;

    /// Records `token` as used, or reports that it was used before.
    ///
    /// # Errors
    ///
    /// Only when the guard cannot record (never for [`MemoryReplayGuard`]).
    fn admit(
        &mut self,
        token: &VerifiedToken,
        forget_after: UnixTime,
        now: UnixTime,
    ) -> Result<Admission, Self::Error>;
}

/// A replay guard in memory: for tests and for terminals that accept losing replay memory on
/// restart (settlement still refuses double use).
#[derive(Debug, Default)]
pub struct MemoryReplayGuard {
    seen: HashMap<(VoucherId, TokenId), Seen>,
    next_prune: UnixTime,
}

#[derive(Clone, Copy, Debug)]
struct Seen {
    first_seen: UnixTime,
    forget_after: UnixTime,
}

impl MemoryReplayGuard {
    /// An empty guard.
    pub fn new() -> Self {
        Self::default()
    }

    /// Tokens currently remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn prune(&mut self, now: UnixTime) {
        // Pruning walks the whole map, so do it at most once a minute; between prunes the map
        // only holds tokens of about two validity windows.
        if now < self.next_prune {
            return;
        }
        self.seen.retain(|_, s| s.forget_after > now);
        self.next_prune = now.saturating_add(60);
    }
}

impl ReplayGuard for MemoryReplayGuard {
    type Error = Infallible;

    fn admit(
        &mut self,
        token: &VerifiedToken,
        forget_after: UnixTime,
        now: UnixTime,
    ) -> Result<Admission, Infallible> {
        self.prune(now);
        let key = (token.voucher_id(), token.token_id());
        if let Some(seen) = self.seen.get(&key) {
            return Ok(Admission::Replayed {
                first_seen: seen.first_seen,
            });
        }
        self.seen.insert(
            key,
            Seen {
                first_seen: now,
                forget_after,
            },
        );
        Ok(Admission::First)
    }
}
