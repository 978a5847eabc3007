//! The outbox's redb file: opened once per process, checked whole when opened, every call
//! with redb's panics contained, and reopened after a failed write.
//!
//! redb discards its allocator state when a commit fails (a full disk) and answers every
//! later write with an error until the database is reopened; a terminal runs for months, so
//! the file is reopened at the next call rather than leaving the handle broken. Damage (a
//! page redb cannot read) is a verdict of its own: sticky, reported by every call alike.

use std::cell::Cell;
use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError, RwLock};

use redb::Database;

use super::OutboxError;

/// Whether the outbox can record, and if not, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutboxHealth {
    /// Usable.
    Healthy,
    /// A write failed; the file is reopened at the next call. Nothing is recorded until then.
    Recovering {
        /// The first failure.
        cause: String,
    },
    /// A page cannot be read: no visit is recorded into this file; salvage it.
    Damaged {
        /// What redb reported.
        detail: String,
    },
}

thread_local! {
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
}

/// Outbox files this process has open, so a second open here is told apart from another
/// process holding the file (redb's file lock answers the same for both).
static OPEN_HERE: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

/// Whether the current thread is inside an outbox call whose panics are contained (and
/// turned into [`OutboxError::Damaged`]): a program's panic hook can stay quiet then.
pub fn containing_panics() -> bool {
    CONTAINED.with(Cell::get)
}

#[derive(Debug)]
pub(super) struct OutboxFile {
    /// `None` between dropping a failed database and opening it again.
    db: RwLock<Option<Database>>,
    path: PathBuf,
    key: PathBuf,
    health: Mutex<OutboxHealth>,
    /// The first I/O error redb reported: after one, redb answers "previous I/O error" to
    /// everything, which would hide "No space left on device".
    first_io_error: Mutex<Option<String>>,
}

impl OutboxFile {
    pub(super) fn create(path: &Path) -> Result<Self, OutboxError> {
        let key = claim(path)?;
        let db = contain(path, || {
            Database::create(path).map_err(|e| OutboxError::Storage(e.to_string()))
        });
        Self::held(db, path, key)
    }

    pub(super) fn open(path: &Path) -> Result<Self, OutboxError> {
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(OutboxError::Missing(path.to_path_buf()));
            }
            Err(e) => return Err(OutboxError::Storage(format!("{}: {e}", path.display()))),
            Ok(m) if m.len() == 0 => return Err(OutboxError::Empty(path.to_path_buf())),
            Ok(_) => {}
        }
        let key = claim(path)?;
        Self::held(open_checked(path), path, key)
    }

    fn held(
        db: Result<Database, OutboxError>,
        path: &Path,
        key: PathBuf,
    ) -> Result<Self, OutboxError> {
        match db {
            Ok(db) => Ok(Self {
                db: RwLock::new(Some(db)),
                path: path.to_path_buf(),
                key,
                health: Mutex::new(OutboxHealth::Healthy),
                first_io_error: Mutex::new(None),
            }),
            Err(e) => {
                release(&key);
                Err(e)
            }
        }
    }

    pub(super) fn health(&self) -> OutboxHealth {
        self.health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_health(&self, health: OutboxHealth) {
        *self.health.lock().unwrap_or_else(PoisonError::into_inner) = health;
    }

    /// Runs `work` on the database (reopened first if a write failed), panics contained;
    /// a failure marks the file damaged or due for a reopen.
    pub(super) fn with<T>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, OutboxError>,
    ) -> Result<T, OutboxError> {
        match self.health() {
            OutboxHealth::Healthy => {}
            OutboxHealth::Damaged { detail } => {
                return Err(OutboxError::Damaged {
                    path: self.path.clone(),
                    detail,
                });
            }
            OutboxHealth::Recovering { .. } => self.reopen()?,
        }
        let slot = self.db.read().unwrap_or_else(PoisonError::into_inner);
        let Some(db) = slot.as_ref() else {
            drop(slot);
            return Err(self.recovering());
        };
        let result = contain(&self.path, || work(db));
        drop(slot);
        match &result {
            Err(OutboxError::Damaged { detail, .. }) => self.set_health(OutboxHealth::Damaged {
                detail: detail.clone(),
            }),
            Err(OutboxError::Storage(cause)) => self.set_health(OutboxHealth::Recovering {
                cause: cause.clone(),
            }),
            _ => {}
        }
        result
    }

    fn recovering(&self) -> OutboxError {
        match self.health() {
            OutboxHealth::Recovering { cause } => OutboxError::Recovering { cause },
            OutboxHealth::Damaged { detail } => OutboxError::Damaged {
                path: self.path.clone(),
                detail,
            },
            OutboxHealth::Healthy => OutboxError::Recovering {
                cause: "the outbox file is being reopened".into(),
            },
        }
    }

    /// Drops the failed database (its file lock with it) and opens the file again, checked
    /// whole as at start. Another thread may have done it meanwhile.
    fn reopen(&self) -> Result<(), OutboxError> {
        let mut slot = self.db.write().unwrap_or_else(PoisonError::into_inner);
        if self.health() == OutboxHealth::Healthy && slot.is_some() {
            return Ok(());
        }
        if let Some(failed) = slot.take() {
            // Dropping writes nothing that matters: every commit that returned Ok is on disk.
            let _ = catch_unwind(AssertUnwindSafe(|| drop(failed)));
        }
        match open_checked(&self.path) {
            Ok(db) => {
                *slot = Some(db);
                *self
                    .first_io_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = None;
                self.set_health(OutboxHealth::Healthy);
                Ok(())
            }
            Err(OutboxError::Damaged { detail, .. }) => {
                self.set_health(OutboxHealth::Damaged {
                    detail: detail.clone(),
                });
                Err(OutboxError::Damaged {
                    path: self.path.clone(),
                    detail,
                })
            }
            Err(e) => {
                let cause = match self.health() {
                    OutboxHealth::Recovering { cause } => format!("{cause}; reopening: {e}"),
                    _ => e.to_string(),
                };
                Err(OutboxError::Recovering { cause })
            }
        }
    }

    /// A storage error, with redb's "previous I/O error" replaced by the first one.
    pub(super) fn fail(&self, e: impl std::fmt::Display) -> OutboxError {
        let text = e.to_string();
        let mut first = self
            .first_io_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if text.contains("Previous I/O error") || text.contains("Allocator state was discarded") {
            if let Some(original) = first.as_ref() {
                return OutboxError::Storage(format!("{original} (an earlier write failed)"));
            }
        } else if text.contains("I/O error") && first.is_none() {
            *first = Some(text.clone());
        }
        OutboxError::Storage(text)
    }
}

impl Drop for OutboxFile {
    fn drop(&mut self) {
        release(&self.key);
    }
}

/// Opens the file and checks every page (redb's integrity check verifies each tree's
/// checksums, the system trees a write needs included): a file that passes can be read and
/// written; one that fails is damaged, whatever a read of one table would say.
fn open_checked(path: &Path) -> Result<Database, OutboxError> {
    let damaged = |detail: String| OutboxError::Damaged {
        path: path.to_path_buf(),
        detail,
    };
    let mut db = match contain(path, || Ok(Database::open(path)))? {
        Ok(db) => db,
        Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
            return Err(OutboxError::Busy(path.to_path_buf()));
        }
        Err(redb::DatabaseError::Storage(redb::StorageError::Io(e))) => {
            return Err(OutboxError::Storage(format!("{}: {e}", path.display())));
        }
        Err(e) => return Err(damaged(e.to_string())),
    };
    match contain(path, || Ok(db.check_integrity()))? {
        // `false`: redb repaired its own bookkeeping (after a power cut): nothing is lost.
        Ok(_) => Ok(db),
        Err(e) => Err(damaged(e.to_string())),
    }
}

/// Marks `path` as open in this process.
fn claim(path: &Path) -> Result<PathBuf, OutboxError> {
    let key = key_of(path);
    let mut open = OPEN_HERE.lock().unwrap_or_else(PoisonError::into_inner);
    if !open.get_or_insert_with(HashSet::new).insert(key.clone()) {
        return Err(OutboxError::OpenInThisProcess(path.to_path_buf()));
    }
    Ok(key)
}

fn release(key: &Path) {
    let mut open = OPEN_HERE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(set) = open.as_mut() {
        set.remove(key);
    }
}

/// One name per file whatever path reached it (`./t/outbox.redb`, a symlink…).
fn key_of(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(Path::new).unwrap_or(path);
    std::fs::canonicalize(dir)
        .map(|d| d.join(name))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Runs `work`, turning a panic (redb meeting a damaged page) into
/// [`OutboxError::Damaged`].
pub(super) fn contain<T>(
    path: &Path,
    work: impl FnOnce() -> Result<T, OutboxError>,
) -> Result<T, OutboxError> {
    let outer = CONTAINED.with(|c| c.replace(true));
    let result = catch_unwind(AssertUnwindSafe(work));
    CONTAINED.with(|c| c.set(outer));
    result.unwrap_or_else(|panic| {
        let detail = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unreadable page".to_owned());
        Err(OutboxError::Damaged {
            path: path.to_path_buf(),
            detail,
        })
    })
}
