//! Disk space beside the outbox. A full disk must never turn into a false "accepted" (redb
//! fails the commit, so it cannot), must not stop forwarding (which is what frees space), and
//! should be seen coming.
//!
//! - Below [`LOW_SPACE_BYTES`] free, `status` and the cashier page warn.
//! - Below [`MIN_FREE_TO_ACCEPT_BYTES`], new visits are refused before anything is written
//!   ([`super::OutboxError::DiskFull`]): the terminal can no longer record them durably.
//! - `init` writes an emergency reserve file of [`RESERVE_BYTES`] (`outbox.reserve`). When
//!   forwarding finds space short, it deletes the reserve first, so recording settlement's
//!   answers has room; the reserve is written again once space is back.

use std::io::Write;
use std::path::Path;

/// Free space below which `status` and the cashier page warn (64 MiB).
pub const LOW_SPACE_BYTES: u64 = 64 * 1024 * 1024;
/// Free space below which new visits are refused (2 MiB).
pub const MIN_FREE_TO_ACCEPT_BYTES: u64 = 2 * 1024 * 1024;
/// Size of the emergency reserve file (4 MiB).
pub const RESERVE_BYTES: u64 = 4 * 1024 * 1024;
/// The emergency reserve's file name, beside the outbox.
pub const RESERVE_FILE: &str = "outbox.reserve";

/// Bytes available to this process on the file system of `dir`, if it can be asked.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Writes the reserve file if it is missing and there is room for it with space to spare.
/// Best effort: a terminal without a reserve still works.
pub fn ensure_reserve(dir: &Path) {
    let path = dir.join(RESERVE_FILE);
    if path.exists() || free_bytes(dir).is_none_or(|f| f < LOW_SPACE_BYTES + RESERVE_BYTES) {
        return;
    }
    let written = (|| -> std::io::Result<()> {
        // Real zeros, not a sparse file: only written blocks hold space.
        let mut file = std::fs::File::create(&path)?;
        let chunk = vec![0u8; 64 * 1024];
        for _ in 0..RESERVE_BYTES / chunk.len() as u64 {
            file.write_all(&chunk)?;
        }
        file.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&path);
    }
}

/// Before a write that frees space (recording settlement's answers): releases the reserve
/// if space is short, or puts it back if space is plentiful. Returns whether space is low.
pub fn make_room(dir: &Path) -> bool {
    let Some(free) = free_bytes(dir) else {
        return false;
    };
    if free < 2 * RESERVE_BYTES {
        let _ = std::fs::remove_file(dir.join(RESERVE_FILE));
    } else {
        ensure_reserve(dir);
    }
    free < LOW_SPACE_BYTES
}
