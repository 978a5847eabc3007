//! The cashier page's local HTTP API (documented in `docs/terminal.md`): `GET /` the page,
//! `GET /api/status`, `POST /api/check`, served only to the page itself (`guard.rs`). Errors
//! are `{code, message}` with stable codes, as the issuer's are.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tower_http::timeout::TimeoutLayer;
use yibao_shared::BusinessType;
use yibao_verifier::{CheckError, Clock, Rejection, SystemClock};

use super::Shared;
use super::guard;

const PAGE: &str = include_str!("cashier.html");

/// Largest request body: a code is under 600 bytes.
const BODY_LIMIT: usize = 16 * 1024;
/// A request that has not completed by then (a stalled body) is answered 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The page's routes with their limits.
pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/status", get(status))
        .route("/api/check", post(check))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            guard::only_this_page,
        ))
        .layer(axum::middleware::map_response(secure_headers))
        .layer(cors(&shared.allowed_origins))
        .with_state(shared)
}

/// CORS for the allowed HIS origins only (none by default: then no CORS header is sent and
/// browsers keep every other site from reading an answer).
fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    tower_http::cors::CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([header::CONTENT_TYPE])
}

async fn secure_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The page is self-contained: no script, style or image from anywhere else.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'",
        ),
    );
    if response.status() == StatusCode::REQUEST_TIMEOUT
        && response.headers().get(header::CONTENT_TYPE).is_none()
    {
        return ApiError::Timeout.into_response();
    }
    response
}

/// Every way a request to the page's API can fail.
#[derive(Debug)]
pub(super) enum ApiError {
    /// `Host` names a domain (DNS rebinding), or is missing.
    HostNotAllowed,
    /// `Origin` or `Sec-Fetch-Site` says another site sent it.
    CrossOrigin,
    /// A state change without the page's token.
    PageTokenMissing,
    NotFound,
    MethodNotAllowed,
    Timeout,
    BodyTooLarge,
    UnsupportedMediaType,
    MalformedJson,
    NotAnObject,
    InvalidBody(String),
    InvalidBusinessType,
    OutboxFailed(String),
    /// The outbox could not record: its own code and what the cashier should do.
    Outbox {
        code: &'static str,
        message: String,
        advice_zh: &'static str,
    },
    /// A field of the visit settlement would refuse.
    InvalidField(yibao_shared::InvalidVisitField),
}

impl ApiError {
    /// The stable code.
    #[cfg(test)]
    pub(super) fn code(&self) -> &'static str {
        self.parts().1
    }

    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            Self::HostNotAllowed => (
                StatusCode::FORBIDDEN,
                "host-not-allowed",
                "served to this machine's own page only: open http://127.0.0.1:<port>/".into(),
            ),
            Self::CrossOrigin => (
                StatusCode::FORBIDDEN,
                "cross-origin",
                "requests from other sites are refused".into(),
            ),
            Self::PageTokenMissing => (
                StatusCode::FORBIDDEN,
                "page-token",
                format!(
                    "a check needs the page's token in {} (in the page's cashier-token meta tag, new at each start)",
                    guard::TOKEN_HEADER
                ),
            ),
            Self::NotFound => (StatusCode::NOT_FOUND, "not-found", "not found".into()),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "method not allowed on this path".into(),
            ),
            Self::Timeout => (
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                "request not completed in time".into(),
            ),
            Self::BodyTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                format!("request body over {BODY_LIMIT} bytes"),
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "expected Content-Type: application/json".into(),
            ),
            Self::MalformedJson => (
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "request body is not valid JSON".into(),
            ),
            Self::NotAnObject => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "request body must be a JSON object".into(),
            ),
            Self::InvalidBody(why) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                why.clone(),
            ),
            Self::InvalidBusinessType => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-business-type",
                "unknown business type: expected a national 5-digit code such as 01301".into(),
            ),
            Self::OutboxFailed(why) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "outbox-failed",
                format!("could not record the visit, so it is not accepted: {why}"),
            ),
            Self::Outbox { code, message, .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                code,
                format!("could not record the visit, so it is not accepted: {message}"),
            ),
            Self::InvalidField(invalid) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-field",
                invalid.to_string(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        let mut body = json!({"code": code, "message": message});
        // The page shows these to the cashier.
        match &self {
            Self::OutboxFailed(_) => {
                body["accepted"] = json!(false);
                body["reason_zh"] = json!("无法记录，请重试");
                body["reason_en"] = json!("could not record; try again");
            }
            Self::Outbox { advice_zh, .. } => {
                body["accepted"] = json!(false);
                body["reason_zh"] = json!(advice_zh);
                body["reason_en"] = json!("could not record the visit: it is not accepted");
            }
            _ => {}
        }
        (status, axum::Json(body)).into_response()
    }
}

async fn page(State(shared): State<Arc<Shared>>) -> Response {
    let page = PAGE.replace("__CASHIER_TOKEN__", &shared.page_token);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckRequest {
    code: String,
    #[serde(default)]
    business_type: Option<String>,
    #[serde(default)]
    operator: Option<String>,
}

/// Parses a JSON object body (never an array filling fields by position).
fn object_body<T: for<'de> Deserialize<'de>>(
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<T, ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|m| m.trim() == "application/json")
        });
    if !json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| ApiError::MalformedJson)?;
    if !value.is_object() {
        return Err(ApiError::NotAnObject);
    }
    serde_json::from_value(value).map_err(|e| ApiError::InvalidBody(e.to_string()))
}

async fn check(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::BodyTooLarge,
        _ => ApiError::MalformedJson,
    })?;
    let request: CheckRequest = object_body(&headers, &body)?;
    let business_type = match request.business_type.as_deref() {
        None | Some("") => shared.business_type,
        Some(code) => BusinessType::parse(code).ok_or(ApiError::InvalidBusinessType)?,
    };
    // Recording fsyncs: off the async workers, so status calls are served meanwhile.
    let verdict = tokio::task::spawn_blocking(move || check_code(&shared, &request, business_type))
        .await
        .map_err(|e| ApiError::OutboxFailed(e.to_string()))??;
    Ok(axum::Json(verdict).into_response())
}

fn check_code(
    shared: &Shared,
    request: &CheckRequest,
    business_type: BusinessType,
) -> Result<Value, ApiError> {
    let operator = request
        .operator
        .as_deref()
        .filter(|o| !o.is_empty())
        .unwrap_or(&shared.operator);
    let terminal = &shared.terminal;
    match terminal.check(
        request.code.trim(),
        operator,
        business_type,
        SystemClock.now(),
    ) {
        Ok(accepted) => {
            let c = accepted.token.claims();
            Ok(json!({
                "accepted": true,
                "queued": accepted.seq,
                "masked_name": c.masked_name.as_str(),
                "gender_zh": c.gender.label_zh(),
                "gender_en": c.gender.label_en(),
                "birth_year": c.birth_year,
                "region": c.region.to_string(),
                "insurance_zh": c.insurance.label_zh(),
                "insurance_en": c.insurance.label_en(),
                "proxy": c.proxy.as_ref().map(|p| json!({
                    "relation_zh": p.relation.label_zh(),
                    "relation_en": p.relation.label_en(),
                    "binder": p.binder.to_string(),
                })),
                "business_type": business_type.code(),
                "business_zh": business_type.label_zh(),
                "business_en": business_type.label_en(),
                // A code the phone signed offline with its certified key (离线码).
                "offline_code": accepted.token.certificate().map(|cert| json!({
                    "certificate_id": cert.certificate_id.to_string(),
                    "certificate_expires_at": cert.expires_at(),
                })),
            }))
        }
        Err(CheckError::Rejected(rejection)) => Ok(rejected(&rejection)),
        // Not recorded means not accepted: say so, in words the cashier can act on.
        Err(CheckError::Guard(e)) => Err(ApiError::Outbox {
            code: e.code(),
            message: e.to_string(),
            advice_zh: e.advice_zh(),
        }),
        Err(CheckError::InvalidVisit(invalid)) => Err(ApiError::InvalidField(invalid)),
    }
}

fn rejected(rejection: &Rejection) -> Value {
    json!({
        "accepted": false,
        "code": rejection.code(),
        "message": rejection.reason_en(),
        "reason_zh": rejection.reason_zh(),
        "reason_en": rejection.reason_en(),
    })
}

async fn status(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    let value = tokio::task::spawn_blocking(move || status_of(&shared))
        .await
        .map_err(|e| ApiError::OutboxFailed(e.to_string()))?;
    Ok(axum::Json(value).into_response())
}

fn status_of(shared: &Shared) -> Value {
    let terminal = &shared.terminal;
    let now = SystemClock.now();
    let (outbox, outbox_error) = match terminal.status() {
        Ok(status) => (Some(status), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let verifier = terminal.verifier();
    let bundle = verifier.bundle();
    let max_status_age = verifier.policy().max_status_age_secs;
    let revocations = verifier.status();
    json!({
        "institution": terminal.institution(),
        "online": shared.online.load(Ordering::Relaxed),
        "last_contact": shared.last_contact.load(Ordering::Relaxed),
        "bundle": bundle.map(|b| json!({
            "sequence": b.sequence,
            "age_secs": now.as_secs().saturating_sub(b.issued_at.as_secs()),
            "stale": now >= b.expires_at,
        })),
        // Offline device codes (离线码) need a fresh status list; kind 1 does not.
        "status_list": revocations.map(|s| json!({
            "sequence": s.sequence(),
            "age_secs": now.as_secs().saturating_sub(s.issued_at().as_secs()),
            "stale": now >= s.issued_at().saturating_add(max_status_age),
        })),
        "queued": outbox.as_ref().map(|s| s.queued),
        "quarantined": outbox.as_ref().map(|s| s.quarantined),
        "free_bytes": outbox.as_ref().and_then(|s| s.free_bytes),
        "low_on_space": outbox.as_ref().map(|s| s.low_on_space()),
        "clock_behind": outbox.as_ref().map(|s| s.clock_behind(now)),
        "outbox_error": outbox_error,
        "settled": outbox.as_ref().map(|s| s.settled),
        "refused": outbox.as_ref().map(|s| s.refused),
        // Shown on the page, not only counted: the cashier must act on each.
        "recent_refusals": terminal
            .recent_refusals(RECENT_REFUSALS)
            .unwrap_or_default()
            .iter()
            .map(refusal)
            .collect::<Vec<_>>(),
        "default_business_type": shared.business_type.code(),
        "business_types": BusinessType::all()
            .map(|b| json!({"code": b.code(), "zh": b.label_zh(), "en": b.label_en()}))
            .collect::<Vec<_>>(),
    })
}

/// Refused visits shown on the page.
const RECENT_REFUSALS: usize = 5;

/// One visit settlement refused, for the page: when, whose (masked, from the code the
/// terminal verified), why, and what to do.
fn refusal(p: &yibao_verifier::Presentation) -> Value {
    let masked_name = yibao_shared::UntrustedToken::parse(&p.code)
        .ok()
        .map(|t| t.unverified_body().claims.masked_name.as_str().to_owned());
    let (code, message) = match &p.outcome {
        Some(yibao_verifier::Outcome::Refused { code, message, .. }) => {
            (code.as_str(), message.as_str())
        }
        _ => ("", ""),
    };
    let (zh, en) = match code {
        "double-use" => (
            "此码已在其他机构结算（重复使用）：本次就诊未结算，请与患者核实并按规定处理",
            "already settled at another institution (double use): this visit was not settled; check with the patient",
        ),
        "certificate-revoked" => (
            "离线码在核验前已被吊销：本次就诊未结算，请患者联网后重新出示",
            "the offline code was revoked before it was checked: not settled; ask the patient to show a fresh code online",
        ),
        _ => (
            "结算未受理：请联系医保经办机构",
            "settlement did not accept this visit: contact the insurance office",
        ),
    };
    json!({
        "verified_at": p.verified_at.as_secs(),
        "token_id": p.token_id.to_string(),
        "business_type": p.visit.business_type.code(),
        "masked_name": masked_name,
        "code": code,
        "message": message,
        "reason_zh": zh,
        "reason_en": en,
    })
}
