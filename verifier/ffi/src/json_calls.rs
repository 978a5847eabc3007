//! Today's JSON calls (`yibao_check`, `yibao_status`, …): requests in yibao's own field names,
//! answers with a status code, over the one [`Handle`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use yibao_verifier::yibao_shared::{
    BusinessType, Gender, InsuranceType, Relation, TokenId, TokenKind, UnixTime, VisitContext,
    VoucherId,
};
use yibao_verifier::{Accepted, Rejection};

use crate::handle::{ErrorInfo, Failure, Handle, VisitRequest};

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

fn ok(value: &Value) -> Answer {
    (YIBAO_OK, value.to_string())
}

/// An error answer with a stable code.
pub fn error(code: &'static str, message: impl std::fmt::Display) -> Answer {
    error_answer(&crate::handle::error_info(code, message))
}

/// An error answer: `{"error", "message"}`, with `field` and `advice_zh` when known.
pub fn error_answer(e: &ErrorInfo) -> Answer {
    let mut answer = json!({"error": e.code, "message": e.message});
    if let Some(field) = e.field {
        answer["field"] = json!(field);
    }
    if let Some(advice) = e.advice_zh {
        answer["advice_zh"] = json!(advice);
    }
    (YIBAO_ERROR, answer.to_string())
}

fn value_or_error(result: Result<Value, ErrorInfo>) -> Answer {
    match result {
        Ok(value) => ok(&value),
        Err(e) => error_answer(&e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DirRequest {
    /// A directory set up by `yibao-verify init` or the set-up call.
    dir: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckRequest {
    code: String,
    institution: String,
    operator: String,
    business_type: String,
    #[serde(default)]
    operator_name: Option<String>,
    #[serde(default)]
    office_id: Option<String>,
    #[serde(default)]
    office_name: Option<String>,
    #[serde(default)]
    device_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlushRequest {
    #[serde(default = "default_flush_secs")]
    timeout_secs: u64,
}

/// How long a flush waits when the request names no time.
pub fn default_flush_secs() -> u64 {
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

/// Opens the terminal directory named in `request` (`{"dir": "…"}`).
///
/// # Errors
///
/// An error answer: malformed request, no terminal there, a missing or damaged outbox.
pub fn open(request: &str) -> Result<(Handle, String), Answer> {
    let request: DirRequest = parse(request)?;
    let handle = Handle::open(&request.dir).map_err(|e| error_answer(&e))?;
    let answer = json!({
        "institution": handle.institution(),
        "abi_version": crate::YIBAO_ABI_VERSION,
    })
    .to_string();
    Ok((handle, answer))
}

/// Salvages a damaged outbox (`{"dir": "…"}`) into a new one.
pub fn salvage(request: &str) -> Answer {
    match parse::<DirRequest>(request) {
        Ok(r) => value_or_error(Handle::salvage(&r.dir)),
        Err(answer) => answer,
    }
}

/// Checks a code and queues it durably before answering "accepted".
pub fn check(handle: &Handle, request: &str) -> Answer {
    let request: CheckRequest = match parse(request) {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    let visit = VisitRequest {
        code: &request.code,
        institution: &request.institution,
        operator: &request.operator,
        business_type: &request.business_type,
        context: VisitContext {
            operator_name: request.operator_name.clone(),
            office_id: request.office_id.clone(),
            office_name: request.office_name.clone(),
            device_type: request.device_type.clone(),
        },
    };
    match handle.check(visit) {
        Ok((accepted, business_type)) => {
            (YIBAO_OK, accepted_json(&accepted, &request, business_type))
        }
        Err(Failure::Rejected(rejection)) => (YIBAO_REJECTED, rejected_json(&rejection)),
        Err(Failure::Error(e)) => error_answer(&e),
    }
}

/// The terminal's state.
pub fn status(handle: &Handle) -> Answer {
    value_or_error(handle.status())
}

/// Fetches the trust bundle and the status list.
pub fn sync(handle: &Handle) -> Answer {
    value_or_error(handle.sync())
}

/// Hands queued visits to settlement (`null` or `{"timeout_secs": n}`).
pub fn flush(handle: &Handle, request: Option<&str>) -> Answer {
    let timeout_secs = match request.map(parse::<FlushRequest>).transpose() {
        Ok(r) => r.map_or_else(default_flush_secs, |r| r.timeout_secs),
        Err(answer) => return answer,
    };
    value_or_error(handle.flush(timeout_secs))
}

/// One queued visit (`{"queued": n}`) and its settlement reference once settled.
pub fn presentation(handle: &Handle, request: &str) -> Answer {
    let request: LookupRequest = match parse(request) {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    value_or_error(handle.presentation(request.queued).map(|p| {
        json!({
            "queued": p.seq,
            "token_id": p.token_id,
            "voucher_id": p.voucher_id,
            "verified_at": p.verified_at,
            "outcome": p.outcome,
        })
    }))
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
    accepted: &Accepted,
    request: &CheckRequest,
    business_type: BusinessType,
) -> String {
    let token = &accepted.token;
    let c = token.claims();
    let answer = AcceptedAnswer {
        accepted: true,
        queued: accepted.seq,
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

fn rejected_json(rejection: &Rejection) -> String {
    json!({
        "accepted": false,
        "code": rejection.code(),
        "reason_zh": rejection.reason_zh(),
        "reason_en": rejection.reason_en(),
        "detail": rejection.to_string(),
    })
    .to_string()
}
