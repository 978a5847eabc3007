//! The terminal side with real processes: `yibao-issuer serve` on a fixed loopback port (so
//! it can be stopped and started again at the same address) and `yibao-verify` as a
//! pharmacy or hospital runs it: outage, kill -9, double use, scanning a PNG, expenses.

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
    channel: String,
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
        let issued = self.post(
            &format!("/v1/admin/institutions/{institution}/terminals"),
            &self.admin,
            json!({"id": id}),
        );
        let credential = issued["credential"]
            .as_str()
            .expect("credential")
            .to_owned();
        let dir = self.data.path().join(format!("terminal-{id}"));
        let t = TerminalDir {
            dir,
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
            .arg(self.data.path().join("keys/root.public.json"))
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
    dir: PathBuf,
    credential: String,
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

fn settled_tokens(audit: &Value) -> Vec<String> {
    let mut tokens: Vec<String> = audit["settlements"]
        .as_array()
        .expect("settlements")
        .iter()
        .map(|s| s["token_id"].as_str().expect("token").to_owned())
        .collect();
    tokens.sort();
    tokens
}

fn token_id_of(check_output: &str) -> Option<String> {
    let json: Value = serde_json::from_str(check_output.lines().next()?).ok()?;
    json["token_id"].as_str().map(str::to_owned)
}

#[test]
fn outage_codes_verified_offline_all_settle_once_when_the_issuer_is_back() {
    const N: usize = 12;
    let mut platform = Platform::new();
    let terminal = platform.terminal(PHARMACY, "p-1");
    let (holder, voucher) = platform.holder(0);
    let codes: Vec<String> = (0..N).map(|_| platform.code(&holder)).collect();

    platform.stop();
    let mut tokens = Vec::new();
    for code in &codes {
        let (exit, out) = terminal.run(&["check", "--json", code]);
        assert_eq!(exit, 0, "accepted offline: {out}");
        tokens.push(token_id_of(&out).expect("token id"));
    }
    tokens.sort();
    assert_eq!(terminal.status()["queued"], N);
    // While the issuer is down, flush gives up after its deadline and loses nothing.
    let (exit, out) = terminal.run(&["flush", "--timeout", "2"]);
    assert_eq!(exit, 2, "{out}");
    assert!(out.contains("unreachable"), "{out}");
    let status = terminal.status();
    assert_eq!(status["queued"], N);
    assert!(status["last_forward"]["error"].is_string(), "{status}");

    platform.start();
    let (exit, out) = terminal.run(&["flush"]);
    assert_eq!(exit, 0, "{out}");
    assert!(
        out.contains(&format!("answered {N}, still queued 0")),
        "{out}"
    );
    let status = terminal.status();
    assert_eq!(
        (status["queued"].clone(), status["settled"].clone()),
        (json!(0), json!(N))
    );
    assert_eq!(settled_tokens(&platform.audit(&voucher)), tokens);

    // Flushing again sends nothing; the same codes again are replays here.
    let (_, out) = terminal.run(&["flush"]);
    assert!(out.contains("answered 0"), "{out}");
    let (exit, out) = terminal.run(&["check", &codes[0]]);
    assert_eq!(exit, 1, "{out}");
    assert!(out.contains("医保码已使用"), "{out}");
    assert_eq!(settled_tokens(&platform.audit(&voucher)).len(), N);
}

/// Kills `child` after `delay` (or reaps it if it finished first); whether it finished.
fn kill_after(mut child: std::process::Child, delay: Duration) -> (bool, String) {
    let deadline = Instant::now() + delay;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            let out = child.wait_with_output().expect("output");
            return (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    let _ = child.wait();
    (false, String::new())
}

#[test]
fn kill_9_during_check_and_flush_loses_nothing_and_settles_nothing_twice() {
    let platform = Platform::new();
    let terminal = platform.terminal(HOSPITAL, "h-1");
    let (holder, voucher) = platform.holder(1);

    // kill -9 at spread-out moments of `check` (from process start to after the commit).
    let mut accepted = Vec::new();
    for round in 0..16u64 {
        let code = platform.code(&holder);
        let child = terminal
            .command(&["check", "--json", &code])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let (finished, out) = kill_after(child, Duration::from_micros(500 + round * 500));
        if finished {
            accepted.push(token_id_of(&out).expect("token id"));
        }
    }
    let queued = terminal.status()["queued"].as_u64().expect("queued");
    eprintln!(
        "kill -9 during check: {} of 16 finished, {queued} queued",
        accepted.len()
    );
    assert!(
        queued >= accepted.len() as u64,
        "every code reported accepted is in the outbox ({queued} < {})",
        accepted.len()
    );
    // More codes so the flushes below have work to be interrupted in.
    for _ in 0..10 {
        let (exit, out) = terminal.run(&["check", &platform.code(&holder)]);
        assert_eq!(exit, 0, "{out}");
    }

    // kill -9 during flushes of one presentation per request.
    for round in 0..6u64 {
        let child = terminal
            .command(&["flush", "--batch", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        kill_after(child, Duration::from_millis(20 + round * 15));
    }
    let (exit, out) = terminal.run(&["flush"]);
    assert_eq!(exit, 0, "{out}");

    let status = terminal.status();
    let in_outbox = status["settled"].as_u64().expect("settled");
    assert_eq!(status["queued"], 0, "{status}");
    assert_eq!(
        status["refused"], 0,
        "a retry after a lost answer is never mistaken for double use: {status}"
    );
    let settled = settled_tokens(&platform.audit(&voucher));
    assert_eq!(settled.len() as u64, in_outbox, "exactly once each");
    for token in &accepted {
        assert!(settled.contains(token), "accepted {token} was not settled");
    }
}

#[test]
fn one_code_at_two_terminals_settles_once_and_records_the_double_use() {
    let platform = Platform::new();
    let first = platform.terminal(HOSPITAL, "h-1");
    let second = platform.terminal(PHARMACY, "p-1");
    let (holder, voucher) = platform.holder(2);
    let code = platform.code(&holder);

    // Both terminals are offline-capable, so both accept the code at the counter.
    assert_eq!(first.run(&["check", &code]).0, 0);
    assert_eq!(second.run(&["check", &code]).0, 0);
    assert_eq!(first.run(&["flush"]).0, 0);
    assert_eq!(second.run(&["flush"]).0, 0);

    assert_eq!(first.status()["settled"], 1);
    let status = second.status();
    assert_eq!(
        (status["settled"].clone(), status["refused"].clone()),
        (json!(0), json!(1))
    );
    let audit = platform.audit(&voucher);
    assert_eq!(
        audit["settlements"].as_array().map(Vec::len),
        Some(1),
        "{audit}"
    );
    assert_eq!(audit["settlements"][0]["terminal"], "h-1");
    let double_uses = audit["double_uses"].as_array().expect("list");
    assert_eq!(double_uses.len(), 1, "{audit}");
    assert_eq!(double_uses[0]["terminal"], "p-1");
    assert_eq!(double_uses[0]["institution"], PHARMACY);
}

#[test]
fn scan_reads_the_png_the_issuer_serves() {
    let platform = Platform::new();
    let terminal = platform.terminal(PHARMACY, "p-1");
    let (holder, _) = platform.holder(3);
    let png = platform
        .http
        .get(platform.url("/v1/token.png"))
        .bearer_auth(&holder)
        .send()
        .expect("request")
        .bytes()
        .expect("bytes");
    let file = platform.data.path().join("code.png");
    std::fs::write(&file, &png).expect("write");
    let (exit, out) = terminal.run(&["scan", file.to_str().expect("utf-8")]);
    assert_eq!(exit, 0, "{out}");
    assert!(
        out.contains("通过 ACCEPTED") && out.contains("queued for settlement"),
        "{out}"
    );
    let (exit, out) = terminal.run(&["scan", file.to_str().expect("utf-8")]);
    assert_eq!(exit, 1, "the same picture again is a replay: {out}");

    // A picture without a QR code is an I/O-level failure with a clear message.
    let blank = platform.data.path().join("blank.png");
    image_blank(&blank);
    let (exit, out) = terminal.run(&["scan", blank.to_str().expect("utf-8")]);
    assert_eq!(exit, 2, "{out}");
    assert!(out.contains("no readable QR code"), "{out}");
}

fn image_blank(path: &Path) {
    image::GrayImage::from_pixel(64, 64, image::Luma([255]))
        .save(path)
        .expect("save");
}

#[test]
fn expenses_are_shown_to_the_holder_and_a_binder_not_a_stranger() {
    let platform = Platform::new();
    let terminal = platform.terminal(HOSPITAL, "h-1");
    let (member, member_voucher) = platform.holder(4);
    let (binder, _) = platform.holder(5);
    let (stranger, _) = platform.holder(6);
    let (p, _, _) = synthetic_person(4);
    platform.post(
        "/v1/family/members",
        &binder,
        json!({"name": p.name, "id_number": p.id_number, "relation": "parent",
            "member_attestation": {"real_name": true, "real_person": true, "method": "face"}}),
    );

    // The binder shows the member's code; the hospital settles and records the bill.
    let (_, proxy) = platform.get(
        &format!("/v1/family/members/{member_voucher}/token"),
        &binder,
    );
    let code = proxy["code"].as_str().expect("code");
    let (exit, out) = terminal.run(&["check", "--business-type", "01301", code]);
    assert_eq!(exit, 0, "{out}");
    assert!(out.contains("代家人出示"), "{out}");
    assert_eq!(terminal.run(&["flush"]).0, 0);
    let reference = platform.audit(&member_voucher)["settlements"][0]["reference"]
        .as_str()
        .expect("reference")
        .to_owned();
    platform.post(
        &format!("/v1/settlements/{reference}/complete"),
        &terminal.credential,
        json!({"total_fen": 25_000, "fund_fen": 18_000, "account_fen": 5_000, "cash_fen": 2_000}),
    );

    let (status, own) = platform.get("/v1/expenses", &member);
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own["total"]["total_fen"], 25_000, "{own}");
    assert_eq!(own["items"][0]["business_type"], "01301");
    assert_eq!(own["items"][0]["shown_by_family"], true);
    let path = format!("/v1/expenses?voucher={member_voucher}");
    let (status, theirs) = platform.get(&path, &binder);
    assert_eq!(status, StatusCode::OK, "{theirs}");
    assert_eq!(theirs["total"], own["total"]);
    let (status, refused) = platform.get(&path, &stranger);
    assert_eq!(
        (status, refused["code"].clone()),
        (StatusCode::FORBIDDEN, json!("not-bound"))
    );
}

/// A running `yibao-verify serve`, killed on drop.
pub(crate) struct Cashier {
    child: std::process::Child,
    pub(crate) url: String,
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
        Self { child, url }
    }
}

impl Drop for Cashier {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_cashier_page_checks_codes_and_forwards_in_the_background() {
    let platform = Platform::new();
    let terminal = platform.terminal(PHARMACY, "p-1");
    let cashier = Cashier::start(&terminal);
    let (holder, voucher) = platform.holder(7);
    let code = platform.code(&holder);
    let check = |code: &str| -> Value {
        platform
            .http
            .post(format!("{}/api/check", cashier.url))
            .json(&json!({"code": code, "business_type": "02121"}))
            .send()
            .expect("request")
            .json()
            .expect("json")
    };
    let page = reqwest::blocking::get(&cashier.url)
        .expect("page")
        .text()
        .expect("html");
    assert!(
        page.contains("医保码核验") && page.contains("autofocus"),
        "{page}"
    );

    let first = check(&code);
    assert_eq!(first["accepted"], true, "{first}");
    assert!(
        first["masked_name"]
            .as_str()
            .is_some_and(|n| n.contains('*'))
    );
    let again = check(&code);
    assert_eq!(
        (again["accepted"].clone(), again["code"].clone()),
        (json!(false), json!("replayed"))
    );
    let forged = format!(
        "{}{}",
        &code[..code.len() - 1],
        if code.ends_with('0') { "1" } else { "0" }
    );
    let refused = check(&forged);
    assert_eq!(refused["accepted"], false, "{refused}");
    assert!(refused["reason_zh"].as_str().is_some_and(|r| !r.is_empty()));

    // The background thread reaches the issuer and hands the visit off by itself.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status: Value = reqwest::blocking::get(format!("{}/api/status", cashier.url))
            .expect("status")
            .json()
            .expect("json");
        if status["online"] == true && status["queued"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "not forwarded: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(settled_tokens(&platform.audit(&voucher)).len(), 1);
}
