//! Public endpoints: trust bundle, institutions, health, metrics, OpenAPI.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::domain::operator;
use crate::http::bodies::ops::Readiness;
use crate::http::error::{ApiError, AppJson, AppQuery, ErrorBody};
use crate::model::{Institution, InstitutionKind};

/// The root-signed trust bundle terminals sync.
#[utoipa::path(get, path = "/v1/trust-bundle", tag = "public",
    responses((status = 200, content_type = "application/json", description = "signed bundle envelope (docs/token-format.md §6)")))]
pub async fn trust_bundle(State(state): State<Context>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.keys().bundle_document().to_owned(),
    )
        .into_response()
}

/// Filters of the institution list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InstitutionFilter {
    /// Region prefix (2, 4 or 6 digits).
    pub region: Option<String>,
    /// `hospital` or `pharmacy`.
    pub kind: Option<InstitutionKind>,
}

/// Designated institutions that accept the voucher.
#[utoipa::path(get, path = "/v1/institutions", tag = "public", params(InstitutionFilter),
    responses((status = 200, body = Vec<Institution>), (status = 422, body = ErrorBody)))]
pub async fn institutions(
    State(state): State<Context>,
    AppQuery(filter): AppQuery<InstitutionFilter>,
) -> Result<AppJson<Vec<Institution>>, ApiError> {
    if let Some(region) = &filter.region {
        if !yibao_shared::trust_list::is_region_scope(region) {
            return Err(DomainError::InvalidField("region").into());
        }
    }
    let list =
        operator::designated_institutions(&state, filter.region.as_deref(), filter.kind).await?;
    Ok(AppJson(list))
}

/// Health answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health)))]
pub async fn healthz() -> AppJson<Health> {
    AppJson(Health { status: "ok" })
}

/// Readiness: the store answers, and how it is (a cluster's state and primaries without a
/// replica, whose writes answer 503 while `replica_acks` requires one).
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, body = Readiness), (status = 503, body = ErrorBody)))]
pub async fn readyz(State(state): State<Context>) -> Result<AppJson<Readiness>, ApiError> {
    state.store.ping().await?;
    let store = state.store.health().await?;
    if let Some(cluster) = store.cluster.as_ref().filter(|c| c.state != "ok") {
        return Err(DomainError::Unavailable(format!(
            "Redis Cluster state {:?}, {} slots served",
            cluster.state, cluster.slots_ok
        ))
        .into());
    }
    Ok(AppJson(Readiness {
        status: "ok",
        store: store.into(),
    }))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::telemetry::metrics_handle().render(),
    )
        .into_response()
}
