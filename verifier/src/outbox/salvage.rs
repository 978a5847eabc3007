//! Salvage: every readable queued visit, the history, the replay memory and the clock mark of
//! a damaged outbox, copied into a new one; the damaged file kept aside.
//!
//! Two readers, because damage takes different things from each: redb reads what its trees
//! still reach (from a copy, so its repair attempts never touch the evidence), and a scan of
//! the raw bytes finds every presentation record whose own bytes are intact, whichever page
//! of the tree above it was lost. No crate reads a redb file without its trees, hence the
//! scan. A stale copy the scan finds (a page freed since, holding a visit as it was before
//! settlement answered) is harmless: the answered version wins when both are found, and
//! otherwise settlement answers a repeat from this terminal with the reference it gave.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use redb::{Database, ReadOnlyDatabase, ReadableDatabase, ReadableTable};
use yibao_shared::{UnixTime, UntrustedToken};

use super::file::contain;
use super::{
    BUNDLE, BUNDLE_SEQUENCE, CLOCK_HIGH_WATER, CLOCK_TOLERANCE_SECS, CREATED_AT, DONE, FILE_NAME,
    META, NEXT_SEQ, Outbox, OutboxError, QUARANTINE, QUEUE, REFUSED_COUNT, SEEN, SEEN_EXPIRY,
    SETTLED_COUNT, STATUS_LIST, decode, encode, set_aside,
};
use crate::presentation::{Outcome, Presentation};

/// What [`Outbox::salvage`] copied and what it could not read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SalvageReport {
    /// Where the damaged file now is.
    pub aside: PathBuf,
    /// Visits still to be forwarded, now queued in the new outbox.
    pub queued: u64,
    /// Visits settlement had answered (history).
    pub history: u64,
    /// Queued records that could not be decoded, kept as they were in the quarantine.
    pub quarantined: u64,
    /// Replay entries in the new outbox (every salvaged visit's token among them).
    pub replay_entries: u64,
    /// The clock mark carried over (never below the latest salvaged visit, nor below `now`).
    pub clock_high_water: UnixTime,
    /// Whether the trust bundle (and its sequence, for rollback refusal) was recovered.
    pub bundle_recovered: bool,
    /// Whether the status list was recovered (if not, the next sync fetches the whole list).
    pub status_list_recovered: bool,
    /// What could not be read, in words for the operator.
    pub unreadable: Vec<String>,
}

/// What was read, before it is written to the new file.
#[derive(Default)]
struct Found {
    /// Presentations by sequence number; an answered one wins over a queued copy.
    presentations: BTreeMap<u64, Presentation>,
    /// Undecodable queued records, bytes as they were.
    quarantine: BTreeMap<u64, Vec<u8>>,
    /// Replay entries: key → (first seen, forget after).
    seen: BTreeMap<[u8; 16], (u64, u64)>,
    meta: BTreeMap<&'static str, Vec<u8>>,
    unreadable: Vec<String>,
}

impl Found {
    fn add(&mut self, p: Presentation) {
        match self.presentations.get(&p.seq) {
            Some(held) if held.outcome.is_some() || p.outcome.is_none() => {}
            _ => {
                self.presentations.insert(p.seq, p);
            }
        }
    }
}

impl Outbox {
    /// Salvages the outbox in `dir` (damaged, or one an operator distrusts) into a new file:
    /// queued visits (to be forwarded as before), history, replay memory, clock mark, bundle
    /// and status list, whatever of them can be read. The old file is kept as
    /// `outbox.redb.damaged-<unix time>`. Runs only while no program has the outbox open.
    ///
    /// # Errors
    ///
    /// [`OutboxError::Missing`], [`OutboxError::Busy`] (close the cashier program first),
    /// storage errors writing the new file (the old one is then left where it was).
    pub fn salvage(dir: &Path, now: UnixTime) -> Result<SalvageReport, OutboxError> {
        let path = dir.join(FILE_NAME);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(OutboxError::Missing(path));
            }
            Err(e) => return Err(OutboxError::Storage(format!("{}: {e}", path.display()))),
        };
        // A running terminal holds the file: salvaging under it would lose its next visits.
        if let Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) =
            contain(&path, || Ok(Database::open(&path)))
        {
            return Err(OutboxError::Busy(path));
        }
        let mut found = Found::default();
        read_with_redb(dir, &bytes, &mut found);
        scan_raw(&bytes, &mut found);
        let next = dir.join(format!("{FILE_NAME}.salvaging"));
        let _ = std::fs::remove_file(&next);
        let mut report = write_new(&next, &found, now)?;
        let aside = set_aside(dir, "damaged", now)?.unwrap_or_else(|| path.clone());
        std::fs::rename(&next, &path)
            .map_err(|e| OutboxError::Storage(format!("{}: {e}", next.display())))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        report.aside = aside;
        report.unreadable = found.unreadable;
        Ok(report)
    }
}

/// Reads what redb's trees still reach, from a copy of the file.
fn read_with_redb(dir: &Path, bytes: &[u8], found: &mut Found) {
    let copy = dir.join(format!("{FILE_NAME}.salvage-copy"));
    if std::fs::write(&copy, bytes).is_err() {
        found
            .unreadable
            .push("no room to copy the file for reading".into());
        return;
    }
    // Read-only first: it reads the trees as they are, where a writable open tries to
    // repair the file and gives up on damage a read would get past.
    let read_only = contain(&copy, || {
        ReadOnlyDatabase::open(&copy).map_err(|e| OutboxError::Storage(e.to_string()))
    });
    match read_only {
        Ok(db) => read_tables(&db, &copy, found),
        Err(e) => match contain(&copy, || {
            Database::open(&copy).map_err(|e| OutboxError::Storage(e.to_string()))
        }) {
            Ok(db) => read_tables(&db, &copy, found),
            Err(_) => found.unreadable.push(format!(
                "the file's structure (redb: {e}); records found by scan only"
            )),
        },
    }
    let _ = std::fs::remove_file(&copy);
}

fn read_tables(db: &impl ReadableDatabase, path: &Path, found: &mut Found) {
    for (name, table) in [
        ("queue", QUEUE),
        ("history", DONE),
        ("quarantine", QUARANTINE),
    ] {
        let mut records = Vec::new();
        let read = contain(path, || {
            let txn = db.begin_read().map_err(storage)?;
            let table = txn.open_table(table).map_err(storage)?;
            for entry in table.iter().map_err(storage)? {
                let (seq, value) = entry.map_err(storage)?;
                records.push((seq.value(), value.value().to_vec()));
            }
            Ok(())
        });
        if let Err(e) = read {
            found.unreadable.push(format!("part of the {name} ({e})"));
        }
        for (seq, raw) in records {
            match decode::<Presentation>(&raw) {
                Ok(p) if name != "quarantine" => found.add(p),
                _ => {
                    found.quarantine.insert(seq, raw);
                }
            }
        }
    }
    let mut seen = Vec::new();
    let read = contain(path, || {
        let txn = db.begin_read().map_err(storage)?;
        let table = txn.open_table(SEEN).map_err(storage)?;
        for entry in table.iter().map_err(storage)? {
            let (key, value) = entry.map_err(storage)?;
            if let Ok(key) = <[u8; 16]>::try_from(key.value()) {
                seen.push((key, value.value()));
            }
        }
        Ok(())
    });
    if let Err(e) = read {
        found.unreadable.push(format!(
            "part of the replay memory ({e}); rebuilt from the visits"
        ));
    }
    found.seen.extend(seen);
    for key in [
        NEXT_SEQ,
        CLOCK_HIGH_WATER,
        BUNDLE,
        BUNDLE_SEQUENCE,
        STATUS_LIST,
        SETTLED_COUNT,
        REFUSED_COUNT,
    ] {
        let value = contain(path, || {
            let txn = db.begin_read().map_err(storage)?;
            let meta = txn.open_table(META).map_err(storage)?;
            Ok(meta.get(key).map_err(storage)?.map(|v| v.value().to_vec()))
        });
        match value {
            Ok(Some(value)) => {
                found.meta.insert(key, value);
            }
            Ok(None) => {}
            Err(e) => found.unreadable.push(format!("{key} ({e})")),
        }
    }
}

/// Every presentation record whose bytes are intact, wherever it lies in the file.
fn scan_raw(bytes: &[u8], found: &mut Found) {
    const START: &[u8] = b"{\"seq\":";
    let mut damaged = 0u64;
    let mut at = 0;
    while let Some(offset) = find(&bytes[at..], START) {
        let start = at + offset;
        let mut stream =
            serde_json::Deserializer::from_slice(&bytes[start..]).into_iter::<Presentation>();
        match stream.next() {
            Some(Ok(p)) => {
                at = start + stream.byte_offset().max(1);
                found.add(p);
            }
            _ => {
                damaged += 1;
                at = start + 1;
            }
        }
    }
    if damaged > 0 {
        found.unreadable.push(format!(
            "{damaged} damaged record fragment(s) in the raw file (their visits may be among \
             those salvaged from another copy)"
        ));
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn write_new(path: &Path, found: &Found, now: UnixTime) -> Result<SalvageReport, OutboxError> {
    let db = contain(path, || {
        Database::create(path).map_err(|e| OutboxError::Storage(e.to_string()))
    })?;
    let meta_u64 =
        |key: &str| -> Option<u64> { found.meta.get(key).and_then(|v| decode::<u64>(v).ok()) };
    let latest_visit = found
        .presentations
        .values()
        .map(|p| p.verified_at.as_secs())
        .max()
        .unwrap_or(0);
    // Never below a time this terminal really saw: the replay memory forgets by it.
    let high_water = meta_u64(CLOCK_HIGH_WATER)
        .unwrap_or(0)
        .max(latest_visit)
        .max(now.as_secs());
    let max_seq = found
        .presentations
        .keys()
        .chain(found.quarantine.keys())
        .max()
        .copied()
        .unwrap_or(0);
    let next_seq = meta_u64(NEXT_SEQ).unwrap_or(1).max(max_seq + 1);
    let mut seen = found.seen.clone();
    for p in found.presentations.values() {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&p.voucher_id.0);
        key[8..].copy_from_slice(&p.token_id.0);
        let expires = UntrustedToken::parse(&p.code)
            .map(|t| t.unverified_body().expires_at().as_secs())
            .unwrap_or(p.verified_at.as_secs());
        let forget_after = expires.max(p.verified_at.as_secs()) + CLOCK_TOLERANCE_SECS;
        seen.entry(key)
            .or_insert((p.verified_at.as_secs(), forget_after));
    }
    let (mut queued, mut history, mut settled, mut refused) = (0, 0, 0u64, 0u64);
    let commit = contain(path, || {
        let txn = db.begin_write().map_err(storage)?;
        {
            let mut queue = txn.open_table(QUEUE).map_err(storage)?;
            let mut done = txn.open_table(DONE).map_err(storage)?;
            for (seq, p) in &found.presentations {
                match &p.outcome {
                    None => {
                        queue.insert(*seq, encode(p).as_slice()).map_err(storage)?;
                        queued += 1;
                    }
                    Some(outcome) => {
                        done.insert(*seq, encode(p).as_slice()).map_err(storage)?;
                        history += 1;
                        match outcome {
                            Outcome::Settled { .. } => settled += 1,
                            Outcome::Refused { .. } => refused += 1,
                        }
                    }
                }
            }
            let mut quarantine = txn.open_table(QUARANTINE).map_err(storage)?;
            for (seq, raw) in &found.quarantine {
                quarantine.insert(*seq, raw.as_slice()).map_err(storage)?;
            }
            let mut table = txn.open_table(SEEN).map_err(storage)?;
            let mut expiry = txn.open_table(SEEN_EXPIRY).map_err(storage)?;
            for (key, (first, forget)) in &seen {
                table
                    .insert(key.as_slice(), (*first, *forget))
                    .map_err(storage)?;
                let mut ordered = [0u8; 24];
                ordered[..8].copy_from_slice(&forget.to_be_bytes());
                ordered[8..].copy_from_slice(key);
                expiry.insert(ordered.as_slice(), ()).map_err(storage)?;
            }
            let mut meta = txn.open_table(META).map_err(storage)?;
            meta.insert(CREATED_AT, b"1".as_slice()).map_err(storage)?;
            let numbers = [
                (NEXT_SEQ, next_seq),
                (CLOCK_HIGH_WATER, high_water),
                (
                    SETTLED_COUNT,
                    meta_u64(SETTLED_COUNT).unwrap_or(0).max(settled),
                ),
                (
                    REFUSED_COUNT,
                    meta_u64(REFUSED_COUNT).unwrap_or(0).max(refused),
                ),
            ];
            for (key, value) in numbers {
                meta.insert(key, encode(&value).as_slice())
                    .map_err(storage)?;
            }
            // The bundle and its sequence travel together or not at all: a bundle without
            // its sequence would let an older one back in.
            if let (Some(bundle), Some(sequence)) =
                (found.meta.get(BUNDLE), found.meta.get(BUNDLE_SEQUENCE))
            {
                meta.insert(BUNDLE, bundle.as_slice()).map_err(storage)?;
                meta.insert(BUNDLE_SEQUENCE, sequence.as_slice())
                    .map_err(storage)?;
            }
            if let Some(status) = found.meta.get(STATUS_LIST) {
                meta.insert(STATUS_LIST, status.as_slice())
                    .map_err(storage)?;
            }
        }
        txn.commit().map_err(storage)
    });
    if let Err(e) = commit {
        drop(db);
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(SalvageReport {
        queued,
        history,
        quarantined: found.quarantine.len() as u64,
        replay_entries: seen.len() as u64,
        clock_high_water: UnixTime::from_secs(high_water),
        bundle_recovered: found.meta.contains_key(BUNDLE)
            && found.meta.contains_key(BUNDLE_SEQUENCE),
        status_list_recovered: found.meta.contains_key(STATUS_LIST),
        ..SalvageReport::default()
    })
}

fn storage(e: impl std::fmt::Display) -> OutboxError {
    OutboxError::Storage(e.to_string())
}
