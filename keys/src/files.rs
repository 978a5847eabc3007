//! Writing key material safely: secrets 0600 in a 0700 directory, atomic replacement for
//! public state.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::KeysError;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeysError + '_ {
    move |cause| KeysError::Io {
        path: path.to_owned(),
        cause,
    }
}

/// Creates `dir` (mode 0700) if missing.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), KeysError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))
}

/// Writes a secret to a new file with mode 0600. Never overwrites: losing a key by accident
/// is worse than an error.
pub(crate) fn write_secret(path: &Path, contents: &str) -> Result<(), KeysError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => KeysError::Exists(path.to_owned()),
            _ => io(path)(e),
        })?;
    file.write_all(contents.as_bytes()).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// Replaces `path` atomically (write a sibling, fsync, rename), mode 0644.
pub(crate) fn write_public(path: &Path, contents: &str) -> Result<(), KeysError> {
    let tmp = path.with_extension("tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)
        .map_err(io(&tmp))?;
    file.write_all(contents.as_bytes()).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

/// Reads a whole file as text.
pub(crate) fn read(path: &Path) -> Result<String, KeysError> {
    fs::read_to_string(path).map_err(io(path))
}

/// 32 bytes from the operating system's random source.
pub(crate) fn random_seed() -> Result<Zeroizing<[u8; 32]>, KeysError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| KeysError::Random(e.to_string()))?;
    Ok(seed)
}

/// `N` bytes from the operating system's random source (ids for development codes).
///
/// # Errors
///
/// [`KeysError::Random`] if the random source fails.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], KeysError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| KeysError::Random(e.to_string()))?;
    Ok(out)
}
