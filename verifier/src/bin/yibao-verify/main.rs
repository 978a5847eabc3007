//! `yibao-verify`: verify yibao voucher codes at a terminal, offline, and hand accepted
//! visits to settlement when the issuer is reachable.
//!
//! Exit codes: 0 accepted (or done), 1 rejected, 2 usage or I/O error.

mod check;
mod config;
mod report;
mod salvage;
mod serve;
mod terminal;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "yibao-verify",
    version,
    about = "Verify yibao medical-insurance codes offline; queue and settle the visits",
    after_help = "Exit codes: 0 accepted (or done), 1 rejected, 2 usage or I/O error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Set up a terminal directory: issuer, institution, credential, pinned root key.
    Init(terminal::InitArgs),
    /// Verify one code (argument, or one line from standard input as a scanner types it).
    Check(check::CheckArgs),
    /// Read the QR code in an image file, then verify it like `check`.
    Scan(check::ScanArgs),
    /// Fetch the issuer's trust bundle and install it if the pinned root key signed it and
    /// it is not older than the one held.
    Sync(terminal::SyncArgs),
    /// Bundle age, outbox queue, last hand-off to settlement.
    Status(terminal::StatusArgs),
    /// Hand every queued visit to settlement, retrying with backoff.
    Flush(terminal::FlushArgs),
    /// Copy every readable visit, the replay memory and the clock mark of a damaged outbox
    /// into a new one (the damaged file is kept aside), then forward them with `flush`.
    Salvage(salvage::SalvageArgs),
    /// Serve the cashier page (loopback): scan, see accept/reject; syncs and forwards in the
    /// background.
    Serve(serve::ServeArgs),
}

/// What a command concluded.
pub(crate) enum Outcome {
    Accepted,
    Rejected,
}

fn main() -> ExitCode {
    quiet_contained_panics();
    // clap exits with 2 on usage errors by itself, matching our convention.
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(args) => terminal::init(&args),
        Command::Check(args) => check::run(&args),
        Command::Scan(args) => check::scan(&args),
        Command::Sync(args) => terminal::sync(&args),
        Command::Status(args) => terminal::status(&args),
        Command::Flush(args) => terminal::flush(&args),
        Command::Salvage(args) => salvage::run(&args),
        Command::Serve(args) => serve::serve(&args),
    };
    match result {
        Ok(Outcome::Accepted) => ExitCode::SUCCESS,
        Ok(Outcome::Rejected) => ExitCode::from(1),
        Err(err) => {
            eprintln!("yibao-verify: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// redb panics on some damaged pages; the outbox contains those panics and reports the file
/// as damaged (exit 2 with what to do), so the panic's own message would only confuse.
/// Every other panic is a bug and is reported as one.
fn quiet_contained_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !yibao_verifier::outbox::containing_panics() {
            default(info);
        }
    }));
}
