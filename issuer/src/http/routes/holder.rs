//! Channel and holder endpoints: activation, deactivation, tokens.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::activation::{self, SignedToken};
use crate::domain::caller::Holder;
use crate::domain::context::Context;
use crate::domain::devices;
use crate::domain::error::DomainError;
use crate::http::auth::ChannelAuth;
use crate::http::bodies::activation::{
    ActivationRequest, ActivationResponse, DeactivationRequest, IssuedToken,
};
use crate::http::error::{ApiError, AppJson, ErrorBody};
use crate::http::qr;

/// Activate a voucher (channel).
#[utoipa::path(post, path = "/v1/activations", tag = "channel",
    request_body = ActivationRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "voucher created", body = ActivationResponse),
        (status = 200, description = "voucher existed; a new holder credential was added", body = ActivationResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn activate(
    State(state): State<Context>,
    ChannelAuth(channel): ChannelAuth,
    AppJson(request): AppJson<ActivationRequest>,
) -> Result<(StatusCode, AppJson<ActivationResponse>), ApiError> {
    let ActivationRequest {
        name,
        id_number,
        attestation,
    } = request;
    let response =
        activation::activate(&state, &channel, &name, &id_number, &attestation.into()).await?;
    let status = if response.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, AppJson(response.into())))
}

/// How many credentials a deactivation revoked.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Revoked {
    /// Live credentials revoked.
    pub revoked: usize,
}

/// Deactivate (lost phone): revoke every holder credential of the person (channel).
#[utoipa::path(post, path = "/v1/deactivations", tag = "channel",
    request_body = DeactivationRequest, security(("bearer" = [])),
    responses((status = 200, body = Revoked), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn deactivate(
    State(state): State<Context>,
    ChannelAuth(channel): ChannelAuth,
    AppJson(request): AppJson<DeactivationRequest>,
) -> Result<AppJson<Revoked>, ApiError> {
    let revoked =
        activation::deactivate(&state, &channel, &request.name, &request.id_number).await?;
    Ok(AppJson(Revoked { revoked }))
}

/// A fresh token for the holder's own voucher, as JSON.
#[utoipa::path(get, path = "/v1/token", tag = "holder", security(("bearer" = [])),
    responses((status = 200, body = IssuedToken), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn token(
    State(state): State<Context>,
    holder: Holder,
) -> Result<AppJson<IssuedToken>, ApiError> {
    let token = activation::issue_token(&state, holder.active_voucher()?, &holder.person, None)?;
    Ok(AppJson(token.into()))
}

fn no_store(content_type: &'static str, body: impl IntoResponse, token: &SignedToken) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            // A code must never be served from a cache to someone else or after it expired.
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (
                header::HeaderName::from_static("x-token-expires-at"),
                token.expires_at.to_string(),
            ),
        ],
        body,
    )
        .into_response()
}

/// The SVG QR response of a token (shared with family tokens).
///
/// # Errors
///
/// Rendering failures (internal).
pub fn svg_response(token: &SignedToken) -> Result<Response, ApiError> {
    let svg = qr::svg(&token.code, 320).map_err(|e| DomainError::Internal(e.to_string()))?;
    metrics::counter!("yibao_qr_rendered_total", "format" => "svg").increment(1);
    Ok(no_store("image/svg+xml", svg, token))
}

/// The PNG QR response of a token (shared with family tokens).
///
/// # Errors
///
/// Rendering failures (internal).
pub fn png_response(token: &SignedToken) -> Result<Response, ApiError> {
    let png = qr::png(&token.code, 320).map_err(DomainError::Internal)?;
    metrics::counter!("yibao_qr_rendered_total", "format" => "png").increment(1);
    Ok(no_store("image/png", png, token))
}

/// A fresh token as an SVG QR code.
#[utoipa::path(get, path = "/v1/token.svg", tag = "holder", security(("bearer" = [])),
    responses((status = 200, content_type = "image/svg+xml", body = String),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn token_svg(State(state): State<Context>, holder: Holder) -> Result<Response, ApiError> {
    let token = activation::issue_token(&state, holder.active_voucher()?, &holder.person, None)?;
    svg_response(&token)
}

/// A fresh token as a PNG QR code.
#[utoipa::path(get, path = "/v1/token.png", tag = "holder", security(("bearer" = [])),
    responses((status = 200, content_type = "image/png", body = Vec<u8>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn token_png(State(state): State<Context>, holder: Holder) -> Result<Response, ApiError> {
    let token = activation::issue_token(&state, holder.active_voucher()?, &holder.person, None)?;
    png_response(&token)
}

/// Sign this phone out: revoke the credential used (for a session opened with a device key:
/// remove that device, which ends the session and revokes its certificates).
#[utoipa::path(delete, path = "/v1/holder/credential", tag = "holder", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn revoke_own_credential(
    State(state): State<Context>,
    holder: Holder,
) -> Result<StatusCode, ApiError> {
    match &holder.device {
        Some(device) => devices::remove(&state, &holder, device).await?,
        None => {
            state
                .store
                .revoke_credential(&holder.credential.hash)
                .await?;
        }
    }
    Ok(StatusCode::NO_CONTENT)
}
