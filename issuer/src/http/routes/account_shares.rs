//! 个账家庭共济 endpoints (holder-authenticated): an employee-insured owner authorises
//! relatives' visits to be paid from their personal account. The caller is the payer under
//! `/v1/account-shares/members…` and the member under `/v1/account-shares/payers…`. Binding,
//! consent, guardians and the audit trail work as for family links, but the two relations are
//! apart: sharing an account never lets anyone show a code, nor the reverse.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use crate::domain::caller::Holder;
use crate::domain::context::Context;
use crate::domain::family::{self, Bind};
use crate::http::auth::AttestingChannel;
use crate::http::bodies::family::{AuditEntry, BindRequest, BindRequested, LinkView, all};
use crate::http::error::{ApiError, AppJson, AppPath, ErrorBody};
use crate::http::routes::family::{bind_response, voucher};
use crate::model::LinkKind;

const SHARE: LinkKind = LinkKind::AccountShare;

/// Authorise a relative to use the caller's personal account (caller employee-insured; at
/// most 8 members). Active at once (201) only when the relation is established, as for
/// family members; otherwise 202 `requested` whether or not the person exists, and the
/// relative (or a registered guardian of a child) confirms.
#[utoipa::path(post, path = "/v1/account-shares/members", tag = "family", request_body = BindRequest,
    params(("X-Channel-Key" = Option<String>, Header,
        description = "API key of the channel relaying the request; required for attestations")),
    security(("bearer" = [])),
    responses((status = 201, body = LinkView), (status = 202, body = BindRequested),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn add_member(
    State(state): State<Context>,
    holder: Holder,
    AttestingChannel(channel): AttestingChannel,
    AppJson(request): AppJson<BindRequest>,
) -> Result<Response, ApiError> {
    let bind = Bind {
        kind: SHARE,
        ..request.into()
    };
    let answer = family::bind::bind(&state, &holder, channel.as_ref(), &bind).await?;
    Ok(bind_response(answer))
}

/// The relatives the caller's account pays for, and ended authorisations.
#[utoipa::path(get, path = "/v1/account-shares/members", tag = "family", security(("bearer" = [])),
    responses((status = 200, body = Vec<LinkView>)))]
pub async fn members(
    State(state): State<Context>,
    holder: Holder,
) -> Result<AppJson<Vec<LinkView>>, ApiError> {
    let members = family::members(&state, SHARE, holder.voucher.voucher_id).await?;
    Ok(AppJson(all(members)))
}

/// End a relative's use of the caller's account (at once; visits verified before stay payable).
#[utoipa::path(delete, path = "/v1/account-shares/members/{member}", tag = "family",
    params(("member" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody)))]
pub async fn end_member(
    State(state): State<Context>,
    holder: Holder,
    AppPath(member): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    let (payer, member) = (holder.voucher.voucher_id, voucher(&member)?);
    family::unbind(&state, SHARE, &holder, payer, member).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whose accounts may pay for the caller, and requests waiting for the caller's confirmation.
#[utoipa::path(get, path = "/v1/account-shares/payers", tag = "family", security(("bearer" = [])),
    responses((status = 200, body = Vec<LinkView>)))]
pub async fn payers(
    State(state): State<Context>,
    holder: Holder,
) -> Result<AppJson<Vec<LinkView>>, ApiError> {
    let payers = family::binders(&state, SHARE, holder.voucher.voucher_id).await?;
    Ok(AppJson(all(payers)))
}

/// End a payer's authorisation for the caller (at once).
#[utoipa::path(delete, path = "/v1/account-shares/payers/{payer}", tag = "family",
    params(("payer" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody)))]
pub async fn end_payer(
    State(state): State<Context>,
    holder: Holder,
    AppPath(payer): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    let (payer, member) = (voucher(&payer)?, holder.voucher.voucher_id);
    family::unbind(&state, SHARE, &holder, payer, member).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Authorisations the caller may confirm: for the caller, and (for a guardian the registry
/// names) for a child under 16 the caller has bound as a family member.
#[utoipa::path(get, path = "/v1/account-shares/requests", tag = "family", security(("bearer" = [])),
    responses((status = 200, body = Vec<LinkView>), (status = 401, body = ErrorBody)))]
pub async fn requests(
    State(state): State<Context>,
    holder: Holder,
) -> Result<AppJson<Vec<LinkView>>, ApiError> {
    Ok(AppJson(
        all(family::requests(&state, SHARE, &holder).await?),
    ))
}

async fn decide(
    state: &Context,
    holder: &Holder,
    (payer, member): (String, String),
    approve: bool,
) -> Result<AppJson<LinkView>, ApiError> {
    let (payer, member) = (voucher(&payer)?, voucher(&member)?);
    let link = family::decide(state, SHARE, holder, payer, member, approve).await?;
    Ok(AppJson(link.into()))
}

/// Confirm an authorisation: the member, or a registered guardian of a member under 16.
#[utoipa::path(post, path = "/v1/account-shares/requests/{payer}/{member}/approve", tag = "family",
    params(("payer" = String, Path), ("member" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = LinkView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn approve(
    State(state): State<Context>,
    holder: Holder,
    AppPath(pair): AppPath<(String, String)>,
) -> Result<AppJson<LinkView>, ApiError> {
    decide(&state, &holder, pair, true).await
}

/// Decline an authorisation (the member, or a registered guardian).
#[utoipa::path(post, path = "/v1/account-shares/requests/{payer}/{member}/reject", tag = "family",
    params(("payer" = String, Path), ("member" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = LinkView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reject(
    State(state): State<Context>,
    holder: Holder,
    AppPath(pair): AppPath<(String, String)>,
) -> Result<AppJson<LinkView>, ApiError> {
    decide(&state, &holder, pair, false).await
}

/// The audit trail of every 家庭共济 authorisation the caller is part of.
#[utoipa::path(get, path = "/v1/account-shares/audit", tag = "family", security(("bearer" = [])),
    responses((status = 200, body = Vec<AuditEntry>)))]
pub async fn audit(
    State(state): State<Context>,
    holder: Holder,
) -> Result<AppJson<Vec<AuditEntry>>, ApiError> {
    let entries = family::audit(&state, SHARE, holder.voucher.voucher_id).await?;
    Ok(AppJson(all(entries)))
}
