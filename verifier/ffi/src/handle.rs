//! The terminal behind the C ABI, in safe Rust: JSON requests in, JSON answers out, a status
//! code with each answer. `abi.rs` only moves bytes across the boundary.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use yibao_verifier::yibao_shared::{
    BusinessType, Gender, InsuranceType, Relation, TokenId, TokenKind, UnixTime, VoucherId,
};
use yibao_verifier::{
    BundleUpdate, CheckError, Clock, HeldStatus, Policy, Rejection, SystemClock, Terminal,
    VerifiedToken, terminal_dir,
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

/// An open terminal directory. Calls from several threads are serialised on the mutex, so
/// one handle may be shared by a vendor's threads.
#[derive(Debug)]
pub struct Handle {
    terminal: Mutex<Terminal>,
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
        let loaded = terminal_dir::load(&request.dir, Policy::default())
            .map_err(|e| error("terminal-not-set-up", e))?;
        let terminal =
            Terminal::open(&loaded.config).map_err(|e| error("outbox-unavailable", e))?;
        let answer = json!({
            "institution": terminal.institution(),
            "abi_version": crate::YIBAO_ABI_VERSION,
        })
        .to_string();
        Ok((
            Self {
                terminal: Mutex::new(terminal),
            },
            answer,
        ))
    }

    fn terminal(&self) -> std::sync::MutexGuard<'_, Terminal> {
        // A panic inside an earlier call was contained; the terminal's state is in the
        // outbox, which commits whole transactions, so the value is still usable.
        self.terminal.lock().unwrap_or_else(|e| e.into_inner())
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
        if request.operator.trim().is_empty() || request.operator.len() > 64 {
            return error("invalid-request", "operator must be 1-64 bytes");
        }
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
            // Not recorded means not accepted.
            Err(CheckError::Guard(e)) => error("outbox-failed", e),
        }
    }

    /// The outbox, the bundle and the status list.
    pub fn status(&self) -> Answer {
        let terminal = self.terminal();
        let now = SystemClock.now();
        let status = match terminal.status() {
            Ok(s) => s,
            Err(e) => return error("outbox-failed", e),
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
        }))
    }

    /// Fetches the trust bundle and the status list from the issuer.
    pub fn sync(&self) -> Answer {
        let mut terminal = self.terminal();
        match terminal.sync(SystemClock.now()) {
            Ok((bundle, status)) => ok(json!({
                "bundle_installed": match bundle {
                    BundleUpdate::Installed { sequence } => Some(sequence),
                    BundleUpdate::Unchanged => None,
                },
                "status_list_sequence": status.sequence,
                "revocations_added": status.added,
            })),
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
            Err(e) => error("outbox-failed", e),
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
