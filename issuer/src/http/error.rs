//! One error type for every HTTP answer: JSON `{code, message}` with a stable kebab-case code,
//! and the one mapping from domain errors to a code and a status. 5xx answers say only
//! "internal error"; the cause goes to the log.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::domain::error::DomainError;
use crate::http::strict_json;
use crate::store::StoreError;

/// Every way a request can fail: a domain refusal, or a request the shell cannot read.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// What the domain answered.
    #[error(transparent)]
    Domain(#[from] DomainError),
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
    /// The query string has an unknown, repeated or mistyped parameter.
    #[error("invalid query string: {0}")]
    InvalidQuery(String),
    /// The path exists, but not with this method.
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// The request took too long.
    #[error("request timed out")]
    Timeout,
}

impl ApiError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Domain(e) => e.code(),
            Self::MalformedJson => "malformed-json",
            Self::UnknownField => "unknown-field",
            Self::InvalidBody => "invalid-body",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::BodyTooLarge => "body-too-large",
            Self::InvalidQuery(_) => "invalid-query",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::Timeout => "timeout",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Domain(e) => domain_status(e),
            Self::MalformedJson | Self::UnknownField | Self::InvalidQuery(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::InvalidBody => StatusCode::UNPROCESSABLE_ENTITY,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
        }
    }
}

/// The HTTP status of a domain error.
fn domain_status(e: &DomainError) -> StatusCode {
    use DomainError as E;
    match e {
        E::FamilyLimitReached
        | E::AccountShareLimitReached
        | E::IdentityReadsExhausted
        | E::DeviceLimitReached
        | E::AlreadyBound
        | E::NotPending
        | E::Conflict
        | E::SettlementCompleted => StatusCode::CONFLICT,
        E::NotBound
        | E::InstitutionNotDesignated
        | E::InstitutionMismatch
        | E::AttestationNotAuthenticated
        | E::GuardianApprovalRequired
        | E::NotInsured
        | E::RegionNotAllowed
        | E::AccountShareNeedsEmployee
        | E::PersonInfoWindowClosed
        | E::VoucherSuspended => StatusCode::FORBIDDEN,
        E::InvalidBusinessType
        | E::AmountsInconsistent
        | E::MutualAidNotAuthorised
        | E::CannotBindSelf
        | E::InvalidDeviceKey
        | E::DeviceProofInvalid
        | E::InvalidIdNumber(_)
        | E::InvalidField(_)
        | E::AttestationIncomplete
        | E::NameMismatch => StatusCode::UNPROCESSABLE_ENTITY,
        E::SettlementNotFound
        | E::NotInRegistry
        | E::NoVoucher
        | E::NotFound
        | E::IdentityNotOnRecord => StatusCode::NOT_FOUND,
        E::Unauthorized | E::CredentialRevoked => StatusCode::UNAUTHORIZED,
        E::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        E::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        E::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
            Self::Domain(DomainError::Internal(cause)) => tracing::error!(%cause, "internal error"),
            Self::Domain(DomainError::Unavailable(cause)) => {
                tracing::warn!(%cause, "dependency unavailable");
            }
            _ => {}
        }
        metrics::counter!("yibao_http_errors_total", "code" => self.code()).increment(1);
        let body = ErrorBody {
            code: self.code(),
            message: self.to_string(),
        };
        let mut response = (status, Json(body)).into_response();
        if let Self::Domain(DomainError::RateLimited(secs)) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::Domain(e.into())
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
            .map_err(|_| ApiError::Domain(DomainError::NotFound))
    }
}
