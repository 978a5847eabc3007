//! One error type for every HTTP answer: JSON `{code, message}` with a stable kebab-case code.
//! 5xx answers say only "internal error"; the cause goes to the log.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::id_number::IdNumberError;
use crate::store::StoreError;
use crate::http::strict_json;

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON.
    #[error("request body is not valid JSON")]
    MalformedJson,
    /// The body has a field this endpoint does not take.
    #[error("request body has an unknown field")]
    UnknownField,
    /// The body misses a field or has one of the wrong type.
    #[error("request body is missing a field or has a mistyped one")]
    InvalidBody,
    /// Not `Content-Type: application/json`.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// The body is larger than the limit.
    #[error("request body too large")]
    BodyTooLarge,
    /// The ID number is malformed.
    #[error("{0}")]
    InvalidIdNumber(IdNumberError),
    /// Another field is out of range.
    #[error("invalid {0}")]
    InvalidField(&'static str),
    /// The query string has an unknown, repeated or mistyped parameter.
    #[error("invalid query string: {0}")]
    InvalidQuery(String),
    /// The path exists, but not with this method.
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// The channel's attestation lacks real-name or real-person verification.
    #[error("the channel must attest real-name and real-person verification")]
    AttestationIncomplete,
    /// No such person in the registry.
    #[error("no insured person with this ID number in the registry")]
    NotInRegistry,
    /// The name does not match the registry.
    #[error("name does not match the registry")]
    NameMismatch,
    /// The person is not currently insured.
    #[error("the person is not currently insured")]
    NotInsured,
    /// The channel may not serve the person's region.
    #[error("this channel may not serve the person's insured region")]
    RegionNotAllowed,
    /// The voucher is suspended.
    #[error("the voucher is suspended")]
    VoucherSuspended,
    /// The person has no voucher.
    #[error("no activated voucher")]
    NoVoucher,
    /// Missing or wrong credential.
    #[error("missing or invalid credential")]
    Unauthorized,
    /// The holder credential was revoked.
    #[error("credential revoked")]
    CredentialRevoked,
    /// No such resource.
    #[error("not found")]
    NotFound,
    /// The binder already has the maximum number of family members.
    #[error("at most 5 family members: unbind one first")]
    FamilyLimitReached,
    /// The person is already a member (active or pending).
    #[error("already bound or awaiting consent")]
    AlreadyBound,
    /// The caller may not act for this voucher.
    #[error("not bound to this person")]
    NotBound,
    /// A person cannot bind themselves.
    #[error("cannot add yourself as a family member")]
    CannotBindSelf,
    /// An attestation was sent without the attesting channel's own key.
    #[error("attestations count only when the channel signs in with X-Channel-Key")]
    AttestationNotAuthenticated,
    /// A member under 16 cannot approve; a registered guardian must.
    #[error("a member under 16 cannot approve: a registered guardian must")]
    GuardianApprovalRequired,
    /// The request is no longer pending (approved, rejected, expired or unbound).
    #[error("no pending request to decide")]
    NotPending,
    /// The terminal's institution does not (or no longer) accept the voucher.
    #[error("this institution is not designated to accept the voucher")]
    InstitutionNotDesignated,
    /// A handoff or decode names another institution than the terminal's.
    #[error("the institution does not match the terminal's")]
    InstitutionMismatch,
    /// Not one of the national business-type codes.
    #[error("unknown business type: expected a national 5-digit code such as 01301 or 02121")]
    InvalidBusinessType,
    /// No settlement with this reference at the caller's institution.
    #[error("no settlement with this reference at this institution")]
    SettlementNotFound,
    /// The settlement was already completed with other amounts.
    #[error("the settlement is already completed with other amounts")]
    SettlementCompleted,
    /// Fund, account and cash do not add up to the total (or the total is implausible).
    #[error("fund_fen + account_fen + cash_fen must equal total_fen")]
    AmountsInconsistent,
    /// The holder already registered the most devices allowed.
    #[error("at most 5 devices: remove one first")]
    DeviceLimitReached,
    /// The device public key is not a P-256 point (SEC1, 33 or 65 bytes, base64url).
    #[error("device public_key is not a P-256 point (SEC1 compressed or uncompressed, base64url)")]
    InvalidDeviceKey,
    /// The proof of possession does not verify, or is not recent.
    #[error(
        "device proof does not verify with the device key, or signed_at is not within 5 minutes of now"
    )]
    DeviceProofInvalid,
    /// A concurrent change won; retry.
    #[error("changed concurrently, retry")]
    Conflict,
    /// Too many requests for this caller; retry after this many seconds.
    #[error("rate limit exceeded, retry later")]
    RateLimited(u64),
    /// The request took too long.
    #[error("request timed out")]
    Timeout,
    /// A dependency (the store) is unreachable.
    #[error("service temporarily unavailable")]
    Unavailable(String),
    /// Anything else: a bug or a fault. The cause is logged, not returned.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed-json",
            Self::UnknownField => "unknown-field",
            Self::InvalidBody => "invalid-body",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::BodyTooLarge => "body-too-large",
            Self::InvalidIdNumber(IdNumberError::CheckDigit) => "id-number-check-digit",
            Self::InvalidIdNumber(_) => "invalid-id-number",
            Self::InvalidField(_) => "invalid-field",
            Self::InvalidQuery(_) => "invalid-query",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::AttestationIncomplete => "attestation-incomplete",
            Self::NotInRegistry => "not-in-registry",
            Self::NameMismatch => "name-mismatch",
            Self::NotInsured => "not-insured",
            Self::RegionNotAllowed => "region-not-allowed",
            Self::VoucherSuspended => "voucher-suspended",
            Self::NoVoucher => "no-voucher",
            Self::Unauthorized => "unauthorized",
            Self::CredentialRevoked => "credential-revoked",
            Self::NotFound => "not-found",
            Self::FamilyLimitReached => "family-limit-reached",
            Self::AlreadyBound => "already-bound",
            Self::NotBound => "not-bound",
            Self::CannotBindSelf => "cannot-bind-self",
            Self::AttestationNotAuthenticated => "attestation-not-authenticated",
            Self::GuardianApprovalRequired => "guardian-approval-required",
            Self::NotPending => "not-pending",
            Self::InstitutionNotDesignated => "institution-not-designated",
            Self::InstitutionMismatch => "institution-mismatch",
            Self::InvalidBusinessType => "invalid-business-type",
            Self::SettlementNotFound => "settlement-not-found",
            Self::SettlementCompleted => "settlement-completed",
            Self::AmountsInconsistent => "amounts-inconsistent",
            Self::DeviceLimitReached => "device-limit-reached",
            Self::InvalidDeviceKey => "invalid-device-key",
            Self::DeviceProofInvalid => "device-proof-invalid",
            Self::Conflict => "conflict",
            Self::RateLimited(_) => "rate-limited",
            Self::Timeout => "timeout",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedJson | Self::UnknownField | Self::InvalidQuery(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::FamilyLimitReached
            | Self::DeviceLimitReached
            | Self::AlreadyBound
            | Self::NotPending
            | Self::Conflict
            | Self::SettlementCompleted => StatusCode::CONFLICT,
            Self::NotBound
            | Self::InstitutionNotDesignated
            | Self::InstitutionMismatch
            | Self::AttestationNotAuthenticated
            | Self::GuardianApprovalRequired => StatusCode::FORBIDDEN,
            Self::SettlementNotFound => StatusCode::NOT_FOUND,
            Self::InvalidBusinessType | Self::AmountsInconsistent => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::CannotBindSelf | Self::InvalidDeviceKey | Self::DeviceProofInvalid => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::InvalidBody
            | Self::InvalidIdNumber(_)
            | Self::InvalidField(_)
            | Self::AttestationIncomplete
            | Self::NameMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotInRegistry | Self::NoVoucher | Self::NotFound => StatusCode::NOT_FOUND,
            Self::NotInsured | Self::RegionNotAllowed | Self::VoucherSuspended => {
                StatusCode::FORBIDDEN
            }
            Self::Unauthorized | Self::CredentialRevoked => StatusCode::UNAUTHORIZED,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The error body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable kebab-case code.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Self::Internal(cause) => tracing::error!(%cause, "internal error"),
            Self::Unavailable(cause) => tracing::warn!(%cause, "dependency unavailable"),
            _ => {}
        }
        metrics::counter!("yibao_http_errors_total", "code" => self.code()).increment(1);
        let body = ErrorBody {
            code: self.code(),
            message: self.to_string(),
        };
        let mut response = (status, Json(body)).into_response();
        if let Self::RateLimited(secs) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            Self::Unavailable(e.to_string())
        } else {
            Self::Internal(e.to_string())
        }
    }
}

/// A JSON request body, read strictly: `Content-Type: application/json`, a JSON object at
/// the top (and wherever a struct is expected, see [`crate::http::strict_json`]), rejections as
/// [`ApiError`]s with the same body shape as every other error.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppJson<T>(pub T);

impl<S, T> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json")
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::BodyTooLarge,
                _ => ApiError::MalformedJson,
            })?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|_| ApiError::MalformedJson)?;
        if !value.is_object() {
            return Err(ApiError::InvalidBody);
        }
        strict_json::from_value(value).map(Self).map_err(|e| {
            if e.to_string().starts_with("unknown field") {
                ApiError::UnknownField
            } else {
                ApiError::InvalidBody
            }
        })
    }
}

impl<T: Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

/// A query string, with rejections (unknown, repeated or mistyped parameters) as
/// [`ApiError::InvalidQuery`] instead of axum's plain-text answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for AppQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|e| {
                // serde's message names the parameter, never its value.
                let text = e.body_text();
                ApiError::InvalidQuery(
                    text.strip_prefix("Failed to deserialize query string: ")
                        .unwrap_or(&text)
                        .to_owned(),
                )
            })
    }
}

/// Path parameters, with rejections (invalid UTF-8, a wrong count) as
/// [`ApiError::NotFound`] in the usual JSON shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppPath<T>(pub T);

impl<S, T> FromRequestParts<S> for AppPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Self(value))
            .map_err(|_| ApiError::NotFound)
    }
}
