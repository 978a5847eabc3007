//! `yibao-verify`: verify yibao voucher codes at a terminal, offline.
//!
//! Exit codes: 0 accepted, 1 rejected, 2 usage or I/O error.

mod check;
mod report;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "yibao-verify",
    version,
    about = "Verify yibao medical-insurance codes offline",
    after_help = "Exit codes: 0 accepted, 1 rejected, 2 usage or I/O error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify one code (argument, or one line from standard input as a scanner types it).
    Check(check::CheckArgs),
}

/// What a command concluded.
pub(crate) enum Outcome {
    Accepted,
    Rejected,
}

fn main() -> ExitCode {
    // clap exits with 2 on usage errors by itself, matching our convention.
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check::run(&args),
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
