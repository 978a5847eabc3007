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
//!
//! `WAIT` only covers what the connection it is sent on has *propagated*. A request that
//! answers from a value already there (a retry through another issuer node finds the
//! settlement its first attempt wrote: `HSETNX` answers 0, `SET NX GET` returns the claim)
//! propagates nothing, and Valkey's `WAIT` then returns at once, whatever the replica holds
//! (Redis 7.0 happens to advance the offset on reads too). So every confirmation first
//! rewrites a small marker key on the slot's primary, in the same pipeline as the `WAIT`:
//! the marker's offset is past every write that primary applied before it, including the one
//! the request read, and the `WAIT` holds until a replica has all of them.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::future::try_join_all;
use redis::Value;
use redis::cluster_routing::{Route, SingleNodeRoutingInfo, Slot, SlotAddr};

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
    /// Waits until the configured number of replicas hold everything the primaries owning
    /// `keys` have applied so far: what this request wrote, and what it read there and
    /// answers from (module docs).
    ///
    /// One marker write and `WAIT` per slot is enough: a primary's replication stream is in
    /// order, so a replica holding the marker holds every earlier write of that primary.
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
        let confirmed = match self.conn() {
            Connection::Single(mut c) => {
                let answers: Vec<Value> = self
                    .marked_wait(SINGLE_SERVER_MARKER.to_owned())
                    .query_async(&mut c)
                    .await
                    .map_err(failed)?;
                wait_answer(&answers)
            }
            Connection::Cluster(c) => {
                let slots: HashSet<Slot> = keys.iter().map(Slot::for_key).collect();
                let answers = try_join_all(slots.into_iter().map(|slot| {
                    let mut c = c.clone();
                    let pipe = marker_on(slot).map(|marker| self.marked_wait(marker));
                    async move {
                        let pipe = pipe?;
                        let route = Route::with_slot(slot, SlotAddr::Master);
                        c.route_pipeline(pipe, 0, 2, SingleNodeRoutingInfo::SpecificNode(route))
                            .await
                            .map_err(failed)
                    }
                }))
                .await?;
                answers.iter().map(|a| wait_answer(a)).min().unwrap_or(0)
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

    /// `SET <marker> 1` then `WAIT`, as one pipeline (one connection, in this order).
    fn marked_wait(&self, marker: String) -> redis::Pipeline {
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(marker)
            .arg(1)
            .add_command(self.wait_command());
        pipe
    }

    fn wait_command(&self) -> redis::Cmd {
        let mut wait = redis::cmd("WAIT");
        wait.arg(self.durability.replicas)
            .arg(u64::try_from(self.durability.timeout.as_millis()).unwrap_or(u64::MAX));
        wait
    }
}

/// The marker of a server that is not a cluster.
const SINGLE_SERVER_MARKER: &str = "yb:ack";

/// The marker key on `slot`: `yb:ack:{<tag>}` with a tag that hashes to it. One key per slot
/// (16,384 in all, a few bytes each), rewritten in place, so markers never accumulate.
fn marker_on(slot: Slot) -> Result<String, StoreError> {
    static TAGS: OnceLock<HashMap<Slot, u32>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        // The smallest decimal tag of every slot: about 160,000 CRC16s, once per process.
        let mut tags = HashMap::with_capacity(SLOTS);
        let mut n = 0_u32;
        while tags.len() < SLOTS && n < u32::MAX {
            tags.entry(Slot::for_key(n.to_string())).or_insert(n);
            n += 1;
        }
        tags
    });
    tags.get(&slot)
        .map(|tag| format!("yb:ack:{{{tag}}}"))
        .ok_or_else(|| StoreError::Backend(format!("no marker tag for {slot:?}")))
}

/// Hash slots of a Redis Cluster.
const SLOTS: usize = 16_384;

/// The `WAIT` count in a marker pipeline's answers (`[OK, count]`); anything else is none.
fn wait_answer(answers: &[Value]) -> u32 {
    match answers.get(1) {
        Some(Value::Int(n)) => u32::try_from(*n).unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_slot_has_a_marker_on_that_slot() {
        let mut seen = HashSet::new();
        for n in 0..SLOTS {
            let slot = Slot::for_key(format!("probe-{n}"));
            let marker = marker_on(slot).expect("a marker for every slot");
            assert_eq!(Slot::for_key(&marker), slot, "{marker}");
            seen.insert(marker);
        }
        assert!(
            seen.len() > 9_000,
            "markers are per slot, not one key: {}",
            seen.len()
        );
    }

    #[test]
    fn the_wait_count_is_the_second_answer() {
        assert_eq!(wait_answer(&[Value::Okay, Value::Int(1)]), 1);
        assert_eq!(wait_answer(&[Value::Okay]), 0);
        assert_eq!(wait_answer(&[Value::Okay, Value::Int(-1)]), 0);
    }
}
