//! `yibao-verify init | sync | status | flush`: the terminal's life beyond one code.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde_json::json;
use yibao_shared::BusinessType;
use yibao_verifier::{BundleUpdate, Clock, Policy, SyncError, SystemClock, Terminal};

use crate::report::rfc3339;
use crate::{Outcome, config};

#[derive(Args)]
pub(crate) struct Dir {
    /// Terminal directory (configuration, pinned root key, outbox).
    #[arg(long, env = "YIBAO_TERMINAL")]
    terminal: PathBuf,
}

impl Dir {
    fn open(&self) -> anyhow::Result<Terminal> {
        let loaded = config::load(&self.terminal, Policy::default())?;
        Ok(Terminal::open(&loaded.config)?)
    }
}

#[derive(Args)]
pub(crate) struct InitArgs {
    #[command(flatten)]
    dir: Dir,
    /// The issuer's base URL.
    #[arg(long)]
    issuer: String,
    /// The institution this terminal belongs to.
    #[arg(long)]
    institution: String,
    /// The terminal credential from the operator (`ybt_…`); prefer the environment variable
    /// so it stays out of the shell history.
    #[arg(long, env = "YIBAO_TERMINAL_CREDENTIAL", hide_env_values = true)]
    credential: String,
    /// The operator's root public key file, pinned from now on.
    #[arg(long)]
    root_key: PathBuf,
    /// Default cashier or operator id.
    #[arg(long, default_value = "cashier")]
    operator: String,
    /// Default business type.
    #[arg(long, default_value = "02121")]
    business_type: BusinessType,
}

pub(crate) fn init(args: &InitArgs) -> anyhow::Result<Outcome> {
    let file = config::ConfigFile {
        issuer_url: args.issuer.clone(),
        institution: args.institution.clone(),
        credential: args.credential.clone(),
        operator: args.operator.clone(),
        business_type: args.business_type,
        timeout_secs: 10,
    };
    let path = config::write(&args.dir.terminal, &file, &args.root_key)?;
    println!("terminal configured: {}", path.display());
    println!(
        "next: yibao-verify sync --terminal {}",
        args.dir.terminal.display()
    );
    Ok(Outcome::Accepted)
}

#[derive(Args)]
pub(crate) struct SyncArgs {
    #[command(flatten)]
    dir: Dir,
}

pub(crate) fn sync(args: &SyncArgs) -> anyhow::Result<Outcome> {
    let mut terminal = args.dir.open()?;
    match terminal.sync(SystemClock.now()) {
        Ok(BundleUpdate::Installed { sequence }) => {
            println!("trust bundle {sequence} installed");
            Ok(Outcome::Accepted)
        }
        Ok(BundleUpdate::Unchanged) => {
            println!("trust bundle unchanged");
            Ok(Outcome::Accepted)
        }
        // A bundle the root key does not vouch for, or an older one: refused, old one kept.
        Err(SyncError::Refused(rejection)) => {
            println!(
                "✘ 信任列表被拒绝 trust bundle refused: {} / {} [{}]\n  detail: {rejection}",
                rejection.reason_zh(),
                rejection.reason_en(),
                rejection.code()
            );
            Ok(Outcome::Rejected)
        }
        Err(e) => Err(e).context("syncing the trust bundle"),
    }
}

#[derive(Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    dir: Dir,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn status(args: &StatusArgs) -> anyhow::Result<Outcome> {
    let terminal = args.dir.open()?;
    let now = SystemClock.now();
    let status = terminal.status()?;
    let bundle = terminal.verifier().bundle();
    if args.json {
        println!(
            "{}",
            json!({
                "institution": terminal.institution(),
                "bundle": bundle.as_ref().map(|b| json!({
                    "sequence": b.sequence,
                    "issued_at": b.issued_at,
                    "expires_at": b.expires_at,
                    "age_secs": now.as_secs().saturating_sub(b.issued_at.as_secs()),
                    "stale": now >= b.expires_at,
                })),
                "queued": status.queued,
                "settled": status.settled,
                "refused": status.refused,
                "oldest_queued": status.oldest_queued,
                "last_forward": status.last_forward,
            })
        );
        return Ok(Outcome::Accepted);
    }
    println!("机构 institution   {}", terminal.institution());
    match bundle {
        Some(b) => println!(
            "信任列表 bundle     #{} issued {} ({} ago), expires {}{}",
            b.sequence,
            rfc3339(b.issued_at.as_secs()),
            humantime::format_duration(Duration::from_secs(
                now.as_secs().saturating_sub(b.issued_at.as_secs())
            )),
            rfc3339(b.expires_at.as_secs()),
            if now >= b.expires_at {
                "  STALE: run sync"
            } else {
                ""
            }
        ),
        None => println!("信任列表 bundle     none: run `yibao-verify sync`"),
    }
    println!(
        "待上传 queued       {}{}",
        status.queued,
        status
            .oldest_queued
            .map(|t| format!(" (oldest verified {})", rfc3339(t.as_secs())))
            .unwrap_or_default()
    );
    println!("已结算 settled      {}", status.settled);
    println!("被拒绝 refused      {}", status.refused);
    match status.last_forward {
        Some(f) => println!(
            "上次上传 last flush {}: {} answered{}",
            rfc3339(f.at.as_secs()),
            f.answered,
            f.error
                .map(|e| format!(", stopped: {e}"))
                .unwrap_or_default()
        ),
        None => println!("上次上传 last flush never"),
    }
    Ok(Outcome::Accepted)
}

#[derive(Args)]
pub(crate) struct FlushArgs {
    #[command(flatten)]
    dir: Dir,
    /// Give up retrying after this many seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Presentations per request.
    #[arg(long, default_value_t = 100)]
    batch: usize,
}

pub(crate) fn flush(args: &FlushArgs) -> anyhow::Result<Outcome> {
    let terminal = args.dir.open()?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let report = terminal
        .flush(args.batch, deadline, || SystemClock.now())
        .context("handing presentations to settlement (they stay queued)")?;
    println!(
        "answered {}, still queued {}, retries {}",
        report.answered, report.remaining, report.retries
    );
    Ok(Outcome::Accepted)
}
