//! The HTTP API through `router(state).oneshot(…)` on the embedded store with a fixed clock:
//! the happy path and one test per error code.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use yibao_issuer::app;
use yibao_issuer::config::Limits;
use yibao_issuer::demo::{self, synthetic_person};
use yibao_issuer::registry::{self, Format};
use yibao_issuer::secrets::{IndexKey, hash_credential};
use yibao_issuer::signing::KeyMaterial;
use yibao_issuer::state::{AppState, RateLimits};
use yibao_issuer::store::{EmbeddedStore, Store};
use yibao_shared::UnixTime;
use yibao_verifier::{FixedClock, Policy, Verifier};

const NOW: UnixTime = UnixTime::from_secs(1_767_225_600);
const ADMIN: &str = "yba_test-admin-token";

struct Harness {
    _dir: tempfile::TempDir,
    router: Router,
    state: AppState,
}

async fn harness_with(limits: Limits) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    demo::ensure_keys(&dir.path().join("keys"), NOW).expect("keys");
    let store: Arc<dyn Store> =
        Arc::new(EmbeddedStore::open(&dir.path().join("store")).expect("store"));
    let index = IndexKey::new(vec![4; 32]).expect("index");
    let csv = demo::synthetic_registry(60);
    registry::import(csv.as_bytes(), Format::Csv, &*store, &index, |_| {})
        .await
        .expect("registry");
    let state = AppState {
        store,
        keys: Arc::new(RwLock::new(Arc::new(
            KeyMaterial::load(&dir.path().join("keys"), NOW).expect("key material"),
        ))),
        keys_dir: dir.path().join("keys"),
        index,
        clock: Arc::new(FixedClock(NOW)),
        admin_token: hash_credential(ADMIN),
        token_lifetime_secs: 60,
        limits: Arc::new(RateLimits::new(&limits)),
    };
    let router = app::router(state.clone(), 4096, Duration::from_secs(5));
    Harness {
        _dir: dir,
        router,
        state,
    }
}

fn generous() -> Limits {
    Limits {
        body_bytes: 4096,
        request_timeout_ms: 5_000,
        channel_per_sec: 1_000,
        holder_per_min: 1_000,
    }
}

async fn harness() -> Harness {
    harness_with(generous()).await
}

type Raw = (StatusCode, Vec<u8>, Option<String>);

impl Harness {
    async fn call(
        &self,
        method: Method,
        uri: &str,
        bearer: Option<&str>,
        body: Option<String>,
    ) -> Raw {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(token) = bearer {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b)),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let response = self.router.clone().oneshot(req).await.expect("infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        (status, bytes, content_type)
    }

    async fn json(
        &self,
        method: Method,
        uri: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, bytes, _) = self
            .call(method, uri, bearer, body.map(|b| b.to_string()))
            .await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn channel(&self, id: &str, regions: &[&str]) -> String {
        let body = json!({"id": id, "name": "测试渠道", "regions": regions});
        let (status, body) = self
            .json(Method::POST, "/v1/admin/channels", Some(ADMIN), Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["credential"].as_str().expect("credential").to_owned()
    }

    async fn activate(&self, channel: &str, person: usize) -> (StatusCode, Value) {
        let (p, _, _) = synthetic_person(person);
        let body = activation(&p.name, &p.id_number);
        self.json(Method::POST, "/v1/activations", Some(channel), Some(body))
            .await
    }

    async fn token(&self, credential: &str) -> (StatusCode, Value) {
        self.json(Method::GET, "/v1/token", Some(credential), None)
            .await
    }
}

fn activation(name: &str, id_number: &str) -> Value {
    json!({
        "name": name,
        "id_number": id_number,
        "attestation": {"real_name": true, "real_person": true, "method": "face"}
    })
}

fn credential_of(body: &Value) -> String {
    body["holder_credential"]
        .as_str()
        .expect("credential")
        .to_owned()
}

fn assert_code(got: (StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["code"], code, "{}", got.1);
    assert!(got.1["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn activation_then_token_verifies_offline() {
    let h = harness().await;
    let channel = h.channel("wechat", &[]).await;
    let (status, body) = h.activate(&channel, 0).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let credential = credential_of(&body);
    assert!(credential.starts_with("ybh_"));

    let (status, token) = h.token(&credential).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["expires_at"], NOW.as_secs() + 60);

    let (status, bundle, _) = h.call(Method::GET, "/v1/trust-bundle", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let root = yibao_keys::KeyDir::new(&h.state.keys_dir)
        .root_public()
        .expect("root");
    let mut verifier = Verifier::new(root, Policy::default());
    verifier
        .install_bundle(std::str::from_utf8(&bundle).expect("utf-8"), NOW)
        .expect("bundle");
    let verified = verifier
        .verify_text(token["code"].as_str().expect("code"), NOW)
        .expect("accepted");
    assert_eq!(verified.voucher_id().to_string(), body["voucher_id"]);
    assert_eq!(verified.claims().masked_name.as_str(), body["masked_name"]);

    let (status, svg, content_type) = h
        .call(Method::GET, "/v1/token.svg", Some(&credential), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("image/svg+xml"));
    assert!(String::from_utf8_lossy(&svg).contains("<svg"));
    let (status, png, content_type) = h
        .call(Method::GET, "/v1/token.png", Some(&credential), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("image/png"));
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

#[tokio::test]
async fn a_second_channel_gets_its_own_credential_for_the_same_voucher() {
    let h = harness().await;
    let a = h.channel("wechat", &[]).await;
    let b = h.channel("alipay", &[]).await;
    let (s1, first) = h.activate(&a, 1).await;
    let (s2, second) = h.activate(&b, 1).await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(first["voucher_id"], second["voucher_id"]);
    assert_ne!(first["holder_credential"], second["holder_credential"]);
    for c in [&first, &second] {
        assert_eq!(h.token(&credential_of(c)).await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn malformed_unknown_and_oversized_bodies_are_refused() {
    let h = harness().await;
    let channel = h.channel("wechat", &[]).await;
    let (status, body, _) = h
        .call(
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

#[tokio::test]
async fn identity_and_insurance_failures_have_their_own_codes() {
    let h = harness().await;
    let channel = h.channel("wechat", &[]).await;
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
    let beijing = h.channel("beijing-app", &["11"]).await;
    assert_code(
        h.activate(&beijing, 3).await,
        StatusCode::FORBIDDEN,
        "region-not-allowed",
    );
}

#[tokio::test]
async fn credentials_are_checked_and_revocation_is_immediate() {
    let h = harness().await;
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

    let channel = h.channel("wechat", &[]).await;
    let one = credential_of(&h.activate(&channel, 4).await.1);
    let two = credential_of(&h.activate(&channel, 4).await.1);
    let (status, _, _) = h
        .call(Method::DELETE, "/v1/holder/credential", Some(&one), None)
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

#[tokio::test]
async fn a_suspended_voucher_or_person_gets_no_token() {
    let h = harness().await;
    let channel = h.channel("wechat", &[]).await;
    let (_, body) = h.activate(&channel, 5).await;
    let cred = credential_of(&body);
    let voucher = body["voucher_id"].as_str().expect("voucher").to_owned();
    let h = &h;
    let admin =
        |path: String| async move { h.call(Method::POST, &path, Some(ADMIN), None).await.0 };

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
        |_| {},
    )
    .await
    .expect("re-import");
    assert_code(h.token(&cred).await, forbidden, "not-insured");
}

#[tokio::test]
async fn holders_and_channels_are_rate_limited() {
    let h = harness_with(Limits {
        holder_per_min: 3,
        channel_per_sec: 1,
        ..generous()
    })
    .await;
    let channel = h.channel("wechat", &[]).await;
    let cred = credential_of(&h.activate(&channel, 6).await.1);
    // Back to back, well inside one second: the channel's single request is used up.
    let limited = StatusCode::TOO_MANY_REQUESTS;
    assert_code(h.activate(&channel, 7).await, limited, "rate-limited");
    for _ in 0..3 {
        assert_eq!(h.token(&cred).await.0, StatusCode::OK);
    }
    assert_code(h.token(&cred).await, limited, "rate-limited");
}

#[tokio::test]
async fn operators_register_institutions_and_terminals() {
    let h = harness().await;
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

#[tokio::test]
async fn ops_endpoints_answer() {
    let h = harness().await;
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
    let channel = h.channel("wechat", &[]).await;
    let _ = h.activate(&channel, 9).await;
    let (status, text, _) = h.call(Method::GET, "/metrics", None, None).await;
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

#[tokio::test]
async fn key_rotation_takes_effect_on_reload() {
    let h = harness().await;
    let keys = yibao_keys::KeyDir::new(&h.state.keys_dir);
    keys.create_issuer_key(&yibao_keys::NewIssuerKey {
        key_id: None,
        regions: vec![],
        not_before: NOW.saturating_sub(10),
        not_after: NOW.saturating_add(86_400),
    })
    .expect("new key");
    keys.sign_bundle(NOW, 86_400).expect("bundle");
    let (status, body) = h
        .json(Method::POST, "/v1/admin/keys/reload", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["key_id"], 2);
    let channel = h.channel("wechat", &[]).await;
    let cred = credential_of(&h.activate(&channel, 10).await.1);
    assert_eq!(h.token(&cred).await.1["key_id"], 2);
}
