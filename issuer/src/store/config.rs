//! Which backend to open, from the `[store]` section or `YIBAO__STORE__…` variables.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use super::{Durability, EmbeddedStore, RedisStore, Store, StoreError};

/// Which backend to open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum StoreConfig {
    /// redb file in a directory: no server needed.
    Embedded {
        /// Directory of `yibao.redb`.
        path: PathBuf,
    },
    /// One Redis server (keys are hash-tagged, so the data moves to a cluster as is).
    Redis {
        /// e.g. `redis://127.0.0.1:6379/0`.
        url: String,
        /// Start even if the server has AOF off (acknowledged writes lost on restart): only
        /// for a throwaway test server. Default: refuse to start.
        #[serde(default)]
        allow_without_aof: bool,
        /// Replicas that must hold a write before it is acknowledged (`WAIT`); default 0:
        /// one server relies on its AOF (`appendfsync always`).
        #[serde(default)]
        replica_acks: u32,
        /// How long a write waits for them, in milliseconds.
        #[serde(default = "default_replica_ack_timeout_ms")]
        replica_ack_timeout_ms: u64,
    },
    /// A Redis Cluster, the national-scale deployment (`docs/SCALE.md`).
    RedisCluster {
        /// Some of the cluster's nodes (`redis://host:port`), as a list or one
        /// comma-separated string (`YIBAO__STORE__NODES=redis://a:7000,redis://b:7000`).
        #[serde(deserialize_with = "one_or_many")]
        nodes: Vec<String>,
        /// As for one server.
        #[serde(default)]
        allow_without_aof: bool,
        /// Replicas that must hold a write before it is acknowledged; default 1, so a
        /// failover never loses an acknowledged activation, family change or settlement.
        #[serde(default = "one")]
        replica_acks: u32,
        /// How long a write waits for them, in milliseconds.
        #[serde(default = "default_replica_ack_timeout_ms")]
        replica_ack_timeout_ms: u64,
    },
}

impl StoreConfig {
    /// Opens the backend.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if it cannot be opened or reached,
    /// [`StoreError::Backend`] if it is configured unsafely (Redis with AOF off).
    pub async fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(match self {
            Self::Embedded { path } => Box::new(EmbeddedStore::open(path)?),
            Self::Redis {
                url,
                allow_without_aof,
                replica_acks,
                replica_ack_timeout_ms,
            } => Box::new(
                RedisStore::connect_single(
                    url,
                    *allow_without_aof,
                    durability(*replica_acks, *replica_ack_timeout_ms),
                )
                .await?,
            ),
            Self::RedisCluster {
                nodes,
                allow_without_aof,
                replica_acks,
                replica_ack_timeout_ms,
            } => Box::new(
                RedisStore::open_cluster(
                    nodes,
                    *allow_without_aof,
                    durability(*replica_acks, *replica_ack_timeout_ms),
                )
                .await?,
            ),
        })
    }

    /// Whether several issuer nodes can share this store, and so must share rate limits.
    pub fn is_shared(&self) -> bool {
        !matches!(self, Self::Embedded { .. })
    }
}

fn durability(replicas: u32, timeout_ms: u64) -> Durability {
    Durability {
        replicas,
        timeout: Duration::from_millis(timeout_ms),
    }
}

fn one() -> u32 {
    1
}

fn default_replica_ack_timeout_ms() -> u64 {
    500
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<String>),
        One(String),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::Many(nodes) => nodes,
        OneOrMany::One(list) => list
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}
