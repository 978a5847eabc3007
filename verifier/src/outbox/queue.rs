//! The queue and the history: what the forwarder reads, settlement's answers, pruning. An
//! unreadable record is moved to the quarantine (kept as it was, reported by `status`) so it
//! never blocks the healthy ones.

use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use yibao_shared::UnixTime;

use super::{
    DONE, Outbox, OutboxError, QUARANTINE, QUEUE, REFUSED_COUNT, SETTLED_COUNT, decode, encode,
    space,
};
use crate::presentation::{Outcome, Presentation};

/// Settled history older than this is pruned: settlement holds the record of truth, and a
/// terminal keeps enough to answer "what happened to that visit" for a quarter.
const KEEP_DONE_SECS: u64 = 90 * 86_400;

impl Outbox {
    /// Up to `limit` queued presentations, oldest first. Records that cannot be read are
    /// moved to the quarantine on the way (see [`super::OutboxStatus::quarantined`]).
    ///
    /// # Errors
    ///
    /// Storage failure.
    pub fn queued(&self, limit: usize) -> Result<Vec<Presentation>, OutboxError> {
        let (good, bad) = self.guarded(|o, db| {
            let txn = db.begin_read().map_err(|e| o.fail(e))?;
            let table = txn.open_table(QUEUE).map_err(|e| o.fail(e))?;
            let (mut good, mut bad) = (Vec::new(), Vec::new());
            for entry in table.iter().map_err(|e| o.fail(e))? {
                let (seq, value) = entry.map_err(|e| o.fail(e))?;
                match decode::<Presentation>(value.value()) {
                    Ok(p) => good.push(p),
                    Err(_) => bad.push(seq.value()),
                }
                if good.len() == limit {
                    break;
                }
            }
            Ok((good, bad))
        })?;
        if !bad.is_empty() {
            self.quarantine(&bad)?;
        }
        Ok(good)
    }

    /// Moves the queued records `seqs` to the quarantine, bytes unchanged.
    fn quarantine(&self, seqs: &[u64]) -> Result<(), OutboxError> {
        self.guarded(|o, db| {
            let txn = db.begin_write().map_err(|e| o.fail(e))?;
            {
                let mut queue = txn.open_table(QUEUE).map_err(|e| o.fail(e))?;
                let mut quarantine = txn.open_table(QUARANTINE).map_err(|e| o.fail(e))?;
                for seq in seqs {
                    let raw = queue
                        .remove(*seq)
                        .map_err(|e| o.fail(e))?
                        .map(|v| v.value().to_vec());
                    if let Some(raw) = raw {
                        quarantine
                            .insert(*seq, raw.as_slice())
                            .map_err(|e| o.fail(e))?;
                    }
                }
            }
            txn.commit().map_err(|e| o.fail(e))
        })
    }

    /// Records settlement's answers: each answered presentation leaves the queue for the
    /// history, in one transaction. Answers for sequence numbers no longer queued (a second
    /// forwarder got there first) are ignored. With little disk space left, the emergency
    /// reserve is released first and the answered presentations are not kept as history
    /// (settlement holds the record), so forwarding frees space instead of needing it.
    ///
    /// # Errors
    ///
    /// Storage failure; then nothing is recorded and the presentations stay queued
    /// (settlement answers a retry the same way).
    pub fn record_outcomes(
        &self,
        outcomes: Vec<(u64, Outcome)>,
        now: UnixTime,
    ) -> Result<(), OutboxError> {
        let low = space::make_room(self.dir());
        self.guarded(|o, db| {
            let txn = db.begin_write().map_err(|e| o.fail(e))?;
            let (mut settled, mut refused) = (0i64, 0i64);
            {
                let mut queue = txn.open_table(QUEUE).map_err(|e| o.fail(e))?;
                let mut done = txn.open_table(DONE).map_err(|e| o.fail(e))?;
                let mut quarantine = txn.open_table(QUARANTINE).map_err(|e| o.fail(e))?;
                for (seq, outcome) in outcomes {
                    let Some(stored) = queue.remove(seq).map_err(|e| o.fail(e))? else {
                        continue;
                    };
                    let raw = stored.value().to_vec();
                    drop(stored);
                    match outcome {
                        Outcome::Settled { .. } => settled += 1,
                        Outcome::Refused { .. } => refused += 1,
                    }
                    let Ok(mut presentation) = decode::<Presentation>(&raw) else {
                        quarantine
                            .insert(seq, raw.as_slice())
                            .map_err(|e| o.fail(e))?;
                        continue;
                    };
                    if !low {
                        presentation.outcome = Some(outcome);
                        done.insert(seq, encode(&presentation).as_slice())
                            .map_err(|e| o.fail(e))?;
                    }
                }
            }
            o.add_count(&txn, SETTLED_COUNT, settled)?;
            o.add_count(&txn, REFUSED_COUNT, refused)?;
            o.prune_done(&txn, now)?;
            txn.commit().map_err(|e| o.fail(e))
        })
    }

    /// The presentation with this sequence number, queued or answered.
    ///
    /// # Errors
    ///
    /// Storage or decoding failure.
    pub fn presentation(&self, seq: u64) -> Result<Option<Presentation>, OutboxError> {
        self.guarded(|o, db| {
            let txn = db.begin_read().map_err(|e| o.fail(e))?;
            for table in [QUEUE, DONE] {
                let table = txn.open_table(table).map_err(|e| o.fail(e))?;
                if let Some(value) = table.get(seq).map_err(|e| o.fail(e))? {
                    return decode(value.value()).map(Some);
                }
            }
            Ok(None)
        })
    }

    /// The newest `limit` presentations settlement refused (double use at another terminal, a
    /// code it does not accept), newest first: what the cashier must see, not only count.
    ///
    /// # Errors
    ///
    /// Storage failure; an unreadable history record is skipped.
    pub fn recent_refusals(&self, limit: usize) -> Result<Vec<Presentation>, OutboxError> {
        self.guarded(|o, db| {
            let txn = db.begin_read().map_err(|e| o.fail(e))?;
            let done = txn.open_table(DONE).map_err(|e| o.fail(e))?;
            let mut found = Vec::new();
            for entry in done.iter().map_err(|e| o.fail(e))?.rev() {
                if found.len() == limit {
                    break;
                }
                let (_, value) = entry.map_err(|e| o.fail(e))?;
                if let Ok(p) = decode::<Presentation>(value.value()) {
                    if matches!(p.outcome, Some(Outcome::Refused { .. })) {
                        found.push(p);
                    }
                }
            }
            Ok(found)
        })
    }

    /// Drops settled history older than [`KEEP_DONE_SECS`], oldest first, a bounded number
    /// per call. An unreadable history record goes too (settlement holds the truth).
    fn prune_done(&self, txn: &WriteTransaction, now: UnixTime) -> Result<(), OutboxError> {
        let cutoff = now.saturating_sub(KEEP_DONE_SECS);
        let mut done = txn.open_table(DONE).map_err(|e| self.fail(e))?;
        let mut old = Vec::new();
        let (mut settled, mut refused) = (0i64, 0i64);
        for entry in done.iter().map_err(|e| self.fail(e))?.take(64) {
            let (seq, value) = entry.map_err(|e| self.fail(e))?;
            let Ok(presentation) = decode::<Presentation>(value.value()) else {
                old.push(seq.value());
                continue;
            };
            if presentation.verified_at >= cutoff {
                break;
            }
            match presentation.outcome {
                Some(Outcome::Refused { .. }) => refused -= 1,
                _ => settled -= 1,
            }
            old.push(seq.value());
        }
        for seq in old {
            done.remove(seq).map_err(|e| self.fail(e))?;
        }
        drop(done);
        self.add_count(txn, SETTLED_COUNT, settled)?;
        self.add_count(txn, REFUSED_COUNT, refused)
    }

    fn add_count(&self, txn: &WriteTransaction, key: &str, delta: i64) -> Result<(), OutboxError> {
        if delta == 0 {
            return Ok(());
        }
        let mut meta = txn.open_table(super::META).map_err(|e| self.fail(e))?;
        let current: u64 = match meta.get(key).map_err(|e| self.fail(e))? {
            Some(value) => decode(value.value()).unwrap_or(0),
            None => 0,
        };
        let next = current.saturating_add_signed(delta);
        meta.insert(key, encode(&next).as_slice())
            .map_err(|e| self.fail(e))?;
        Ok(())
    }
}
