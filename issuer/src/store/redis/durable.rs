//! What a write waits for before the issuer acknowledges it.
//!
//! Redis replicates asynchronously: a primary that dies right after answering `OK` takes the
//! write with it when its replica is promoted. With `replicas = 1` every write the issuer
//! acknowledges (activation, family change, settlement, device, revocation) is followed by
//! `WAIT 1 <timeout>` on the primary that took it, and answered only once a replica holds
//! it; otherwise the request fails with 503 `unavailable` and the caller retries (every
//! store write is idempotent or a compare-and-set, so the retry is safe whether or not the
//! first attempt landed). Why and what it costs: `docs/SCALE.md`, "Acknowledged means
//! durable".

use std::collections::HashSet;
use std::time::Duration;

use futures_util::future::try_join_all;
use redis::Value;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, Slot, SlotAddr};

use super::connection::Connection;
use super::{RedisStore, failed};
use crate::store::StoreError;

/// Replica acknowledgement required before a write is confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Durability {
    /// Replicas that must hold a write (`WAIT`); 0 trusts the primary's AOF alone.
    pub replicas: u32,
    /// How long to wait for them.
    pub timeout: Duration,
}

impl Default for Durability {
    /// One server: nothing to wait for (its AOF with `appendfsync always` is the guarantee).
    fn default() -> Self {
        Self {
            replicas: 0,
            timeout: Duration::from_millis(500),
        }
    }
}

impl RedisStore {
    /// Waits until the configured number of replicas hold every write made so far to the
    /// primaries owning `keys`.
    ///
    /// `WAIT` covers all earlier writes of the connection it is sent on, so one `WAIT` per
    /// slot written is enough, and the shared (multiplexed) connection only makes it wait for
    /// more than this request's writes, never less.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when fewer replicas confirmed within the timeout (a
    /// primary with no live replica, e.g. just after a failover) or the primary is gone.
    pub(super) async fn replicated(&self, keys: &[&str]) -> Result<(), StoreError> {
        let want = self.durability.replicas;
        if want == 0 {
            return Ok(());
        }
        let wait = self.wait_command();
        let confirmed = match self.conn() {
            Connection::Single(mut c) => wait.query_async::<u32>(&mut c).await.map_err(failed)?,
            Connection::Cluster(c) => {
                let slots: HashSet<Slot> = keys.iter().map(Slot::for_key).collect();
                let answers = try_join_all(slots.into_iter().map(|slot| {
                    let mut c = c.clone();
                    let wait = wait.clone();
                    async move {
                        let route = Route::with_slot(slot, SlotAddr::Master);
                        c.route_command(
                            wait,
                            RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                        )
                        .await
                    }
                }))
                .await
                .map_err(failed)?;
                answers.iter().map(replicas_in).min().unwrap_or(0)
            }
        };
        if confirmed < want {
            return Err(StoreError::Unavailable(format!(
                "the write reached {confirmed} of {want} required replica(s) within {} ms; \
                 retry (a replica is being promoted or resynchronised)",
                self.durability.timeout.as_millis()
            )));
        }
        Ok(())
    }

    /// [`Self::replicated`] for writes spread over many slots (a registry import): `WAIT` on
    /// every primary.
    ///
    /// # Errors
    ///
    /// As [`Self::replicated`].
    pub(super) async fn replicated_everywhere(&self) -> Result<(), StoreError> {
        let want = self.durability.replicas;
        if want == 0 {
            return Ok(());
        }
        // A cluster client sends WAIT to every primary and answers the smallest count.
        let confirmed: u32 = self
            .wait_command()
            .query_async(&mut self.conn())
            .await
            .map_err(failed)?;
        if confirmed < want {
            return Err(StoreError::Unavailable(format!(
                "the import reached {confirmed} of {want} required replica(s); run it again"
            )));
        }
        Ok(())
    }

    fn wait_command(&self) -> redis::Cmd {
        let mut wait = redis::cmd("WAIT");
        wait.arg(self.durability.replicas)
            .arg(u64::try_from(self.durability.timeout.as_millis()).unwrap_or(u64::MAX));
        wait
    }
}

/// `WAIT`'s answer, a count; anything else counts as none.
fn replicas_in(value: &Value) -> u32 {
    match value {
        Value::Int(n) => u32::try_from(*n).unwrap_or(0),
        _ => 0,
    }
}
