//! The OpenAPI document (`/openapi.json`): every endpoint, and every error it can answer.
//! Kept true by a schemathesis run in the test script (`scripts/schemathesis.sh`).

use axum::Json;
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

use crate::http::routes::{
    account_shares, admin, admin_records, devices, family, holder, page, person_info, public,
    settlement,
};

/// The OpenAPI document of every endpoint.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "yibao issuer", description = "医保电子凭证 issuer: activation, family accounts, QR tokens, trust bundle, settlement, expenses"),
    paths(
        holder::activate, holder::deactivate, holder::token, holder::token_svg,
        holder::token_png, holder::revoke_own_credential,
        admin::register_channel, admin::register_institution, admin::register_terminal,
        admin::suspend, admin::reinstate, admin::reload_keys,
        admin_records::list_channels, admin_records::rekey_channel,
        admin_records::disable_channel, admin_records::list_institutions,
        admin_records::import_institutions, admin_records::list_terminals,
        admin_records::revoke_terminal, admin_records::show_voucher, admin_records::status,
        family::bind, family::members, family::unbind_member, family::member_token,
        family::member_token_svg, family::member_token_png, family::binders, family::approve,
        family::reject, family::requests, family::approve_request, family::reject_request,
        family::unbind_binder, family::audit, family::admin_audit,
        account_shares::add_member, account_shares::members, account_shares::end_member,
        account_shares::payers, account_shares::end_payer, account_shares::requests,
        account_shares::approve, account_shares::reject, account_shares::audit,
        public::trust_bundle, public::institutions, public::healthz, public::readyz,
        public::metrics, openapi_json,
        settlement::hand_off, settlement::decode, settlement::complete, settlement::expenses,
        settlement::admin_settlements, person_info::person_info, person_info::identity_reads,
        page::app,
        devices::register, devices::renew, devices::list, devices::remove, devices::status_list,
        devices::challenge, devices::open_session, devices::sign_out,
    ),
    modifiers(&BearerAuth, &ErrorResponses)
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", responses((status = 200, description = "OpenAPI 3.1 document")))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Adds the errors the service answers whatever the endpoint (so a generated client and a
/// contract test see every status it can get): 408, 500 and 503 everywhere; 401 and 429 where
/// a credential is needed; 400, 413, 415 and 422 where a JSON body is read; 400 where query
/// parameters are read; 404 where a path parameter names something.
struct ErrorResponses;

impl utoipa::Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.delete,
                &mut item.put,
            ]
            .into_iter()
            .flatten()
            {
                add_errors(operation);
            }
        }
    }
}

fn add_errors(operation: &mut Operation) {
    let mut codes: Vec<(&str, &str)> = vec![
        ("408", "request not completed in time (`timeout`)"),
        ("500", "internal error"),
        ("503", "a dependency is unavailable (`unavailable`); retry"),
    ];
    if operation.security.is_some() {
        codes.push(("401", "missing, unknown or revoked credential"));
        codes.push((
            "403",
            "not allowed for this caller (`not-bound`, `voucher-suspended`, …)",
        ));
        codes.push(("429", "rate limited (`rate-limited`); see Retry-After"));
    }
    if operation.request_body.is_some() {
        codes.push(("400", "not JSON (`malformed-json`) or an unknown field"));
        codes.push(("413", "body too large"));
        codes.push(("415", "not application/json"));
        codes.push(("422", "a field is missing, mistyped or out of range"));
    }
    let params = operation.parameters.iter().flatten();
    let (mut query, mut path) = (false, false);
    for p in params {
        query |= matches!(p.parameter_in, ParameterIn::Query);
        path |= matches!(p.parameter_in, ParameterIn::Path);
    }
    if query {
        codes.push((
            "400",
            "unknown, repeated or mistyped query parameter (`invalid-query`)",
        ));
    }
    if path {
        codes.push(("404", "no such resource"));
    }
    for (code, description) in codes {
        operation
            .responses
            .responses
            .entry(code.to_owned())
            .or_insert_with(|| RefOr::T(error_response(description)));
    }
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/openapi.json` is the document the issuer serves, so a change to the API shows
    /// in review as a change to that file (and a refactor that changes nothing, as none).
    #[test]
    fn the_committed_document_is_the_served_one() {
        let served = serde_json::to_string_pretty(&ApiDoc::openapi()).expect("json") + "\n";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
        if std::env::var_os("YIBAO_BLESS_OPENAPI").is_some() {
            std::fs::write(path, &served).expect("write docs/openapi.json");
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == served,
            "docs/openapi.json is stale: run \
             YIBAO_BLESS_OPENAPI=1 cargo test -p yibao-issuer --lib openapi and commit it"
        );
    }
}
