//! The connection to Redis (one server or a cluster): which failures are transient (503,
//! retry later) and which are bugs, one retry when a restarted server broke the pipe, and the
//! persistence check.

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ErrorKind, Pipeline, RedisFuture, Value};

use crate::store::StoreError;

/// Either kind of deployment behind one [`ConnectionLike`], so the store's code is the same
/// for both: the cluster client routes each command by its key's hash tag.
#[derive(Clone)]
pub(crate) enum Connection {
    /// One server (with automatic reconnection).
    Single(Reconnecting),
    /// A Redis Cluster (the client follows `MOVED`/`ASK` and refreshes its slot map).
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// Server answers that mean "not now" rather than "wrong": a replica being promoted
/// (`MASTERDOWN`, `READONLY`), a restart still loading its data (`LOADING`), a cluster
/// moving slots (`TRYAGAIN`, `CLUSTERDOWN`).
const TRANSIENT_CODES: [&str; 5] = [
    "LOADING",
    "TRYAGAIN",
    "MASTERDOWN",
    "READONLY",
    "CLUSTERDOWN",
];

/// A Redis error as a store error: transient ones are [`StoreError::Unavailable`] (the
/// issuer answers 503 `unavailable`; terminals and phones retry), the rest
/// [`StoreError::Backend`].
pub(crate) fn failed(e: redis::RedisError) -> StoreError {
    let transient = e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_cluster_error()
        // The cluster client has no connection for a slot whose primary just died.
        || e.kind() == ErrorKind::ClusterConnectionNotFound
        || e.code().is_some_and(|code| TRANSIENT_CODES.contains(&code));
    if transient {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Backend(e.to_string())
    }
}

/// A [`ConnectionManager`] that sends a command a second time when the first attempt found
/// the connection dropped (the server restarted since the last request: broken pipe,
/// reset, end of stream). The manager reconnects on that error, and the retry waits for the
/// new connection. Only dropped connections are retried, never timeouts or server errors;
/// every command the store sends is idempotent or a compare-and-set, so a command that did
/// reach the server before the drop is harmless to repeat.
#[derive(Clone)]
pub(crate) struct Reconnecting(pub(crate) ConnectionManager);

impl ConnectionLike for Reconnecting {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            match self.0.req_packed_command(cmd).await {
                Err(e) if e.is_connection_dropped() => self.0.req_packed_command(cmd).await,
                other => other,
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            match self.0.req_packed_commands(pipeline, offset, count).await {
                Err(e) if e.is_connection_dropped() => {
                    self.0.req_packed_commands(pipeline, offset, count).await
                }
                other => other,
            }
        })
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }
}

/// Refuses a server that would lose acknowledged writes on restart: with AOF off, an
/// activation, family change or settlement the issuer confirmed is gone after a crash, and a
/// second terminal could then settle a code already settled. `allow` (tests, throwaway demos)
/// turns the refusal into a warning.
///
/// # Errors
///
/// [`StoreError::Unavailable`] when Redis cannot be asked, [`StoreError::Backend`] when AOF is
/// off and not allowed.
pub(crate) async fn check_persistence(
    conn: &mut Connection,
    allow: bool,
) -> Result<(), StoreError> {
    // On a cluster, INFO goes to every primary; each must persist.
    let info: String = match conn {
        Connection::Single(c) => redis::cmd("INFO")
            .arg("persistence")
            .query_async(c)
            .await
            .map_err(failed)?,
        Connection::Cluster(c) => {
            let per_node: std::collections::HashMap<String, String> = redis::cmd("INFO")
                .arg("persistence")
                .query_async(c)
                .await
                .map_err(failed)?;
            per_node.into_values().collect::<Vec<_>>().join("\n")
        }
    };
    let mut flags = info
        .lines()
        .filter_map(|l| l.trim().strip_prefix("aof_enabled:"))
        .map(str::trim);
    let first = flags.next();
    let aof = if flags.any(|f| Some(f) != first) {
        Some("0")
    } else {
        first
    };
    match aof {
        Some("1") => Ok(()),
        Some(_) if allow => {
            tracing::warn!(
                "Redis has AOF off (appendonly no): acknowledged writes are lost on restart; \
                 allowed by store.allow_without_aof"
            );
            Ok(())
        }
        Some(_) => Err(StoreError::Backend(
            "Redis has AOF off (appendonly no): an acknowledged activation or settlement \
             would be lost on restart. Set `appendonly yes` (docs/issuer.md, Storage), or \
             store.allow_without_aof = true for a throwaway test server"
                .into(),
        )),
        None => {
            tracing::warn!("Redis did not report aof_enabled; cannot check persistence");
            Ok(())
        }
    }
}
