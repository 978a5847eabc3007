//! Operator endpoints (admin token): channels, institutions, terminals, voucher suspension,
//! key reload.

use axum::extract::State;
use axum::http::StatusCode;

use crate::domain::context::Context;
use crate::domain::operator::{self, InstitutionEntry};
use crate::http::auth::AdminAuth;
use crate::http::bodies::admin::{
    IssuedCredential, KeysReloaded, NewChannel, NewInstitution, NewTerminal,
};
use crate::http::error::{ApiError, AppJson, AppPath, ErrorBody};
use crate::model::{Institution, VoucherStatus};

/// Register (or re-key) a channel.
#[utoipa::path(post, path = "/v1/admin/channels", tag = "admin", request_body = NewChannel,
    security(("bearer" = [])),
    responses((status = 201, body = IssuedCredential), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register_channel(
    State(state): State<Context>,
    _: AdminAuth,
    AppJson(new): AppJson<NewChannel>,
) -> Result<(StatusCode, AppJson<IssuedCredential>), ApiError> {
    let key = operator::register_channel(&state, &new.id, &new.name, new.regions).await?;
    Ok((
        StatusCode::CREATED,
        AppJson(IssuedCredential::new(new.id, &key)),
    ))
}

/// Register or update an institution.
#[utoipa::path(post, path = "/v1/admin/institutions", tag = "admin", request_body = NewInstitution,
    security(("bearer" = [])),
    responses((status = 201, body = Institution), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register_institution(
    State(state): State<Context>,
    _: AdminAuth,
    AppJson(new): AppJson<NewInstitution>,
) -> Result<(StatusCode, AppJson<Institution>), ApiError> {
    let entry = InstitutionEntry {
        code: &new.code,
        name: &new.name,
        kind: new.kind,
        region: &new.region,
        accepts_voucher: new.accepts_voucher,
    };
    let institution = operator::register_institution(&state, &entry).await?;
    Ok((StatusCode::CREATED, AppJson(institution)))
}

/// Register (or re-key) a terminal of an institution.
#[utoipa::path(post, path = "/v1/admin/institutions/{code}/terminals", tag = "admin",
    request_body = NewTerminal, params(("code" = String, Path)), security(("bearer" = [])),
    responses((status = 201, body = IssuedCredential), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register_terminal(
    State(state): State<Context>,
    _: AdminAuth,
    AppPath(code): AppPath<String>,
    AppJson(new): AppJson<NewTerminal>,
) -> Result<(StatusCode, AppJson<IssuedCredential>), ApiError> {
    let key = operator::register_terminal(&state, &code, &new.id).await?;
    Ok((
        StatusCode::CREATED,
        AppJson(IssuedCredential::new(new.id, &key)),
    ))
}

/// Suspend a voucher: no more tokens until reinstated.
#[utoipa::path(post, path = "/v1/admin/vouchers/{id}/suspend", tag = "admin",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn suspend(
    State(state): State<Context>,
    _: AdminAuth,
    AppPath(id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    operator::set_voucher_status(&state, &id, VoucherStatus::Suspended).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reinstate a suspended voucher.
#[utoipa::path(post, path = "/v1/admin/vouchers/{id}/reinstate", tag = "admin",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn reinstate(
    State(state): State<Context>,
    _: AdminAuth,
    AppPath(id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    operator::set_voucher_status(&state, &id, VoucherStatus::Active).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Re-read the key directory: the newest active key signs from now on and the new bundle is
/// served. On error the old keys stay in use.
#[utoipa::path(post, path = "/v1/admin/keys/reload", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = KeysReloaded), (status = 500, body = ErrorBody)))]
pub async fn reload_keys(
    State(state): State<Context>,
    _: AdminAuth,
) -> Result<AppJson<KeysReloaded>, ApiError> {
    let (key_id, bundle_sequence) = operator::reload_keys(&state)?;
    Ok(AppJson(KeysReloaded {
        key_id,
        bundle_sequence,
    }))
}
