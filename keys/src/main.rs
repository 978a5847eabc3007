//! `yibao-keys`: the operator's key tool. See `yibao-keys --help`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use yibao_keys::{
    KeyDir, NewIssuerKey, mint_dev_token, random_bytes, read_public_key, read_secret_key,
};
use yibao_shared::key_file::KeyRole;
use yibao_shared::{
    Claims, FamilyProxy, Gender, InsuranceType, KeyId, KeyStatus, MaskedName, RegionCode, Relation,
    TrustBundle, UnixTime, VoucherId,
};

#[derive(Parser)]
#[command(
    name = "yibao-keys",
    version,
    about = "yibao root key, issuer keys and trust bundles"
)]
struct Cli {
    /// Key directory.
    #[arg(long, global = true, env = "YIBAO_KEYS_DIR", default_value = "keys")]
    dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The root key, which signs trust bundles. Keep its secret file offline.
    #[command(subcommand)]
    Root(RootCommand),
    /// Issuer keys, which sign tokens.
    #[command(subcommand)]
    Issuer(IssuerCommand),
    /// Trust bundles for terminals.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// DEVELOPMENT ONLY: sign a code directly with an issuer key, bypassing the registry,
    /// activation and credentials. For tests and demos.
    DevMint(DevMint),
}

#[derive(Subcommand)]
enum RootCommand {
    /// Create the root key pair (refuses to overwrite).
    Init,
}

#[derive(Subcommand)]
enum IssuerCommand {
    /// Create an issuer key pair and add it to the keyring as active.
    New {
        /// Key id (default: one above the highest).
        #[arg(long)]
        key_id: Option<u16>,
        /// Region prefixes the key may sign for, comma-separated (2, 4 or 6 digits); none for
        /// every region.
        #[arg(long, value_delimiter = ',')]
        regions: Vec<String>,
        /// Start of validity: unix seconds, RFC 3339, or "now".
        #[arg(long, default_value = "now")]
        not_before: String,
        /// Length of validity, e.g. "90days".
        #[arg(long, default_value = "90days")]
        valid_for: String,
    },
    /// List issuer keys.
    List,
    /// Stop signing with a key; its tokens stay valid inside its validity window.
    Retire {
        /// Key id.
        key_id: u16,
    },
    /// Revoke a key: terminals refuse its tokens as soon as they hold the next bundle.
    Revoke {
        /// Key id.
        key_id: u16,
    },
}

#[derive(Subcommand)]
enum BundleCommand {
    /// Sign the next trust bundle from the keyring; writes DIR/bundle.json.
    Sign {
        /// How long terminals may use it before they must sync again.
        #[arg(long, default_value = "7days")]
        valid_for: String,
        /// Also write the bundle here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Issue time: unix seconds, RFC 3339, or "now".
        #[arg(long, default_value = "now")]
        now: String,
    },
    /// Verify a bundle against a root public key and print it.
    Show {
        /// Root public key file.
        #[arg(long)]
        root_key: PathBuf,
        /// Bundle file.
        bundle: PathBuf,
        /// Judge staleness at this time: unix seconds, RFC 3339, or "now".
        #[arg(long, default_value = "now")]
        now: String,
    },
}

#[derive(Args)]
struct DevMint {
    /// Issuer key id (its secret file must be in the key directory).
    #[arg(long)]
    key_id: u16,
    /// Voucher id, 16 hex digits (default: random).
    #[arg(long)]
    voucher: Option<String>,
    /// Synthetic full name; only its mask goes into the code.
    #[arg(long, default_value = "测试甲")]
    name: String,
    /// Insured region (6 digits).
    #[arg(long, default_value = "110105")]
    region: String,
    #[arg(long, value_enum, default_value_t = InsuranceArg::Resident)]
    insurance: InsuranceArg,
    #[arg(long, value_enum, default_value_t = GenderArg::Female)]
    gender: GenderArg,
    #[arg(long, default_value_t = 1950)]
    birth_year: u16,
    /// Binder's voucher id (16 hex digits) for a family-proxy code.
    #[arg(long, requires = "relation")]
    proxy_binder: Option<String>,
    /// The owner's relation to the binder.
    #[arg(long, value_enum, requires = "proxy_binder")]
    relation: Option<RelationArg>,
    /// Lifetime in seconds (1-255).
    #[arg(long, default_value_t = 60)]
    lifetime: u8,
    /// Issue time: unix seconds, RFC 3339, or "now".
    #[arg(long, default_value = "now")]
    now: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum InsuranceArg {
    Employee,
    Resident,
}

#[derive(Clone, Copy, ValueEnum)]
enum GenderArg {
    Male,
    Female,
    Unknown,
}

#[derive(Clone, Copy, ValueEnum)]
enum RelationArg {
    Spouse,
    Parent,
    Child,
    OtherClose,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("yibao-keys: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let keys = KeyDir::new(&cli.dir);
    match cli.command {
        Command::Root(RootCommand::Init) => {
            let public = keys.create_root().context("creating the root key")?;
            println!("root key created in {}", cli.dir.display());
            println!(
                "  public key: {} (pin this on terminals)",
                public.to_base64()
            );
            println!("  {}  <- keep offline", keys.root_secret_path().display());
            println!("  {}", keys.root_public_path().display());
        }
        Command::Issuer(cmd) => issuer(&keys, cmd)?,
        Command::Bundle(BundleCommand::Sign {
            valid_for,
            out,
            now,
        }) => {
            let valid = parse_duration(&valid_for)?;
            let (bundle, document) = keys
                .sign_bundle(parse_time(&now)?, valid)
                .context("signing the bundle")?;
            if let Some(out) = out {
                std::fs::write(&out, &document)
                    .with_context(|| format!("writing {}", out.display()))?;
            }
            println!(
                "signed bundle sequence {} with {} keys, expires {}: {}",
                bundle.sequence,
                bundle.keys.len(),
                show_time(bundle.expires_at),
                keys.bundle_path().display()
            );
        }
        Command::Bundle(BundleCommand::Show {
            root_key,
            bundle,
            now,
        }) => {
            let root = read_public_key(&root_key, KeyRole::Root)?;
            let text = std::fs::read_to_string(&bundle)
                .with_context(|| format!("reading {}", bundle.display()))?;
            let opened = TrustBundle::open(&text, &root)
                .with_context(|| format!("{} does not verify", bundle.display()))?;
            print_bundle(&opened, parse_time(&now)?);
        }
        Command::DevMint(args) => dev_mint(&keys, args)?,
    }
    Ok(())
}

fn issuer(keys: &KeyDir, cmd: IssuerCommand) -> anyhow::Result<()> {
    match cmd {
        IssuerCommand::New {
            key_id,
            regions,
            not_before,
            valid_for,
        } => {
            let not_before = parse_time(&not_before)?;
            let key = keys.create_issuer_key(&NewIssuerKey {
                key_id: key_id.map(KeyId),
                regions,
                not_before,
                not_after: not_before.saturating_add(parse_duration(&valid_for)?),
            })?;
            println!(
                "issuer key {} created ({}), valid {} .. {}",
                key.key_id,
                scope(&key.regions),
                show_time(key.not_before),
                show_time(key.not_after)
            );
            println!(
                "  secret: {}",
                keys.issuer_secret_path(key.key_id).display()
            );
            println!("  sign a new bundle so terminals learn it: yibao-keys bundle sign");
        }
        IssuerCommand::List => {
            for key in keys.issuer_keys()? {
                println!(
                    "{:>5}  {:<8} {:<16} {} .. {}",
                    key.key_id,
                    status(key.status),
                    scope(&key.regions),
                    show_time(key.not_before),
                    show_time(key.not_after)
                );
            }
        }
        IssuerCommand::Retire { key_id } => {
            keys.set_status(KeyId(key_id), KeyStatus::Retired)?;
            println!("key {key_id} retired; sign a new bundle to publish it");
        }
        IssuerCommand::Revoke { key_id } => {
            keys.set_status(KeyId(key_id), KeyStatus::Revoked)?;
            println!("key {key_id} revoked; sign a new bundle now to publish it");
        }
    }
    Ok(())
}

fn dev_mint(keys: &KeyDir, args: DevMint) -> anyhow::Result<()> {
    eprintln!("yibao-keys dev-mint: DEVELOPMENT ONLY, no registry or activation checks");
    let key_id = KeyId(args.key_id);
    let secret = read_secret_key(&keys.issuer_secret_path(key_id), KeyRole::Issuer)?;
    let voucher_id = match &args.voucher {
        Some(hex) => VoucherId::parse(hex).context("--voucher must be 16 hex digits")?,
        None => VoucherId(random_bytes()?),
    };
    let proxy = match (&args.proxy_binder, args.relation) {
        (Some(binder), Some(relation)) => Some(FamilyProxy {
            binder: VoucherId::parse(binder).context("--proxy-binder must be 16 hex digits")?,
            relation: match relation {
                RelationArg::Spouse => Relation::Spouse,
                RelationArg::Parent => Relation::Parent,
                RelationArg::Child => Relation::Child,
                RelationArg::OtherClose => Relation::OtherClose,
            },
        }),
        _ => None,
    };
    let claims = Claims {
        voucher_id,
        region: RegionCode::parse(&args.region).context("--region must be 6 digits")?,
        insurance: match args.insurance {
            InsuranceArg::Employee => InsuranceType::Employee,
            InsuranceArg::Resident => InsuranceType::Resident,
        },
        masked_name: MaskedName::mask(&args.name).context("--name cannot be masked")?,
        gender: match args.gender {
            GenderArg::Male => Gender::Male,
            GenderArg::Female => Gender::Female,
            GenderArg::Unknown => Gender::Unknown,
        },
        birth_year: args.birth_year,
        proxy,
    };
    if args.lifetime == 0 {
        bail!("--lifetime must be 1-255 seconds");
    }
    let code = mint_dev_token(
        key_id,
        &secret.secret,
        claims,
        parse_time(&args.now)?,
        args.lifetime,
    )?;
    println!("{code}");
    Ok(())
}

fn print_bundle(bundle: &TrustBundle, now: UnixTime) {
    let state = if now >= bundle.expires_at {
        "STALE (expired)"
    } else {
        "valid"
    };
    println!("trust bundle: signature verifies against the root key");
    println!("  sequence   {}", bundle.sequence);
    println!("  issued at  {}", show_time(bundle.issued_at));
    println!("  expires at {} ({state})", show_time(bundle.expires_at));
    println!("  keys:");
    for key in &bundle.keys {
        println!(
            "  {:>5}  {:<8} {:<16} {} .. {}  {}",
            key.key_id,
            status(key.status),
            scope(&key.regions),
            show_time(key.not_before),
            show_time(key.not_after),
            key.public_key.to_base64()
        );
    }
}

fn status(status: KeyStatus) -> &'static str {
    match status {
        KeyStatus::Active => "active",
        KeyStatus::Retired => "retired",
        KeyStatus::Revoked => "REVOKED",
    }
}

fn scope(regions: &[String]) -> String {
    if regions.is_empty() {
        "all regions".to_owned()
    } else {
        regions.join(",")
    }
}

fn show_time(t: UnixTime) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(t.as_secs())).to_string()
}

/// Unix seconds, RFC 3339, or "now".
fn parse_time(text: &str) -> anyhow::Result<UnixTime> {
    let at = if text == "now" {
        SystemTime::now()
    } else if let Ok(secs) = text.parse::<u64>() {
        return Ok(UnixTime::from_secs(secs));
    } else {
        humantime::parse_rfc3339_weak(text)
            .with_context(|| format!("{text:?} is not unix seconds, RFC 3339 or \"now\""))?
    };
    let secs = at
        .duration_since(UNIX_EPOCH)
        .context("time before 1970")?
        .as_secs();
    Ok(UnixTime::from_secs(secs))
}

fn parse_duration(text: &str) -> anyhow::Result<u64> {
    let d = humantime::parse_duration(text)
        .with_context(|| format!("{text:?} is not a duration such as 7days or 12h"))?;
    Ok(d.as_secs())
}
