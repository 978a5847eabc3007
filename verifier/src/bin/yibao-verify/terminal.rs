//! `yibao-verify init | sync | status | flush`: the terminal's life beyond one code.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde_json::json;
use yibao_shared::BusinessType;
use yibao_verifier::outbox::{CLOCK_TOLERANCE_SECS, OutboxStatus};
use yibao_verifier::{
    BundleUpdate, Clock, OutboxCreated, Policy, SyncError, SystemClock, Terminal,
};

use crate::report::rfc3339;
use crate::{Outcome, config};

#[derive(Args)]
pub(crate) struct Dir {
    /// Terminal directory (configuration, pinned root key, outbox).
    #[arg(long, env = "YIBAO_TERMINAL")]
    pub(crate) terminal: PathBuf,
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
    /// Start a new, empty outbox even though one is there (damaged, emptied, or restored
    /// wrongly): the old file is kept aside as `outbox.redb.lost-<time>`, and the visits
    /// still queued in it are NOT forwarded from this terminal.
    #[arg(long)]
    reset_outbox: bool,
}

pub(crate) fn init(args: &InitArgs) -> anyhow::Result<Outcome> {
    let root_key = std::fs::read_to_string(&args.root_key)
        .with_context(|| format!("reading root key {}", args.root_key.display()))?;
    let settings = yibao_verifier::terminal_dir::SetUp {
        issuer_url: &args.issuer,
        institution: &args.institution,
        credential: &args.credential,
        root_key: &root_key,
        operator: &args.operator,
        business_type: args.business_type,
        reset_outbox: args.reset_outbox,
    };
    let created =
        yibao_verifier::terminal_dir::set_up(&args.dir.terminal, &settings, SystemClock.now())?;
    println!(
        "terminal configured: {}",
        args.dir.terminal.join(config::FILE).display()
    );
    match created {
        OutboxCreated::New => println!("outbox created"),
        OutboxCreated::Kept => println!("outbox kept (it holds this terminal's queue)"),
        OutboxCreated::Reset { aside: Some(aside) } => println!(
            "new, empty outbox; the old one is kept at {} and its queue is NOT forwarded",
            aside.display()
        ),
        OutboxCreated::Reset { aside: None } => println!("new, empty outbox"),
    }
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
    let terminal = args.dir.open()?;
    match terminal.sync(SystemClock.now()) {
        Ok((bundle, status)) => {
            match bundle {
                BundleUpdate::Installed { sequence } => {
                    println!("trust bundle {sequence} installed");
                }
                BundleUpdate::Unchanged => println!("trust bundle unchanged"),
            }
            println!(
                "status list {}: {} new revocations, {} revoked device certificates held",
                status.sequence, status.added, status.held
            );
            Ok(Outcome::Accepted)
        }
        // A bundle the root key does not vouch for, or an older one: refused, old one kept.
        Err(SyncError::Refused(rejection)) => {
            println!(
                "✘ 信任列表或吊销列表被拒绝 trust bundle or status list refused: {} / {} [{}]\n  detail: {rejection}",
                rejection.reason_zh(),
                rejection.reason_en(),
                rejection.code()
            );
            Ok(Outcome::Rejected)
        }
        Err(e) => Err(e).context("syncing the trust bundle and status list"),
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
    let verifier = terminal.verifier();
    let bundle = verifier.bundle();
    let revocations = verifier.status();
    let max_status_age = verifier.policy().max_status_age_secs;
    let status_stale =
        |issued_at: yibao_shared::UnixTime| now >= issued_at.saturating_add(max_status_age);
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
                "status_list": revocations.map(|s| json!({
                    "sequence": s.sequence(),
                    "issued_at": s.issued_at(),
                    "age_secs": now.as_secs().saturating_sub(s.issued_at().as_secs()),
                    "revoked_held": s.len(),
                    "stale": status_stale(s.issued_at()),
                })),
                "queued": status.queued,
                "settled": status.settled,
                "refused": status.refused,
                "oldest_queued": status.oldest_queued,
                "last_forward": status.last_forward,
                "quarantined": status.quarantined,
                "free_bytes": status.free_bytes,
                "low_on_space": status.low_on_space(),
                "clock_high_water": status.clock_high_water,
                "clock_behind": status.clock_behind(now),
                "bundle_restore_problem": terminal.restore_problem().map(|r| json!({
                    "code": r.code(),
                    "message": r.to_string(),
                })),
                "attention": attention(&status, now),
            })
        );
        return Ok(healthy(&status, now));
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
        None => match terminal.restore_problem() {
            Some(problem) => println!(
                "信任列表 bundle     the kept bundle could not be restored ({problem}): run \
                 `yibao-verify sync`"
            ),
            None => println!("信任列表 bundle     none: run `yibao-verify sync`"),
        },
    }
    match revocations {
        Some(s) => println!(
            "吊销列表 status     #{} issued {} ({} ago), {} revoked device certificates{}",
            s.sequence(),
            rfc3339(s.issued_at().as_secs()),
            humantime::format_duration(Duration::from_secs(
                now.as_secs().saturating_sub(s.issued_at().as_secs())
            )),
            s.len(),
            if status_stale(s.issued_at()) {
                "  STALE: offline codes (离线码) refused until sync"
            } else {
                ""
            }
        ),
        None => println!(
            "吊销列表 status     none: offline codes (离线码) refused until `yibao-verify sync`"
        ),
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
    match &status.last_forward {
        Some(f) => println!(
            "上次上传 last flush {}: {} answered{}",
            rfc3339(f.at.as_secs()),
            f.answered,
            f.error
                .as_ref()
                .map(|e| format!(", stopped: {e}"))
                .unwrap_or_default()
        ),
        None => println!("上次上传 last flush never"),
    }
    if let Some(free) = status.free_bytes {
        println!("磁盘剩余 free disk  {} MiB", free / (1024 * 1024));
    }
    for problem in attention(&status, now) {
        println!("⚠ {problem}");
    }
    Ok(healthy(&status, now))
}

/// What an operator must look at; `status` exits 1 when there is anything.
fn attention(status: &OutboxStatus, now: yibao_shared::UnixTime) -> Vec<String> {
    let mut out = Vec::new();
    if status.quarantined > 0 {
        out.push(format!(
            "隔离记录 quarantined {}: unreadable queued records set aside in the outbox \
             (the others are forwarded); keep the outbox file for the operator",
            status.quarantined
        ));
    }
    if status.low_on_space() {
        out.push(format!(
            "磁盘空间不足 low disk space: {} MiB free (warning below {} MiB; new visits are \
             refused below {} MiB); run flush and free space",
            status.free_bytes.unwrap_or(0) / (1024 * 1024),
            yibao_verifier::outbox::space::LOW_SPACE_BYTES / (1024 * 1024),
            yibao_verifier::outbox::space::MIN_FREE_TO_ACCEPT_BYTES / (1024 * 1024),
        ));
    }
    if status.clock_behind(now) {
        out.push(format!(
            "终端时间被调回 clock set back: now {} is more than {CLOCK_TOLERANCE_SECS} s behind \
             the latest accepted time {}; codes are refused until the clock is right",
            rfc3339(now.as_secs()),
            rfc3339(status.clock_high_water.map_or(0, |t| t.as_secs())),
        ));
    }
    out
}

fn healthy(status: &OutboxStatus, now: yibao_shared::UnixTime) -> Outcome {
    if attention(status, now).is_empty() {
        Outcome::Accepted
    } else {
        Outcome::Rejected
    }
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
