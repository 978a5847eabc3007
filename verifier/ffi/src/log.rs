//! The library's own log, `yibao-verifier.log` in the terminal directory, never the host
//! program's stderr (which belongs to the vendor, and is a console window on Windows): a
//! panic contained inside a call (a damaged outbox page makes redb panic) always, and the
//! national call's errors (level `warn`, the default), every answer (`debug`) or nothing
//! else (`error`, `off`). Lines carry stable codes only, never a code, a name or a
//! credential.
//!
//! Rust's panic hook is process-wide, so the one installed here passes every panic that
//! did not happen inside one of this library's calls to the hook that was there before.

use std::cell::Cell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Mutex, Once, PoisonError};

/// The log file's name in the terminal directory.
pub const LOG_FILE: &str = "yibao-verifier.log";
/// Past this size the log starts again (the previous one kept as `.1`).
const MAX_LOG_BYTES: u64 = 1024 * 1024;

static HOOK: Once = Once::new();
static DIR: Mutex<Option<PathBuf>> = Mutex::new(None);
static CONTAINED: AtomicU64 = AtomicU64::new(0);
static LEVEL: AtomicU8 = AtomicU8::new(Level::Warn as u8);

/// How much goes to the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Nothing but contained panics.
    Off = 0,
    /// Errors of the library itself.
    Error = 1,
    /// Calls answered with an error (the default).
    Warn = 2,
    /// Set-up and other events.
    Info = 3,
    /// Every answer of the national call.
    Debug = 4,
}

impl Level {
    /// The level called `name` (`off`, `error`, `warn`, `info`, `debug`).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "off" => Self::Off,
            "error" => Self::Error,
            "warn" | "warning" => Self::Warn,
            "info" => Self::Info,
            "debug" => Self::Debug,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Off => "OFF",
            Self::Error => "ERROR",
            Self::Warn => "WARN",
            Self::Info => "INFO",
            Self::Debug => "DEBUG",
        }
    }
}

/// Logs `level` and above from now on.
pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Whether lines of `level` are written.
pub fn enabled(level: Level) -> bool {
    level != Level::Off && level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Writes `line` at `level`, when that level is on.
pub fn write(level: Level, line: &str) {
    if enabled(level) {
        append(&format!("{} {line}", level.name()));
    }
}

thread_local! {
    static IN_CALL: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work` as one of the library's calls: a panic inside it goes to the log.
pub fn in_call<T>(work: impl FnOnce() -> T) -> T {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let ours = IN_CALL.with(Cell::get) || yibao_verifier::outbox::containing_panics();
            if !ours {
                return previous(info);
            }
            CONTAINED.fetch_add(1, Ordering::Relaxed);
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            append(&format!("panic contained at {location}: {message}"));
        }));
    });
    let outer = IN_CALL.with(|c| c.replace(true));
    let result = work();
    IN_CALL.with(|c| c.set(outer));
    result
}

/// Where the log goes from now on (the terminal directory last opened).
pub fn set_dir(dir: &Path) {
    *DIR.lock().unwrap_or_else(PoisonError::into_inner) = Some(dir.to_path_buf());
}

/// How many panics were contained since the library was loaded.
pub fn contained_count() -> u64 {
    CONTAINED.load(Ordering::Relaxed)
}

/// Appends one line; a log that cannot be written is given up on silently (the answer to
/// the call carries the error anyway).
fn append(line: &str) {
    let Some(dir) = DIR.lock().unwrap_or_else(PoisonError::into_inner).clone() else {
        return;
    };
    let path = dir.join(LOG_FILE);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > MAX_LOG_BYTES) {
        let _ = std::fs::rename(&path, dir.join(format!("{LOG_FILE}.1")));
    }
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        let _ = writeln!(file, "{at} {line}");
    }
}
