//! `yibao-verify check` and `scan`: one code, against a bundle file or a terminal's outbox.

use std::io::{BufRead, Read};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use yibao_shared::{BusinessType, UnixTime};
use yibao_verifier::{CheckError, Clock, Policy, SystemClock, Terminal, Verifier};

use crate::{Outcome, config, report};

/// How a code is verified: a terminal directory (records to its outbox), or a bundle file
/// and root key (verdict only).
#[derive(Args)]
pub(crate) struct VerifyArgs {
    /// Terminal directory set up by `yibao-verify init`: the code is checked against the
    /// terminal's bundle and replay memory and, if accepted, queued for settlement.
    #[arg(long, env = "YIBAO_TERMINAL", conflicts_with_all = ["bundle", "root_key"])]
    terminal: Option<PathBuf>,
    /// Signed trust bundle file (without a terminal directory).
    #[arg(long, env = "YIBAO_BUNDLE", requires = "root_key")]
    bundle: Option<PathBuf>,
    /// Root public key file pinned on this terminal (without a terminal directory).
    #[arg(long, env = "YIBAO_ROOT_KEY", requires = "bundle")]
    root_key: Option<PathBuf>,
    /// Signed status list file (`GET /v1/status-list`), needed for offline device codes
    /// (离线码) without a terminal directory.
    #[arg(long, requires = "bundle")]
    status_list: Option<PathBuf>,
    /// Cashier or operator id (default: the terminal's).
    #[arg(long)]
    operator: Option<String>,
    /// National business-type code, e.g. 01301 结算, 02121 药店购药 (default: the terminal's).
    #[arg(long)]
    business_type: Option<BusinessType>,
    /// The operator's name (national `operatorName`), kept with the visit.
    #[arg(long)]
    operator_name: Option<String>,
    /// The office (科室) code (`officeId`), kept with the visit.
    #[arg(long)]
    office_id: Option<String>,
    /// The office's name (`officeName`), kept with the visit.
    #[arg(long)]
    office_name: Option<String>,
    /// The reading device's type (`deviceType`), kept with the visit.
    #[arg(long)]
    device_type: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Verify as of this unix time instead of the system clock (replaying a log; with
    /// `--bundle` only: a terminal's outbox and clock mark follow the terminal's real clock).
    #[arg(long, conflicts_with = "terminal")]
    now: Option<u64>,
    /// Clock-skew leeway in seconds.
    #[arg(long, default_value_t = Policy::default().leeway_secs)]
    leeway: u64,
    /// Longest token lifetime accepted, in seconds.
    #[arg(long, default_value_t = Policy::default().max_lifetime_secs)]
    max_lifetime: u64,
    /// Oldest status list (hours since the issuer signed it) that still vouches for offline
    /// device codes (离线码).
    #[arg(long, default_value_t = Policy::default().max_status_age_secs / 3_600)]
    max_status_age_hours: u64,
}

impl VerifyArgs {
    pub(crate) fn policy(&self) -> Policy {
        Policy {
            leeway_secs: self.leeway,
            max_lifetime_secs: self.max_lifetime,
            max_status_age_secs: self.max_status_age_hours.saturating_mul(3_600),
            ..Policy::default()
        }
    }

    pub(crate) fn now(&self) -> UnixTime {
        self.now
            .map_or_else(|| SystemClock.now(), UnixTime::from_secs)
    }
}

#[derive(Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    verify: VerifyArgs,
    /// The code; omit (or give "-") to read one line from standard input.
    code: Option<String>,
}

#[derive(Args)]
pub(crate) struct ScanArgs {
    #[command(flatten)]
    verify: VerifyArgs,
    /// A photo or screenshot of the QR code (PNG or JPEG).
    image: PathBuf,
}

pub(crate) fn run(args: &CheckArgs) -> anyhow::Result<Outcome> {
    let code = match args.code.as_deref() {
        None | Some("-") => read_code_from_stdin()?,
        Some(code) => code.to_owned(),
    };
    verify(&args.verify, &code)
}

pub(crate) fn scan(args: &ScanArgs) -> anyhow::Result<Outcome> {
    let code = decode_qr(&args.image)?;
    verify(&args.verify, &code)
}

fn verify(args: &VerifyArgs, code: &str) -> anyhow::Result<Outcome> {
    let now = args.now();
    let (verdict, seq) = match (&args.terminal, &args.bundle, &args.root_key) {
        (Some(dir), _, _) => {
            let loaded = config::load(dir, args.policy())?;
            let terminal = Terminal::open(&loaded.config)?;
            let operator = args.operator.as_deref().unwrap_or(&loaded.operator);
            let business = args.business_type.unwrap_or(loaded.business_type);
            let context = yibao_shared::VisitContext {
                operator_name: args.operator_name.clone(),
                office_id: args.office_id.clone(),
                office_name: args.office_name.clone(),
                device_type: args.device_type.clone(),
            };
            match terminal.check_with(code, operator, business, context, now) {
                Ok(accepted) => (Ok(accepted.token), Some(accepted.seq)),
                Err(CheckError::Rejected(rejection)) => (Err(rejection), None),
                // A visit settlement would refuse is never recorded: fix the option.
                Err(CheckError::InvalidVisit(invalid)) => {
                    bail!("{invalid} (settlement would refuse this visit; it is NOT accepted)");
                }
                // Not recorded means not accepted: the cashier must not be told otherwise.
                Err(CheckError::Guard(e)) => {
                    return Err(e).context("the code could not be recorded; it is NOT accepted");
                }
            }
        }
        (None, Some(bundle), Some(root_key)) => {
            let root = config::read_root_key(root_key)?;
            let bundle = std::fs::read_to_string(bundle)
                .with_context(|| format!("reading trust bundle {}", bundle.display()))?;
            // A status list is binary (`GET /v1/status-list` saved as it came).
            let status = args
                .status_list
                .as_ref()
                .map(|path| {
                    std::fs::read(path)
                        .with_context(|| format!("reading status list {}", path.display()))
                })
                .transpose()?;
            let mut verifier = Verifier::new(root, args.policy());
            // A bundle or status list that does not verify means no code can be accepted:
            // that is a verdict (exit 1) with its own reason, not a usage error.
            let verdict = verifier.install_bundle(&bundle, now).and_then(|_| {
                if let Some(status) = &status {
                    verifier.install_status(status, now)?;
                }
                verifier.verify_text(code, now)
            });
            (verdict, None)
        }
        _ => bail!("give --terminal DIR (or YIBAO_TERMINAL), or --bundle FILE and --root-key FILE"),
    };
    let accepted = verdict.is_ok();
    if args.json {
        println!("{}", report::json(&verdict, seq));
    } else {
        print!("{}", report::text(&verdict, seq));
    }
    Ok(if accepted {
        Outcome::Accepted
    } else {
        Outcome::Rejected
    })
}

/// The text of the first yibao-looking QR code in the image (any QR code if none looks
/// like ours, so the verifier can say why it is refused).
fn decode_qr(path: &PathBuf) -> anyhow::Result<String> {
    let image = image::ImageReader::open(path)
        .with_context(|| format!("opening {}", path.display()))?
        .with_guessed_format()
        .with_context(|| format!("reading {}", path.display()))?
        .decode()
        .with_context(|| format!("decoding image {}", path.display()))?
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let mut texts: Vec<String> = prepared
        .detect_grids()
        .into_iter()
        .filter_map(|grid| grid.decode().ok().map(|(_, text)| text))
        .collect();
    if let Some(ours) = texts
        .iter()
        .position(|t| t.starts_with(yibao_shared::codec::PREFIX))
    {
        return Ok(texts.swap_remove(ours));
    }
    texts
        .into_iter()
        .next()
        .with_context(|| format!("no readable QR code in {}", path.display()))
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
