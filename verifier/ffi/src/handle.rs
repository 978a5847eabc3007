//! The terminal behind both call shapes of the C ABI (today's JSON calls in `json_calls.rs`,
//! the national `ec.query`-shaped call in `national/`), in safe Rust: each operation returns
//! a value or a [`Failure`], and each shape words it its own way. `abi.rs` and
//! `national_abi.rs` only move bytes across the boundary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use yibao_verifier::yibao_shared::{BusinessType, VisitContext};
use yibao_verifier::{
    Accepted, BundleUpdate, CheckError, Clock, ForwardError, HeldStatus, Outbox, OutboxError,
    Policy, Presentation, Rejection, SyncError, SystemClock, Terminal, terminal_dir,
};

/// Why an operation gave no value.
#[derive(Debug)]
pub enum Failure {
    /// A verdict: the code is refused.
    Rejected(Rejection),
    /// No verdict: bad input, storage or network failure.
    Error(ErrorInfo),
}

/// An error with a stable code.
#[derive(Debug)]
pub struct ErrorInfo {
    /// Stable code (`invalid-field`, `outbox-damaged`, `issuer-unreachable`, …).
    pub code: &'static str,
    /// What happened, in English.
    pub message: String,
    /// The visit field at fault, for `invalid-field`.
    pub field: Option<&'static str>,
    /// What the cashier should do, in Chinese, when the outbox said.
    pub advice_zh: Option<&'static str>,
}

impl From<ErrorInfo> for Failure {
    fn from(e: ErrorInfo) -> Self {
        Self::Error(e)
    }
}

/// An error with a stable code.
pub fn error_info(code: &'static str, message: impl std::fmt::Display) -> ErrorInfo {
    ErrorInfo {
        code,
        message: message.to_string(),
        field: None,
        advice_zh: None,
    }
}

fn outbox_error(e: &OutboxError) -> ErrorInfo {
    ErrorInfo {
        code: e.code(),
        message: e.to_string(),
        field: None,
        advice_zh: Some(e.advice_zh()),
    }
}

/// A visit as the hospital system describes it, not yet checked.
#[derive(Debug)]
pub struct VisitRequest<'a> {
    /// The scanned code.
    pub code: &'a str,
    /// The institution code the caller believes this terminal is for.
    pub institution: &'a str,
    /// Operator id.
    pub operator: &'a str,
    /// National business-type code.
    pub business_type: &'a str,
    /// Operator's name, office, device.
    pub context: VisitContext,
}

/// An open terminal directory. Calls from several threads run side by side: the terminal
/// holds no lock across the network, so a check never waits behind a flush or sync.
#[derive(Debug)]
pub struct Handle {
    terminal: Arc<Terminal>,
}

/// Terminals open in this process, by directory: a second open of the same directory
/// shares the first one's terminal (one outbox file, one writer), and closing one handle
/// leaves the other working.
static OPEN: Mutex<Option<HashMap<PathBuf, Weak<Terminal>>>> = Mutex::new(None);

fn directory_key(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// Whether a handle of this process has `dir` open.
pub fn is_open(dir: &Path) -> bool {
    let key = directory_key(dir);
    OPEN.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .and_then(|open| open.get(&key))
        .is_some_and(|t| t.strong_count() > 0)
}

impl Handle {
    /// Opens the terminal directory `dir` (set up by `yibao-verify init` or the set-up call).
    ///
    /// # Errors
    ///
    /// No terminal there, an outbox that is missing, empty or damaged.
    pub fn open(dir: &Path) -> Result<Self, ErrorInfo> {
        let key = directory_key(dir);
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        let open = open.get_or_insert_with(HashMap::new);
        open.retain(|_, t| t.strong_count() > 0);
        if let Some(terminal) = open.get(&key).and_then(Weak::upgrade) {
            return Ok(Self { terminal });
        }
        let loaded = terminal_dir::load(dir, Policy::default())
            .map_err(|e| error_info("terminal-not-set-up", e))?;
        // Before the outbox opens: a damaged page's contained panic is logged there.
        crate::log::set_dir(dir);
        let terminal = Arc::new(Terminal::open(&loaded.config).map_err(|e| outbox_error(&e))?);
        open.insert(key, Arc::downgrade(&terminal));
        Ok(Self { terminal })
    }

    /// Salvages a damaged outbox in `dir` into a new one, as `yibao-verify salvage` does.
    /// No handle may have the directory open.
    ///
    /// # Errors
    ///
    /// The directory is open in this process, or the outbox could not be salvaged.
    pub fn salvage(dir: &Path) -> Result<Value, ErrorInfo> {
        if is_open(dir) {
            return Err(outbox_error(&OutboxError::OpenInThisProcess(
                dir.to_path_buf(),
            )));
        }
        let report = Outbox::salvage(dir, SystemClock.now()).map_err(|e| outbox_error(&e))?;
        Ok(json!({
            "aside": report.aside,
            "queued": report.queued,
            "history": report.history,
            "quarantined": report.quarantined,
            "replay_entries": report.replay_entries,
            "clock_high_water": report.clock_high_water,
            "bundle_recovered": report.bundle_recovered,
            "status_list_recovered": report.status_list_recovered,
            "unreadable": report.unreadable,
        }))
    }

    /// The terminal's institution.
    pub fn institution(&self) -> &str {
        self.terminal.institution()
    }

    /// Checks a code offline and queues it durably before answering: the same outbox,
    /// replay guard and verdict as `yibao-verify check`. Returns the business type parsed.
    ///
    /// # Errors
    ///
    /// A verdict, or an error (bad field, other institution, outbox failure: then the code
    /// was not recorded and must not be accepted).
    pub fn check(&self, visit: VisitRequest<'_>) -> Result<(Accepted, BusinessType), Failure> {
        let Some(business_type) = BusinessType::parse(visit.business_type) else {
            return Err(error_info(
                "invalid-business-type",
                "expected a national 5-digit business type such as 01301 or 02121",
            )
            .into());
        };
        let terminal = &self.terminal;
        if visit.institution != terminal.institution() {
            return Err(error_info(
                "institution-mismatch",
                "the institution is not this terminal's",
            )
            .into());
        }
        let now = SystemClock.now();
        match terminal.check_with(
            visit.code.trim(),
            visit.operator,
            business_type,
            visit.context,
            now,
        ) {
            Ok(accepted) => Ok((accepted, business_type)),
            Err(CheckError::Rejected(rejection)) => Err(Failure::Rejected(rejection)),
            Err(CheckError::InvalidVisit(invalid)) => Err(ErrorInfo {
                field: Some(invalid.field()),
                ..error_info("invalid-field", invalid)
            }
            .into()),
            // Not recorded means not accepted.
            Err(CheckError::Guard(e)) => Err(outbox_error(&e).into()),
        }
    }

    /// The outbox, the bundle and the status list.
    ///
    /// # Errors
    ///
    /// The outbox could not be read.
    pub fn status(&self) -> Result<Value, ErrorInfo> {
        let terminal = &self.terminal;
        let now = SystemClock.now();
        let status = terminal.status().map_err(|e| outbox_error(&e))?;
        let verifier = terminal.verifier();
        let max_age = verifier.policy().max_status_age_secs;
        Ok(json!({
            "institution": terminal.institution(),
            "bundle": verifier.bundle().map(|b| json!({
                "sequence": b.sequence,
                "issued_at": b.issued_at,
                "expires_at": b.expires_at,
                "stale": now >= b.expires_at,
            })),
            "status_list": verifier.status().map(|s: &HeldStatus| json!({
                "sequence": s.sequence(),
                "issued_at": s.issued_at(),
                "revoked_held": s.len(),
                "stale": now >= s.issued_at().saturating_add(max_age),
            })),
            "queued": status.queued,
            "settled": status.settled,
            "refused": status.refused,
            "quarantined": status.quarantined,
            "low_on_space": status.low_on_space(),
            "clock_behind": status.clock_behind(now),
            "bundle_restore_problem": terminal.restore_problem().map(|r| json!({
                "code": r.code(),
                "message": r.to_string(),
            })),
            "internal_errors": crate::log::contained_count(),
        }))
    }

    /// Fetches the trust bundle and the status list from the issuer.
    ///
    /// # Errors
    ///
    /// The issuer could not be asked, or what it sent was refused; what was held stays.
    pub fn sync(&self) -> Result<Value, ErrorInfo> {
        match self.terminal.sync(SystemClock.now()) {
            Ok((bundle, status)) => Ok(json!({
                "bundle_installed": match bundle {
                    BundleUpdate::Installed { sequence } => Some(sequence),
                    BundleUpdate::Unchanged => None,
                },
                "status_list_sequence": status.sequence,
                "revocations_added": status.added,
            })),
            Err(SyncError::Outbox(e)) => Err(outbox_error(&e)),
            Err(e) => Err(error_info("sync-failed", e)),
        }
    }

    /// Hands queued visits to settlement until the queue is empty or `timeout_secs` pass.
    ///
    /// # Errors
    ///
    /// The outbox failed, or the issuer could not be reached or refused the terminal.
    pub fn flush(&self, timeout_secs: u64) -> Result<Value, ErrorInfo> {
        let deadline = Instant::now() + Duration::from_secs(timeout_secs.min(3_600));
        match self.terminal.flush(100, deadline, || SystemClock.now()) {
            Ok(report) => Ok(json!({"answered": report.answered, "remaining": report.remaining})),
            Err(ForwardError::Outbox(e)) => Err(outbox_error(&e)),
            Err(e) => Err(error_info(
                if e.is_transient() {
                    "issuer-unreachable"
                } else {
                    "flush-failed"
                },
                e,
            )),
        }
    }

    /// One queued visit by its place in the outbox, with settlement's answer once there is
    /// one.
    ///
    /// # Errors
    ///
    /// `not-found`, or the outbox could not be read.
    pub fn presentation(&self, queued: u64) -> Result<Presentation, ErrorInfo> {
        match self.terminal.outbox().presentation(queued) {
            Ok(Some(p)) => Ok(p),
            Ok(None) => Err(error_info("not-found", "no presentation with this number")),
            Err(e) => Err(outbox_error(&e)),
        }
    }
}
