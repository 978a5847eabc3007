//! The default store: one redb file (ACID, crash-safe, no server). Reads run inline (they take
//! microseconds); writes commit with fsync on a blocking thread.

mod devices;
mod family;
mod prefix;
mod records;
mod settlement;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use yibao_shared::{CertificateId, RevokedCertificate, TokenId, UnixTime, VoucherId};

use self::records::{claim_voucher_in, get_in, put, put_keyed};
use super::{Activation, Grant, LinkSave, Quota, Store, StoreError, StoreHealth, encode};
use crate::model::device::Device;
use crate::model::settlement::{DoubleUse, Settlement};
use crate::model::{
    Channel, FamilyLink, HolderCredential, Institution, LinkKind, Person, Terminal, Voucher,
    VoucherStatus,
};
use crate::secrets::{CredentialHash, IdKey};

type Table = TableDefinition<'static, &'static str, &'static [u8]>;

const PERSONS: Table = TableDefinition::new("persons");
const CHANNELS: Table = TableDefinition::new("channels");
const CHANNEL_KEYS: Table = TableDefinition::new("channel_keys");
const INSTITUTIONS: Table = TableDefinition::new("institutions");
const TERMINALS: Table = TableDefinition::new("terminals");
const TERMINAL_KEYS: Table = TableDefinition::new("terminal_keys");
const VOUCHERS: Table = TableDefinition::new("vouchers");
const PERSON_VOUCHER: Table = TableDefinition::new("person_voucher");
const CREDENTIALS: Table = TableDefinition::new("credentials");
/// Key `"<voucher hex>/<credential hash hex>"`, empty value: a voucher's credentials.
const VOUCHER_CREDENTIALS: Table = TableDefinition::new("voucher_credentials");

/// Key `"<binder hex>/<member hex>"`: the family link record.
const LINKS: Table = TableDefinition::new("family_links");
/// Key `"<member hex>/<binder hex>"`, empty value: a member's binders.
const MEMBER_LINKS: Table = TableDefinition::new("family_member_links");
/// [`LINKS`] and [`MEMBER_LINKS`] for account shares (个账家庭共济).
const SHARES: Table = TableDefinition::new("account_shares");
const MEMBER_SHARES: Table = TableDefinition::new("account_share_members");

/// Key `"<voucher hex>/<token hex>"`: the token's settlement (so a voucher's ledger is one
/// prefix range).
const SETTLEMENTS: Table = TableDefinition::new("settlements");
/// Key `"<voucher hex>/<token hex>/<terminal>"`: a refused double use.
const DOUBLE_USES: Table = TableDefinition::new("double_uses");

/// Key device id: the device record.
const DEVICES: Table = TableDefinition::new("devices");
/// Key `"<holder hex>/<device id>"`, empty value: a holder's devices.
const HOLDER_DEVICES: Table = TableDefinition::new("holder_devices");
/// Key the zero-padded status list sequence: one revoked certificate.
const REVOCATION_LOG: Table = TableDefinition::new("revocation_log");
/// Key certificate id hex: its (first) revocation.
const REVOKED: Table = TableDefinition::new("revoked_certificates");
/// Key `"sequence"`: the status list's last sequence.
const STATUS_META: Table = TableDefinition::new("status_meta");

const ALL: [Table; 21] = [
    PERSONS,
    CHANNELS,
    CHANNEL_KEYS,
    INSTITUTIONS,
    TERMINALS,
    TERMINAL_KEYS,
    VOUCHERS,
    PERSON_VOUCHER,
    CREDENTIALS,
    VOUCHER_CREDENTIALS,
    LINKS,
    MEMBER_LINKS,
    SHARES,
    MEMBER_SHARES,
    SETTLEMENTS,
    DOUBLE_USES,
    DEVICES,
    HOLDER_DEVICES,
    REVOCATION_LOG,
    REVOKED,
    STATUS_META,
];

/// redb-backed store.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmbeddedStore")
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl EmbeddedStore {
    /// Opens (creating if needed) `dir/yibao.redb`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if the directory cannot be created or another process
    /// holds the file.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", dir.display())))?;
        let path = dir.join("yibao.redb");
        let db = Database::create(&path)
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", path.display())))?;
        let txn = db.begin_write().map_err(backend)?;
        for table in ALL {
            txn.open_table(table).map_err(backend)?;
        }
        txn.commit().map_err(backend)?;
        Ok(Self { db: Arc::new(db) })
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.db.begin_read().map(|_| ()).map_err(backend)
    }

    async fn health(&self) -> Result<StoreHealth, StoreError> {
        Ok(StoreHealth {
            backend: "embedded",
            cluster: None,
        })
    }

    async fn take_quota(&self, _: &str, _: Quota, _: u32, _: u32) -> Result<Grant, StoreError> {
        // One process owns the file: its limits stay in memory (`limits::RateLimits`).
        Err(StoreError::Unsupported)
    }

    async fn upsert_persons(&self, persons: Vec<Person>) -> Result<(), StoreError> {
        // Encode here, on the caller's thread: the writer thread is the import's bottleneck.
        let rows: Vec<(String, Vec<u8>)> = persons
            .iter()
            .map(|p| (p.id_key.to_hex(), encode(p)))
            .collect();
        self.write(move |txn| {
            let mut table = txn.open_table(PERSONS).map_err(backend)?;
            for (key, value) in &rows {
                table
                    .insert(key.as_str(), value.as_slice())
                    .map_err(backend)?;
            }
            Ok(())
        })
        .await
    }

    async fn person(&self, id_key: &IdKey) -> Result<Option<Person>, StoreError> {
        self.get_record(PERSONS, &id_key.to_hex())
    }

    async fn put_channel(&self, channel: &Channel) -> Result<(), StoreError> {
        let channel = channel.clone();
        self.write(move |txn| {
            let old = get_in::<Channel>(txn, CHANNELS, &channel.id)?.map(|c| c.key_hash);
            put_keyed(
                txn,
                CHANNELS,
                CHANNEL_KEYS,
                &channel.id,
                &encode(&channel),
                old,
                &channel.key_hash,
            )
        })
        .await
    }

    async fn channel_by_key(&self, key: &CredentialHash) -> Result<Option<Channel>, StoreError> {
        self.by_key(CHANNEL_KEYS, CHANNELS, key)
    }

    async fn channel(&self, id: &str) -> Result<Option<Channel>, StoreError> {
        self.get_record(CHANNELS, id)
    }

    async fn channels(&self) -> Result<Vec<Channel>, StoreError> {
        self.all_records(CHANNELS)
    }

    async fn put_institutions(&self, institutions: &[Institution]) -> Result<(), StoreError> {
        let encoded: Vec<(String, Vec<u8>)> = institutions
            .iter()
            .map(|i| (i.code.clone(), encode(i)))
            .collect();
        self.write(move |txn| {
            encoded
                .iter()
                .try_for_each(|(code, record)| put(txn, INSTITUTIONS, code, record))
        })
        .await
    }

    async fn institution(&self, code: &str) -> Result<Option<Institution>, StoreError> {
        self.get_record(INSTITUTIONS, code)
    }

    async fn institutions(&self) -> Result<Vec<Institution>, StoreError> {
        self.all_records(INSTITUTIONS)
    }

    async fn put_terminal(&self, terminal: &Terminal) -> Result<(), StoreError> {
        let terminal = terminal.clone();
        self.write(move |txn| {
            let old = get_in::<Terminal>(txn, TERMINALS, &terminal.id)?.map(|t| t.key_hash);
            put_keyed(
                txn,
                TERMINALS,
                TERMINAL_KEYS,
                &terminal.id,
                &encode(&terminal),
                old,
                &terminal.key_hash,
            )
        })
        .await
    }

    async fn terminal_by_key(&self, key: &CredentialHash) -> Result<Option<Terminal>, StoreError> {
        self.by_key(TERMINAL_KEYS, TERMINALS, key)
    }

    async fn terminal(&self, id: &str) -> Result<Option<Terminal>, StoreError> {
        self.get_record(TERMINALS, id)
    }

    async fn terminals_of(&self, code: &str) -> Result<Vec<Terminal>, StoreError> {
        let all: Vec<Terminal> = self.all_records(TERMINALS)?;
        Ok(all.into_iter().filter(|t| t.institution == code).collect())
    }

    async fn activate(
        &self,
        candidate: &Voucher,
        credential: &HolderCredential,
    ) -> Result<Activation, StoreError> {
        let candidate = candidate.clone();
        let mut credential = credential.clone();
        // One transaction: voucher, person index and credential appear together or not at all.
        self.write(move |txn| {
            let Activation { voucher, created } = claim_voucher_in(txn, candidate)?;
            credential.voucher_id = voucher.voucher_id;
            let hash = credential.hash.to_hex();
            put(txn, CREDENTIALS, &hash, &encode(&credential))?;
            put(
                txn,
                VOUCHER_CREDENTIALS,
                &format!("{}/{hash}", voucher.voucher_id),
                &[],
            )?;
            Ok(Activation { voucher, created })
        })
        .await
    }

    async fn voucher_of(&self, id_key: &IdKey) -> Result<Option<Voucher>, StoreError> {
        let Some(id) = self.get(PERSON_VOUCHER, &id_key.to_hex())? else {
            return Ok(None);
        };
        let id = String::from_utf8(id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.get_record(VOUCHERS, &id)
    }

    async fn voucher(&self, id: VoucherId) -> Result<Option<Voucher>, StoreError> {
        self.get_record(VOUCHERS, &id.to_string())
    }

    async fn set_voucher_status(
        &self,
        id: VoucherId,
        status: VoucherStatus,
    ) -> Result<bool, StoreError> {
        self.write(move |txn| {
            let key = id.to_string();
            let Some(mut voucher) = get_in::<Voucher>(txn, VOUCHERS, &key)? else {
                return Ok(false);
            };
            voucher.status = status;
            put(txn, VOUCHERS, &key, &encode(&voucher))?;
            Ok(true)
        })
        .await
    }

    async fn credential(
        &self,
        hash: &CredentialHash,
    ) -> Result<Option<HolderCredential>, StoreError> {
        self.get_record(CREDENTIALS, &hash.to_hex())
    }

    async fn revoke_credential(&self, hash: &CredentialHash) -> Result<bool, StoreError> {
        let key = hash.to_hex();
        self.write(move |txn| {
            let Some(mut credential) = get_in::<HolderCredential>(txn, CREDENTIALS, &key)? else {
                return Ok(false);
            };
            credential.revoked = true;
            put(txn, CREDENTIALS, &key, &encode(&credential))?;
            Ok(true)
        })
        .await
    }

    async fn revoke_credentials_of(&self, voucher: VoucherId) -> Result<usize, StoreError> {
        self.write(move |txn| {
            let prefix = format!("{voucher}/");
            let hashes: Vec<String> = {
                let table = txn.open_table(VOUCHER_CREDENTIALS).map_err(backend)?;
                let mut out = Vec::new();
                for entry in table.range(prefix.as_str()..).map_err(backend)? {
                    let (key, _) = entry.map_err(backend)?;
                    let key = key.value();
                    match key.strip_prefix(&prefix) {
                        Some(hash) => out.push(hash.to_owned()),
                        None => break,
                    }
                }
                out
            };
            let mut revoked = 0;
            for hash in hashes {
                if let Some(mut credential) = get_in::<HolderCredential>(txn, CREDENTIALS, &hash)? {
                    if !credential.revoked {
                        credential.revoked = true;
                        put(txn, CREDENTIALS, &hash, &encode(&credential))?;
                        revoked += 1;
                    }
                }
            }
            Ok(revoked)
        })
        .await
    }

    async fn ensure_voucher(&self, candidate: &Voucher) -> Result<Activation, StoreError> {
        let candidate = candidate.clone();
        self.write(move |txn| claim_voucher_in(txn, candidate))
            .await
    }

    async fn discard_unused_voucher(
        &self,
        voucher: &Voucher,
        binder: VoucherId,
    ) -> Result<bool, StoreError> {
        self.discard_unused_voucher_in_redb(voucher, binder).await
    }

    async fn save_link(
        &self,
        link: &FamilyLink,
        expected_version: u64,
        limit: Option<usize>,
    ) -> Result<LinkSave, StoreError> {
        self.save_link_in_redb(link, expected_version, limit).await
    }

    async fn link(
        &self,
        kind: LinkKind,
        binder: VoucherId,
        member: VoucherId,
    ) -> Result<Option<FamilyLink>, StoreError> {
        self.link_in_redb(kind, binder, member).await
    }

    async fn links_of_binder(
        &self,
        kind: LinkKind,
        binder: VoucherId,
    ) -> Result<Vec<FamilyLink>, StoreError> {
        self.links_of_binder_in_redb(kind, binder).await
    }

    async fn links_of_member(
        &self,
        kind: LinkKind,
        member: VoucherId,
    ) -> Result<Vec<FamilyLink>, StoreError> {
        self.links_of_member_in_redb(kind, member).await
    }

    async fn insert_settlements(
        &self,
        batch: &[Settlement],
    ) -> Result<Vec<Option<Settlement>>, StoreError> {
        self.insert_settlements_in_redb(batch).await
    }

    async fn replace_settlement(
        &self,
        current: &Settlement,
        new: &Settlement,
    ) -> Result<bool, StoreError> {
        self.replace_settlement_in_redb(current, new).await
    }

    async fn settlement(
        &self,
        voucher: VoucherId,
        token: TokenId,
    ) -> Result<Option<Settlement>, StoreError> {
        self.settlement_in_redb(voucher, token).await
    }

    async fn settlements_of(&self, voucher: VoucherId) -> Result<Vec<Settlement>, StoreError> {
        self.settlements_of_in_redb(voucher).await
    }

    async fn record_double_use(&self, double_use: &DoubleUse) -> Result<(), StoreError> {
        self.record_double_use_in_redb(double_use).await
    }

    async fn double_uses_of(&self, voucher: VoucherId) -> Result<Vec<DoubleUse>, StoreError> {
        self.double_uses_of_in_redb(voucher).await
    }

    async fn put_device(&self, device: &Device) -> Result<(), StoreError> {
        self.put_device_in_redb(device).await
    }

    async fn device(
        &self,
        holder: VoucherId,
        device_id: &str,
    ) -> Result<Option<Device>, StoreError> {
        Ok(self
            .device_in_redb(device_id)
            .await?
            .filter(|d| d.holder == holder))
    }

    async fn devices_of(&self, holder: VoucherId) -> Result<Vec<Device>, StoreError> {
        self.devices_of_in_redb(holder).await
    }

    async fn delete_device(&self, device: &Device) -> Result<bool, StoreError> {
        self.delete_device_in_redb(device).await
    }

    async fn reserve_certificate_numbers(&self, count: u64) -> Result<u64, StoreError> {
        self.reserve_certificate_numbers_in_redb(count).await
    }

    async fn append_revocations(&self, revoked: &[RevokedCertificate]) -> Result<u64, StoreError> {
        self.append_revocations_in_redb(revoked).await
    }

    async fn revocations_since(
        &self,
        since: u64,
    ) -> Result<(u64, Vec<RevokedCertificate>), StoreError> {
        self.revocations_since_in_redb(since).await
    }

    async fn revocation(
        &self,
        certificate: CertificateId,
    ) -> Result<Option<RevokedCertificate>, StoreError> {
        self.revocation_in_redb(certificate).await
    }

    async fn prune_revocations(&self, before: UnixTime) -> Result<usize, StoreError> {
        self.prune_revocations_in_redb(before).await
    }
}
