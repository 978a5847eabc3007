//! The platform the end-to-end tests run against: an issuer process with a registry, a
//! channel, a hospital and a pharmacy (restartable on the same port), terminal directories
//! set up with `yibao-verify init`, and a running cashier page.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use yibao_issuer::demo::{ensure_keys, synthetic_person, synthetic_registry};
use yibao_tests::process::{Issuer, binary};
use yibao_tests::redis_server::free_port;
use yibao_verifier::{Clock, SystemClock};

pub(crate) const HOSPITAL: &str = "H11010500001";
pub(crate) const PHARMACY: &str = "P11010500002";

/// An issuer with a registry, a channel, a hospital and a pharmacy, restartable on the
/// same port.
pub(crate) struct Platform {
    pub(crate) data: tempfile::TempDir,
    port: u16,
    issuer: Option<Issuer>,
    pub(crate) http: Client,
    admin: String,
    pub(crate) channel: String,
    starts: u32,
    extra_env: Vec<(&'static str, String)>,
}

impl Platform {
    pub(crate) fn new() -> Self {
        Self::with_env(Vec::new())
    }

    /// [`Self::new`] with extra issuer configuration (`YIBAO__…`).
    pub(crate) fn with_env(extra_env: Vec<(&'static str, String)>) -> Self {
        let data = tempfile::tempdir().expect("tempdir");
        ensure_keys(&data.path().join("keys"), SystemClock.now()).expect("keys");
        let registry = data.path().join("registry.csv");
        std::fs::write(&registry, synthetic_registry(20)).expect("write");
        let out = Command::new(binary("yibao-issuer"))
            .arg("import")
            .arg(&registry)
            .env("YIBAO__DATA_DIR", data.path())
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut platform = Self {
            data,
            port: free_port(),
            issuer: None,
            http: Client::new(),
            admin: String::new(),
            channel: String::new(),
            starts: 0,
            extra_env,
        };
        platform.start();
        platform.admin = std::fs::read_to_string(platform.data.path().join("admin.token"))
            .expect("admin token")
            .trim()
            .to_owned();
        let channel = platform.post(
            "/v1/admin/channels",
            &platform.admin,
            json!({"id": "app", "name": "测试渠道", "regions": []}),
        );
        platform.channel = channel["credential"].as_str().expect("key").to_owned();
        for (code, kind) in [(HOSPITAL, "hospital"), (PHARMACY, "pharmacy")] {
            platform.post(
                "/v1/admin/institutions",
                &platform.admin,
                json!({"code": code, "name": format!("测试{kind}"), "kind": kind,
                    "region": "110105", "accepts_voucher": true}),
            );
        }
        platform
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub(crate) fn start(&mut self) {
        self.starts += 1;
        let log = self.data.path().join(format!("issuer-{}.log", self.starts));
        let mut env = vec![
            ("YIBAO__DATA_DIR", self.data.path().display().to_string()),
            ("YIBAO__LISTEN", format!("127.0.0.1:{}", self.port)),
            ("YIBAO__LIMITS__HOLDER_PER_MIN", "10000".to_owned()),
        ];
        env.extend(self.extra_env.iter().cloned());
        self.issuer = Some(Issuer::start(&env, &log));
    }

    pub(crate) fn stop(&mut self) {
        if let Some(issuer) = self.issuer.take() {
            issuer.stop();
        }
    }

    /// `yibao-issuer import` of `csv` with the issuer stopped (the embedded store is one
    /// process's), then the issuer started again: its printed report.
    pub(crate) fn import(&mut self, csv: &str) -> String {
        self.stop();
        let file = self.data.path().join("change.csv");
        std::fs::write(&file, csv).expect("write");
        let out = Command::new(binary("yibao-issuer"))
            .arg("import")
            .arg(&file)
            .env("YIBAO__DATA_DIR", self.data.path())
            .output()
            .expect("runs");
        let printed = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{printed}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.start();
        printed
    }

    pub(crate) fn post(&self, path: &str, bearer: &str, body: Value) -> Value {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(bearer)
            .json(&body)
            .send()
            .expect("request");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().expect("json")
    }

    /// Binds synthetic person `member` for `binder`, relayed by the platform's channel, which
    /// attests the member's real-person verification (so the link is active at once).
    pub(crate) fn bind_attested(&self, binder: &str, member: usize) -> Value {
        self.link_attested("/v1/family/members", binder, member)
    }

    /// `payer` authorises synthetic person `member` to use their personal account (家庭共济),
    /// active at once as [`Self::bind_attested`].
    pub(crate) fn share_attested(&self, payer: &str, member: usize) -> Value {
        self.link_attested("/v1/account-shares/members", payer, member)
    }

    fn link_attested(&self, path: &str, binder: &str, member: usize) -> Value {
        let (p, _, _) = synthetic_person(member);
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(binder)
            .header("x-channel-key", &self.channel)
            .json(
                &json!({"name": p.name, "id_number": p.id_number, "relation": "parent",
                "member_attestation": {"real_name": true, "real_person": true, "method": "face"}}),
            )
            .send()
            .expect("request");
        assert_eq!(response.status(), StatusCode::CREATED, "{path}");
        response.json().expect("json")
    }

    pub(crate) fn get(&self, path: &str, bearer: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(bearer)
            .send()
            .expect("request");
        (response.status(), response.json().unwrap_or(Value::Null))
    }

    /// Activates synthetic person `i`: (holder credential, voucher id).
    pub(crate) fn holder(&self, i: usize) -> (String, String) {
        let (p, _, _) = synthetic_person(i);
        let body = self.post(
            "/v1/activations",
            &self.channel,
            json!({"name": p.name, "id_number": p.id_number,
                "attestation": {"real_name": true, "real_person": true, "method": "face"}}),
        );
        (
            body["holder_credential"]
                .as_str()
                .expect("credential")
                .to_owned(),
            body["voucher_id"].as_str().expect("voucher").to_owned(),
        )
    }

    pub(crate) fn code(&self, holder: &str) -> String {
        let (status, body) = self.get("/v1/token", holder);
        assert_eq!(status, StatusCode::OK, "{body}");
        body["code"].as_str().expect("code").to_owned()
    }

    /// Registers a terminal and sets up its directory with `yibao-verify init` and `sync`.
    pub(crate) fn terminal(&self, institution: &str, id: &str) -> TerminalDir {
        let dir = self.data.path().join(format!("terminal-{id}"));
        self.terminal_in(institution, id, &dir)
    }

    /// The root public key file terminals pin.
    pub(crate) fn root_key_path(&self) -> PathBuf {
        self.data.path().join("keys/root.public.json")
    }

    /// [`Self::terminal`] with its directory at `dir`.
    pub(crate) fn terminal_in(&self, institution: &str, id: &str, dir: &Path) -> TerminalDir {
        let credential = self.register_terminal(institution, id);
        let t = TerminalDir {
            dir: dir.to_path_buf(),
            credential: credential.clone(),
        };
        let out = Command::new(binary("yibao-verify"))
            .args(["init", "--terminal"])
            .arg(&t.dir)
            .args(["--issuer", &self.url(""), "--institution", institution])
            .args([
                "--operator",
                "cashier-1",
                "--business-type",
                "02121",
                "--root-key",
            ])
            .arg(self.root_key_path())
            .env("YIBAO_TERMINAL_CREDENTIAL", &credential)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (code, out) = t.run(&["sync"]);
        assert_eq!(code, 0, "{out}");
        t
    }

    /// Registers a terminal of `institution` and returns its credential (shown once).
    pub(crate) fn register_terminal(&self, institution: &str, id: &str) -> String {
        let issued = self.post(
            &format!("/v1/admin/institutions/{institution}/terminals"),
            &self.admin,
            json!({"id": id}),
        );
        issued["credential"]
            .as_str()
            .expect("credential")
            .to_owned()
    }

    /// The settlements and double uses of a voucher, as the operator sees them.
    pub(crate) fn audit(&self, voucher: &str) -> Value {
        let (status, body) = self.get(
            &format!("/v1/admin/vouchers/{voucher}/settlements"),
            &self.admin,
        );
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

pub(crate) struct TerminalDir {
    pub(crate) dir: PathBuf,
    pub(crate) credential: String,
}

impl TerminalDir {
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(binary("yibao-verify"));
        cmd.args(args).env("YIBAO_TERMINAL", &self.dir);
        cmd
    }

    /// Runs `yibao-verify args…` for this terminal: (exit code, stdout + stderr).
    pub(crate) fn run(&self, args: &[&str]) -> (i32, String) {
        let out: Output = self.command(args).output().expect("runs");
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    pub(crate) fn status(&self) -> Value {
        let (code, out) = self.run(&["status", "--json"]);
        assert_eq!(code, 0, "{out}");
        serde_json::from_str(&out).expect("status json")
    }
}

pub(crate) fn settled_tokens(audit: &Value) -> Vec<String> {
    let mut tokens: Vec<String> = audit["settlements"]
        .as_array()
        .expect("settlements")
        .iter()
        .map(|s| s["token_id"].as_str().expect("token").to_owned())
        .collect();
    tokens.sort();
    tokens
}

pub(crate) fn token_id_of(check_output: &str) -> Option<String> {
    let json: Value = serde_json::from_str(check_output.lines().next()?).ok()?;
    json["token_id"].as_str().map(str::to_owned)
}

/// A running `yibao-verify serve`, killed on drop.
pub(crate) struct Cashier {
    child: std::process::Child,
    pub(crate) url: String,
    /// The page's token (its `cashier-token` meta tag), which a check must carry.
    pub(crate) token: String,
}

impl Cashier {
    pub(crate) fn start(terminal: &TerminalDir) -> Self {
        let port = free_port();
        let child = terminal
            .command(&[
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--sync-every",
                "1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::blocking::get(format!("{url}/api/status")).is_err() {
            assert!(Instant::now() < deadline, "the cashier page did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let page = reqwest::blocking::get(&url)
            .and_then(reqwest::blocking::Response::text)
            .expect("the page");
        let token = page
            .split_once(r#"<meta name="cashier-token" content=""#)
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(token, _)| token.to_owned())
            .expect("the page carries its token");
        Self { child, url, token }
    }

    /// `POST /api/check` with `body` as the page sends it (with its token).
    pub(crate) fn check(
        &self,
        http: &reqwest::blocking::Client,
        body: &Value,
    ) -> reqwest::blocking::Response {
        http.post(format!("{}/api/check", self.url))
            .header("x-cashier-token", &self.token)
            .json(body)
            .send()
            .expect("the cashier page answers")
    }
}

impl Drop for Cashier {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
