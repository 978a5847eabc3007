//! The HTTP shell over [`crate::domain`]: the router (every endpoint, body limit, timeout,
//! request metrics, request logs), the extractors and credentials ([`auth`]), the request and
//! response handling ([`routes`]), the OpenAPI document of the same endpoints ([`openapi`])
//! and the one mapping from errors to `{code, message}` and a status ([`error`]).

pub mod auth;
pub mod bodies;
pub mod error;
pub mod openapi;
pub mod qr;
pub mod routes;
pub mod strict_json;

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use tower_http::trace::TraceLayer;

use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::http::error::ApiError;
use crate::http::openapi::openapi_json;
use crate::http::routes::{
    account_shares, admin, admin_records, devices, family, holder, page, person_info, public,
    settlement,
};

/// Body limit of `POST /v1/handoffs`: 500 handoffs of about 300 bytes, with room.
const HANDOFF_BODY_LIMIT: usize = 512 * 1024;

/// Body limit of `POST /v1/admin/institutions/batch`: 1000 institutions of up to 400 bytes
/// (a 200-byte name of three-byte characters, the rest), with room.
const INSTITUTION_BATCH_BODY_LIMIT: usize = 1024 * 1024;

/// Builds the service.
pub fn router(state: Context, body_limit: usize, timeout: Duration) -> Router {
    // Install the recorder before the first request records anything.
    let _ = crate::telemetry::metrics_handle();
    Router::new()
        .route("/v1/activations", post(holder::activate))
        .route("/v1/deactivations", post(holder::deactivate))
        .route("/v1/token", get(holder::token))
        .route("/v1/token.svg", get(holder::token_svg))
        .route("/v1/token.png", get(holder::token_png))
        .route(
            "/v1/holder/credential",
            delete(holder::revoke_own_credential),
        )
        .route(
            "/v1/admin/channels",
            post(admin::register_channel).get(admin_records::list_channels),
        )
        .route(
            "/v1/admin/channels/{id}/rekey",
            post(admin_records::rekey_channel),
        )
        .route(
            "/v1/admin/channels/{id}/disable",
            post(admin_records::disable_channel),
        )
        .route(
            "/v1/admin/institutions",
            post(admin::register_institution).get(admin_records::list_institutions),
        )
        .route(
            "/v1/admin/institutions/batch",
            post(admin_records::import_institutions)
                .layer(DefaultBodyLimit::max(INSTITUTION_BATCH_BODY_LIMIT)),
        )
        .route(
            "/v1/admin/institutions/{code}/terminals",
            post(admin::register_terminal).get(admin_records::list_terminals),
        )
        .route(
            "/v1/admin/terminals/{id}/revoke",
            post(admin_records::revoke_terminal),
        )
        .route("/v1/admin/vouchers/{id}", get(admin_records::show_voucher))
        .route("/v1/admin/status", get(admin_records::status))
        .route("/v1/admin/vouchers/{id}/suspend", post(admin::suspend))
        .route("/v1/admin/vouchers/{id}/reinstate", post(admin::reinstate))
        .route("/v1/admin/keys/reload", post(admin::reload_keys))
        .route(
            "/v1/family/members",
            post(family::bind).get(family::members),
        )
        .route("/v1/family/members/{member}", delete(family::unbind_member))
        .route(
            "/v1/family/members/{member}/token",
            get(family::member_token),
        )
        .route(
            "/v1/family/members/{member}/token.svg",
            get(family::member_token_svg),
        )
        .route(
            "/v1/family/members/{member}/token.png",
            get(family::member_token_png),
        )
        .route("/v1/family/binders", get(family::binders))
        .route("/v1/family/binders/{binder}", delete(family::unbind_binder))
        .route("/v1/family/binders/{binder}/approve", post(family::approve))
        .route("/v1/family/binders/{binder}/reject", post(family::reject))
        .route("/v1/family/requests", get(family::requests))
        .route(
            "/v1/family/requests/{binder}/{member}/approve",
            post(family::approve_request),
        )
        .route(
            "/v1/family/requests/{binder}/{member}/reject",
            post(family::reject_request),
        )
        .route("/v1/family/audit", get(family::audit))
        .route(
            "/v1/account-shares/members",
            post(account_shares::add_member).get(account_shares::members),
        )
        .route(
            "/v1/account-shares/members/{member}",
            delete(account_shares::end_member),
        )
        .route("/v1/account-shares/payers", get(account_shares::payers))
        .route(
            "/v1/account-shares/payers/{payer}",
            delete(account_shares::end_payer),
        )
        .route("/v1/account-shares/requests", get(account_shares::requests))
        .route(
            "/v1/account-shares/requests/{payer}/{member}/approve",
            post(account_shares::approve),
        )
        .route(
            "/v1/account-shares/requests/{payer}/{member}/reject",
            post(account_shares::reject),
        )
        .route("/v1/account-shares/audit", get(account_shares::audit))
        .route("/v1/admin/family/{voucher}/audit", get(family::admin_audit))
        .route(
            "/v1/handoffs",
            // A full batch of handoffs is far above the general body limit.
            post(settlement::hand_off).layer(DefaultBodyLimit::max(HANDOFF_BODY_LIMIT)),
        )
        .route("/v1/decode", post(settlement::decode))
        .route(
            "/v1/settlements/{reference}/complete",
            post(settlement::complete),
        )
        .route("/v1/expenses", get(settlement::expenses))
        .route("/v1/person-info", post(person_info::person_info))
        .route("/v1/identity-reads", get(person_info::identity_reads))
        .route(
            "/v1/admin/vouchers/{id}/settlements",
            get(settlement::admin_settlements),
        )
        .route("/app", get(page::app))
        .route("/app/app.js", get(page::app_js))
        .route("/app/login.js", get(page::login_js))
        .route("/app/shares.js", get(page::shares_js))
        .route("/app/offline.js", get(page::offline_js))
        .route("/app/qrcode.js", get(page::qr_js))
        .route("/app/manifest.webmanifest", get(page::manifest))
        .route("/app/icon.svg", get(page::icon))
        .route("/app-sw.js", get(page::service_worker))
        .route("/v1/trust-bundle", get(public::trust_bundle))
        .route("/v1/status-list", get(devices::status_list))
        .route("/v1/devices", post(devices::register).get(devices::list))
        .route("/v1/devices/{device_id}", delete(devices::remove))
        .route("/v1/devices/{device_id}/renew", post(devices::renew))
        .route("/v1/devices/{device_id}/sign-out", post(devices::sign_out))
        .route("/v1/device-sessions", post(devices::open_session))
        .route("/v1/device-sessions/challenge", post(devices::challenge))
        .route("/v1/institutions", get(public::institutions))
        .route("/healthz", get(public::healthz))
        .route("/readyz", get(public::readyz))
        .route("/metrics", get(public::metrics))
        .route("/openapi.json", get(openapi_json))
        .fallback(|| async { ApiError::from(DomainError::NotFound) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(no_head_on_the_api))
        .layer(middleware::from_fn(move |req, next| {
            with_timeout(timeout, req, next)
        }))
        .layer(middleware::from_fn(record_metrics))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// axum answers HEAD with the GET handler, which for `/v1/token` would mint (and count) a
/// token nobody sees. The API has no use for HEAD.
async fn no_head_on_the_api(req: Request, next: Next) -> Response {
    if req.method() == axum::http::Method::HEAD && req.uri().path().starts_with("/v1/") {
        return ApiError::MethodNotAllowed.into_response();
    }
    next.run(req).await
}

async fn with_timeout(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

async fn record_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(req).await;
    metrics::histogram!(
        "yibao_http_request_duration_seconds",
        "route" => route,
        "status" => response.status().as_u16().to_string()
    )
    .record(started.elapsed().as_secs_f64());
    response
}
