//! `yibao-issuer admin …`: the operator's command line. It talks to a running issuer's
//! admin API (never to the store), prints tables for people and `--json` for scripts, and
//! exits 0 when done, 1 when the issuer refused (its `{code, message}` on stderr), 2 for a
//! usage error or an issuer it could not reach.

mod client;
mod import;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use yibao_issuer::domain::registry::Format;

use self::client::{AdminClient, CliError};
use self::output::{print_object, print_rows};

/// Where the issuer is and how to sign in.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The issuer's base URL.
    #[arg(
        long,
        env = "YIBAO_ADMIN_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    url: String,
    /// The admin token (default: `<data-dir>/admin.token`).
    #[arg(long, env = "YIBAO_ADMIN_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// The issuer's data directory, where its admin token is.
    #[arg(long, env = "YIBAO__DATA_DIR", default_value = "data", global = true)]
    data_dir: PathBuf,
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// Channels (apps that activate vouchers).
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Designated institutions (定点医药机构).
    #[command(subcommand)]
    Institution(InstitutionCommand),
    /// Terminals of institutions.
    #[command(subcommand)]
    Terminal(TerminalCommand),
    /// Vouchers.
    #[command(subcommand)]
    Voucher(VoucherCommand),
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The service's state: store and cluster, key and bundle ages, status-list sequence.
    Status,
}

#[derive(Debug, Subcommand)]
enum ChannelCommand {
    /// Register a channel (or replace one); its API key is shown once.
    Add {
        /// Short id (`[a-z0-9-]`, up to 32).
        id: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// A region prefix it may serve (2, 4 or 6 digits); repeat for several; none for all.
        #[arg(long = "region")]
        regions: Vec<String>,
    },
    /// Every channel.
    List,
    /// A new API key (shown once); the old one stops at once; enables a disabled channel.
    Rekey {
        /// Channel id.
        id: String,
    },
    /// Stop the channel's key from signing in.
    Disable {
        /// Channel id.
        id: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    Hospital,
    Pharmacy,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Hospital => "hospital",
            Self::Pharmacy => "pharmacy",
        }
    }
}

#[derive(Debug, Subcommand)]
enum InstitutionCommand {
    /// Register or update one institution.
    Add {
        /// National code (letters and digits, up to 32).
        code: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// Hospital or pharmacy.
        #[arg(long, value_enum)]
        kind: Kind,
        /// 6-digit region.
        #[arg(long)]
        region: String,
        /// Registered but not accepting the voucher.
        #[arg(long)]
        not_accepting: bool,
    },
    /// Registered institutions, by code.
    List {
        /// Region prefix.
        #[arg(long)]
        region: Option<String>,
        /// Hospital or pharmacy.
        #[arg(long, value_enum)]
        kind: Option<Kind>,
        /// Codes after this one.
        #[arg(long)]
        after: Option<String>,
        /// At most this many (1 to 1000).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Import a list (CSV `code,name,kind,region,accepts_voucher` or JSON Lines).
    Import {
        /// The file.
        file: PathBuf,
        /// Format (default: from the extension).
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

#[derive(Debug, Subcommand)]
enum TerminalCommand {
    /// Register a terminal (or re-key one); its credential is shown once.
    Add {
        /// Its institution's code.
        institution: String,
        /// Terminal id (`[a-z0-9-]`, up to 32).
        id: String,
    },
    /// The terminals of an institution.
    List {
        /// The institution's code.
        institution: String,
    },
    /// Stop the terminal's credential from signing in.
    Revoke {
        /// Terminal id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum VoucherCommand {
    /// A voucher's state (never the person's).
    Show {
        /// Voucher id.
        id: String,
    },
    /// No more tokens; its offline codes stop at terminals' next sync.
    Suspend {
        /// Voucher id.
        id: String,
    },
    /// Reinstate a suspended voucher.
    Reinstate {
        /// Voucher id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Re-read the key directory: the newest active key signs from now on.
    Reload,
}

/// Runs one admin command.
pub async fn run(args: AdminArgs) -> ExitCode {
    match execute(&args).await {
        Ok(code) => code,
        Err(e) => {
            if args.json
                && let CliError::Refused { code, message } = &e
            {
                println!("{:#}", json!({"code": code, "message": message}));
            }
            eprintln!("yibao-issuer admin: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// `text` as one path segment or query value (ids and codes never need escaping, but
/// whatever an operator types must not change the request's path).
fn segment(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

async fn execute(args: &AdminArgs) -> Result<ExitCode, CliError> {
    let client = AdminClient::new(&args.url, args.token.as_deref(), &args.data_dir)?;
    let json = args.json;
    match &args.what {
        What::Channel(command) => channel(&client, json, command).await?,
        What::Institution(command) => {
            if !institution(&client, json, command).await? {
                // Some rows were refused (the rest are written): a script must notice.
                return Ok(ExitCode::from(1));
            }
        }
        What::Terminal(command) => terminal(&client, json, command).await?,
        What::Voucher(VoucherCommand::Show { id }) => {
            let v = client
                .get(&format!("/v1/admin/vouchers/{}", segment(id)))
                .await?;
            print_object(
                json,
                &v,
                &[
                    ("voucher", "voucher_id"),
                    ("status", "status"),
                    ("activated at", "activated_at"),
                    ("activated by", "activated_by"),
                    ("devices", "devices"),
                ],
            );
        }
        What::Voucher(VoucherCommand::Suspend { id }) => {
            client
                .post(&format!("/v1/admin/vouchers/{}/suspend", segment(id)), None)
                .await?;
            done(json, &json!({"voucher_id": id, "status": "suspended"}));
        }
        What::Voucher(VoucherCommand::Reinstate { id }) => {
            client
                .post(
                    &format!("/v1/admin/vouchers/{}/reinstate", segment(id)),
                    None,
                )
                .await?;
            done(json, &json!({"voucher_id": id, "status": "active"}));
        }
        What::Keys(KeysCommand::Reload) => {
            let v = client.post("/v1/admin/keys/reload", None).await?;
            print_object(
                json,
                &v,
                &[
                    ("signing key", "key_id"),
                    ("bundle sequence", "bundle_sequence"),
                ],
            );
        }
        What::Status => {
            let v = client.get("/v1/admin/status").await?;
            print_object(
                json,
                &v,
                &[
                    ("status", "status"),
                    ("store", "store.backend"),
                    ("cluster state", "store.cluster.state"),
                    ("slots served", "store.cluster.slots_ok"),
                    ("primaries", "store.cluster.primaries"),
                    ("without replica", "store.cluster.primaries_without_replica"),
                    ("signing key", "signing_key.key_id"),
                    ("key age (s)", "signing_key.age_secs"),
                    ("key valid until", "signing_key.not_after"),
                    ("bundle sequence", "bundle.sequence"),
                    ("bundle age (s)", "bundle.age_secs"),
                    ("bundle expires", "bundle.expires_at"),
                    ("status list sequence", "status_list_sequence"),
                ],
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A command that answers nothing worth a table: one line, or its JSON.
fn done(json: bool, value: &Value) {
    if json {
        println!("{value:#}");
    } else {
        let fields: Vec<String> = value
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                format!(
                    "{k} {}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                )
            })
            .collect();
        println!("{}", fields.join(", "));
    }
}

const CHANNEL_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("NAME", "name"),
    ("REGIONS", "regions"),
    ("CREATED", "created_at"),
    ("DISABLED", "disabled"),
];

async fn channel(
    client: &AdminClient,
    json: bool,
    command: &ChannelCommand,
) -> Result<(), CliError> {
    match command {
        ChannelCommand::Add { id, name, regions } => {
            let v = client
                .post(
                    "/v1/admin/channels",
                    Some(&json!({"id": id, "name": name, "regions": regions})),
                )
                .await?;
            print_credential(json, &v);
        }
        ChannelCommand::List => {
            let v = client.get("/v1/admin/channels").await?;
            print_rows(
                json,
                &v,
                v.as_array().map_or(&[], Vec::as_slice),
                CHANNEL_COLUMNS,
            );
        }
        ChannelCommand::Rekey { id } => {
            let v = client
                .post(&format!("/v1/admin/channels/{}/rekey", segment(id)), None)
                .await?;
            print_credential(json, &v);
        }
        ChannelCommand::Disable { id } => {
            let v = client
                .post(&format!("/v1/admin/channels/{}/disable", segment(id)), None)
                .await?;
            print_rows(json, &v, std::slice::from_ref(&v), CHANNEL_COLUMNS);
        }
    }
    Ok(())
}

/// A credential is shown once: say so, so the operator keeps it.
fn print_credential(json: bool, v: &Value) {
    if json {
        println!("{v:#}");
        return;
    }
    println!("id          {}", v["id"].as_str().unwrap_or(""));
    println!("credential  {}", v["credential"].as_str().unwrap_or(""));
    eprintln!("(shown once: keep it now; `rekey` or `add` again replaces it)");
}

/// Whether every row was accepted.
async fn institution(
    client: &AdminClient,
    json: bool,
    command: &InstitutionCommand,
) -> Result<bool, CliError> {
    const COLUMNS: &[(&str, &str)] = &[
        ("CODE", "code"),
        ("NAME", "name"),
        ("KIND", "kind"),
        ("REGION", "region"),
        ("ACCEPTS", "accepts_voucher"),
    ];
    match command {
        InstitutionCommand::Add {
            code,
            name,
            kind,
            region,
            not_accepting,
        } => {
            let body = json!({"code": code, "name": name, "kind": kind.as_str(),
                "region": region, "accepts_voucher": !not_accepting});
            let v = client.post("/v1/admin/institutions", Some(&body)).await?;
            print_rows(json, &v, std::slice::from_ref(&v), COLUMNS);
        }
        InstitutionCommand::List {
            region,
            kind,
            after,
            limit,
        } => {
            let mut query = vec![format!("limit={limit}")];
            query.extend(region.as_ref().map(|r| format!("region={}", segment(r))));
            query.extend(kind.map(|k| format!("kind={}", k.as_str())));
            query.extend(after.as_ref().map(|a| format!("after={}", segment(a))));
            let v = client
                .get(&format!("/v1/admin/institutions?{}", query.join("&")))
                .await?;
            let rows = v["institutions"].as_array().map_or(&[][..], Vec::as_slice);
            print_rows(json, &v, rows, COLUMNS);
            if let (false, Some(next)) = (json, v["next"].as_str()) {
                eprintln!("(more: --after {next})");
            }
        }
        InstitutionCommand::Import { file, format } => {
            let report = import::import(client, file, *format).await?;
            import::print_report(json, &report);
            return Ok(report.bad.is_empty());
        }
    }
    Ok(true)
}

async fn terminal(
    client: &AdminClient,
    json: bool,
    command: &TerminalCommand,
) -> Result<(), CliError> {
    const COLUMNS: &[(&str, &str)] = &[
        ("ID", "id"),
        ("INSTITUTION", "institution"),
        ("CREATED", "created_at"),
        ("REVOKED", "revoked"),
    ];
    match command {
        TerminalCommand::Add { institution, id } => {
            let path = format!("/v1/admin/institutions/{}/terminals", segment(institution));
            let v = client.post(&path, Some(&json!({"id": id}))).await?;
            print_credential(json, &v);
        }
        TerminalCommand::List { institution } => {
            let path = format!("/v1/admin/institutions/{}/terminals", segment(institution));
            let v = client.get(&path).await?;
            print_rows(json, &v, v.as_array().map_or(&[], Vec::as_slice), COLUMNS);
        }
        TerminalCommand::Revoke { id } => {
            let v = client
                .post(&format!("/v1/admin/terminals/{}/revoke", segment(id)), None)
                .await?;
            print_rows(json, &v, std::slice::from_ref(&v), COLUMNS);
        }
    }
    Ok(())
}
