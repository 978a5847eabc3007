//! Storage: one narrow trait, an embedded ACID default ([`EmbeddedStore`], redb) and Redis
//! ([`RedisStore`], one server or a Redis Cluster) for production, all held to one
//! conformance suite (`tests/tests/store/`). [`Metered`] times every operation for
//! `/metrics`.

mod config;
mod embedded;
mod metered;
mod redis;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use yibao_shared::{CertificateId, RevokedCertificate, TokenId, VoucherId};

pub use self::config::StoreConfig;
pub use self::embedded::EmbeddedStore;
pub use self::metered::Metered;
pub use self::redis::{ClusterHealth, Durability, RedisStore};
use crate::model::device::Device;
use crate::model::settlement::{DoubleUse, Settlement};
use crate::model::{
    Channel, FamilyLink, HolderCredential, Institution, LinkKind, Person, Terminal, Voucher,
    VoucherStatus,
};
use crate::secrets::{CredentialHash, IdKey};

/// A storage failure. Says nothing about the backend's internals to callers.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend cannot be reached (Redis down, file locked by another process).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be decoded (corruption or a newer format).
    #[error("stored record is unreadable: {0}")]
    Corrupt(String),
    /// Any other backend error.
    #[error("store error: {0}")]
    Backend(String),
    /// The backend does not offer this operation.
    #[error("not offered by this store")]
    Unsupported,
}

impl StoreError {
    /// Whether retrying later may help.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Opens the configured backend, metered.
///
/// # Errors
///
/// [`StoreError::Unavailable`] if it cannot be opened or reached.
pub async fn open(config: &StoreConfig) -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(Metered::new(config.open().await?)))
}

/// A rate: one request per `interval`, up to `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Time that earns one request.
    pub interval: Duration,
    /// Requests allowed back to back after a quiet spell.
    pub burst: u32,
}

/// What a shared quota gave ([`Store::take_quota`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// This many requests (at least one, at most the number wanted) may be admitted.
    Granted(u32),
    /// None: the quota has room again after this long.
    Wait(Duration),
}

/// What `/readyz` says about the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreHealth {
    /// `embedded`, `redis` or `redis-cluster`.
    pub backend: &'static str,
    /// The cluster's state (Redis Cluster only).
    pub cluster: Option<ClusterHealth>,
}

/// [`Store::holder_records`] read in order: the credential, then its voucher and person
/// together.
pub(crate) async fn holder_records_in_order<S: Store + ?Sized>(
    store: &S,
    hash: &CredentialHash,
) -> Result<Option<HolderRecords>, StoreError> {
    let Some(credential) = store.credential(hash).await? else {
        return Ok(None);
    };
    let (voucher, person) = tokio::try_join!(
        store.voucher(credential.voucher_id),
        store.person(&credential.id_key)
    )?;
    Ok(Some(HolderRecords {
        credential,
        voucher,
        person,
    }))
}

/// A holder credential with its voucher and the voucher owner's registry entry, as read
/// together to authenticate a request ([`Store::holder_records`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HolderRecords {
    /// The credential, revoked or not.
    pub credential: HolderCredential,
    /// The voucher it unlocks (`None` only if the store is inconsistent).
    pub voucher: Option<Voucher>,
    /// The voucher owner in the registry (`None` only if the store is inconsistent).
    pub person: Option<Person>,
}

/// What activation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activation {
    /// The person's voucher (existing or new).
    pub voucher: Voucher,
    /// Whether this call created it.
    pub created: bool,
}

/// What [`Store::save_link`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkSave {
    /// Written.
    Saved,
    /// Someone changed the link since it was read (version mismatch): re-read and retry.
    Conflict,
    /// The binder already has the maximum of active and pending members.
    LimitReached,
}

/// The issuer's storage.
///
/// Every method is atomic in the sense that matters to its caller: a record is written whole
/// or not at all. Multi-record operations say how they stay consistent in their docs.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// How long one operation may take before the client gives up on it (Redis' response
    /// timeout), or `None` when nothing times out (the embedded store). Bulk writers size
    /// their pieces to land well within it.
    fn answer_deadline(&self) -> Option<Duration> {
        None
    }

    /// Cheap reachability check for `/readyz`.
    async fn ping(&self) -> Result<(), StoreError>;

    /// What `/readyz` reports (after a successful [`Self::ping`]).
    async fn health(&self) -> Result<StoreHealth, StoreError>;

    /// Takes up to `want` requests (at least one) of `caller`'s quota in a limit shared by
    /// every issuer node, after giving back `unused` requests a lease of this node took
    /// earlier and did not spend; [`Grant`] says how many it got. `Err` with
    /// [`StoreError::Unsupported`] when this backend is one process's (the embedded store),
    /// whose limits stay in memory.
    async fn take_quota(
        &self,
        caller: &str,
        quota: Quota,
        want: u32,
        unused: u32,
    ) -> Result<Grant, StoreError>;

    /// Writes registry rows (insert or replace by `id_key`). Each row is one record, so a
    /// row is never half-applied; a batch may be cut short by an error, and re-importing is
    /// idempotent.
    async fn upsert_persons(&self, persons: Vec<Person>) -> Result<(), StoreError>;
    /// A person by ID-number key.
    async fn person(&self, id_key: &IdKey) -> Result<Option<Person>, StoreError>;

    /// Creates or replaces a channel.
    async fn put_channel(&self, channel: &Channel) -> Result<(), StoreError>;
    /// A channel by the hash of its API key.
    async fn channel_by_key(&self, key: &CredentialHash) -> Result<Option<Channel>, StoreError>;
    /// A channel by id.
    async fn channel(&self, id: &str) -> Result<Option<Channel>, StoreError>;
    /// Every channel (a platform has tens).
    async fn channels(&self) -> Result<Vec<Channel>, StoreError>;

    /// Creates or replaces institutions (one write for the batch).
    async fn put_institutions(&self, institutions: &[Institution]) -> Result<(), StoreError>;
    /// An institution by code.
    async fn institution(&self, code: &str) -> Result<Option<Institution>, StoreError>;
    /// All institutions.
    async fn institutions(&self) -> Result<Vec<Institution>, StoreError>;
    /// Creates or replaces a terminal.
    async fn put_terminal(&self, terminal: &Terminal) -> Result<(), StoreError>;
    /// A terminal by the hash of its credential.
    async fn terminal_by_key(&self, key: &CredentialHash) -> Result<Option<Terminal>, StoreError>;
    /// A terminal by id.
    async fn terminal(&self, id: &str) -> Result<Option<Terminal>, StoreError>;
    /// The terminals of institution `code`.
    async fn terminals_of(&self, code: &str) -> Result<Vec<Terminal>, StoreError>;

    /// Activates the person's voucher, idempotently: if the person has one, it is kept and
    /// `candidate` is ignored; otherwise `candidate` becomes it. Either way `credential`
    /// (whose `voucher_id` is overwritten with the voucher's) is added to it.
    async fn activate(
        &self,
        candidate: &Voucher,
        credential: &HolderCredential,
    ) -> Result<Activation, StoreError>;
    /// The person's voucher.
    async fn voucher_of(&self, id_key: &IdKey) -> Result<Option<Voucher>, StoreError>;
    /// A voucher by id.
    async fn voucher(&self, id: VoucherId) -> Result<Option<Voucher>, StoreError>;
    /// Sets a voucher's status; `false` if there is no such voucher.
    async fn set_voucher_status(
        &self,
        id: VoucherId,
        status: VoucherStatus,
    ) -> Result<bool, StoreError>;
    /// A holder credential by hash.
    async fn credential(
        &self,
        hash: &CredentialHash,
    ) -> Result<Option<HolderCredential>, StoreError>;
    /// What authenticating a holder reads ([`HolderRecords`]); `None` when no credential has
    /// this hash. A backend may read the three at once when it knows whose credential it is.
    async fn holder_records(
        &self,
        hash: &CredentialHash,
    ) -> Result<Option<HolderRecords>, StoreError> {
        holder_records_in_order(self, hash).await
    }
    /// Revokes one credential; `false` if unknown.
    async fn revoke_credential(&self, hash: &CredentialHash) -> Result<bool, StoreError>;
    /// Revokes every credential of a voucher (lost phone); returns how many were live.
    async fn revoke_credentials_of(&self, voucher: VoucherId) -> Result<usize, StoreError>;

    /// The person's voucher, created from `candidate` if they have none (activation by a
    /// family member, without a holder credential).
    async fn ensure_voucher(&self, candidate: &Voucher) -> Result<Activation, StoreError>;

    /// Undoes the proxy activation of `voucher` by `binder` whose bind then failed: deletes
    /// the voucher if it is still the person's, has no credential and no link from another
    /// binder; `false` (and nothing changed) otherwise.
    async fn discard_unused_voucher(
        &self,
        voucher: &Voucher,
        binder: VoucherId,
    ) -> Result<bool, StoreError>;

    /// Writes `link` (kept apart by its kind) if the stored version is `expected_version` (0: no link yet). With
    /// `limit = Some(max)` it also refuses when the binder already has `max` other
    /// active links. Both checks and the write are one atomic step
    /// on the binder's side; the member's index is written first and may hold extra entries
    /// (never missing ones), which readers skip.
    async fn save_link(
        &self,
        link: &FamilyLink,
        expected_version: u64,
        limit: Option<usize>,
    ) -> Result<LinkSave, StoreError>;
    /// The link of `kind` from `binder` to `member`.
    async fn link(
        &self,
        kind: LinkKind,
        binder: VoucherId,
        member: VoucherId,
    ) -> Result<Option<FamilyLink>, StoreError>;
    /// Every link of `kind` where `binder` is the binder.
    async fn links_of_binder(
        &self,
        kind: LinkKind,
        binder: VoucherId,
    ) -> Result<Vec<FamilyLink>, StoreError>;
    /// Every link of `kind` where `member` is the member.
    async fn links_of_member(
        &self,
        kind: LinkKind,
        member: VoucherId,
    ) -> Result<Vec<FamilyLink>, StoreError>;

    /// Writes `settlement` unless its token already has one, in one atomic step: `None`
    /// when written, otherwise the settlement that was there (which is kept). This is the
    /// once-only rule across all terminals.
    async fn insert_settlement(
        &self,
        settlement: &Settlement,
    ) -> Result<Option<Settlement>, StoreError> {
        let mut found = self
            .insert_settlements(std::slice::from_ref(settlement))
            .await?;
        found
            .pop()
            .ok_or_else(|| StoreError::Backend("no answer for the settlement".into()))
    }
    /// [`Self::insert_settlement`] for a batch, in order, in as few round trips as the
    /// backend allows (one transaction; one pipeline). Each item is still its own
    /// insert-if-absent: a later item for the same token sees the earlier one.
    async fn insert_settlements(
        &self,
        batch: &[Settlement],
    ) -> Result<Vec<Option<Settlement>>, StoreError>;
    /// Replaces `current` by `new` if the stored record is still `current`; `false` if it
    /// changed (or vanished) meanwhile.
    async fn replace_settlement(
        &self,
        current: &Settlement,
        new: &Settlement,
    ) -> Result<bool, StoreError>;
    /// A token's settlement.
    async fn settlement(
        &self,
        voucher: VoucherId,
        token: TokenId,
    ) -> Result<Option<Settlement>, StoreError>;
    /// Every settlement of a voucher (its expense ledger and visit history).
    async fn settlements_of(&self, voucher: VoucherId) -> Result<Vec<Settlement>, StoreError>;
    /// Records a refused double use, once per token and terminal (a retried handoff does
    /// not add a second record).
    async fn record_double_use(&self, double_use: &DoubleUse) -> Result<(), StoreError>;
    /// Every double use recorded against a voucher.
    async fn double_uses_of(&self, voucher: VoucherId) -> Result<Vec<DoubleUse>, StoreError>;

    /// Creates or replaces a device record (and its place in the holder's index).
    async fn put_device(&self, device: &Device) -> Result<(), StoreError>;
    /// One of a holder's devices by id (another holder's device is `None`).
    async fn device(
        &self,
        holder: VoucherId,
        device_id: &str,
    ) -> Result<Option<Device>, StoreError>;
    /// Every device a holder registered.
    async fn devices_of(&self, holder: VoucherId) -> Result<Vec<Device>, StoreError>;
    /// Deletes a device record; `false` if it was not there.
    async fn delete_device(&self, device: &Device) -> Result<bool, StoreError>;

    /// Reserves `count` certificate numbers never reserved before and returns the first
    /// (numbers start at 1). Durable before it answers (replicated on Redis), so no number is
    /// handed out twice, even across a failover: the status list's compact part is keyed by
    /// them (`docs/token-format.md` §10).
    async fn reserve_certificate_numbers(&self, count: u64) -> Result<u64, StoreError>;
    /// Appends revoked certificates to the status list, each with the next sequence, in one
    /// atomic step: a reader never sees a later sequence without every earlier one (so a
    /// terminal's delta "after sequence n" never misses an entry). Returns the new sequence.
    async fn append_revocations(&self, revoked: &[RevokedCertificate]) -> Result<u64, StoreError>;
    /// The current sequence and every entry appended after `since`, in sequence order
    /// (pruned entries excepted).
    async fn revocations_since(
        &self,
        since: u64,
    ) -> Result<(u64, Vec<RevokedCertificate>), StoreError>;
    /// A certificate's revocation, if it was revoked (and not yet pruned).
    async fn revocation(
        &self,
        certificate: CertificateId,
    ) -> Result<Option<RevokedCertificate>, StoreError>;
    /// Forgets revocations of certificates that expired before `before` (refused by their
    /// own validity anyway); returns how many. Keeps the list bounded by what is revoked
    /// within one certificate lifetime.
    async fn prune_revocations(&self, before: yibao_shared::UnixTime) -> Result<usize, StoreError>;
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Records are plain structs of strings, numbers and enums: serialising cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

pub(crate) fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}
