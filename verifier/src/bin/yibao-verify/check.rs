//! `yibao-verify check`.

use std::io::{BufRead, Read};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use yibao_shared::key_file::{KeyRole, PublicKeyFile};
use yibao_shared::{PublicKey, UnixTime};
use yibao_verifier::{Clock, Policy, SystemClock, Verifier};

use crate::Outcome;
use crate::report;

#[derive(Args)]
pub(crate) struct CheckArgs {
    /// Signed trust bundle file (from the issuer or `yibao-keys bundle sign`).
    #[arg(long, env = "YIBAO_BUNDLE")]
    bundle: PathBuf,
    /// Root public key file pinned on this terminal.
    #[arg(long, env = "YIBAO_ROOT_KEY")]
    root_key: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Verify as of this unix time instead of the system clock (tests, replaying a log).
    #[arg(long)]
    now: Option<u64>,
    /// Clock-skew leeway in seconds.
    #[arg(long, default_value_t = Policy::default().leeway_secs)]
    leeway: u64,
    /// Longest token lifetime accepted, in seconds.
    #[arg(long, default_value_t = Policy::default().max_lifetime_secs)]
    max_lifetime: u64,
    /// The code; omit (or give "-") to read one line from standard input.
    code: Option<String>,
}

pub(crate) fn run(args: &CheckArgs) -> anyhow::Result<Outcome> {
    let root = read_root_key(&args.root_key)?;
    let bundle = std::fs::read_to_string(&args.bundle)
        .with_context(|| format!("reading trust bundle {}", args.bundle.display()))?;
    let code = match args.code.as_deref() {
        None | Some("-") => read_code_from_stdin()?,
        Some(code) => code.to_owned(),
    };
    let now = args
        .now
        .map_or_else(|| SystemClock.now(), UnixTime::from_secs);
    let policy = Policy {
        leeway_secs: args.leeway,
        max_lifetime_secs: args.max_lifetime,
    };

    let mut verifier = Verifier::new(root, policy);
    // A bundle that does not verify or is stale means no code can be accepted: that is a
    // verdict (exit 1) with its own reason, not a usage error.
    let verdict = verifier
        .install_bundle(&bundle, now)
        .and_then(|_| verifier.verify_text(&code, now));
    let accepted = verdict.is_ok();
    if args.json {
        println!("{}", report::json(&verdict));
    } else {
        print!("{}", report::text(&verdict));
    }
    Ok(if accepted {
        Outcome::Accepted
    } else {
        Outcome::Rejected
    })
}

fn read_root_key(path: &PathBuf) -> anyhow::Result<PublicKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading root key {}", path.display()))?;
    let file = PublicKeyFile::parse(&text, KeyRole::Root)
        .with_context(|| format!("root key {}", path.display()))?;
    Ok(file.public_key)
}

fn read_code_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    // One line, bounded: a scanner types the code and Enter.
    std::io::stdin()
        .lock()
        .take(4096)
        .read_line(&mut line)
        .context("reading the code from standard input")?;
    let code = line.trim();
    if code.is_empty() {
        bail!("no code given: pass it as an argument or type/scan it on standard input");
    }
    Ok(code.to_owned())
}
