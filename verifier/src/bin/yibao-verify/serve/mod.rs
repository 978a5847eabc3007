//! `yibao-verify serve`: the cashier page on loopback. A keyboard-wedge scanner types into
//! the page; the page posts the code here; the verdict comes from the terminal's outbox
//! exactly as `check` gives it. A background thread syncs the bundle and forwards the queue.
//!
//! The page is the terminal's main screen, so no single connection may stall it: requests
//! are served concurrently, each has a deadline (a client that announces a body and stalls
//! gets 408, the others carry on), and bodies are bounded.

mod api;
mod guard;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use yibao_shared::BusinessType;
use yibao_verifier::{Clock, Policy, SyncError, SystemClock, Terminal};

use crate::{Outcome, config};

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
    /// A browser-based HIS allowed to call the API from its own page, as an origin
    /// (`https://his.hospital.example`); repeatable. Every other site is refused.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allow_origins: Vec<String>,
}

/// What the page's handlers and the background thread share.
pub(crate) struct Shared {
    pub(crate) terminal: Terminal,
    pub(crate) operator: String,
    pub(crate) business_type: BusinessType,
    /// Whether the last contact with the issuer succeeded.
    pub(crate) online: AtomicBool,
    /// When the issuer last answered (unix seconds, 0 never).
    pub(crate) last_contact: AtomicU64,
    /// The page's token for state-changing calls, new at each start (`guard.rs`).
    pub(crate) page_token: String,
    /// Origins of browser-based HIS pages allowed to call the API (`--allow-origin`).
    pub(crate) allowed_origins: Vec<String>,
}

pub(crate) fn serve(args: &ServeArgs) -> anyhow::Result<Outcome> {
    let loaded = config::load(&args.terminal, Policy::default())?;
    let terminal = Terminal::open(&loaded.config)?;
    let shared = Arc::new(Shared {
        terminal,
        operator: loaded.operator,
        business_type: loaded.business_type,
        online: AtomicBool::new(false),
        last_contact: AtomicU64::new(0),
        page_token: guard::new_token()?,
        allowed_origins: guard::origins(&args.allow_origins)?,
    });
    // Two workers: the handlers only hand work to the blocking pool (outbox fsync).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the page's runtime")?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(args.listen))
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr().context("listening address")?;
    println!("cashier page on http://{addr}/");

    let background = Arc::clone(&shared);
    let every = Duration::from_secs(args.sync_every.max(1));
    std::thread::spawn(move || keep_in_touch(&background, every));

    runtime
        .block_on(async move { axum::serve(listener, api::router(shared)).await })
        .context("serving the cashier page")?;
    Ok(Outcome::Accepted)
}

/// Syncs the bundle (which also says whether the issuer is reachable) and forwards the
/// queue, forever, every `every`.
fn keep_in_touch(shared: &Shared, every: Duration) {
    loop {
        let started = Instant::now();
        // The terminal holds no lock across the network: checks go on during a slow outage.
        let terminal = &shared.terminal;
        // A refused document keeps the old one; the issuer was reachable all the same.
        let mut online = !matches!(terminal.sync(SystemClock.now()), Err(SyncError::Client(_)));
        if online {
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
