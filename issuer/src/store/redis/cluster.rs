//! Redis Cluster: connecting, and the cluster's state for `/readyz`.
//!
//! The store's code is the same as on one server (every key is hash-tagged and no command
//! spans two slots); what differs is the connection (redis-rs' cluster client, which follows
//! `MOVED`/`ASK` and refreshes its slot map after a failover), `WAIT` routed to the primary
//! that took a write (`durable.rs`), and the health report below.

use std::time::Duration;

use redis::cluster::ClusterClientBuilder;

use super::connection::{self, Connection};
use super::durable::Durability;
use super::{RedisStore, failed};
use crate::store::StoreError;

/// The cluster as one issuer node sees it (`CLUSTER INFO`, `CLUSTER NODES`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterHealth {
    /// `ok` when every slot is served, `fail` otherwise (Redis' own verdict).
    pub state: String,
    /// Slots served by a primary that is up (16384 when whole).
    pub slots_ok: u32,
    /// Primaries that serve slots and are not failing.
    pub primaries: u32,
    /// Of those, primaries with no connected replica: with `replica_acks` ≥ 1, writes to
    /// their slots answer 503 until a replica is back.
    pub primaries_without_replica: u32,
}

impl RedisStore {
    /// Connects to a Redis Cluster through any of `nodes` (`redis://host:port`); the rest of
    /// the topology is discovered.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if no node answers, [`StoreError::Backend`] if a node runs
    /// with AOF off (unless allowed).
    pub async fn open_cluster(
        nodes: &[String],
        allow_without_aof: bool,
        durability: Durability,
    ) -> Result<Self, StoreError> {
        let client = ClusterClientBuilder::new(nodes.to_vec())
            // Fail fast, as on one server: a request gets 503 within about a second while a
            // primary is down, and the client has refreshed its slot map by the next one.
            .connection_timeout(Duration::from_secs(1))
            .response_timeout(super::RESPONSE_TIMEOUT)
            .retries(2)
            .min_retry_wait(50)
            .max_retry_wait(300)
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let cluster = client.get_async_connection().await.map_err(failed)?;
        let mut conn = Connection::Cluster(cluster);
        connection::check_persistence(&mut conn, allow_without_aof).await?;
        Ok(Self {
            conn,
            durability,
            holders: Default::default(),
        })
    }

    /// The cluster's state, or `None` on one server.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if no node answers.
    pub async fn cluster_health(&self) -> Result<Option<ClusterHealth>, StoreError> {
        let Connection::Cluster(mut c) = self.conn() else {
            return Ok(None);
        };
        let info: String = redis::cmd("CLUSTER")
            .arg("INFO")
            .query_async(&mut c)
            .await
            .map_err(failed)?;
        let nodes: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query_async(&mut c)
            .await
            .map_err(failed)?;
        Ok(Some(health_of(&info, &nodes)))
    }
}

/// Reads `CLUSTER INFO` (`field:value` lines) and `CLUSTER NODES` (one line per node: id,
/// address, flags, primary id, ping, pong, epoch, link state, slots…).
fn health_of(info: &str, nodes: &str) -> ClusterHealth {
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.trim().strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
            .unwrap_or_default()
            .to_owned()
    };
    let rows: Vec<Vec<&str>> = nodes
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let healthy = |flags: &str| !flags.split(',').any(|f| f == "fail" || f == "fail?");
    let primaries: Vec<&str> = rows
        .iter()
        .filter(|r| r.len() > 8 && r[2].split(',').any(|f| f == "master") && healthy(r[2]))
        .map(|r| r[0])
        .collect();
    let with_replica = |id: &&&str| {
        rows.iter().any(|r| {
            r.len() > 7
                && r[3] == **id
                && r[2].split(',').any(|f| f == "slave")
                && healthy(r[2])
                && r[7] == "connected"
        })
    };
    let covered = primaries.iter().filter(with_replica).count();
    ClusterHealth {
        state: field("cluster_state"),
        slots_ok: field("cluster_slots_ok").parse().unwrap_or(0),
        primaries: u32::try_from(primaries.len()).unwrap_or(u32::MAX),
        primaries_without_replica: u32::try_from(primaries.len() - covered).unwrap_or(u32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str =
        "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n";

    #[test]
    fn a_whole_cluster_and_one_after_a_failover() {
        let whole = "\
a 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460
b 127.0.0.1:7001@17001 master - 0 0 2 connected 5461-10922
c 127.0.0.1:7002@17002 master - 0 0 3 connected 10923-16383
d 127.0.0.1:7003@17003 slave a 0 0 1 connected
e 127.0.0.1:7004@17004 slave b 0 0 2 connected
f 127.0.0.1:7005@17005 slave c 0 0 3 connected
";
        assert_eq!(
            health_of(INFO, whole),
            ClusterHealth {
                state: "ok".into(),
                slots_ok: 16384,
                primaries: 3,
                primaries_without_replica: 0,
            }
        );
        // a died; d was promoted and has no replica until a comes back.
        let failed_over = "\
a 127.0.0.1:7000@17000 master,fail - 0 0 1 disconnected
b 127.0.0.1:7001@17001 myself,master - 0 0 2 connected 5461-10922
c 127.0.0.1:7002@17002 master - 0 0 3 connected 10923-16383
d 127.0.0.1:7003@17003 master - 0 0 4 connected 0-5460
e 127.0.0.1:7004@17004 slave b 0 0 2 connected
f 127.0.0.1:7005@17005 slave c 0 0 3 connected
";
        let health = health_of(INFO, failed_over);
        assert_eq!((health.primaries, health.primaries_without_replica), (3, 1));
    }
}
