//! The terminal's durable outbox: accepted presentations, the replay memory and the held
//! trust bundle, in one redb file. Until a visit is forwarded, this file is its only copy.
//!
//! Accepting a code is **one write transaction, committed with fsync before the cashier is
//! told "accepted"**: the replay entry and the queued presentation are written together, so
//! after a crash or power cut a code is either wholly accepted (queued, and refused as a
//! replay from then on) or not at all. The forwarder later moves queued presentations to
//! the settled history.
//!
//! The file is made once, by `init` ([`Outbox::create`]), and only ever opened after that
//! ([`Outbox::open`]): a missing or empty file is reported, never silently replaced by an
//! empty queue. A damaged file gives an error, never a panic (redb panics on some damaged
//! pages; every call is contained), and one verdict: opening checks the whole file, and a
//! damaged outbox refuses new visits, status and forwarding alike until it is salvaged
//! ([`Outbox::salvage`]) into a new file. A failed write (a full disk) does not poison the
//! outbox: the file is reopened at the next call. A record that cannot be read is
//! quarantined, so the healthy ones are still forwarded. Free disk space is watched
//! ([`space`]).

mod error;
mod file;
mod queue;
mod record;
mod salvage;
pub mod space;

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use yibao_shared::UnixTime;

use crate::status::HeldStatus;

pub use self::error::OutboxError;
pub use self::file::{OutboxHealth, containing_panics};
pub use self::record::{CLOCK_TOLERANCE_SECS, Recorder};
pub use self::salvage::SalvageReport;

/// The outbox file in a terminal directory.
pub const FILE_NAME: &str = "outbox.redb";

/// Queued presentations by sequence number.
const QUEUE: TableDefinition<'static, u64, &'static [u8]> = TableDefinition::new("queue");
/// Presentations settlement has answered, by sequence number.
const DONE: TableDefinition<'static, u64, &'static [u8]> = TableDefinition::new("done");
/// Records that could not be read, by sequence number, kept as they were for an operator.
const QUARANTINE: TableDefinition<'static, u64, &'static [u8]> = TableDefinition::new("quarantine");
/// Replay memory: voucher id ‖ token id → first accepted at, forget after.
const SEEN: TableDefinition<'static, &'static [u8], (u64, u64)> = TableDefinition::new("seen");
/// The same entries ordered by when they may be forgotten: forget-after (big-endian) ‖ key.
const SEEN_EXPIRY: TableDefinition<'static, &'static [u8], ()> =
    TableDefinition::new("seen_expiry");
/// Small named values: the sequence counter, the bundle, the last forward.
const META: TableDefinition<'static, &'static str, &'static [u8]> = TableDefinition::new("meta");

const CREATED_AT: &str = "created_at";
const NEXT_SEQ: &str = "next_seq";
const BUNDLE: &str = "bundle";
const BUNDLE_SEQUENCE: &str = "bundle_sequence";
/// The held status list, in [`crate::HeldStatus::to_bytes`] form.
const STATUS_LIST: &str = "status_list";
const LAST_FORWARD: &str = "last_forward";
/// The latest clock reading ever used to accept a code (the terminal's time never goes back
/// for the replay memory).
const CLOCK_HIGH_WATER: &str = "clock_high_water";
/// Counts of the history by outcome, kept with it so `status` (polled by the cashier page)
/// does not walk a quarter's history.
const SETTLED_COUNT: &str = "settled_count";
const REFUSED_COUNT: &str = "refused_count";

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
    /// Records that could not be read and were set aside (an operator must look).
    pub quarantined: u64,
    /// The oldest queued presentation's verification time.
    pub oldest_queued: Option<UnixTime>,
    /// The last forward attempt.
    pub last_forward: Option<ForwardAttempt>,
    /// The latest clock reading a code was accepted at.
    pub clock_high_water: Option<UnixTime>,
    /// Bytes free on the outbox's file system (`None` if it cannot be asked).
    pub free_bytes: Option<u64>,
}

impl OutboxStatus {
    /// Whether free space is below [`space::LOW_SPACE_BYTES`].
    pub fn low_on_space(&self) -> bool {
        self.free_bytes.is_some_and(|f| f < space::LOW_SPACE_BYTES)
    }

    /// Whether `now` is more than [`CLOCK_TOLERANCE_SECS`] behind the high-water mark: the
    /// terminal's clock was set back and codes are refused until it is right.
    pub fn clock_behind(&self, now: UnixTime) -> bool {
        self.clock_high_water
            .is_some_and(|hw| now.saturating_add(CLOCK_TOLERANCE_SECS) < hw)
    }
}

/// The durable outbox of one terminal. Shared by threads (`&self` everywhere): redb takes
/// one writer at a time and readers beside it.
#[derive(Debug)]
pub struct Outbox {
    file: file::OutboxFile,
    path: PathBuf,
}

impl Outbox {
    /// Makes a new outbox in `dir` (`yibao-verify init`).
    ///
    /// # Errors
    ///
    /// [`OutboxError::Exists`] if there is one already (it is left alone), storage errors.
    pub fn create(dir: &Path) -> Result<Self, OutboxError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| OutboxError::Storage(format!("{}: {e}", dir.display())))?;
        let path = dir.join(FILE_NAME);
        if path.exists() {
            return Err(OutboxError::Exists(path));
        }
        let outbox = Self {
            file: file::OutboxFile::create(&path)?,
            path,
        };
        outbox.with_tables()?;
        outbox.put_meta(CREATED_AT, b"1")?;
        space::ensure_reserve(dir);
        Ok(outbox)
    }

    /// Moves a damaged, empty or unwanted outbox aside (`outbox.redb.lost-<unix time>`) and
    /// makes a new, empty one. Returns where the old file went, if there was one.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn reset(dir: &Path, now: UnixTime) -> Result<(Self, Option<PathBuf>), OutboxError> {
        let aside = set_aside(dir, "lost", now)?;
        Ok((Self::create(dir)?, aside))
    }

    /// Opens the outbox `init` made in `dir`. Never creates one. The whole file is checked
    /// first (every page's checksum): a damaged file is refused here, so a code is never
    /// accepted into a file nothing can forward from.
    ///
    /// # Errors
    ///
    /// [`OutboxError::Missing`], [`OutboxError::Empty`], [`OutboxError::Damaged`],
    /// [`OutboxError::Busy`] (another process holds it: at once, no waiting),
    /// [`OutboxError::OpenInThisProcess`], [`OutboxError::Storage`] otherwise.
    pub fn open(dir: &Path) -> Result<Self, OutboxError> {
        let path = dir.join(FILE_NAME);
        let outbox = Self {
            file: file::OutboxFile::open(&path)?,
            path,
        };
        outbox.with_tables()?;
        // Outboxes made before `init` created them carry no mark: mark them now.
        if outbox.meta(CREATED_AT)?.is_none() {
            outbox.put_meta(CREATED_AT, b"1")?;
        }
        Ok(outbox)
    }

    fn with_tables(&self) -> Result<(), OutboxError> {
        self.guarded(|o, db| {
            let txn = db.begin_write().map_err(|e| o.fail(e))?;
            txn.open_table(QUEUE).map_err(|e| o.fail(e))?;
            txn.open_table(DONE).map_err(|e| o.fail(e))?;
            txn.open_table(QUARANTINE).map_err(|e| o.fail(e))?;
            txn.open_table(SEEN).map_err(|e| o.fail(e))?;
            txn.open_table(SEEN_EXPIRY).map_err(|e| o.fail(e))?;
            txn.open_table(META).map_err(|e| o.fail(e))?;
            txn.commit().map_err(|e| o.fail(e))
        })
    }

    /// Whether the file is usable, being reopened after a failed write, or damaged.
    pub fn health(&self) -> OutboxHealth {
        self.file.health()
    }

    /// The directory the outbox lives in.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Runs `work` on the database with panics inside redb (a damaged page) turned into
    /// [`OutboxError::Damaged`]; a damaged file refuses at once, and one whose last write
    /// failed is reopened first.
    fn guarded<T>(
        &self,
        work: impl FnOnce(&Self, &Database) -> Result<T, OutboxError>,
    ) -> Result<T, OutboxError> {
        self.file.with(|db| work(self, db))
    }

    /// A storage error, with redb's "previous I/O error" replaced by the first one.
    fn fail(&self, e: impl std::fmt::Display) -> OutboxError {
        self.file.fail(e)
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, OutboxError> {
        self.guarded(|o, db| {
            let txn = db.begin_read().map_err(|e| o.fail(e))?;
            let meta = txn.open_table(META).map_err(|e| o.fail(e))?;
            Ok(meta
                .get(key)
                .map_err(|e| o.fail(e))?
                .map(|v| v.value().to_vec()))
        })
    }

    fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), OutboxError> {
        self.guarded(|o, db| {
            let txn = db.begin_write().map_err(|e| o.fail(e))?;
            txn.open_table(META)
                .map_err(|e| o.fail(e))?
                .insert(key, value)
                .map_err(|e| o.fail(e))?;
            txn.commit().map_err(|e| o.fail(e))
        })
    }

    /// Remembers the last forward attempt for `status`.
    ///
    /// # Errors
    ///
    /// Storage failure.
    pub fn record_forward(&self, attempt: &ForwardAttempt) -> Result<(), OutboxError> {
        self.put_meta(LAST_FORWARD, &encode(attempt))
    }

    /// Queue length, history counts, quarantine, clock high-water mark, free space and the
    /// last forward.
    ///
    /// # Errors
    ///
    /// Storage failure.
    pub fn status(&self) -> Result<OutboxStatus, OutboxError> {
        let free_bytes = space::free_bytes(self.dir());
        self.guarded(|o, db| {
            let txn = db.begin_read().map_err(|e| o.fail(e))?;
            let queue = txn.open_table(QUEUE).map_err(|e| o.fail(e))?;
            // The oldest readable one: an unreadable record is reported as quarantined once
            // the forwarder meets it.
            let mut oldest_queued = None;
            for entry in queue.iter().map_err(|e| o.fail(e))?.take(16) {
                let (_, value) = entry.map_err(|e| o.fail(e))?;
                if let Ok(p) = decode::<crate::Presentation>(value.value()) {
                    oldest_queued = Some(p.verified_at);
                    break;
                }
            }
            let quarantined = txn
                .open_table(QUARANTINE)
                .map_err(|e| o.fail(e))?
                .len()
                .map_err(|e| o.fail(e))?;
            let meta = txn.open_table(META).map_err(|e| o.fail(e))?;
            let number = |key: &str| -> Result<Option<u64>, OutboxError> {
                match meta.get(key).map_err(|e| o.fail(e))? {
                    Some(value) => decode(value.value()).map(Some),
                    None => Ok(None),
                }
            };
            let (settled, refused) = (
                number(SETTLED_COUNT)?.unwrap_or(0),
                number(REFUSED_COUNT)?.unwrap_or(0),
            );
            let clock_high_water = number(CLOCK_HIGH_WATER)?.map(UnixTime::from_secs);
            let last_forward = match meta.get(LAST_FORWARD).map_err(|e| o.fail(e))? {
                Some(value) => Some(decode(value.value())?),
                None => None,
            };
            Ok(OutboxStatus {
                queued: queue.len().map_err(|e| o.fail(e))?,
                settled,
                refused,
                quarantined,
                oldest_queued,
                last_forward,
                clock_high_water,
                free_bytes,
            })
        })
    }

    /// The trust bundle document held, and the highest bundle sequence ever installed here
    /// (restored into the verifier so rollback is refused across restarts).
    ///
    /// # Errors
    ///
    /// Storage or decoding failure.
    pub fn bundle(&self) -> Result<(Option<String>, u64), OutboxError> {
        let document = match self.meta(BUNDLE)? {
            Some(bytes) => {
                Some(String::from_utf8(bytes).map_err(|e| OutboxError::Corrupt(e.to_string()))?)
            }
            None => None,
        };
        let sequence = match self.meta(BUNDLE_SEQUENCE)? {
            Some(bytes) => decode(&bytes)?,
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
        self.guarded(|o, db| {
            let txn = db.begin_write().map_err(|e| o.fail(e))?;
            {
                let mut meta = txn.open_table(META).map_err(|e| o.fail(e))?;
                meta.insert(BUNDLE, document.as_bytes())
                    .map_err(|e| o.fail(e))?;
                meta.insert(BUNDLE_SEQUENCE, encode(&sequence).as_slice())
                    .map_err(|e| o.fail(e))?;
            }
            txn.commit().map_err(|e| o.fail(e))
        })
    }
}

impl Outbox {
    /// The status list held (revoked device certificates), if any was ever synced.
    ///
    /// # Errors
    ///
    /// Storage failure, or a stored list that does not decode.
    pub fn status_list(&self) -> Result<Option<HeldStatus>, OutboxError> {
        self.meta(STATUS_LIST)?
            .map(|bytes| {
                HeldStatus::from_bytes(&bytes)
                    .ok_or_else(|| OutboxError::Corrupt("stored status list".into()))
            })
            .transpose()
    }

    /// Keeps `status` (already verified and merged) as the terminal's status list.
    ///
    /// # Errors
    ///
    /// Storage failure; the previous list stays.
    pub fn save_status_list(&self, status: &HeldStatus) -> Result<(), OutboxError> {
        self.put_meta(STATUS_LIST, &status.to_bytes())
    }
}

/// Moves `dir`'s outbox file (if there is one) to `outbox.redb.<why>-<unix time>`.
fn set_aside(dir: &Path, why: &str, now: UnixTime) -> Result<Option<PathBuf>, OutboxError> {
    let path = dir.join(FILE_NAME);
    if !path.exists() {
        return Ok(None);
    }
    let aside = dir.join(format!("{FILE_NAME}.{why}-{}", now.as_secs()));
    std::fs::rename(&path, &aside)
        .map_err(|e| OutboxError::Storage(format!("{}: {e}", path.display())))?;
    Ok(Some(aside))
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Plain structs of strings, numbers and enums: serialising cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, OutboxError> {
    serde_json::from_slice(bytes).map_err(|e| OutboxError::Corrupt(e.to_string()))
}
