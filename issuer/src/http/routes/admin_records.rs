//! Operator endpoints (admin token) for what is registered: list, re-key and disable
//! channels; list and revoke terminals; list and import institutions; a voucher's summary;
//! the service's status.

use axum::extract::State;

use crate::domain::context::Context;
use crate::domain::operator::InstitutionEntry;
use crate::domain::operator_records::{self as records, InstitutionFilter};
use crate::domain::service_status::service_status;
use crate::http::auth::AdminAuth;
use crate::http::bodies::admin::IssuedCredential;
use crate::http::bodies::admin_records::{
    ChannelView, InstitutionBatch, InstitutionImportAnswer, InstitutionPage, InstitutionQuery,
    ServiceStatusView, TerminalView, VoucherView,
};
use crate::http::error::{ApiError, AppJson, AppPath, AppQuery, ErrorBody};

/// Every channel, by id.
#[utoipa::path(get, path = "/v1/admin/channels", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [ChannelView]), (status = 401, body = ErrorBody)))]
pub async fn list_channels(
    State(state): State<Context>,
    _: AdminAuth,
) -> Result<AppJson<Vec<ChannelView>>, ApiError> {
    let all = records::channels(&state).await?;
    Ok(AppJson(all.into_iter().map(ChannelView::from).collect()))
}

/// A new API key for a channel (shown once; the old key stops at once; a disabled channel
/// is enabled again).
#[utoipa::path(post, path = "/v1/admin/channels/{id}/rekey", tag = "admin",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = IssuedCredential), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rekey_channel(
    State(state): State<Context>,
    _: AdminAuth,
    AppPath(id): AppPath<String>,
) -> Result<AppJson<IssuedCredential>, ApiError> {
    let (channel, key) = records::rekey_channel(&state, &id).await?;
    Ok(AppJson(IssuedCredential::new(channel.id, &key)))
}

/// Disable a channel: its key no longer signs in.
#[utoipa::path(post, path = "/v1/admin/channels/{id}/disable", tag = "admin",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ChannelView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn disable_channel(
    State(state): State<Context>,
    _: AdminAuth,
    AppPath(id): AppPath<String>,
) -> Result<AppJson<ChannelView>, ApiError> {
    Ok(AppJson(records::disable_channel(&state, &id).await?.into()))
}

/// The registered institutions (designated or not), a page at a time, by code.
#[utoipa::path(get, path = "/v1/admin/institutions", tag = "admin", params(InstitutionQuery),
    security(("bearer" = [])),
    responses((status = 200, body = InstitutionPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_institutions(
    State(state): State<Context>,
    _: AdminAuth,
    AppQuery(query): AppQuery<InstitutionQuery>,
) -> Result<AppJson<InstitutionPage>, ApiError> {
    let filter = InstitutionFilter {
        region: query.region.as_deref(),
        kind: query.kind,
        after: query.after.as_deref(),
        limit: query.limit.unwrap_or(100),
    };
    let (institutions, next) = records::institutions_page(&state, filter).await?;
    Ok(AppJson(InstitutionPage { institutions, next }))
}

/// Register or update up to 1000 institutions in one write; invalid entries are reported
/// by position and the rest written. Idempotent.
#[utoipa::path(post, path = "/v1/admin/institutions/batch", tag = "admin",
    request_body = InstitutionBatch, security(("bearer" = [])),
    responses((status = 200, body = InstitutionImportAnswer), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import_institutions(
    State(state): State<Context>,
    _: AdminAuth,
    AppJson(batch): AppJson<InstitutionBatch>,
) -> Result<AppJson<InstitutionImportAnswer>, ApiError> {
    let entries: Vec<InstitutionEntry<'_>> = batch
        .institutions
        .iter()
        .map(|i| InstitutionEntry {
            code: &i.code,
            name: &i.name,
            kind: i.kind,
            region: &i.region,
            accepts_voucher: i.accepts_voucher,
        })
        .collect();
    let outcome = records::import_institutions(&state, &entries).await?;
    Ok(AppJson(outcome.into()))
}

/// The terminals of an institution, by id.
#[utoipa::path(get, path = "/v1/admin/institutions/{code}/terminals", tag = "admin",
    params(("code" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = [TerminalView]), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_terminals(
    State(state): State<Context>,
    _: AdminAuth,
    AppPath(code): AppPath<String>,
) -> Result<AppJson<Vec<TerminalView>>, ApiError> {
    let all = records::terminals_of(&state, &code).await?;
    Ok(AppJson(all.into_iter().map(TerminalView::from).collect()))
}

/// Revoke a terminal: its credential no longer signs in (registering the id again gives it
/// a new one).
#[utoipa::path(post, path = "/v1/admin/terminals/{id}/revoke", tag = "admin",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = TerminalView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_terminal(
    State(state): State<Context>,
    _: AdminAuth,
    AppPath(id): AppPath<String>,
) -> Result<AppJson<TerminalView>, ApiError> {
    Ok(AppJson(records::revoke_terminal(&state, &id).await?.into()))
}

/// A voucher's summary (no person).
#[utoipa::path(get, path = "/v1/admin/vouchers/{id}", tag = "admin",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = VoucherView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn show_voucher(
    State(state): State<Context>,
    _: AdminAuth,
    AppPath(id): AppPath<String>,
) -> Result<AppJson<VoucherView>, ApiError> {
    Ok(AppJson(records::voucher_summary(&state, &id).await?.into()))
}

/// The service's state: store and cluster, signing key and bundle ages, status-list
/// sequence.
#[utoipa::path(get, path = "/v1/admin/status", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = ServiceStatusView), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn status(
    State(state): State<Context>,
    _: AdminAuth,
) -> Result<AppJson<ServiceStatusView>, ApiError> {
    Ok(AppJson(service_status(&state).await?.into()))
}
