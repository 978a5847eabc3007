//! The HTTP API through `router(state).oneshot(…)` on both storage backends: the happy
//! path verified offline, and one test per error code.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use yibao_issuer::demo::synthetic_person;
use yibao_issuer::domain::limits::Limits;
use yibao_issuer::domain::registry::{self, Format};
use yibao_issuer::secrets::hash_credential;
use yibao_shared::UnixTime;
use yibao_tests::api::{
    ADMIN, Backend, Harness, NOW, activation, assert_code, credential_of, generous,
};
use yibao_tests::on_both_backends;
use yibao_verifier::{Policy, Verifier};

const AT: UnixTime = UnixTime::from_secs(NOW);

async fn activation_then_token_verifies_offline(h: Harness) {
    let channel = h.register_channel("wechat", &[]).await;
    let (status, body) = h.activate(&channel, 0).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let credential = credential_of(&body);
    assert!(credential.starts_with("ybh_"));

    let (status, token) = h.token(&credential).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["expires_at"], NOW + 60);

    let (status, bundle, _) = h.raw(Method::GET, "/v1/trust-bundle", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let root = yibao_keys::KeyDir::new(&h.state.keys_dir)
        .root_public()
        .expect("root");
    let mut verifier = Verifier::new(root, Policy::default());
    verifier
        .install_bundle(std::str::from_utf8(&bundle).expect("utf-8"), AT)
        .expect("bundle");
    let verified = verifier
        .verify_text(token["code"].as_str().expect("code"), AT)
        .expect("accepted");
    assert_eq!(verified.voucher_id().to_string(), body["voucher_id"]);
    assert_eq!(verified.claims().masked_name.as_str(), body["masked_name"]);

    let (status, svg, content_type) = h
        .raw(Method::GET, "/v1/token.svg", Some(&credential), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("image/svg+xml"));
    assert!(String::from_utf8_lossy(&svg).contains("<svg"));
    let (status, png, content_type) = h
        .raw(Method::GET, "/v1/token.png", Some(&credential), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("image/png"));
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

async fn a_second_channel_gets_its_own_credential_for_the_same_voucher(h: Harness) {
    let a = h.register_channel("wechat", &[]).await;
    let b = h.register_channel("alipay", &[]).await;
    let (s1, first) = h.activate(&a, 1).await;
    let (s2, second) = h.activate(&b, 1).await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(first["voucher_id"], second["voucher_id"]);
    assert_ne!(first["holder_credential"], second["holder_credential"]);
    for c in [&first, &second] {
        assert_eq!(h.token(&credential_of(c)).await.0, StatusCode::OK);
    }
}

async fn malformed_unknown_and_oversized_bodies_are_refused(h: Harness) {
    let channel = h.register_channel("wechat", &[]).await;
    let (status, body, _) = h
        .raw(
            Method::POST,
            "/v1/activations",
            Some(&channel),
            Some("{".into()),
        )
        .await;
    let body: Value = serde_json::from_slice(&body).expect("json error");
    assert_code((status, body), StatusCode::BAD_REQUEST, "malformed-json");

    let (p, _, _) = synthetic_person(2);
    let mut extra = activation(&p.name, &p.id_number);
    extra["nickname"] = json!("x");
    let post = |body: Value| h.json(Method::POST, "/v1/activations", Some(&channel), Some(body));
    assert_code(post(extra).await, StatusCode::BAD_REQUEST, "unknown-field");
    assert_code(
        post(json!({"name": "x"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-body",
    );
    let mut big = activation(&p.name, &p.id_number);
    big["name"] = json!("x".repeat(5000));
    assert_code(
        post(big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
    );

    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/activations")
        .header(header::AUTHORIZATION, format!("Bearer {channel}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .expect("request");
    let response = h.router.clone().oneshot(req).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

async fn identity_and_insurance_failures_have_their_own_codes(h: Harness) {
    let channel = h.register_channel("wechat", &[]).await;
    let (p, _, _) = synthetic_person(3);
    let post = |body: Value| h.json(Method::POST, "/v1/activations", Some(&channel), Some(body));

    let mut bad_check = p.id_number.clone();
    let last = if bad_check.ends_with('0') { "1" } else { "0" };
    bad_check.replace_range(17.., last);
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    assert_code(
        post(activation(&p.name, &bad_check)).await,
        unprocessable,
        "id-number-check-digit",
    );
    assert_code(
        post(activation(&p.name, "12345")).await,
        unprocessable,
        "invalid-id-number",
    );
    assert_code(
        post(activation("测试错名", &p.id_number)).await,
        unprocessable,
        "name-mismatch",
    );
    // Not in the 60-person registry.
    let (stranger, _, _) = synthetic_person(500);
    assert_code(
        post(activation(&stranger.name, &stranger.id_number)).await,
        StatusCode::NOT_FOUND,
        "not-in-registry",
    );
    // Every 50th person is suspended in the registry.
    let (suspended, _, _) = synthetic_person(49);
    assert_code(
        post(activation(&suspended.name, &suspended.id_number)).await,
        StatusCode::FORBIDDEN,
        "not-insured",
    );
    let mut weak = activation(&p.name, &p.id_number);
    weak["attestation"]["real_person"] = json!(false);
    assert_code(post(weak).await, unprocessable, "attestation-incomplete");

    // Person 3 is insured in 310101 (Shanghai); a Beijing-only channel may not serve them.
    let beijing = h.register_channel("beijing-app", &["11"]).await;
    assert_code(
        h.activate(&beijing, 3).await,
        StatusCode::FORBIDDEN,
        "region-not-allowed",
    );
}

async fn credentials_are_checked_and_revocation_is_immediate(h: Harness) {
    let unauthorized = StatusCode::UNAUTHORIZED;
    assert_code(
        h.json(Method::GET, "/v1/token", None, None).await,
        unauthorized,
        "unauthorized",
    );
    assert_code(h.token("ybh_nope").await, unauthorized, "unauthorized");
    assert_code(
        h.activate("ybc_nope", 1).await,
        unauthorized,
        "unauthorized",
    );
    let channel_body = json!({"id": "x", "name": "x"});
    assert_code(
        h.json(
            Method::POST,
            "/v1/admin/channels",
            Some("wrong"),
            Some(channel_body),
        )
        .await,
        unauthorized,
        "unauthorized",
    );

    let channel = h.register_channel("wechat", &[]).await;
    let one = credential_of(&h.activate(&channel, 4).await.1);
    let two = credential_of(&h.activate(&channel, 4).await.1);
    let (status, _, _) = h
        .raw(Method::DELETE, "/v1/holder/credential", Some(&one), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_code(h.token(&one).await, unauthorized, "credential-revoked");
    assert_eq!(h.token(&two).await.0, StatusCode::OK);

    // Lost phone: the channel deactivates, every credential stops at once.
    let (p, _, _) = synthetic_person(4);
    let body = json!({"name": p.name, "id_number": p.id_number});
    let (status, body) = h
        .json(
            Method::POST,
            "/v1/deactivations",
            Some(&channel),
            Some(body),
        )
        .await;
    assert_eq!(
        (status, body["revoked"].clone()),
        (StatusCode::OK, json!(1))
    );
    assert_code(h.token(&two).await, unauthorized, "credential-revoked");
}

async fn a_suspended_voucher_or_person_gets_no_token(h: Harness) {
    let channel = h.register_channel("wechat", &[]).await;
    let (_, body) = h.activate(&channel, 5).await;
    let cred = credential_of(&body);
    let voucher = body["voucher_id"].as_str().expect("voucher").to_owned();
    let h = &h;
    let admin = |path: String| async move { h.raw(Method::POST, &path, Some(ADMIN), None).await.0 };

    let suspend = format!("/v1/admin/vouchers/{voucher}/suspend");
    assert_eq!(admin(suspend).await, StatusCode::NO_CONTENT);
    let forbidden = StatusCode::FORBIDDEN;
    assert_code(h.token(&cred).await, forbidden, "voucher-suspended");
    assert_code(
        h.json(Method::GET, "/v1/token.svg", Some(&cred), None)
            .await,
        forbidden,
        "voucher-suspended",
    );
    assert_code(
        h.activate(&channel, 5).await,
        forbidden,
        "voucher-suspended",
    );
    let reinstate = format!("/v1/admin/vouchers/{voucher}/reinstate");
    assert_eq!(admin(reinstate).await, StatusCode::NO_CONTENT);
    assert_eq!(h.token(&cred).await.0, StatusCode::OK);
    assert_code(
        h.json(
            Method::POST,
            "/v1/admin/vouchers/0000000000000000/suspend",
            Some(ADMIN),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not-found",
    );

    // The registry suspends the person (re-import): tokens stop too.
    let (p, birth, region) = synthetic_person(5);
    let row = format!(
        "person_no,name,id_number,gender,birth_date,region,insurance,status\n\
         DEMO000005,{},{},male,{birth},{region},resident,suspended\n",
        p.name, p.id_number
    );
    registry::import(
        row.as_bytes(),
        Format::Csv,
        &*h.state.store,
        &h.state.index,
        h.state.clock.now(),
        |_| {},
    )
    .await
    .expect("re-import");
    assert_code(h.token(&cred).await, forbidden, "not-insured");
}

async fn rate_limits(backend: Backend) {
    let limits = Limits {
        holder_per_min: 3,
        binds_per_day: 1_000,
        channel_per_sec: 1,
        ..generous()
    };
    let h = Harness::start(backend, limits).await;
    let channel = h.register_channel("wechat", &[]).await;
    let cred = credential_of(&h.activate(&channel, 6).await.1);
    // Back to back, well inside one second: the channel's single request is used up.
    let limited = StatusCode::TOO_MANY_REQUESTS;
    assert_code(h.activate(&channel, 7).await, limited, "rate-limited");
    for _ in 0..3 {
        assert_eq!(h.token(&cred).await.0, StatusCode::OK);
    }
    // The quota refills one request every 20 s: Retry-After says so, not "1".
    let response = send(&h, Method::GET, "/v1/token", Some(&cred), None).await;
    assert_eq!(response.status(), limited);
    let retry: u64 = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After seconds");
    assert!((2..=20).contains(&retry), "Retry-After {retry}");
}

/// One request through the router, the whole response kept (headers included).
async fn send(
    h: &Harness,
    method: Method,
    uri: &str,
    bearer: Option<&str>,
    body: Option<(&str, &str)>,
) -> axum::response::Response {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(token) = bearer {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let req = match body {
        Some((content_type, text)) => req
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(text.to_owned())),
        None => req.body(Body::empty()),
    }
    .expect("request");
    h.router.clone().oneshot(req).await.expect("infallible")
}

/// See: issue 10, item 6 (errors that escaped the contract).
async fn errors_stay_in_the_contract(h: Harness) {
    let cred = credential_of(&h.activate(&h.channel, 1).await.1);
    let json_error = async |method: Method, uri: &str, body: Option<(&str, &str)>| {
        let response = send(&h, method, uri, Some(&cred), body).await;
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        assert_eq!(content_type, "application/json", "{uri}: {status}");
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .expect("body")
            .to_bytes();
        let body: Value = serde_json::from_slice(&bytes).expect("json");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        (status, body["code"].as_str().unwrap_or("").to_owned())
    };
    let bad_request = (StatusCode::BAD_REQUEST, "invalid-query".to_owned());
    for uri in [
        "/v1/expenses?year=abc",
        "/v1/expenses?year=2026&year=2025",
        "/v1/expenses?bogus=1",
        "/v1/institutions?kind=7",
    ] {
        assert_eq!(
            json_error(Method::GET, uri, None).await,
            bad_request,
            "{uri}"
        );
    }
    assert_eq!(
        json_error(Method::GET, "/v1/family/members/%FF%FE/token", None).await,
        (StatusCode::NOT_FOUND, "not-found".to_owned())
    );
    // An array never fills a struct by position, at the top or inside.
    let array = r#"["测试", "110105194912310021", {"real_name": true}]"#;
    assert_eq!(
        json_error(
            Method::POST,
            "/v1/family/members",
            Some(("application/json", array))
        )
        .await,
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid-body".to_owned())
    );
    let (p, _, _) = synthetic_person(2);
    let nested = json!({"name": p.name, "id_number": p.id_number, "relation": "parent",
        "member_attestation": [true, true, "face"]})
    .to_string();
    let response = send(
        &h,
        Method::POST,
        "/v1/family/members",
        Some(&cred),
        Some(("application/json", &nested)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A wrong JSON type in a choice field is an invalid body, not malformed JSON.
    let wrong_type = json!({"name": p.name, "id_number": p.id_number, "relation": 5}).to_string();
    assert_eq!(
        json_error(
            Method::POST,
            "/v1/family/members",
            Some(("application/json", &wrong_type))
        )
        .await,
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid-body".to_owned())
    );
    assert_eq!(
        json_error(Method::DELETE, "/v1/token", None).await,
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed".to_owned()
        )
    );
    // HEAD would run the GET handler and mint a token nobody sees.
    let head = send(&h, Method::HEAD, "/v1/token", Some(&cred), None).await;
    assert_eq!(head.status(), StatusCode::METHOD_NOT_ALLOWED);
}

async fn operators_register_institutions_and_terminals(h: Harness) {
    let admin_post =
        |path: &'static str, body: Value| h.json(Method::POST, path, Some(ADMIN), Some(body));
    let pharmacy = json!({"code": "P11010500009", "name": "测试药店", "kind": "pharmacy",
        "region": "110105", "accepts_voucher": true});
    let hospital = json!({"code": "H31010100009", "name": "测试医院", "kind": "hospital",
        "region": "310101", "accepts_voucher": true});
    assert_eq!(
        admin_post("/v1/admin/institutions", pharmacy).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        admin_post("/v1/admin/institutions", hospital).await.0,
        StatusCode::CREATED
    );
    let (status, terminal) = admin_post(
        "/v1/admin/institutions/P11010500009/terminals",
        json!({"id": "pos-9"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let secret = terminal["credential"].as_str().expect("credential");
    let stored = h
        .state
        .store
        .terminal_by_key(&hash_credential(secret))
        .await
        .expect("store")
        .expect("registered");
    assert_eq!(stored.institution, "P11010500009");
    assert_code(
        admin_post(
            "/v1/admin/institutions/NOPE/terminals",
            json!({"id": "pos-1"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not-found",
    );
    let (status, list) = h
        .json(
            Method::GET,
            "/v1/institutions?region=11&kind=pharmacy",
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let codes: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|i| i["code"].as_str())
        .collect();
    assert_eq!(codes, vec!["P11010500009"]);
    assert_code(
        h.json(Method::GET, "/v1/institutions?region=1", None, None)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-field",
    );
}

async fn ops_endpoints_answer(h: Harness) {
    let ok = json!({"status": "ok"});
    assert_eq!(
        h.json(Method::GET, "/healthz", None, None).await,
        (StatusCode::OK, ok)
    );
    assert_eq!(
        h.json(Method::GET, "/readyz", None, None).await.0,
        StatusCode::OK
    );
    let (status, doc) = h.json(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/v1/activations",
        "/v1/deactivations",
        "/v1/token",
        "/v1/token.svg",
        "/v1/token.png",
        "/v1/trust-bundle",
        "/v1/institutions",
        "/v1/admin/channels",
        "/v1/admin/keys/reload",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(doc["paths"].get(path).is_some(), "OpenAPI misses {path}");
    }
    let channel = h.register_channel("wechat", &[]).await;
    let _ = h.activate(&channel, 9).await;
    let (status, text, _) = h.raw(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(text).expect("utf-8");
    assert!(text.contains("yibao_activations_total"), "{text}");
    assert!(
        text.contains("yibao_http_request_duration_seconds"),
        "{text}"
    );
    assert_code(
        h.json(Method::GET, "/v1/nope", None, None).await,
        StatusCode::NOT_FOUND,
        "not-found",
    );
}

async fn key_rotation_takes_effect_on_reload(h: Harness) {
    let keys = yibao_keys::KeyDir::new(&h.state.keys_dir);
    keys.create_issuer_key(&yibao_keys::NewIssuerKey {
        key_id: None,
        regions: vec![],
        not_before: AT.saturating_sub(10),
        not_after: AT.saturating_add(86_400),
    })
    .expect("new key");
    keys.sign_bundle(AT, 86_400).expect("bundle");
    let (status, body) = h
        .json(Method::POST, "/v1/admin/keys/reload", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["key_id"], 2);
    let channel = h.register_channel("wechat", &[]).await;
    let cred = credential_of(&h.activate(&channel, 10).await.1);
    assert_eq!(h.token(&cred).await.1["key_id"], 2);
}

#[tokio::test]
async fn holders_and_channels_are_rate_limited_embedded() {
    rate_limits(Backend::Embedded).await;
}

#[tokio::test]
async fn holders_and_channels_are_rate_limited_redis() {
    rate_limits(Backend::Redis).await;
}

on_both_backends!(
    activation_then_token_verifies_offline,
    a_second_channel_gets_its_own_credential_for_the_same_voucher,
    malformed_unknown_and_oversized_bodies_are_refused,
    identity_and_insurance_failures_have_their_own_codes,
    credentials_are_checked_and_revocation_is_immediate,
    a_suspended_voucher_or_person_gets_no_token,
    operators_register_institutions_and_terminals,
    ops_endpoints_answer,
    key_rotation_takes_effect_on_reload,
    errors_stay_in_the_contract,
);
