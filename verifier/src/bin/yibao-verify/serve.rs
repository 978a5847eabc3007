//! `yibao-verify serve`: the cashier page on loopback. A keyboard-wedge scanner types into
//! the page; the page posts the code here; the verdict comes from the terminal's outbox
//! exactly as `check` gives it. A background thread syncs the bundle and forwards the queue.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde::Deserialize;
use serde_json::{Value, json};
use yibao_shared::BusinessType;
use yibao_verifier::{CheckError, Clock, Policy, Rejection, SystemClock, Terminal};

use crate::{Outcome, config};

const PAGE: &str = include_str!("cashier.html");

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Terminal directory (configuration, pinned root key, outbox).
    #[arg(long, env = "YIBAO_TERMINAL")]
    terminal: PathBuf,
    /// Address of the page; loopback unless you mean it.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// Seconds between bundle syncs and forwards to the issuer.
    #[arg(long, default_value_t = 10)]
    sync_every: u64,
}

/// What the page and the background thread share.
struct Shared {
    terminal: RwLock<Terminal>,
    operator: String,
    business_type: BusinessType,
    /// Whether the last contact with the issuer succeeded.
    online: AtomicBool,
    /// When the issuer last answered (unix seconds, 0 never).
    last_contact: AtomicU64,
}

#[derive(Deserialize)]
struct CheckRequest {
    code: String,
    #[serde(default)]
    business_type: Option<String>,
    #[serde(default)]
    operator: Option<String>,
}

pub(crate) fn serve(args: &ServeArgs) -> anyhow::Result<Outcome> {
    let loaded = config::load(&args.terminal, Policy::default())?;
    let terminal = Terminal::open(&loaded.config)?;
    let shared = Arc::new(Shared {
        terminal: RwLock::new(terminal),
        operator: loaded.operator,
        business_type: loaded.business_type,
        online: AtomicBool::new(false),
        last_contact: AtomicU64::new(0),
    });
    let server = tiny_http::Server::http(args.listen)
        .map_err(|e| anyhow::anyhow!("listening on {}: {e}", args.listen))?;
    let addr = server.server_addr().to_ip().context("listening address")?;
    println!("cashier page on http://{addr}/");

    let background = Arc::clone(&shared);
    let every = Duration::from_secs(args.sync_every.max(1));
    std::thread::spawn(move || keep_in_touch(&background, every));

    for mut request in server.incoming_requests() {
        let response = route(&shared, &mut request);
        // A client that went away is not our problem.
        let _ = request.respond(response);
    }
    Ok(Outcome::Accepted)
}

/// Syncs the bundle (which also says whether the issuer is reachable) and forwards the
/// queue, forever, every `every`.
fn keep_in_touch(shared: &Shared, every: Duration) {
    loop {
        let started = Instant::now();
        // The network part under a read lock: checks go on during a slow outage.
        let fetched = shared
            .terminal
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .fetch_bundle();
        let mut online = match fetched {
            Ok(document) => {
                let mut terminal = shared.terminal.write().unwrap_or_else(|e| e.into_inner());
                // A refused bundle keeps the old one; the issuer was reachable all the same.
                let _ = terminal.install_bundle(&document, SystemClock.now());
                true
            }
            Err(_) => false,
        };
        if online {
            let terminal = shared.terminal.read().unwrap_or_else(|e| e.into_inner());
            let deadline = Instant::now() + every;
            online = terminal.flush(100, deadline, || SystemClock.now()).is_ok();
        }
        shared.online.store(online, Ordering::Relaxed);
        if online {
            shared
                .last_contact
                .store(SystemClock.now().as_secs(), Ordering::Relaxed);
        }
        std::thread::sleep(every.saturating_sub(started.elapsed()));
    }
}

type Response = tiny_http::Response<std::io::Cursor<Vec<u8>>>;

fn route(shared: &Shared, request: &mut tiny_http::Request) -> Response {
    match (request.method(), request.url()) {
        (tiny_http::Method::Get, "/") => respond(200, "text/html; charset=utf-8", PAGE.into()),
        (tiny_http::Method::Get, "/api/status") => json_response(200, &status(shared)),
        (tiny_http::Method::Post, "/api/check") => {
            let mut body = String::new();
            if request
                .as_reader()
                .take(16 * 1024)
                .read_to_string(&mut body)
                .is_err()
            {
                return json_response(400, &json!({"error": "unreadable body"}));
            }
            match serde_json::from_str::<CheckRequest>(&body) {
                Ok(check) => {
                    let (status, body) = check_code(shared, &check);
                    json_response(status, &body)
                }
                Err(_) => json_response(400, &json!({"error": "expected {\"code\": …}"})),
            }
        }
        _ => json_response(404, &json!({"error": "not found"})),
    }
}

fn check_code(shared: &Shared, request: &CheckRequest) -> (u16, Value) {
    let business_type = match request.business_type.as_deref() {
        None | Some("") => shared.business_type,
        Some(code) => match BusinessType::parse(code) {
            Some(b) => b,
            None => return (422, json!({"error": "unknown business type"})),
        },
    };
    let operator = request
        .operator
        .as_deref()
        .filter(|o| !o.is_empty())
        .unwrap_or(&shared.operator);
    let terminal = shared.terminal.read().unwrap_or_else(|e| e.into_inner());
    match terminal.check(
        request.code.trim(),
        operator,
        business_type,
        SystemClock.now(),
    ) {
        Ok(accepted) => {
            let c = accepted.token.claims();
            (
                200,
                json!({
                    "accepted": true,
                    "queued": accepted.seq,
                    "masked_name": c.masked_name.as_str(),
                    "gender_zh": c.gender.label_zh(),
                    "birth_year": c.birth_year,
                    "region": c.region.to_string(),
                    "insurance_zh": c.insurance.label_zh(),
                    "proxy": c.proxy.as_ref().map(|p| json!({
                        "relation_zh": p.relation.label_zh(),
                        "binder": p.binder.to_string(),
                    })),
                    "business_type": business_type.code(),
                    "business_zh": business_type.label_zh(),
                }),
            )
        }
        Err(CheckError::Rejected(rejection)) => (200, rejected(&rejection)),
        // Not recorded means not accepted: say so, in words the cashier can act on.
        Err(CheckError::Guard(e)) => (
            503,
            json!({"accepted": false, "code": "outbox-failed",
                "reason_zh": "无法记录，请重试", "reason_en": "could not record; try again",
                "detail": e.to_string()}),
        ),
    }
}

fn rejected(rejection: &Rejection) -> Value {
    json!({
        "accepted": false,
        "code": rejection.code(),
        "reason_zh": rejection.reason_zh(),
        "reason_en": rejection.reason_en(),
    })
}

fn status(shared: &Shared) -> Value {
    let terminal = shared.terminal.read().unwrap_or_else(|e| e.into_inner());
    let now = SystemClock.now();
    let outbox = terminal.status().ok();
    let bundle = terminal.verifier().bundle();
    json!({
        "institution": terminal.institution(),
        "online": shared.online.load(Ordering::Relaxed),
        "last_contact": shared.last_contact.load(Ordering::Relaxed),
        "bundle": bundle.map(|b| json!({
            "sequence": b.sequence,
            "age_secs": now.as_secs().saturating_sub(b.issued_at.as_secs()),
            "stale": now >= b.expires_at,
        })),
        "queued": outbox.as_ref().map(|s| s.queued),
        "settled": outbox.as_ref().map(|s| s.settled),
        "refused": outbox.as_ref().map(|s| s.refused),
        "default_business_type": shared.business_type.code(),
        "business_types": BusinessType::all()
            .map(|b| json!({"code": b.code(), "zh": b.label_zh(), "en": b.label_en()}))
            .collect::<Vec<_>>(),
    })
}

fn json_response(status: u16, body: &Value) -> Response {
    respond(status, "application/json", body.to_string())
}

fn respond(status: u16, content_type: &str, body: String) -> Response {
    let mut response = tiny_http::Response::from_data(body.into_bytes()).with_status_code(status);
    for (name, value) in [
        ("Content-Type", content_type),
        ("Cache-Control", "no-store"),
        // The page is self-contained: no script, style or image from anywhere else.
        (
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'",
        ),
    ] {
        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(header);
        }
    }
    response
}
