//! Person information for the settling institution (1101, terminal credential) and the
//! holder's list of who read their identity.

use axum::extract::State;
use yibao_shared::VoucherId;

use crate::domain::caller::{Holder, TerminalCaller};
use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::domain::settlement::person_info;
use crate::http::bodies::person_info::{
    IdentityReadItem, IdentityReadQuery, IdentityReads, PersonInfoRequest, PersonInfoResponse,
};
use crate::http::error::{ApiError, AppJson, AppQuery, ErrorBody};

/// Person information (national 1101 人员信息获取) of a settled visit's patient, for 实名就医:
/// answered to a terminal of the institution that settled it, within 24 hours of the handoff,
/// for a voucher that is not suspended. Every read is recorded and shown to the holder; reads
/// are rate-limited per terminal and capped at 20 per visit. Another institution's reference
/// is `settlement-not-found`, as a reference that does not exist.
#[utoipa::path(post, path = "/v1/person-info", tag = "settlement", request_body = PersonInfoRequest,
    security(("bearer" = [])),
    responses((status = 200, body = PersonInfoResponse), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn person_info(
    State(state): State<Context>,
    terminal: TerminalCaller,
    AppJson(request): AppJson<PersonInfoRequest>,
) -> Result<AppJson<PersonInfoResponse>, ApiError> {
    if request.mdtrt_cert_type != "01" {
        return Err(DomainError::InvalidField("mdtrt_cert_type (01: electronic voucher)").into());
    }
    let now = state.clock.now();
    let info = person_info::read(&state, &terminal, &request.mdtrt_cert_no, now).await?;
    Ok(AppJson(PersonInfoResponse::new(info, now)))
}

/// Who read the caller's identity (谁查看了我的身份信息), or an actively bound family member's:
/// each settling institution's person-information read, newest first.
#[utoipa::path(get, path = "/v1/identity-reads", tag = "holder",
    params(IdentityReadQuery),
    security(("bearer" = [])),
    responses((status = 200, body = IdentityReads), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn identity_reads(
    State(state): State<Context>,
    holder: Holder,
    AppQuery(query): AppQuery<IdentityReadQuery>,
) -> Result<AppJson<IdentityReads>, ApiError> {
    let target = match query.voucher.as_deref() {
        None => holder.voucher.voucher_id,
        Some(text) => VoucherId::parse(text).ok_or(DomainError::NotBound)?,
    };
    let now = state.clock.now();
    let reads = person_info::reads_of(&state, &holder, target, now).await?;
    Ok(AppJson(IdentityReads {
        voucher_id: target,
        reads: reads.into_iter().map(IdentityReadItem::from).collect(),
    }))
}
