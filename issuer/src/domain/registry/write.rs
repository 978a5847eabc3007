//! Writing parsed registry rows: in pieces the store answers in time, retried when it did not,
//! and followed by what a row that is no longer insured means for that person's codes.
//!
//! The store's answer time is what bounds a piece, not a fixed row count: one Redis with
//! `appendfsync always` and a cluster under load differ tenfold, and a piece that outlives
//! the client's response timeout fails even though the store is well. So on a store with such
//! a deadline each piece is timed and the next one sized to land between 15 % and half of it;
//! a piece that timed out (or found a replica not yet back) is halved and sent again after a
//! pause, which is safe because a row is one whole-record write and importing is idempotent.
//! A store without a deadline (the embedded one) takes whole batches: its B-tree copies each
//! page it touches once per transaction, so fewer, larger transactions are faster.

use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt, stream};
use yibao_shared::{UnixTime, VoucherId};

use crate::domain::devices::revoke;
use crate::model::{InsuredStatus, Person};
use crate::store::{Store, StoreError};

/// Rows in the first piece.
const FIRST: usize = 5_000;
/// The smallest piece (a store this slow is reported, not hammered).
const MIN: usize = 250;
/// Attempts at one piece before the import stops with the store's error.
const ATTEMPTS: u32 = 8;
/// Persons looked up at once for the revocation step.
const LOOKUPS_IN_FLIGHT: usize = 32;

/// How large the next piece is; kept across batches so a slow store is learnt once.
#[derive(Debug)]
pub(super) struct Pace {
    rows: usize,
    max: usize,
    /// The store's answer deadline; `None`: whole batches, no timing.
    deadline: Option<Duration>,
}

/// What one call of [`Pace::write`] did besides writing.
#[derive(Debug, Default)]
pub(super) struct Written {
    /// Pieces sent again after the store did not answer in time.
    pub retries: u64,
    /// Vouchers whose person is no longer insured and whose certificates were revoked now.
    pub vouchers_stopped: u64,
    /// Device and proxy certificates revoked for them.
    pub certificates_revoked: u64,
}

impl Pace {
    /// Pieces of at most `max` rows for a store that answers within `deadline`.
    pub(super) fn new(max: usize, deadline: Option<Duration>) -> Self {
        Self {
            rows: if deadline.is_some() {
                FIRST.min(max)
            } else {
                max
            },
            max,
            deadline,
        }
    }

    /// Writes `rows`; calls `on_piece(rows written so far, the error being retried)` after
    /// every piece and before every retry. Then revokes the device and proxy certificates of
    /// every row's voucher whose person is no longer insured (see [`stop_codes_of`]).
    ///
    /// # Errors
    ///
    /// The store's error once a piece failed [`ATTEMPTS`] times, or at once when it is not a
    /// transient one; the rows before that piece are written.
    pub(super) async fn write(
        &mut self,
        store: &dyn Store,
        rows: &[Person],
        now: UnixTime,
        mut on_piece: impl FnMut(usize, Option<&StoreError>),
    ) -> Result<Written, StoreError> {
        let mut written = Written::default();
        let mut start = 0;
        let mut failures = 0;
        while start < rows.len() {
            let end = (start + self.rows).min(rows.len());
            let began = Instant::now();
            match store.upsert_persons(rows[start..end].to_vec()).await {
                Ok(()) => {
                    self.learn(began.elapsed());
                    start = end;
                    failures = 0;
                    on_piece(end, None);
                }
                Err(e) if e.is_unavailable() && failures + 1 < ATTEMPTS => {
                    failures += 1;
                    written.retries += 1;
                    self.rows = (self.rows / 2).max(MIN);
                    on_piece(start, Some(&e));
                    tokio::time::sleep(Duration::from_millis(100 << failures.min(5))).await;
                }
                Err(e) => return Err(e),
            }
        }
        let (vouchers, certificates) = stop_codes_of(store, rows, now).await?;
        written.vouchers_stopped = vouchers;
        written.certificates_revoked = certificates;
        Ok(written)
    }

    fn learn(&mut self, took: Duration) {
        let Some(deadline) = self.deadline else {
            return;
        };
        if took < deadline.mul_f32(0.15) {
            self.rows = (self.rows * 2).min(self.max);
        } else if took > deadline / 2 {
            self.rows = (self.rows / 2).max(MIN);
        }
    }
}

/// The registry is the truth for offline codes too: a person it lists as suspended or
/// terminated keeps no working certificate. For every such row with a voucher, the device
/// certificates of that voucher and the proxy certificates relatives hold for it are
/// revoked through the status list (terminals drop them at their next sync). Runs after
/// the rows are written, so no renewal can certify them again in between (renewal reads the
/// person's status); idempotent, so an import that stopped here is simply run again.
/// Returns (vouchers with certificates revoked now, certificates revoked).
///
/// # Errors
///
/// Store failures (what was revoked stays revoked).
async fn stop_codes_of(
    store: &dyn Store,
    rows: &[Person],
    now: UnixTime,
) -> Result<(u64, u64), StoreError> {
    let not_insured = rows.iter().filter(|p| p.status != InsuredStatus::Insured);
    let revoked: Vec<(VoucherId, usize)> = stream::iter(not_insured)
        .map(|person| async move {
            let Some(voucher) = store.voucher_of(&person.id_key).await? else {
                return Ok(None);
            };
            let revoked = revoke::voucher_stopped(store, now, voucher.voucher_id).await?;
            Ok::<_, StoreError>(Some((voucher.voucher_id, revoked)))
        })
        .buffer_unordered(LOOKUPS_IN_FLIGHT)
        .try_filter_map(|found| async move { Ok(found.filter(|(_, n)| *n > 0)) })
        .try_collect()
        .await?;
    for (voucher, certificates) in &revoked {
        tracing::info!(
            %voucher,
            certificates,
            "registry: person no longer insured; device and proxy certificates revoked"
        );
    }
    let certificates = revoked.iter().map(|(_, n)| *n as u64).sum();
    Ok((revoked.len() as u64, certificates))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_piece_grows_when_fast_and_shrinks_when_slow_within_bounds() {
        let mut pace = Pace::new(50_000, Some(Duration::from_secs(1)));
        assert_eq!(pace.rows, FIRST);
        for _ in 0..10 {
            pace.learn(Duration::from_millis(10));
        }
        assert_eq!(pace.rows, 50_000);
        pace.learn(Duration::from_millis(300));
        assert_eq!(pace.rows, 50_000, "in the band: unchanged");
        for _ in 0..20 {
            pace.learn(Duration::from_secs(2));
        }
        assert_eq!(pace.rows, MIN);
        assert_eq!(
            Pace::new(100, Some(Duration::from_secs(1))).rows,
            100,
            "never above the batch"
        );
    }

    #[test]
    fn a_store_without_a_deadline_takes_whole_batches() {
        let mut pace = Pace::new(50_000, None);
        assert_eq!(pace.rows, 50_000);
        pace.learn(Duration::from_secs(5));
        assert_eq!(pace.rows, 50_000);
    }
}
