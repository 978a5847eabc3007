//! The terminal's durable outbox: accepted presentations, the replay memory and the held
//! trust bundle, in one redb file.
//!
//! Accepting a code is **one write transaction, committed with fsync before the cashier is
//! told "accepted"**: the replay entry and the queued presentation are written together, so
//! after a crash or power cut a code is either wholly accepted (queued, and refused as a
//! replay from then on) or not at all. The forwarder later moves queued presentations to
//! the settled history, each in its own transaction.

use std::path::{Path, PathBuf};
use std::time::Duration;

use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};
use serde::{Deserialize, Serialize};
use yibao_shared::UnixTime;

use crate::presentation::{Outcome, Presentation, Visit};
use crate::replay::{Admission, ReplayGuard};
use crate::verifier::VerifiedToken;

/// Queued presentations by sequence number.
const QUEUE: TableDefinition<'static, u64, &'static [u8]> = TableDefinition::new("queue");
/// Presentations settlement has answered, by sequence number.
const DONE: TableDefinition<'static, u64, &'static [u8]> = TableDefinition::new("done");
/// Replay memory: voucher id ‖ token id → first accepted at, forget after.
const SEEN: TableDefinition<'static, &'static [u8], (u64, u64)> = TableDefinition::new("seen");
/// The same entries ordered by when they may be forgotten: forget-after (big-endian) ‖ key.
const SEEN_EXPIRY: TableDefinition<'static, &'static [u8], ()> =
    TableDefinition::new("seen_expiry");
/// Small named values: the sequence counter, the bundle, the last forward.
const META: TableDefinition<'static, &'static str, &'static [u8]> = TableDefinition::new("meta");

const NEXT_SEQ: &str = "next_seq";
const BUNDLE: &str = "bundle";
const BUNDLE_SEQUENCE: &str = "bundle_sequence";
const LAST_FORWARD: &str = "last_forward";
/// Counts of the history by outcome, kept with it so `status` (polled by the cashier page)
/// does not walk a quarter's history.
const SETTLED_COUNT: &str = "settled_count";
const REFUSED_COUNT: &str = "refused_count";

/// Settled history older than this is pruned: settlement holds the record of truth, and a
/// terminal keeps enough to answer "what happened to that visit" for a quarter.
const KEEP_DONE_SECS: u64 = 90 * 86_400;

/// How long [`Outbox::open`] waits for another process (a running `serve`, a `flush`) to
/// let go of the file.
const OPEN_WAIT: Duration = Duration::from_secs(10);

/// Why the outbox could not do what was asked. Never a verdict on a code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// Another process has the outbox open.
    #[error("outbox {0} is in use by another process (a running `yibao-verify serve`?)")]
    Busy(PathBuf),
    /// The file could not be opened, read or written (disk full, permissions, I/O).
    #[error("outbox storage: {0}")]
    Storage(String),
    /// A stored record could not be decoded.
    #[error("outbox record unreadable: {0}")]
    Corrupt(String),
}

fn storage(e: impl std::fmt::Display) -> OutboxError {
    OutboxError::Storage(e.to_string())
}

/// The outcome of the last attempt to hand presentations to settlement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardAttempt {
    /// When it ended.
    pub at: UnixTime,
    /// Presentations settlement answered in it.
    pub answered: u64,
    /// Why it stopped early, if it did (issuer unreachable, refused credential…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Counts for `status` and the cashier page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxStatus {
    /// Accepted and not yet answered by settlement.
    pub queued: u64,
    /// Settled (history kept on this terminal).
    pub settled: u64,
    /// Refused by settlement (double use and the like).
    pub refused: u64,
    /// The oldest queued presentation's verification time.
    pub oldest_queued: Option<UnixTime>,
    /// The last forward attempt.
    pub last_forward: Option<ForwardAttempt>,
}

/// The durable outbox of one terminal.
#[derive(Debug)]
pub struct Outbox {
    db: Database,
}

impl Outbox {
    /// Opens (creating if needed) `dir/outbox.redb`, waiting a while if another process
    /// holds it.
    ///
    /// # Errors
    ///
    /// [`OutboxError::Busy`] if it stays held, [`OutboxError::Storage`] otherwise.
    pub fn open(dir: &Path) -> Result<Self, OutboxError> {
        std::fs::create_dir_all(dir).map_err(|e| storage(format!("{}: {e}", dir.display())))?;
        let path = dir.join("outbox.redb");
        let deadline = std::time::Instant::now() + OPEN_WAIT;
        let db = loop {
            match Database::create(&path) {
                Ok(db) => break db,
                Err(redb::DatabaseError::DatabaseAlreadyOpen)
                    if std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                    return Err(OutboxError::Busy(path));
                }
                Err(e) => return Err(storage(format!("{}: {e}", path.display()))),
            }
        };
        let txn = db.begin_write().map_err(storage)?;
        txn.open_table(QUEUE).map_err(storage)?;
        txn.open_table(DONE).map_err(storage)?;
        txn.open_table(SEEN).map_err(storage)?;
        txn.open_table(SEEN_EXPIRY).map_err(storage)?;
        txn.open_table(META).map_err(storage)?;
        txn.commit().map_err(storage)?;
        Ok(Self { db })
    }

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

    /// Up to `limit` queued presentations, oldest first.
    ///
    /// # Errors
    ///
    /// Storage or decoding failure.
    pub fn queued(&self, limit: usize) -> Result<Vec<Presentation>, OutboxError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(QUEUE).map_err(storage)?;
        table
            .iter()
            .map_err(storage)?
            .take(limit)
            .map(|entry| {
                let (_, value) = entry.map_err(storage)?;
                decode(value.value())
            })
            .collect()
    }

    /// Records settlement's answers: each answered presentation leaves the queue for the
    /// history, in one transaction. Answers for sequence numbers no longer queued (a second
    /// forwarder got there first) are ignored.
    ///
    /// # Errors
    ///
    /// Storage or decoding failure; then nothing is recorded and the presentations stay
    /// queued (settlement answers a retry the same way).
    pub fn record_outcomes(
        &self,
        outcomes: Vec<(u64, Outcome)>,
        now: UnixTime,
    ) -> Result<(), OutboxError> {
        let txn = self.db.begin_write().map_err(storage)?;
        let (mut settled, mut refused) = (0i64, 0i64);
        {
            let mut queue = txn.open_table(QUEUE).map_err(storage)?;
            let mut done = txn.open_table(DONE).map_err(storage)?;
            for (seq, outcome) in outcomes {
                let Some(stored) = queue.remove(seq).map_err(storage)? else {
                    continue;
                };
                let mut presentation: Presentation = decode(stored.value())?;
                drop(stored);
                match outcome {
                    Outcome::Settled { .. } => settled += 1,
                    Outcome::Refused { .. } => refused += 1,
                }
                presentation.outcome = Some(outcome);
                done.insert(seq, encode(&presentation).as_slice())
                    .map_err(storage)?;
            }
        }
        add_count(&txn, SETTLED_COUNT, settled)?;
        add_count(&txn, REFUSED_COUNT, refused)?;
        prune_done(&txn, now)?;
        txn.commit().map_err(storage)
    }

    /// Remembers the last forward attempt for `status`.
    ///
    /// # Errors
    ///
    /// Storage failure.
    pub fn record_forward(&self, attempt: &ForwardAttempt) -> Result<(), OutboxError> {
        self.put_meta(LAST_FORWARD, &encode(attempt))
    }

    /// The presentation with this sequence number, queued or answered.
    ///
    /// # Errors
    ///
    /// Storage or decoding failure.
    pub fn presentation(&self, seq: u64) -> Result<Option<Presentation>, OutboxError> {
        let txn = self.db.begin_read().map_err(storage)?;
        for table in [QUEUE, DONE] {
            let table = txn.open_table(table).map_err(storage)?;
            if let Some(value) = table.get(seq).map_err(storage)? {
                return decode(value.value()).map(Some);
            }
        }
        Ok(None)
    }

    /// Queue length, history counts and the last forward.
    ///
    /// # Errors
    ///
    /// Storage or decoding failure.
    pub fn status(&self) -> Result<OutboxStatus, OutboxError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let queue = txn.open_table(QUEUE).map_err(storage)?;
        let oldest_queued = match queue.first().map_err(storage)? {
            Some((_, value)) => Some(decode::<Presentation>(value.value())?.verified_at),
            None => None,
        };
        let meta = txn.open_table(META).map_err(storage)?;
        let count = |key: &str| -> Result<u64, OutboxError> {
            match meta.get(key).map_err(storage)? {
                Some(value) => decode(value.value()),
                None => Ok(0),
            }
        };
        let (settled, refused) = (count(SETTLED_COUNT)?, count(REFUSED_COUNT)?);
        let last_forward = match meta.get(LAST_FORWARD).map_err(storage)? {
            Some(value) => Some(decode(value.value())?),
            None => None,
        };
        Ok(OutboxStatus {
            queued: queue.len().map_err(storage)?,
            settled,
            refused,
            oldest_queued,
            last_forward,
        })
    }

    /// The trust bundle document held, and the highest bundle sequence ever installed here
    /// (restored into the verifier so rollback is refused across restarts).
    ///
    /// # Errors
    ///
    /// Storage or decoding failure.
    pub fn bundle(&self) -> Result<(Option<String>, u64), OutboxError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let meta = txn.open_table(META).map_err(storage)?;
        let document = match meta.get(BUNDLE).map_err(storage)? {
            Some(value) => Some(
                String::from_utf8(value.value().to_vec())
                    .map_err(|e| OutboxError::Corrupt(e.to_string()))?,
            ),
            None => None,
        };
        let sequence = match meta.get(BUNDLE_SEQUENCE).map_err(storage)? {
            Some(value) => decode(value.value())?,
            None => 0,
        };
        Ok((document, sequence))
    }

    /// Keeps `document` (already verified and installed) as the terminal's bundle.
    ///
    /// # Errors
    ///
    /// Storage failure; the previous bundle stays.
    pub fn save_bundle(&self, document: &str, sequence: u64) -> Result<(), OutboxError> {
        let txn = self.db.begin_write().map_err(storage)?;
        {
            let mut meta = txn.open_table(META).map_err(storage)?;
            meta.insert(BUNDLE, document.as_bytes()).map_err(storage)?;
            meta.insert(BUNDLE_SEQUENCE, encode(&sequence).as_slice())
                .map_err(storage)?;
        }
        txn.commit().map_err(storage)
    }

    fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), OutboxError> {
        let txn = self.db.begin_write().map_err(storage)?;
        txn.open_table(META)
            .map_err(storage)?
            .insert(key, value)
            .map_err(storage)?;
        txn.commit().map_err(storage)
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
        let key = seen_key(token);
        let txn = self.db.begin_write().map_err(storage)?;
        let accepted = {
            let mut seen = txn.open_table(SEEN).map_err(storage)?;
            if let Some(first) = seen.get(key.as_slice()).map_err(storage)? {
                let (first_seen, _) = first.value();
                return Ok(Accepted::Replayed(UnixTime::from_secs(first_seen)));
            }
            seen.insert(key.as_slice(), (now.as_secs(), forget_after.as_secs()))
                .map_err(storage)?;
            let mut expiry = txn.open_table(SEEN_EXPIRY).map_err(storage)?;
            expiry
                .insert(expiry_key(forget_after, &key).as_slice(), ())
                .map_err(storage)?;

            let mut meta = txn.open_table(META).map_err(storage)?;
            let seq = match meta.get(NEXT_SEQ).map_err(storage)? {
                Some(value) => decode::<u64>(value.value())?,
                None => 1,
            };
            meta.insert(NEXT_SEQ, encode(&(seq + 1)).as_slice())
                .map_err(storage)?;
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
                .map_err(storage)?
                .insert(seq, encode(&presentation).as_slice())
                .map_err(storage)?;
            Accepted::Queued(seq)
        };
        forget_expired(&txn, now)?;
        // redb commits with fsync by default (Durability::Immediate): after this returns the
        // presentation survives a power cut.
        txn.commit().map_err(storage)?;
        Ok(accepted)
    }
}

enum Accepted {
    Queued(u64),
    Replayed(UnixTime),
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

/// Drops replay entries whose tokens can no longer verify (the verifier refuses them as
/// expired), a bounded number per call so no single acceptance pays for a long backlog.
fn forget_expired(txn: &WriteTransaction, now: UnixTime) -> Result<(), OutboxError> {
    let mut expiry = txn.open_table(SEEN_EXPIRY).map_err(storage)?;
    let bound = expiry_key(now, &[0; 16]);
    let stale: Vec<Vec<u8>> = expiry
        .range(..bound.as_slice())
        .map_err(storage)?
        .take(64)
        .map(|entry| entry.map(|(k, _)| k.value().to_vec()).map_err(storage))
        .collect::<Result<_, _>>()?;
    let mut seen = txn.open_table(SEEN).map_err(storage)?;
    for key in stale {
        expiry.remove(key.as_slice()).map_err(storage)?;
        seen.remove(&key[8..]).map_err(storage)?;
    }
    Ok(())
}

/// Drops settled history older than [`KEEP_DONE_SECS`], oldest first, a bounded number per
/// call.
fn prune_done(txn: &WriteTransaction, now: UnixTime) -> Result<(), OutboxError> {
    let cutoff = now.saturating_sub(KEEP_DONE_SECS);
    let mut done = txn.open_table(DONE).map_err(storage)?;
    let mut old = Vec::new();
    let (mut settled, mut refused) = (0i64, 0i64);
    for entry in done.iter().map_err(storage)?.take(64) {
        let (seq, value) = entry.map_err(storage)?;
        let presentation: Presentation = decode(value.value())?;
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
        done.remove(seq).map_err(storage)?;
    }
    drop(done);
    add_count(txn, SETTLED_COUNT, settled)?;
    add_count(txn, REFUSED_COUNT, refused)
}

fn add_count(txn: &WriteTransaction, key: &str, delta: i64) -> Result<(), OutboxError> {
    if delta == 0 {
        return Ok(());
    }
    let mut meta = txn.open_table(META).map_err(storage)?;
    let current: u64 = match meta.get(key).map_err(storage)? {
        Some(value) => decode(value.value())?,
        None => 0,
    };
    let next = current.saturating_add_signed(delta);
    meta.insert(key, encode(&next).as_slice())
        .map_err(storage)?;
    Ok(())
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Plain structs of strings, numbers and enums: serialising cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, OutboxError> {
    serde_json::from_slice(bytes).map_err(|e| OutboxError::Corrupt(e.to_string()))
}
