//! Two issuer nodes on one real cluster of six Redis or Valkey servers: state and rate limits
//! are shared, a code handed to both nodes settles once, a primary killed under load loses no
//! acknowledged write, and a retry through the other node is not acknowledged before a
//! replica holds what it answers from. Each test runs on both servers.

mod failover;
mod retry;
mod two_nodes;

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use yibao_issuer::demo::{ensure_keys, synthetic_person, synthetic_registry};
use yibao_tests::process::Issuer;
use yibao_tests::redis_cluster::RedisCluster;
use yibao_tests::redis_server::Flavour;
use yibao_verifier::{Clock, SystemClock};

use super::issuer::import;
use super::platform::{HOSPITAL, PHARMACY};

/// Synthetic people in the registry (activations draw from them).
const PEOPLE: usize = 400;

/// A cluster, two issuer processes sharing it (and one data directory: keys, index key and
/// admin token, as nodes of one deployment do), a channel and one terminal per institution.
pub(super) struct Deployment {
    pub(super) cluster: RedisCluster,
    pub(super) nodes: [Issuer; 2],
    pub(super) http: Client,
    pub(super) admin: String,
    pub(super) channel: String,
    /// Terminal credentials: one at the hospital, one at the pharmacy.
    pub(super) terminals: [(String, &'static str); 2],
    _data: tempfile::TempDir,
}

impl Deployment {
    /// Starts everything on `flavour`'s servers; `holder_per_min` is the token quota per
    /// holder.
    pub(super) fn start(flavour: Flavour, holder_per_min: u32) -> Self {
        let cluster = RedisCluster::start_flavour(flavour);
        let data = tempfile::tempdir().expect("tempdir");
        ensure_keys(&data.path().join("keys"), SystemClock.now()).expect("keys");
        let env = vec![
            ("YIBAO__DATA_DIR", data.path().display().to_string()),
            ("YIBAO__STORE__TYPE", "redis-cluster".to_owned()),
            ("YIBAO__STORE__NODES", cluster.urls().join(",")),
            ("YIBAO__LIMITS__HOLDER_PER_MIN", holder_per_min.to_string()),
            ("YIBAO__LIMITS__CHANNEL_PER_SEC", "100000".to_owned()),
            // Two cores shared with the rest of the suite can starve a replica's
            // acknowledgement past the default 500 ms; a test is about correctness, not speed.
            ("YIBAO__STORE__REPLICA_ACK_TIMEOUT_MS", "3000".to_owned()),
        ];
        let registry = data.path().join("registry.csv");
        std::fs::write(&registry, synthetic_registry(PEOPLE)).expect("write");
        let (code, out, err) = import(&env, &registry);
        assert_eq!(code, 0, "import onto the cluster: {out}{err}");
        let nodes =
            [0, 1].map(|i| Issuer::start(&env, &data.path().join(format!("issuer-{i}.log"))));
        let http = Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        let admin = std::fs::read_to_string(data.path().join("admin.token"))
            .expect("admin token")
            .trim()
            .to_owned();
        let mut deployment = Self {
            cluster,
            nodes,
            http,
            admin,
            channel: String::new(),
            terminals: [(String::new(), HOSPITAL), (String::new(), PHARMACY)],
            _data: data,
        };
        let channel = deployment.admin_post(
            0,
            "/v1/admin/channels",
            json!({"id": "app", "name": "测试渠道", "regions": []}),
        );
        deployment.channel = channel["credential"].as_str().expect("key").to_owned();
        for (i, (code, kind)) in [(HOSPITAL, "hospital"), (PHARMACY, "pharmacy")]
            .into_iter()
            .enumerate()
        {
            deployment.admin_post(
                i,
                "/v1/admin/institutions",
                json!({"code": code, "name": format!("测试{kind}"), "kind": kind,
                    "region": "110105", "accepts_voucher": true}),
            );
            let terminal = deployment.admin_post(
                1 - i,
                &format!("/v1/admin/institutions/{code}/terminals"),
                json!({"id": format!("t-{kind}")}),
            );
            deployment.terminals[i].0 = terminal["credential"]
                .as_str()
                .expect("credential")
                .to_owned();
        }
        deployment
    }

    /// The deployment's data directory (keys, index secret, admin token).
    pub(super) fn data_dir(&self) -> &std::path::Path {
        self._data.path()
    }

    pub(super) fn url(&self, node: usize, path: &str) -> String {
        format!("{}{path}", self.nodes[node].base_url)
    }

    fn admin_post(&self, node: usize, path: &str, body: Value) -> Value {
        let (status, body) = self.send(node, reqwest::Method::POST, path, &self.admin, Some(body));
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// One request: (status, JSON body or null).
    pub(super) fn send(
        &self,
        node: usize,
        method: reqwest::Method,
        path: &str,
        bearer: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, self.url(node, path))
            .bearer_auth(bearer);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().expect("the issuer answers");
        let status = response.status();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// Activates synthetic person `i` through `node`: (status, body).
    pub(super) fn activate(&self, node: usize, i: usize) -> (StatusCode, Value) {
        let (p, _, _) = synthetic_person(i);
        self.send(
            node,
            reqwest::Method::POST,
            "/v1/activations",
            &self.channel,
            Some(json!({"name": p.name, "id_number": p.id_number,
                "attestation": {"real_name": true, "real_person": true, "method": "face"}})),
        )
    }

    /// Hands `code` to `node` from terminal `t` (0 hospital, 1 pharmacy): (status, body).
    pub(super) fn hand_off(&self, node: usize, t: usize, code: &str) -> (StatusCode, Value) {
        let (credential, institution) = &self.terminals[t];
        self.send(
            node,
            reqwest::Method::POST,
            "/v1/handoffs",
            credential,
            Some(
                json!({"handoffs": [{"code": code, "institution": institution,
                "operator": "cashier-1", "business_type": "02121",
                "verified_at": SystemClock.now().as_secs()}]}),
            ),
        )
    }

    /// The settlements and double uses of a voucher, as the operator sees them on `node`.
    pub(super) fn audit(&self, node: usize, voucher: &str) -> Value {
        let (status, body) = self.send(
            node,
            reqwest::Method::GET,
            &format!("/v1/admin/vouchers/{voucher}/settlements"),
            &self.admin,
            None,
        );
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

/// Whether an answer is the failover's expected refusal: 503 with code `unavailable`.
pub(super) fn is_unavailable(status: StatusCode, body: &Value) -> bool {
    status == StatusCode::SERVICE_UNAVAILABLE && body["code"] == "unavailable"
}
