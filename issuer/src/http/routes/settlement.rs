//! Settlement endpoints: terminal handoffs, online decode, completion with amounts (terminal
//! credential); the expense query (holder); the settlement audit (admin).

use axum::extract::State;
use yibao_shared::VoucherId;

use crate::domain::caller::{Holder, TerminalCaller};
use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::domain::settlement::intake::{self, Visit};
use crate::domain::settlement::{self, completion, expenses};
use crate::http::auth::AdminAuth;
use crate::http::bodies::completion::CompletionRequest;
use crate::http::bodies::settlement::{
    DecodeRequest, DecodeResponse, ExpenseQuery, Expenses, HandoffAnswers, HandoffBatch,
    HandoffResult, SettlementAudit,
};
use crate::http::error::{ApiError, AppJson, AppPath, AppQuery, ErrorBody};
use crate::model::settlement::Settlement;

/// The most handoffs in one request (a terminal sends more in several).
pub const MAX_HANDOFFS: usize = 500;

/// Hand verified presentations to settlement. Each token settles once across all
/// terminals; a repeat from the same terminal gets the same answer; another terminal gets
/// `double-use`. A store failure answers 503 for the whole batch (retry it: answers already
/// given are given again).
#[utoipa::path(post, path = "/v1/handoffs", tag = "settlement", request_body = HandoffBatch,
    security(("bearer" = [])),
    responses((status = 200, body = HandoffAnswers), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn hand_off(
    State(state): State<Context>,
    terminal: TerminalCaller,
    AppJson(batch): AppJson<HandoffBatch>,
) -> Result<AppJson<HandoffAnswers>, ApiError> {
    if batch.handoffs.is_empty() || batch.handoffs.len() > MAX_HANDOFFS {
        return Err(DomainError::InvalidField("handoffs (1 to 500)").into());
    }
    // The document says int64 (what JSON clients hold safely); a larger time is no time.
    if batch
        .handoffs
        .iter()
        .any(|h| i64::try_from(h.verified_at).is_err())
    {
        return Err(DomainError::InvalidField("verified_at").into());
    }
    let now = state.clock.now();
    let handoffs = batch.handoffs.into_iter().map(Into::into).collect();
    let results = intake::hand_off(&state, &terminal, handoffs, now).await?;
    metrics::counter!("yibao_handoffs_total").increment(results.len() as u64);
    Ok(AppJson(HandoffAnswers {
        results: results.into_iter().map(HandoffResult::from).collect(),
    }))
}

/// Online decode for terminals without the embedded verifier: the same verdict the offline
/// verifier gives, and the settlement reference.
#[utoipa::path(post, path = "/v1/decode", tag = "settlement", request_body = DecodeRequest,
    security(("bearer" = [])),
    responses((status = 200, body = DecodeResponse), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn decode(
    State(state): State<Context>,
    terminal: TerminalCaller,
    AppJson(request): AppJson<DecodeRequest>,
) -> Result<AppJson<DecodeResponse>, ApiError> {
    let now = state.clock.now();
    let context = request.context();
    let visit = Visit {
        context: &context,
        code: &request.code,
        institution: &request.institution,
        operator: &request.operator,
        business_type: &request.business_type,
    };
    Ok(AppJson(
        intake::decode(&state, &terminal, &visit, now).await?.into(),
    ))
}

/// Record the settled amounts: in fen, or as the 2207 answer's split in yuan. A mutual-aid
/// part (家庭共济) names its payer, whose authorisation must have been active when the code
/// was verified. Idempotent with the same amounts; other amounts after completion are refused.
#[utoipa::path(post, path = "/v1/settlements/{reference}/complete", tag = "settlement",
    params(("reference" = String, Path)), request_body = CompletionRequest, security(("bearer" = [])),
    responses((status = 200, body = Settlement), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn complete(
    State(state): State<Context>,
    terminal: TerminalCaller,
    AppPath(reference): AppPath<String>,
    AppJson(request): AppJson<CompletionRequest>,
) -> Result<AppJson<Settlement>, ApiError> {
    let amounts = request.amounts()?;
    let now = state.clock.now();
    Ok(AppJson(
        completion::complete(&state, &terminal, &reference, amounts, now).await?,
    ))
}

/// Medical expenses of a year: the caller's own, or an actively bound family member's.
#[utoipa::path(get, path = "/v1/expenses", tag = "holder", params(ExpenseQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Expenses), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn expenses(
    State(state): State<Context>,
    holder: Holder,
    AppQuery(query): AppQuery<ExpenseQuery>,
) -> Result<AppJson<Expenses>, ApiError> {
    let target = match query.voucher.as_deref() {
        None => holder.voucher.voucher_id,
        Some(text) => VoucherId::parse(text).ok_or(DomainError::NotBound)?,
    };
    if query.year.is_some_and(|y| !(2000..=2100).contains(&y)) {
        return Err(DomainError::InvalidField("year").into());
    }
    let now = state.clock.now();
    Ok(AppJson(
        expenses::expenses(&state, &holder, target, query.year, now)
            .await?
            .into(),
    ))
}

/// Settlements and double-use records of a voucher (operator).
#[utoipa::path(get, path = "/v1/admin/vouchers/{id}/settlements", tag = "admin",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = SettlementAudit), (status = 404, body = ErrorBody)))]
pub async fn admin_settlements(
    State(state): State<Context>,
    _: AdminAuth,
    AppPath(id): AppPath<String>,
) -> Result<AppJson<SettlementAudit>, ApiError> {
    let (settlements, double_uses) = settlement::audit(&state, &id).await?;
    Ok(AppJson(SettlementAudit {
        settlements,
        double_uses,
    }))
}
