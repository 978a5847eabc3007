//! `yibao-issuer`: serve the issuer, import the registry, run the demo, or operate a running
//! issuer (`admin …`).

mod operator_cli;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use yibao_issuer::config::Config;
use yibao_issuer::domain::registry::{self, Format};
use yibao_issuer::{demo, http, setup, shutdown, store, telemetry};
use yibao_verifier::{Clock, SystemClock};

/// mimalloc rather than glibc's malloc: under load the issuer's worker threads contended on
/// glibc's arena locks (a sixth of its CPU time in malloc and free and their futex waits,
/// `docs/PERFORMANCE.md`); mimalloc's per-thread heaps take no lock on the common path.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "yibao-issuer", version, about = "yibao issuer service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        /// TOML configuration file (environment variables YIBAO__… override it).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Import insured persons (CSV with a header row, or JSON Lines). With the embedded
    /// store, stop the server first (the store file is single-process).
    Import {
        /// The file.
        file: PathBuf,
        /// Format (default: from the extension).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print a CSV registry of synthetic, obviously fake people (test and benchmark data).
    SyntheticRegistry {
        /// Number of rows.
        #[arg(long, default_value_t = 1000)]
        rows: usize,
    },
    /// Operate a running issuer through its admin API: channels, institutions, terminals,
    /// vouchers, keys, status.
    Admin(operator_cli::AdminArgs),
    /// Run the demo on the embedded store: dev keys, a synthetic registry, a demo channel,
    /// institution, terminal and three holders; prints a guide and serves.
    Demo {
        /// Where the demo keeps its data.
        #[arg(long, default_value = "data/demo-issuer")]
        data_dir: PathBuf,
        /// Address to serve on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init_logs();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("yibao-issuer: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("yibao-issuer: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { config } => {
            let config = Config::load(config.as_deref()).context("loading configuration")?;
            let state = setup::state(&config, setup::system_clock()).await?;
            serve(&config, state).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            file,
            format,
            config,
        } => import(&file, format, config).await,
        Command::SyntheticRegistry { rows } => {
            use std::io::Write;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            out.write_all(demo::synthetic_registry(rows).as_bytes())?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin(args) => Ok(operator_cli::run(args).await),
        Command::Demo { data_dir, listen } => {
            // The demo pins its own paths; limits and lifetime still come from the environment.
            let config = Config::load(None)
                .map(|mut c| {
                    c.listen = listen;
                    c.data_dir = data_dir.clone();
                    c.keys_dir = None;
                    c.store = None;
                    c
                })
                .context("loading configuration")?;
            let clock = setup::system_clock();
            demo::ensure_keys(&config.keys_dir(), clock.now())?;
            let state = setup::state(&config, clock).await?;
            let info = demo::populate(&state, &data_dir, &format!("http://{listen}")).await?;
            println!("{}", demo::guide(&info, &data_dir));
            serve(&config, state).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(
    config: &Config,
    state: yibao_issuer::domain::context::Context,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let address = listener.local_addr()?;
    let deliveries = state.deliveries.clone();
    let router = http::router(
        state,
        config.limits.body_bytes,
        Duration::from_millis(config.limits.request_timeout_ms),
    );
    // Tests and scripts wait for this line.
    println!("serving on http://{address}");
    tracing::info!(%address, "serving");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown::signal())
        .await
        .context("serving")?;
    // Family requests already answered are delivered before the process ends (bounded: a
    // store that is gone by now drops them, as the answer allowed).
    deliveries.close();
    if tokio::time::timeout(Duration::from_secs(5), deliveries.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            left = deliveries.len(),
            "family requests not delivered at shutdown"
        );
    }
    Ok(())
}

async fn import(
    file: &PathBuf,
    format: Option<Format>,
    config: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let config = Config::load(config.as_deref()).context("loading configuration")?;
    let format = format
        .or_else(|| Format::from_path(file))
        .context("cannot tell the format from the file name: pass --format csv|jsonl")?;
    let store = store::open(&config.store())
        .await
        .context("opening the store")?;
    let index = setup::index_key(&config.data_dir)?;
    let input = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = ProgressBar::new(size).with_style(
        ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} written, {per_sec} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    // The bar follows the rows the store took, not the reading, which runs a batch ahead.
    let report = registry::import(input, format, &*store, &index, SystemClock.now(), |p| {
        bar.set_position(p.bytes);
        bar.set_message(p.retrying.clone().unwrap_or_default());
    })
    .await?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    for bad in report.bad.iter().take(100) {
        eprintln!("line {}: {}", bad.line, bad.reason);
    }
    if report.bad.len() > 100 {
        eprintln!("… and {} more bad rows", report.bad.len() - 100);
    }
    if report.retries > 0 {
        eprintln!(
            "{} pieces were sent again after the store did not answer in time",
            report.retries
        );
    }
    if report.vouchers_stopped > 0 {
        println!(
            "{} vouchers of persons no longer insured: {} device and proxy certificates \
             revoked (terminals refuse them after their next sync)",
            report.vouchers_stopped, report.certificates_revoked
        );
    }
    println!(
        "imported {} of {} rows in {secs:.2}s ({:.0} rows/s); {} bad rows skipped",
        report.applied,
        report.rows,
        report.rows as f64 / secs.max(1e-9),
        report.bad.len()
    );
    Ok(if report.bad.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
