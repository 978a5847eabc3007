//! An HTTP harness for the issuer: `router(state).oneshot(…)` over a chosen storage backend
//! (redb in a temporary directory, or a real `redis-server`), a clock the test can move, a
//! synthetic registry, and one registered channel.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use yibao_issuer::demo::{self, synthetic_person};
use yibao_issuer::domain::context::{Context, Shared};
use yibao_issuer::domain::limits::Limits;
use yibao_issuer::domain::limits::RateLimits;
use yibao_issuer::domain::registry::{self, Format};
use yibao_issuer::http;
use yibao_issuer::id_number::{BirthDate, synthetic};
use yibao_issuer::secrets::{IndexKey, hash_credential};
use yibao_issuer::signing::KeyMaterial;
use yibao_issuer::store::{EmbeddedStore, RedisStore, Store};
use yibao_shared::UnixTime;
use yibao_verifier::Clock;

use crate::redis_server::RedisServer;

/// 2026-01-01T00:00:00Z (08:00 on 1 January in Beijing).
pub const NOW: u64 = 1_767_225_600;
/// The harness's admin token.
pub const ADMIN: &str = "yba_test-admin-token";
/// People in the harness's registry: synthetic people 0–59 (person 49 suspended) plus the
/// two [`teenager`]s.
pub const REGISTRY_SIZE: usize = 60;

/// Which store the service runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// redb in a temporary directory.
    Embedded,
    /// A real `redis-server` on a free loopback port.
    Redis,
}

/// A clock the test can move.
#[derive(Debug)]
pub struct TestClock(AtomicU64);

impl TestClock {
    /// Sets the time.
    pub fn set(&self, secs: u64) {
        self.0.store(secs, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> UnixTime {
        UnixTime::from_secs(self.0.load(Ordering::SeqCst))
    }
}

/// The registered guardians of both [`teenager`]s: synthetic people 10 and 11.
pub const GUARDIANS: [usize; 2] = [10, 11];

/// A 16-year-old (born 2010-01-01) or a 15-year-old (born 2010-01-02) on [`NOW`]:
/// (name, ID number), both in the harness's registry.
pub fn teenager(sixteen: bool) -> (String, String) {
    let birth = BirthDate {
        year: 2010,
        month: 1,
        day: if sixteen { 1 } else { 2 },
    };
    let name = if sixteen {
        "测试十六"
    } else {
        "测试十五"
    };
    (
        name.to_owned(),
        synthetic(50, birth, if sixteen { 16 } else { 15 }),
    )
}

/// Limits no test reaches by accident.
pub fn generous() -> Limits {
    Limits {
        body_bytes: 4096,
        request_timeout_ms: 5_000,
        channel_per_sec: 1_000,
        holder_per_min: 1_000,
        binds_per_day: 1_000,
        person_info_per_min: 1_000,
        shared: None,
    }
}

/// The service under test.
#[allow(missing_debug_implementations)]
pub struct Harness {
    /// The router.
    pub router: Router,
    /// Its state (store, keys directory, …).
    pub state: Context,
    /// The clock it reads.
    pub clock: Arc<TestClock>,
    /// API key of channel `app`, registered at start.
    pub channel: String,
    _guards: (tempfile::TempDir, Option<RedisServer>),
}

/// A status and a body.
pub type Raw = (StatusCode, Vec<u8>, Option<String>);

impl Harness {
    /// Starts the service on `backend` with `limits`.
    ///
    /// # Panics
    ///
    /// If any part of the setup fails (a broken harness, not a test result).
    pub async fn start(backend: Backend, limits: Limits) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, server): (Arc<dyn Store>, Option<RedisServer>) = match backend {
            Backend::Redis => {
                let server = RedisServer::start();
                let store = RedisStore::open(&server.url()).await.expect("redis store");
                (Arc::new(store), Some(server))
            }
            Backend::Embedded => {
                let store = EmbeddedStore::open(&dir.path().join("store")).expect("store");
                (Arc::new(store), None)
            }
        };
        let now = UnixTime::from_secs(NOW);
        demo::ensure_keys(&dir.path().join("keys"), now).expect("keys");
        let index = IndexKey::new(vec![4; 32]).expect("index");
        let mut csv = demo::synthetic_registry(REGISTRY_SIZE);
        for sixteen in [true, false] {
            let (name, id) = teenager(sixteen);
            let day = if sixteen { "01" } else { "02" };
            let guardians = GUARDIANS.map(|g| synthetic_person(g).0.id_number).join(";");
            csv.push_str(&format!(
                "TEEN{day},{name},{id},female,2010-01-{day},110105,resident,insured,{guardians}\n"
            ));
        }
        registry::import(
            csv.as_bytes(),
            Format::Csv,
            &*store,
            &index,
            UnixTime::from_secs(NOW),
            |_| {},
        )
        .await
        .expect("registry");
        let clock = Arc::new(TestClock(AtomicU64::new(NOW)));
        // As in production: limits in Redis when the store is Redis (shared by nodes).
        let rate_limits = if limits.shared.unwrap_or(server.is_some()) {
            RateLimits::shared(&limits, Arc::clone(&store))
        } else {
            RateLimits::local(&limits)
        };
        let keys = KeyMaterial::load(&dir.path().join("keys"), now).expect("key material");
        let state = Context::new(Shared {
            store,
            keys: Arc::new(RwLock::new(Arc::new(keys))),
            keys_dir: dir.path().join("keys"),
            index,
            clock: clock.clone(),
            admin_token: hash_credential(ADMIN),
            token_lifetime_secs: 60,
            device_validity_hours: yibao_issuer::domain::devices::DEFAULT_VALIDITY_HOURS,
            handoff_window_secs: yibao_issuer::domain::settlement::DEFAULT_HANDOFF_WINDOW_SECS,
            limits: Arc::new(rate_limits),
            certificate_numbers: Default::default(),
            deliveries: tokio_util::task::TaskTracker::new(),
        });
        let router = http::router(state.clone(), limits.body_bytes, Duration::from_secs(5));
        let mut harness = Self {
            router,
            state,
            clock,
            channel: String::new(),
            _guards: (dir, server),
        };
        harness.channel = harness.register_channel("app", &[]).await;
        harness
    }

    /// Sends a request with an optional raw JSON body.
    ///
    /// # Panics
    ///
    /// If the request cannot be built or the body not read.
    pub async fn raw(
        &self,
        method: Method,
        uri: &str,
        bearer: Option<&str>,
        body: Option<String>,
    ) -> Raw {
        self.raw_with_headers(method, uri, bearer, &[], body).await
    }

    /// [`Self::raw`] with extra request headers.
    ///
    /// # Panics
    ///
    /// If the request cannot be built or the body not read.
    pub async fn raw_with_headers(
        &self,
        method: Method,
        uri: &str,
        bearer: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Raw {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(token) = bearer {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
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
            .to_bytes();
        // What the issuer does after answering (a family request's delivery) is done before
        // the test's next step, as it would be by a client's next request in practice.
        self.state.deliveries_done().await;
        (status, bytes.to_vec(), content_type)
    }

    /// Sends JSON, reads JSON (`Null` for an empty or non-JSON body).
    pub async fn json(
        &self,
        method: Method,
        uri: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, bytes, _) = self
            .raw(method, uri, bearer, body.map(|b| b.to_string()))
            .await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// [`Self::json`] with extra request headers.
    pub async fn json_with_headers(
        &self,
        method: Method,
        uri: &str,
        bearer: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, bytes, _) = self
            .raw_with_headers(method, uri, bearer, headers, body.map(|b| b.to_string()))
            .await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Registers a channel; returns its API key.
    ///
    /// # Panics
    ///
    /// If registration fails.
    pub async fn register_channel(&self, id: &str, regions: &[&str]) -> String {
        let body = json!({"id": id, "name": "测试渠道", "regions": regions});
        let (status, body) = self
            .json(Method::POST, "/v1/admin/channels", Some(ADMIN), Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["credential"].as_str().expect("credential").to_owned()
    }

    /// Activates synthetic person `person` through `channel`.
    pub async fn activate(&self, channel: &str, person: usize) -> (StatusCode, Value) {
        let (p, _, _) = synthetic_person(person);
        self.activate_person(channel, &p.name, &p.id_number).await
    }

    /// Activates a person by name and ID number through `channel`.
    pub async fn activate_person(
        &self,
        channel: &str,
        name: &str,
        id_number: &str,
    ) -> (StatusCode, Value) {
        let body = activation(name, id_number);
        self.json(Method::POST, "/v1/activations", Some(channel), Some(body))
            .await
    }

    /// The holder's own token.
    pub async fn token(&self, credential: &str) -> (StatusCode, Value) {
        self.json(Method::GET, "/v1/token", Some(credential), None)
            .await
    }
}

/// An activation body with a complete attestation.
pub fn activation(name: &str, id_number: &str) -> Value {
    json!({
        "name": name,
        "id_number": id_number,
        "attestation": {"real_name": true, "real_person": true, "method": "face"}
    })
}

/// The holder credential of an activation response.
///
/// # Panics
///
/// If there is none.
pub fn credential_of(body: &Value) -> String {
    body["holder_credential"]
        .as_str()
        .expect("credential")
        .to_owned()
}

/// The error code of a response (empty if none).
pub fn code_of(got: &(StatusCode, Value)) -> &str {
    got.1["code"].as_str().unwrap_or("")
}

/// Asserts an error response: status, stable code, and a message.
///
/// # Panics
///
/// When it does not match.
pub fn assert_code(got: (StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["code"], code, "{}", got.1);
    assert!(got.1["message"].as_str().is_some_and(|m| !m.is_empty()));
}

/// Generates one `#[tokio::test]` per case and backend: `embedded::case` and `redis::case`,
/// each calling `case(Harness)` on a fresh harness with [`generous`] limits.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $case() {
                    let h = $crate::api::Harness::start(
                        $crate::api::Backend::Embedded,
                        $crate::api::generous(),
                    )
                    .await;
                    super::$case(h).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test]
                async fn $case() {
                    let h = $crate::api::Harness::start(
                        $crate::api::Backend::Redis,
                        $crate::api::generous(),
                    )
                    .await;
                    super::$case(h).await;
                }
            )*
        }
    };
}
