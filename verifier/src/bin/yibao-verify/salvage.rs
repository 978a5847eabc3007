//! `yibao-verify salvage`: a damaged outbox's readable visits into a new outbox.

use anyhow::Context;
use clap::Args;
use yibao_verifier::{Clock, Outbox, SystemClock};

use crate::Outcome;
use crate::report::rfc3339;
use crate::terminal::Dir;

#[derive(Args)]
pub(crate) struct SalvageArgs {
    #[command(flatten)]
    dir: Dir,
}

/// Exit 0 when everything readable was copied and nothing was found unreadable, 1 when
/// something could not be read (listed), 2 when salvage itself failed.
pub(crate) fn run(args: &SalvageArgs) -> anyhow::Result<Outcome> {
    let report = Outbox::salvage(&args.dir.terminal, SystemClock.now())
        .context("salvaging the outbox (the old file is left where it was)")?;
    println!("damaged outbox kept at {}", report.aside.display());
    println!("待上传 queued visits salvaged   {}", report.queued);
    println!("已应答 history salvaged         {}", report.history);
    println!("隔离 quarantined records        {}", report.quarantined);
    println!("防重放 replay entries           {}", report.replay_entries);
    println!(
        "时钟标记 clock mark             {}",
        rfc3339(report.clock_high_water.as_secs())
    );
    println!(
        "信任列表 trust bundle           {}",
        if report.bundle_recovered {
            "recovered"
        } else {
            "not recovered: run `yibao-verify sync`"
        }
    );
    println!(
        "吊销列表 status list            {}",
        if report.status_list_recovered {
            "recovered"
        } else {
            "not recovered: the next sync fetches the complete list"
        }
    );
    for what in &report.unreadable {
        println!("⚠ could not read: {what}");
    }
    println!(
        "next: yibao-verify sync --terminal {0} && yibao-verify flush --terminal {0}",
        args.dir.terminal.display()
    );
    Ok(if report.unreadable.is_empty() {
        Outcome::Accepted
    } else {
        Outcome::Rejected
    })
}
