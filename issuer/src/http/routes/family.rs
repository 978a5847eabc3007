//! Family account endpoints (holder-authenticated). The caller is the binder under
//! `/v1/family/members…` and the member under `/v1/family/binders…`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use yibao_shared::VoucherId;

use crate::domain::caller::Holder;
use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::domain::family::{self, BindAnswer};
use crate::http::auth::{AdminAuth, AttestingChannel};
use crate::http::bodies::activation::IssuedToken;
use crate::http::bodies::family::{AuditEntry, BindRequest, BindRequested, LinkView, all};
use crate::http::error::{ApiError, AppJson, AppPath, ErrorBody};
use crate::http::routes::holder::{png_response, svg_response};
use crate::model::LinkKind;

pub(crate) fn voucher(text: &str) -> Result<VoucherId, ApiError> {
    VoucherId::parse(text).ok_or(DomainError::NotBound.into())
}

/// Add a family member. Bound at once (201) only when the relation is established: the
/// caller is a guardian the registry names for a child under 16, or a channel signing in
/// with `X-Channel-Key` attests a guardianship document or the member's real-person
/// verification. Otherwise 202 `requested`, the same whether or not the person exists: the
/// member (or a registered guardian) approves it.
#[utoipa::path(post, path = "/v1/family/members", tag = "family", request_body = BindRequest,
    params(("X-Channel-Key" = Option<String>, Header,
        description = "API key of the channel relaying the request; required for attestations")),
    security(("bearer" = [])),
    responses((status = 201, body = LinkView), (status = 202, body = BindRequested),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn bind(
    State(state): State<Context>,
    holder: Holder,
    AttestingChannel(channel): AttestingChannel,
    AppJson(request): AppJson<BindRequest>,
) -> Result<Response, ApiError> {
    let answer = family::bind::bind(&state, &holder, channel.as_ref(), &request.into()).await?;
    Ok(bind_response(answer))
}

/// A bind's answer: 201 with the link when it is active at once, 202 `requested` otherwise
/// (for family members and 家庭共济 alike).
pub(crate) fn bind_response(answer: BindAnswer) -> Response {
    match answer {
        BindAnswer::Bound(link) => {
            (StatusCode::CREATED, AppJson(LinkView::from(link))).into_response()
        }
        BindAnswer::Requested(sent) => {
            (StatusCode::ACCEPTED, AppJson(BindRequested::from(sent))).into_response()
        }
    }
}

/// The caller's family members and their status.
#[utoipa::path(get, path = "/v1/family/members", tag = "family", security(("bearer" = [])),
    responses((status = 200, body = Vec<LinkView>)))]
pub async fn members(
    State(state): State<Context>,
    holder: Holder,
) -> Result<AppJson<Vec<LinkView>>, ApiError> {
    Ok(AppJson(all(family::members(
        &state,
        LinkKind::Proxy,
        holder.voucher.voucher_id,
    )
    .await?)))
}

/// Remove a member (effective at once).
#[utoipa::path(delete, path = "/v1/family/members/{member}", tag = "family",
    params(("member" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody)))]
pub async fn unbind_member(
    State(state): State<Context>,
    holder: Holder,
    AppPath(member): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    family::unbind(
        &state,
        LinkKind::Proxy,
        &holder,
        holder.voucher.voucher_id,
        voucher(&member)?,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A fresh token of a member, with the family-proxy part.
#[utoipa::path(get, path = "/v1/family/members/{member}/token", tag = "family",
    params(("member" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = IssuedToken), (status = 403, body = ErrorBody)))]
pub async fn member_token(
    State(state): State<Context>,
    holder: Holder,
    AppPath(member): AppPath<String>,
) -> Result<AppJson<IssuedToken>, ApiError> {
    Ok(AppJson(
        family::token_for(&state, &holder, voucher(&member)?)
            .await?
            .into(),
    ))
}

/// A member's token as an SVG QR code.
#[utoipa::path(get, path = "/v1/family/members/{member}/token.svg", tag = "family",
    params(("member" = String, Path)), security(("bearer" = [])),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 403, body = ErrorBody)))]
pub async fn member_token_svg(
    State(state): State<Context>,
    holder: Holder,
    AppPath(member): AppPath<String>,
) -> Result<Response, ApiError> {
    svg_response(&family::token_for(&state, &holder, voucher(&member)?).await?)
}

/// A member's token as a PNG QR code.
#[utoipa::path(get, path = "/v1/family/members/{member}/token.png", tag = "family",
    params(("member" = String, Path)), security(("bearer" = [])),
    responses((status = 200, content_type = "image/png", body = Vec<u8>), (status = 403, body = ErrorBody)))]
pub async fn member_token_png(
    State(state): State<Context>,
    holder: Holder,
    AppPath(member): AppPath<String>,
) -> Result<Response, ApiError> {
    png_response(&family::token_for(&state, &holder, voucher(&member)?).await?)
}

/// Who may show the caller's code, and pending requests.
#[utoipa::path(get, path = "/v1/family/binders", tag = "family", security(("bearer" = [])),
    responses((status = 200, body = Vec<LinkView>)))]
pub async fn binders(
    State(state): State<Context>,
    holder: Holder,
) -> Result<AppJson<Vec<LinkView>>, ApiError> {
    Ok(AppJson(all(family::binders(
        &state,
        LinkKind::Proxy,
        holder.voucher.voucher_id,
    )
    .await?)))
}

/// Approve a pending request (the member consents).
#[utoipa::path(post, path = "/v1/family/binders/{binder}/approve", tag = "family",
    params(("binder" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = LinkView), (status = 409, body = ErrorBody)))]
pub async fn approve(
    State(state): State<Context>,
    holder: Holder,
    AppPath(binder): AppPath<String>,
) -> Result<AppJson<LinkView>, ApiError> {
    Ok(AppJson(
        family::decide(
            &state,
            LinkKind::Proxy,
            &holder,
            voucher(&binder)?,
            holder.voucher.voucher_id,
            true,
        )
        .await?
        .into(),
    ))
}

/// Reject a pending request.
#[utoipa::path(post, path = "/v1/family/binders/{binder}/reject", tag = "family",
    params(("binder" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = LinkView), (status = 409, body = ErrorBody)))]
pub async fn reject(
    State(state): State<Context>,
    holder: Holder,
    AppPath(binder): AppPath<String>,
) -> Result<AppJson<LinkView>, ApiError> {
    Ok(AppJson(
        family::decide(
            &state,
            LinkKind::Proxy,
            &holder,
            voucher(&binder)?,
            holder.voucher.voucher_id,
            false,
        )
        .await?
        .into(),
    ))
}

/// Requests the caller may decide: to show the caller's own code, and (for a guardian the
/// registry names) to show the code of a child under 16 the caller has bound.
#[utoipa::path(get, path = "/v1/family/requests", tag = "family", security(("bearer" = [])),
    responses((status = 200, body = Vec<LinkView>), (status = 401, body = ErrorBody)))]
pub async fn requests(
    State(state): State<Context>,
    holder: Holder,
) -> Result<AppJson<Vec<LinkView>>, ApiError> {
    Ok(AppJson(all(family::requests(
        &state,
        LinkKind::Proxy,
        &holder,
    )
    .await?)))
}

/// Approve a request to show `member`'s code: the member, or a registered guardian of a
/// member under 16.
#[utoipa::path(post, path = "/v1/family/requests/{binder}/{member}/approve", tag = "family",
    params(("binder" = String, Path), ("member" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = LinkView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn approve_request(
    State(state): State<Context>,
    holder: Holder,
    AppPath((binder, member)): AppPath<(String, String)>,
) -> Result<AppJson<LinkView>, ApiError> {
    Ok(AppJson(
        family::decide(
            &state,
            LinkKind::Proxy,
            &holder,
            voucher(&binder)?,
            voucher(&member)?,
            true,
        )
        .await?
        .into(),
    ))
}

/// Reject a request to show `member`'s code (the member, or a registered guardian).
#[utoipa::path(post, path = "/v1/family/requests/{binder}/{member}/reject", tag = "family",
    params(("binder" = String, Path), ("member" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = LinkView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reject_request(
    State(state): State<Context>,
    holder: Holder,
    AppPath((binder, member)): AppPath<(String, String)>,
) -> Result<AppJson<LinkView>, ApiError> {
    Ok(AppJson(
        family::decide(
            &state,
            LinkKind::Proxy,
            &holder,
            voucher(&binder)?,
            voucher(&member)?,
            false,
        )
        .await?
        .into(),
    ))
}

/// Remove a binder: they can no longer show the caller's code.
#[utoipa::path(delete, path = "/v1/family/binders/{binder}", tag = "family",
    params(("binder" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody)))]
pub async fn unbind_binder(
    State(state): State<Context>,
    holder: Holder,
    AppPath(binder): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    family::unbind(
        &state,
        LinkKind::Proxy,
        &holder,
        voucher(&binder)?,
        holder.voucher.voucher_id,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The audit trail of every link the caller is part of.
#[utoipa::path(get, path = "/v1/family/audit", tag = "family", security(("bearer" = [])),
    responses((status = 200, body = Vec<AuditEntry>)))]
pub async fn audit(
    State(state): State<Context>,
    holder: Holder,
) -> Result<AppJson<Vec<AuditEntry>>, ApiError> {
    Ok(AppJson(all(family::audit(
        &state,
        LinkKind::Proxy,
        holder.voucher.voucher_id,
    )
    .await?)))
}

/// The audit trail of every link a voucher is part of (operator).
#[utoipa::path(get, path = "/v1/admin/family/{voucher}/audit", tag = "admin",
    params(("voucher" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Vec<AuditEntry>)))]
pub async fn admin_audit(
    State(state): State<Context>,
    _: AdminAuth,
    AppPath(id): AppPath<String>,
) -> Result<AppJson<Vec<AuditEntry>>, ApiError> {
    let id = VoucherId::parse(&id).ok_or(DomainError::NotFound)?;
    Ok(AppJson(all(
        family::audit(&state, LinkKind::Proxy, id).await?
    )))
}
