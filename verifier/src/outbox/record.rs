//! Accepting a code: the replay check and the queueing of the presentation, in one commit,
//! with a clock that never goes back for the replay memory.
//!
//! Replay entries are forgotten once their token can no longer verify. If the terminal's
//! clock were then set back, a forgotten token would verify again and be accepted twice. So
//! the outbox keeps a high-water mark of the clock readings it accepted at, forgets an entry
//! only [`CLOCK_TOLERANCE_SECS`] after its token expired, and refuses to accept while the
//! clock is more than that behind the mark (a clock set back is reported, not trusted).

use redb::{ReadableTable, WriteTransaction};
use yibao_shared::UnixTime;

use super::{
    CLOCK_HIGH_WATER, META, NEXT_SEQ, Outbox, OutboxError, QUEUE, SEEN, SEEN_EXPIRY, decode,
    encode, space,
};
use crate::presentation::{Presentation, Visit};
use crate::replay::{Admission, ReplayGuard};
use crate::verifier::VerifiedToken;

/// How far the clock may step back (NTP corrections, a cashier fixing the time by a minute)
/// before codes are refused as [`Admission::ClockBehind`]; also how long after expiry a
/// replay entry is kept.
pub const CLOCK_TOLERANCE_SECS: u64 = 300;

enum Accepted {
    Queued(u64),
    Replayed(UnixTime),
    ClockBehind(UnixTime),
}

impl Outbox {
    /// A replay guard that, on first admission, also queues the presentation: use it with
    /// [`crate::Verifier::check_once`]. `offline` says the code was verified here against
    /// the trust bundle rather than by the issuer.
    pub fn recorder<'a>(&'a self, visit: &'a Visit, offline: bool) -> Recorder<'a> {
        Recorder {
            outbox: self,
            visit,
            offline,
            recorded: None,
        }
    }

    /// The replay check and the queueing of one presentation, committed together.
    fn accept(
        &self,
        token: &VerifiedToken,
        visit: &Visit,
        offline: bool,
        forget_after: UnixTime,
        now: UnixTime,
    ) -> Result<Accepted, OutboxError> {
        // Checked before writing: a write that fails for want of space leaves redb unusable
        // until reopened, and forwarding needs the room more than a new visit does.
        if let Some(free_bytes) = space::free_bytes(self.dir()) {
            if free_bytes < space::MIN_FREE_TO_ACCEPT_BYTES {
                return Err(OutboxError::DiskFull { free_bytes });
            }
        }
        let key = seen_key(token);
        self.guarded(|o, db| {
            let txn = db.begin_write().map_err(|e| o.fail(e))?;
            let accepted = {
                let mut meta = txn.open_table(META).map_err(|e| o.fail(e))?;
                let high_water = match meta.get(CLOCK_HIGH_WATER).map_err(|e| o.fail(e))? {
                    Some(value) => decode::<u64>(value.value())?,
                    None => 0,
                };
                if now.as_secs().saturating_add(CLOCK_TOLERANCE_SECS) < high_water {
                    return Ok(Accepted::ClockBehind(UnixTime::from_secs(high_water)));
                }
                let mut seen = txn.open_table(SEEN).map_err(|e| o.fail(e))?;
                if let Some(first) = seen.get(key.as_slice()).map_err(|e| o.fail(e))? {
                    let (first_seen, _) = first.value();
                    return Ok(Accepted::Replayed(UnixTime::from_secs(first_seen)));
                }
                seen.insert(key.as_slice(), (now.as_secs(), forget_after.as_secs()))
                    .map_err(|e| o.fail(e))?;
                let mut expiry = txn.open_table(SEEN_EXPIRY).map_err(|e| o.fail(e))?;
                expiry
                    .insert(expiry_key(forget_after, &key).as_slice(), ())
                    .map_err(|e| o.fail(e))?;

                if now.as_secs() > high_water {
                    meta.insert(CLOCK_HIGH_WATER, encode(&now.as_secs()).as_slice())
                        .map_err(|e| o.fail(e))?;
                }
                let seq = match meta.get(NEXT_SEQ).map_err(|e| o.fail(e))? {
                    Some(value) => decode::<u64>(value.value())?,
                    None => 1,
                };
                meta.insert(NEXT_SEQ, encode(&(seq + 1)).as_slice())
                    .map_err(|e| o.fail(e))?;
                let presentation = Presentation {
                    seq,
                    code: token.code(),
                    voucher_id: token.voucher_id(),
                    token_id: token.token_id(),
                    visit: visit.clone(),
                    verified_at: token.verified_at(),
                    offline,
                    outcome: None,
                };
                txn.open_table(QUEUE)
                    .map_err(|e| o.fail(e))?
                    .insert(seq, encode(&presentation).as_slice())
                    .map_err(|e| o.fail(e))?;
                Accepted::Queued(seq)
            };
            o.forget_expired(&txn, now)?;
            // redb commits with fsync by default (Durability::Immediate): after this returns
            // the presentation survives a power cut.
            txn.commit().map_err(|e| o.fail(e))?;
            Ok(accepted)
        })
    }

    /// Drops replay entries whose tokens expired more than [`CLOCK_TOLERANCE_SECS`] before
    /// `now` (so a clock stepped back within the tolerance still finds them), a bounded number
    /// per call so no single acceptance pays for a long backlog.
    fn forget_expired(&self, txn: &WriteTransaction, now: UnixTime) -> Result<(), OutboxError> {
        let mut expiry = txn.open_table(SEEN_EXPIRY).map_err(|e| self.fail(e))?;
        let bound = expiry_key(now.saturating_sub(CLOCK_TOLERANCE_SECS), &[0; 16]);
        let stale: Vec<Vec<u8>> = expiry
            .range(..bound.as_slice())
            .map_err(|e| self.fail(e))?
            .take(64)
            .map(|entry| {
                entry
                    .map(|(k, _)| k.value().to_vec())
                    .map_err(|e| self.fail(e))
            })
            .collect::<Result<_, _>>()?;
        let mut seen = txn.open_table(SEEN).map_err(|e| self.fail(e))?;
        for key in stale {
            expiry.remove(key.as_slice()).map_err(|e| self.fail(e))?;
            seen.remove(&key[8..]).map_err(|e| self.fail(e))?;
        }
        Ok(())
    }
}

/// A [`ReplayGuard`] that queues the presentation in the same transaction that records the
/// token as used. Made by [`Outbox::recorder`].
#[derive(Debug)]
pub struct Recorder<'a> {
    outbox: &'a Outbox,
    visit: &'a Visit,
    offline: bool,
    recorded: Option<u64>,
}

impl Recorder<'_> {
    /// The outbox sequence number of the presentation this recorder queued, if it did.
    pub fn recorded(&self) -> Option<u64> {
        self.recorded
    }
}

impl ReplayGuard for Recorder<'_> {
    type Error = OutboxError;

    fn admit(
        &mut self,
        token: &VerifiedToken,
        forget_after: UnixTime,
        now: UnixTime,
    ) -> Result<Admission, OutboxError> {
        match self
            .outbox
            .accept(token, self.visit, self.offline, forget_after, now)?
        {
            Accepted::Queued(seq) => {
                self.recorded = Some(seq);
                Ok(Admission::First)
            }
            Accepted::Replayed(first_seen) => Ok(Admission::Replayed { first_seen }),
            Accepted::ClockBehind(high_water) => Ok(Admission::ClockBehind { high_water }),
        }
    }
}

fn seen_key(token: &VerifiedToken) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&token.voucher_id().0);
    key[8..].copy_from_slice(&token.token_id().0);
    key
}

fn expiry_key(forget_after: UnixTime, key: &[u8; 16]) -> [u8; 24] {
    let mut out = [0; 24];
    out[..8].copy_from_slice(&forget_after.as_secs().to_be_bytes());
    out[8..].copy_from_slice(key);
    out
}
