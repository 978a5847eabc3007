//! Device endpoints (holder): register a phone key, renew, list, remove; and the public
//! status list terminals sync.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use yibao_shared::status_list::STATUS_MEDIA_TYPE;

use crate::domain::caller::Holder;
use crate::domain::context::Context;
use crate::domain::devices::{self, session};
use crate::http::bodies::devices::{
    Challenge, DeviceCertificates, DeviceSession, DeviceView, RegistrationRequest, RenewalRequest,
    SessionRequest, SignOutRequest,
};
use crate::http::error::{ApiError, AppJson, AppPath, AppQuery, ErrorBody};

/// Register this phone's key (proof of possession) and get certificates for offline codes:
/// the holder's own and one per actively bound family member.
#[utoipa::path(post, path = "/v1/devices", tag = "holder",
    request_body = RegistrationRequest, security(("bearer" = [])),
    responses((status = 201, body = DeviceCertificates), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn register(
    State(state): State<Context>,
    holder: Holder,
    AppJson(request): AppJson<RegistrationRequest>,
) -> Result<(StatusCode, AppJson<DeviceCertificates>), ApiError> {
    let answer = devices::register(&state, &holder, &request.registration()).await?;
    Ok((StatusCode::CREATED, AppJson(answer.into())))
}

/// Fresh certificates for a registered device (a new proof with its key).
#[utoipa::path(post, path = "/v1/devices/{device_id}/renew", tag = "holder",
    params(("device_id" = String, Path)), request_body = RenewalRequest,
    security(("bearer" = [])),
    responses((status = 200, body = DeviceCertificates), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn renew(
    State(state): State<Context>,
    holder: Holder,
    AppPath(device_id): AppPath<String>,
    AppJson(request): AppJson<RenewalRequest>,
) -> Result<AppJson<DeviceCertificates>, ApiError> {
    Ok(AppJson(
        devices::renew(&state, &holder, &device_id, &request.proof())
            .await?
            .into(),
    ))
}

/// The holder's registered devices.
#[utoipa::path(get, path = "/v1/devices", tag = "holder", security(("bearer" = [])),
    responses((status = 200, body = Vec<DeviceView>), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<Context>,
    holder: Holder,
) -> Result<AppJson<Vec<DeviceView>>, ApiError> {
    let devices = devices::list(&state, &holder).await?;
    Ok(AppJson(devices.into_iter().map(DeviceView::from).collect()))
}

/// Remove a device: its certificates are revoked at once (terminals learn it at their next
/// sync).
#[utoipa::path(delete, path = "/v1/devices/{device_id}", tag = "holder",
    params(("device_id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(state): State<Context>,
    holder: Holder,
    AppPath(device_id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    devices::remove(&state, &holder, &device_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A challenge for the phone's login: the page signs it with its registered device key.
#[utoipa::path(post, path = "/v1/device-sessions/challenge", tag = "holder",
    responses((status = 200, body = Challenge)))]
pub async fn challenge(State(state): State<Context>) -> Result<AppJson<Challenge>, ApiError> {
    Ok(AppJson(session::challenge(&state)?.into()))
}

/// The phone's login: a registered device that signed a challenge gets a session for the
/// holder's endpoints (codes, renewal, expenses, family), no stored credential needed.
#[utoipa::path(post, path = "/v1/device-sessions", tag = "holder",
    request_body = SessionRequest,
    responses((status = 201, body = DeviceSession), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn open_session(
    State(state): State<Context>,
    AppJson(request): AppJson<SessionRequest>,
) -> Result<(StatusCode, AppJson<DeviceSession>), ApiError> {
    let answer = session::open(&state, &request.answer()).await?;
    Ok((StatusCode::CREATED, AppJson(answer.into())))
}

/// Sign a device out by a statement its key signed, online or at the first contact after
/// signing out offline: the device is removed and its certificates revoked. An unknown
/// device is signed out already (204 too).
#[utoipa::path(post, path = "/v1/devices/{device_id}/sign-out", tag = "holder",
    params(("device_id" = String, Path)), request_body = SignOutRequest,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn sign_out(
    State(state): State<Context>,
    AppPath(device_id): AppPath<String>,
    AppJson(request): AppJson<SignOutRequest>,
) -> Result<StatusCode, ApiError> {
    session::sign_out(&state, &device_id, &request.voucher_id, &request.signature).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which part of the status list to send.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatusQuery {
    /// The sequence the terminal holds; 0 or absent for the complete list.
    #[serde(default)]
    pub since: u64,
}

/// The issuer-signed status list of revoked device certificates: the delta after `since`
/// (the complete list for 0). Terminals sync it with the trust bundle.
#[utoipa::path(get, path = "/v1/status-list", tag = "public", params(StatusQuery),
    responses((status = 200, content_type = "application/vnd.yibao.status-list.v2",
        description = "signed status list document, binary (docs/token-format.md §10)"),
        (status = 400, body = ErrorBody)))]
pub async fn status_list(
    State(state): State<Context>,
    AppQuery(query): AppQuery<StatusQuery>,
) -> Result<Response, ApiError> {
    let document = devices::status::document(&state, query.since).await?;
    Ok((
        [
            (header::CONTENT_TYPE, STATUS_MEDIA_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        document,
    )
        .into_response())
}
