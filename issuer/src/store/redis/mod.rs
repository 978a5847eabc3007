//! Redis store, on one server or a Redis Cluster (`cluster.rs`): every key carries a hash tag
//! (`{…}`), and no operation needs two slots at once. On a cluster every acknowledged write
//! first waits for a replica (`durable.rs`, docs/SCALE.md).
//!
//! ```text
//! yb:p:{<id key>}            person record            (registry row)
//! yb:p:{<id key>}:v          the person's voucher id  (same slot as the person)
//! yb:v:{<voucher>}           voucher record           (immutable after creation)
//! yb:v:{<voucher>}:status    "suspended" when suspended (absent = active)
//! yb:v:{<voucher>}:creds     set of credential hashes (same slot as the voucher)
//! yb:v:{<voucher>}:gen       holder generation: bumped by every write a holder's
//!                            authentication reads (`holders.rs`)
//! yb:c:{<hash>}              holder credential record (immutable)
//! yb:c:{<hash>}:revoked      "1" once revoked
//! yb:ch:{<id>} / yb:chk:{<key hash>}    channel record / key → channel id (`operators.rs`)
//! yb:t:{<id>}  / yb:tk:{<key hash>}     terminal record / key → terminal id
//! yb:channels / yb:it:{<code>}          set of channel ids / an institution's terminal ids
//! yb:inst                    hash: institution code → record (one key)
//! yb:v:{<voucher>}:members   hash: member voucher → family link (binder's side)
//! yb:v:{<voucher>}:binders   set of binder vouchers (member's index)
//! yb:v:{<voucher>}:settled   hash: token id → settlement (the voucher's ledger)
//! yb:v:{<voucher>}:double-use  hash: "<token>/<terminal>" → refused double use
//! yb:v:{<voucher>}:devices   hash: device id → registered device (`devices.rs`)
//! yb:status:{rev}:…          the status list of revoked device certificates (`devices.rs`)
//! yb:rl:{<caller>}           a shared rate limit's cell time (`limits.rs`, expires itself)
//! ```
//!
//! A token's settlement lives under its voucher's tag, so insert-if-absent (the once-only
//! rule) and the ledger read are single-slot operations. Mutable state lives in its own key
//! so every change is one single-key write, never a read-modify-write of a record.
//! Activation touches three slots (person, voucher, credential) in an order that makes a
//! crash at any point harmless: 1. `SET yb:p:{k}:v <candidate> NX GET` claims the person's
//! voucher id, or returns the existing one; 2. `SET yb:v:{id} <record> NX` writes the
//! voucher record (repairing an attempt that died between 1 and 2); 3. `SADD
//! yb:v:{id}:creds <hash>` then `SET yb:c:{hash}`: a crash between them leaves a hash in the
//! set with no credential, which was never handed out and is skipped.

mod batch;
mod cluster;
mod connection;
mod devices;
mod durable;
mod family;
mod holders;
mod keys;
mod limits;
mod operators;
mod settlement;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use yibao_shared::{CertificateId, RevokedCertificate, TokenId, UnixTime, VoucherId};

pub use self::cluster::ClusterHealth;
pub(super) use self::connection::failed;
use self::connection::{Connection, Reconnecting};
pub use self::durable::Durability;
use self::holders::{HolderMemory, credential_from, voucher_from};
use self::keys::{
    INSTITUTIONS, credential_key, credential_revoked_key, person_key, person_voucher_key,
    voucher_creds_key, voucher_key, voucher_status_key,
};
use super::{
    Activation, Grant, HolderRecords, LinkSave, Quota, Store, StoreError, StoreHealth, decode,
    encode,
};
use crate::model::device::Device;
use crate::model::settlement::{DoubleUse, Settlement};
use crate::model::{
    Channel, FamilyLink, HolderCredential, Institution, LinkKind, Person, Terminal, Voucher,
    VoucherStatus,
};
use crate::secrets::{CredentialHash, IdKey};

/// How long the client waits for an answer before it reports the server unavailable: a
/// request gets a clear 503 within about a second instead of hanging.
pub(super) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Redis-backed store: one server, or a Redis Cluster ([`Self::open_cluster`]).
#[derive(Clone)]
pub struct RedisStore {
    conn: Connection,
    /// What a write waits for before the issuer acknowledges it (`durable.rs`).
    durability: Durability,
    /// The holders this node has seen, and what it read of them (`holders.rs`).
    holders: Arc<HolderMemory>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisStore")
    }
}

impl RedisStore {
    /// Connects (with automatic reconnection) to a server that persists with AOF.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if Redis cannot be reached, [`StoreError::Backend`] if it
    /// runs with AOF off.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::connect(url, false).await
    }

    /// Connects; with `allow_without_aof`, a server with AOF off is only warned about.
    ///
    /// # Errors
    ///
    /// As [`Self::open`].
    pub async fn connect(url: &str, allow_without_aof: bool) -> Result<Self, StoreError> {
        Self::connect_single(url, allow_without_aof, Durability::default()).await
    }

    /// Connects to one server; writes wait as `durability` says.
    ///
    /// # Errors
    ///
    /// As [`Self::open`].
    pub async fn connect_single(
        url: &str,
        allow_without_aof: bool,
        durability: Durability,
    ) -> Result<Self, StoreError> {
        let client =
            redis::Client::open(url).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        // Fail fast when Redis is down: a request should get a clear 503 within about a
        // second, not hang in reconnection until the request timeout.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(200));
        let manager = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(failed)?;
        let mut conn = Connection::Single(Reconnecting(manager));
        connection::check_persistence(&mut conn, allow_without_aof).await?;
        Ok(Self {
            conn,
            durability,
            holders: Default::default(),
        })
    }

    fn conn(&self) -> Connection {
        self.conn.clone()
    }
}

impl RedisStore {
    /// Steps 1 and 2 of activation (module docs): the person's voucher, created from
    /// `candidate` if there is none, with its stored status.
    async fn claim_voucher(&self, candidate: &Voucher) -> Result<Activation, StoreError> {
        let mut conn = self.conn();
        let previous: Option<String> = redis::cmd("SET")
            .arg(person_voucher_key(&candidate.id_key))
            .arg(candidate.voucher_id.to_string())
            .arg("NX")
            .arg("GET")
            .query_async(&mut conn)
            .await
            .map_err(failed)?;
        let (voucher, created) = match previous {
            None => (candidate.clone(), true),
            Some(id) => {
                let id = VoucherId::parse(&id)
                    .ok_or_else(|| StoreError::Corrupt(format!("bad voucher id {id:?}")))?;
                match self.get_record::<Voucher>(&voucher_key(id)).await? {
                    Some(existing) => (existing, false),
                    // An earlier activation died between claiming the id and writing the
                    // record: finish its work with this request's details.
                    None => (
                        Voucher {
                            voucher_id: id,
                            ..candidate.clone()
                        },
                        false,
                    ),
                }
            }
        };
        let _: bool = conn
            .set_nx(voucher_key(voucher.voucher_id), encode(&voucher))
            .await
            .map_err(failed)?;
        self.replicated(&[
            &person_voucher_key(&candidate.id_key),
            &voucher_key(voucher.voucher_id),
        ])
        .await?;
        // Report the status as stored (a suspended voucher stays suspended).
        let voucher = self.voucher(voucher.voucher_id).await?.unwrap_or(voucher);
        Ok(Activation { voucher, created })
    }
}

#[async_trait]
impl Store for RedisStore {
    fn answer_deadline(&self) -> Option<Duration> {
        Some(RESPONSE_TIMEOUT)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.conn())
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn health(&self) -> Result<StoreHealth, StoreError> {
        let cluster = self.cluster_health().await?;
        Ok(StoreHealth {
            backend: if cluster.is_some() {
                "redis-cluster"
            } else {
                "redis"
            },
            cluster,
        })
    }

    async fn take_quota(
        &self,
        caller: &str,
        quota: Quota,
        want: u32,
        unused: u32,
    ) -> Result<Grant, StoreError> {
        self.take_quota_in_redis(caller, quota, want, unused).await
    }

    async fn upsert_persons(&self, persons: Vec<Person>) -> Result<(), StoreError> {
        self.upsert_persons_in_redis(&persons).await?;
        self.persons_changed(&persons).await?;
        self.replicated_everywhere().await
    }

    async fn person(&self, id_key: &IdKey) -> Result<Option<Person>, StoreError> {
        self.get_record(&person_key(id_key)).await
    }

    async fn put_channel(&self, channel: &Channel) -> Result<(), StoreError> {
        self.put_channel_in_redis(channel).await
    }

    async fn channel_by_key(&self, key: &CredentialHash) -> Result<Option<Channel>, StoreError> {
        self.lookup(&format!("yb:chk:{{{}}}", key.to_hex()), "yb:ch:")
            .await
    }

    async fn channel(&self, id: &str) -> Result<Option<Channel>, StoreError> {
        self.get_record(&format!("yb:ch:{{{id}}}")).await
    }

    async fn channels(&self) -> Result<Vec<Channel>, StoreError> {
        self.channels_in_redis().await
    }

    async fn put_institutions(&self, institutions: &[Institution]) -> Result<(), StoreError> {
        self.put_institutions_in_redis(institutions).await
    }

    async fn institution(&self, code: &str) -> Result<Option<Institution>, StoreError> {
        let bytes: Option<Vec<u8>> = self.conn().hget(INSTITUTIONS, code).await.map_err(failed)?;
        bytes.map(|b| decode(&b)).transpose()
    }

    async fn institutions(&self) -> Result<Vec<Institution>, StoreError> {
        let all: Vec<(String, Vec<u8>)> =
            self.conn().hgetall(INSTITUTIONS).await.map_err(failed)?;
        all.iter().map(|(_, v)| decode(v)).collect()
    }

    async fn put_terminal(&self, terminal: &Terminal) -> Result<(), StoreError> {
        self.put_terminal_in_redis(terminal).await
    }

    async fn terminal_by_key(&self, key: &CredentialHash) -> Result<Option<Terminal>, StoreError> {
        self.lookup(&format!("yb:tk:{{{}}}", key.to_hex()), "yb:t:")
            .await
    }

    async fn terminal(&self, id: &str) -> Result<Option<Terminal>, StoreError> {
        self.get_record(&format!("yb:t:{{{id}}}")).await
    }

    async fn terminals_of(&self, code: &str) -> Result<Vec<Terminal>, StoreError> {
        self.terminals_of_in_redis(code).await
    }

    async fn activate(
        &self,
        candidate: &Voucher,
        credential: &HolderCredential,
    ) -> Result<Activation, StoreError> {
        let Activation { voucher, created } = self.claim_voucher(candidate).await?;
        let mut conn = self.conn();
        let mut credential = credential.clone();
        credential.voucher_id = voucher.voucher_id;
        let _: () = conn
            .sadd(
                voucher_creds_key(voucher.voucher_id),
                credential.hash.to_hex(),
            )
            .await
            .map_err(failed)?;
        let _: () = conn
            .set(credential_key(&credential.hash), encode(&credential))
            .await
            .map_err(failed)?;
        self.replicated(&[
            &voucher_creds_key(voucher.voucher_id),
            &credential_key(&credential.hash),
        ])
        .await?;
        Ok(Activation { voucher, created })
    }

    async fn voucher_of(&self, id_key: &IdKey) -> Result<Option<Voucher>, StoreError> {
        let id: Option<String> = self
            .conn()
            .get(person_voucher_key(id_key))
            .await
            .map_err(failed)?;
        match id.and_then(|id| VoucherId::parse(&id)) {
            Some(id) => self.voucher(id).await,
            None => Ok(None),
        }
    }

    async fn voucher(&self, id: VoucherId) -> Result<Option<Voucher>, StoreError> {
        // Same hash tag: one MGET, valid on a cluster.
        let (record, status): (Option<Vec<u8>>, Option<String>) = redis::cmd("MGET")
            .arg(voucher_key(id))
            .arg(voucher_status_key(id))
            .query_async(&mut self.conn())
            .await
            .map_err(failed)?;
        voucher_from(record, status)
    }

    async fn set_voucher_status(
        &self,
        id: VoucherId,
        status: VoucherStatus,
    ) -> Result<bool, StoreError> {
        self.set_voucher_status_in_redis(id, status).await
    }

    async fn credential(
        &self,
        hash: &CredentialHash,
    ) -> Result<Option<HolderCredential>, StoreError> {
        let (record, revoked): (Option<Vec<u8>>, Option<String>) = redis::cmd("MGET")
            .arg(credential_key(hash))
            .arg(credential_revoked_key(hash))
            .query_async(&mut self.conn())
            .await
            .map_err(failed)?;
        credential_from(record, revoked)
    }

    async fn holder_records(
        &self,
        hash: &CredentialHash,
    ) -> Result<Option<HolderRecords>, StoreError> {
        self.holder_records_in_redis(hash).await
    }

    async fn revoke_credential(&self, hash: &CredentialHash) -> Result<bool, StoreError> {
        self.revoke_credential_in_redis(hash).await
    }

    async fn revoke_credentials_of(&self, voucher: VoucherId) -> Result<usize, StoreError> {
        self.revoke_credentials_of_in_redis(voucher).await
    }

    async fn ensure_voucher(&self, candidate: &Voucher) -> Result<Activation, StoreError> {
        self.claim_voucher(candidate).await
    }

    async fn discard_unused_voucher(
        &self,
        voucher: &Voucher,
        binder: VoucherId,
    ) -> Result<bool, StoreError> {
        self.discard_unused_voucher_in_redis(voucher, binder).await
    }

    async fn save_link(
        &self,
        link: &FamilyLink,
        expected_version: u64,
        limit: Option<usize>,
    ) -> Result<LinkSave, StoreError> {
        self.save_link_in_redis(link, expected_version, limit).await
    }

    async fn link(
        &self,
        kind: LinkKind,
        binder: VoucherId,
        member: VoucherId,
    ) -> Result<Option<FamilyLink>, StoreError> {
        self.link_in_redis(kind, binder, member).await
    }

    async fn links_of_binder(
        &self,
        kind: LinkKind,
        binder: VoucherId,
    ) -> Result<Vec<FamilyLink>, StoreError> {
        self.links_of_binder_in_redis(kind, binder).await
    }

    async fn links_of_member(
        &self,
        kind: LinkKind,
        member: VoucherId,
    ) -> Result<Vec<FamilyLink>, StoreError> {
        self.links_of_member_in_redis(kind, member).await
    }

    async fn insert_settlements(
        &self,
        batch: &[Settlement],
    ) -> Result<Vec<Option<Settlement>>, StoreError> {
        self.insert_settlements_in_redis(batch).await
    }

    async fn replace_settlement(
        &self,
        current: &Settlement,
        new: &Settlement,
    ) -> Result<bool, StoreError> {
        self.replace_settlement_in_redis(current, new).await
    }

    async fn settlement(
        &self,
        voucher: VoucherId,
        token: TokenId,
    ) -> Result<Option<Settlement>, StoreError> {
        self.settlement_in_redis(voucher, token).await
    }

    async fn settlements_of(&self, voucher: VoucherId) -> Result<Vec<Settlement>, StoreError> {
        self.settlements_of_in_redis(voucher).await
    }

    async fn record_double_use(&self, double_use: &DoubleUse) -> Result<(), StoreError> {
        self.record_double_use_in_redis(double_use).await
    }

    async fn double_uses_of(&self, voucher: VoucherId) -> Result<Vec<DoubleUse>, StoreError> {
        self.double_uses_of_in_redis(voucher).await
    }

    async fn put_device(&self, device: &Device) -> Result<(), StoreError> {
        self.put_device_in_redis(device).await
    }

    async fn device(
        &self,
        holder: VoucherId,
        device_id: &str,
    ) -> Result<Option<Device>, StoreError> {
        self.device_in_redis(holder, device_id).await
    }

    async fn devices_of(&self, holder: VoucherId) -> Result<Vec<Device>, StoreError> {
        self.devices_of_in_redis(holder).await
    }

    async fn delete_device(&self, device: &Device) -> Result<bool, StoreError> {
        self.delete_device_in_redis(device).await
    }

    async fn reserve_certificate_numbers(&self, count: u64) -> Result<u64, StoreError> {
        self.reserve_certificate_numbers_in_redis(count).await
    }

    async fn append_revocations(&self, revoked: &[RevokedCertificate]) -> Result<u64, StoreError> {
        self.append_revocations_in_redis(revoked).await
    }

    async fn revocations_since(
        &self,
        since: u64,
    ) -> Result<(u64, Vec<RevokedCertificate>), StoreError> {
        self.revocations_since_in_redis(since).await
    }

    async fn revocation(
        &self,
        certificate: CertificateId,
    ) -> Result<Option<RevokedCertificate>, StoreError> {
        self.revocation_in_redis(certificate).await
    }

    async fn prune_revocations(&self, before: UnixTime) -> Result<usize, StoreError> {
        self.prune_revocations_in_redis(before).await
    }
}

/// `&str` views of owned key names, for [`RedisStore::replicated`].
fn keys_of(keys: &[String]) -> Vec<&str> {
    keys.iter().map(String::as_str).collect()
}
