//! The bodies of the operations endpoints, and how the store's health becomes them.

use serde::Serialize;

use crate::store;

/// Readiness answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ok`.
    pub status: &'static str,
    /// The store's backend and, on a cluster, its state.
    pub store: StoreHealth,
}

/// What `/readyz` says about the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StoreHealth {
    /// `embedded`, `redis` or `redis-cluster`.
    pub backend: &'static str,
    /// The cluster's state (Redis Cluster only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterHealth>,
}

/// The cluster as one issuer node sees it (`CLUSTER INFO`, `CLUSTER NODES`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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

impl From<store::StoreHealth> for StoreHealth {
    fn from(h: store::StoreHealth) -> Self {
        Self {
            backend: h.backend,
            cluster: h.cluster.map(|c| ClusterHealth {
                state: c.state,
                slots_ok: c.slots_ok,
                primaries: c.primaries,
                primaries_without_replica: c.primaries_without_replica,
            }),
        }
    }
}
