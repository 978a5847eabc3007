//! The terminal behind the C ABI, in safe Rust: JSON requests in, JSON answers out, a status
//! code with each answer. `abi.rs` only moves bytes across the boundary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use yibao_verifier::yibao_shared::{
    BusinessType, Gender, InsuranceType, Relation, TokenId, TokenKind, UnixTime, VoucherId,
};
use yibao_verifier::{
    BundleUpdate, CheckError, Clock, ForwardError, HeldStatus, Outbox, OutboxError, Policy,
    Rejection, SyncError, SystemClock, Terminal, VerifiedToken, terminal_dir,
};

/// Done, or the code was accepted.
pub const YIBAO_OK: i32 = 0;
/// A verdict: the code was refused (the answer has `code`, `reason_zh`, `reason_en`).
pub const YIBAO_REJECTED: i32 = 1;
/// No verdict: bad input, storage or network failure (the answer has `error`, `message`).
pub const YIBAO_ERROR: i32 = 2;
/// The answer pointer itself was null: nothing could be written.
pub const YIBAO_NO_ANSWER: i32 = 3;

/// A status code and the JSON answer that goes with it.
pub type Answer = (i32, String);

/// A successful answer.
fn ok(value: Value) -> Answer {
    (YIBAO_OK, value.to_string())
}

/// An error answer with a stable code.
pub fn error(code: &str, message: impl std::fmt::Display) -> Answer {
    (
        YIBAO_ERROR,
        json!({"error": code, "message": message.to_string()}).to_string(),
    )
}

/// An error answer for an outbox failure, with the outbox's own stable code.
fn outbox_error(e: &OutboxError) -> Answer {
    (
        YIBAO_ERROR,
        json!({"error": e.code(), "message": e.to_string(), "advice_zh": e.advice_zh()})
            .to_string(),
    )
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenRequest {
    /// A directory set up by `yibao-verify init`.
    dir: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckRequest {
    code: String,
    institution: String,
    operator: String,
    business_type: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlushRequest {
    #[serde(default = "default_flush_secs")]
    timeout_secs: u64,
}

fn default_flush_secs() -> u64 {
    60
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupRequest {
    queued: u64,
}

fn parse<T: for<'de> Deserialize<'de>>(request: &str) -> Result<T, Answer> {
    // Requests are JSON objects; serde would also fill a struct from an array by position.
    if !request.trim_start().starts_with('{') {
        return Err(error("invalid-request", "a request is a JSON object {…}"));
    }
    serde_json::from_str(request).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            error("malformed-json", e)
        } else {
            error("invalid-request", e)
        }
    })
}

impl Handle {
    /// Opens the terminal directory named in `request` (`{"dir": "…"}`).
    ///
    /// # Errors
    ///
    /// An error answer: malformed request, no terminal there, an outbox that is missing,
    /// empty or damaged.
    pub fn open(request: &str) -> Result<(Self, String), Answer> {
        let request: OpenRequest = parse(request)?;
        let key = directory_key(&request.dir);
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        let open = open.get_or_insert_with(HashMap::new);
        open.retain(|_, t| t.strong_count() > 0);
        let terminal = match open.get(&key).and_then(Weak::upgrade) {
            Some(terminal) => terminal,
            None => {
                let loaded = terminal_dir::load(&request.dir, Policy::default())
                    .map_err(|e| error("terminal-not-set-up", e))?;
                // Before the outbox opens: a damaged page's contained panic is logged there.
                crate::log::set_dir(&request.dir);
                let terminal =
                    Arc::new(Terminal::open(&loaded.config).map_err(|e| outbox_error(&e))?);
                open.insert(key, Arc::downgrade(&terminal));
                terminal
            }
        };
        let answer = json!({
            "institution": terminal.institution(),
            "abi_version": crate::YIBAO_ABI_VERSION,
        })
        .to_string();
        Ok((Self { terminal }, answer))
    }

    /// Salvages a damaged outbox (`{"dir": "…"}`) into a new one, as `yibao-verify
    /// salvage` does. No handle may have the directory open.
    pub fn salvage(request: &str) -> Answer {
        let request: OpenRequest = match parse(request) {
            Ok(r) => r,
            Err(answer) => return answer,
        };
        let key = directory_key(&request.dir);
        let held = OPEN
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|open| open.get(&key))
            .is_some_and(|t| t.strong_count() > 0);
        if held {
            return outbox_error(&OutboxError::OpenInThisProcess(request.dir));
        }
        match Outbox::salvage(&request.dir, SystemClock.now()) {
            Ok(report) => ok(json!({
                "aside": report.aside,
                "queued": report.queued,
                "history": report.history,
                "quarantined": report.quarantined,
                "replay_entries": report.replay_entries,
                "clock_high_water": report.clock_high_water,
                "bundle_recovered": report.bundle_recovered,
                "status_list_recovered": report.status_list_recovered,
                "unreadable": report.unreadable,
            })),
            Err(e) => outbox_error(&e),
        }
    }

    fn terminal(&self) -> &Terminal {
        &self.terminal
    }

    /// Checks a code offline and queues it durably before answering "accepted": the same
    /// outbox, replay guard and verdict as `yibao-verify check`.
    pub fn check(&self, request: &str) -> Answer {
        let request: CheckRequest = match parse(request) {
            Ok(r) => r,
            Err(answer) => return answer,
        };
        let Some(business_type) = BusinessType::parse(&request.business_type) else {
            return error(
                "invalid-business-type",
                "expected a national 5-digit business type such as 01301 or 02121",
            );
        };
        let terminal = self.terminal();
        if request.institution != terminal.institution() {
            return error(
                "institution-mismatch",
                "the institution is not this terminal's",
            );
        }
        let now = SystemClock.now();
        match terminal.check(request.code.trim(), &request.operator, business_type, now) {
            Ok(accepted) => (
                YIBAO_OK,
                accepted_json(&accepted.token, accepted.seq, &request, business_type),
            ),
            Err(CheckError::Rejected(rejection)) => {
                (YIBAO_REJECTED, rejected_json(&rejection).to_string())
            }
            Err(CheckError::InvalidVisit(invalid)) => (
                YIBAO_ERROR,
                json!({
                    "error": "invalid-field",
                    "field": invalid.field(),
                    "message": invalid.to_string(),
                })
                .to_string(),
            ),
            // Not recorded means not accepted.
            Err(CheckError::Guard(e)) => outbox_error(&e),
        }
    }

    /// The outbox, the bundle and the status list.
    pub fn status(&self) -> Answer {
        let terminal = self.terminal();
        let now = SystemClock.now();
        let status = match terminal.status() {
            Ok(s) => s,
            Err(e) => return outbox_error(&e),
        };
        let verifier = terminal.verifier();
        let max_age = verifier.policy().max_status_age_secs;
        ok(json!({
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
    pub fn sync(&self) -> Answer {
        match self.terminal().sync(SystemClock.now()) {
            Ok((bundle, status)) => ok(json!({
                "bundle_installed": match bundle {
                    BundleUpdate::Installed { sequence } => Some(sequence),
                    BundleUpdate::Unchanged => None,
                },
                "status_list_sequence": status.sequence,
                "revocations_added": status.added,
            })),
            Err(SyncError::Outbox(e)) => outbox_error(&e),
            Err(e) => error("sync-failed", e),
        }
    }

    /// Hands queued visits to settlement until the queue is empty or the timeout passes.
    pub fn flush(&self, request: Option<&str>) -> Answer {
        let request: FlushRequest = match request.map(parse).transpose() {
            Ok(r) => r.unwrap_or(FlushRequest {
                timeout_secs: default_flush_secs(),
            }),
            Err(answer) => return answer,
        };
        let terminal = self.terminal();
        let deadline = Instant::now() + Duration::from_secs(request.timeout_secs.min(3_600));
        match terminal.flush(100, deadline, || SystemClock.now()) {
            Ok(report) => ok(json!({"answered": report.answered, "remaining": report.remaining})),
            Err(ForwardError::Outbox(e)) => outbox_error(&e),
            Err(e) => error(
                if e.is_transient() {
                    "issuer-unreachable"
                } else {
                    "flush-failed"
                },
                e,
            ),
        }
    }

    /// One queued visit by its place in the outbox (`{"queued": n}` from a check): its
    /// settlement reference once settled, or why settlement refused it.
    pub fn presentation(&self, request: &str) -> Answer {
        let request: LookupRequest = match parse(request) {
            Ok(r) => r,
            Err(answer) => return answer,
        };
        match self.terminal().outbox().presentation(request.queued) {
            Ok(Some(p)) => ok(json!({
                "queued": p.seq,
                "token_id": p.token_id,
                "voucher_id": p.voucher_id,
                "verified_at": p.verified_at,
                "outcome": p.outcome,
            })),
            Ok(None) => error("not-found", "no presentation with this number"),
            Err(e) => outbox_error(&e),
        }
    }
}

/// An acceptance, serialised straight from borrowed fields (no intermediate JSON tree:
/// this answer is on every scan's path).
#[derive(Serialize)]
struct AcceptedAnswer<'a> {
    accepted: bool,
    queued: u64,
    kind: TokenKind,
    token_id: TokenId,
    voucher_id: VoucherId,
    masked_name: &'a str,
    gender: Gender,
    gender_zh: &'static str,
    birth_year: u16,
    region: String,
    insurance: InsuranceType,
    insurance_zh: &'static str,
    proxy: Option<ProxyAnswer>,
    institution: &'a str,
    operator: &'a str,
    business_type: &'static str,
    business_zh: &'static str,
    verified_at: UnixTime,
    expires_at: UnixTime,
}

#[derive(Serialize)]
struct ProxyAnswer {
    binder: VoucherId,
    relation: Relation,
    relation_zh: &'static str,
}

fn accepted_json(
    token: &VerifiedToken,
    queued: u64,
    request: &CheckRequest,
    business_type: BusinessType,
) -> String {
    let c = token.claims();
    let answer = AcceptedAnswer {
        accepted: true,
        queued,
        kind: token.kind(),
        token_id: token.token_id(),
        voucher_id: c.voucher_id,
        masked_name: c.masked_name.as_str(),
        gender: c.gender,
        gender_zh: c.gender.label_zh(),
        birth_year: c.birth_year,
        region: c.region.to_string(),
        insurance: c.insurance,
        insurance_zh: c.insurance.label_zh(),
        proxy: c.proxy.as_ref().map(|p| ProxyAnswer {
            binder: p.binder,
            relation: p.relation,
            relation_zh: p.relation.label_zh(),
        }),
        institution: &request.institution,
        operator: &request.operator,
        business_type: business_type.code(),
        business_zh: business_type.label_zh(),
        verified_at: token.verified_at(),
        expires_at: token.expires_at(),
    };
    // Plain fields: serialising cannot fail.
    serde_json::to_string(&answer).unwrap_or_default()
}

fn rejected_json(rejection: &Rejection) -> Value {
    json!({
        "accepted": false,
        "code": rejection.code(),
        "reason_zh": rejection.reason_zh(),
        "reason_en": rejection.reason_en(),
        "detail": rejection.to_string(),
    })
}
