//! Authenticating a holder: what a node remembers of it, and the writes that make every node
//! read it again.
//!
//! A token request needs a credential, its voucher and the voucher owner's registry row:
//! three slots, so three nodes on a cluster. They change rarely, so a node remembers them per
//! credential together with the voucher's *holder generation* (`yb:v:{v}:gen`), a value that
//! every write changing any of them replaces once it has written: a suspension or
//! resumption, a revocation of one or all of the voucher's credentials, an import of its
//! owner's row. A request for a remembered credential reads that value alone: unchanged,
//! nothing the records hold has been written since they were read; changed, they are read
//! again (generation first, records after, so what is kept is never older than its
//! generation). The value is random, not a count: a failover that lost an unacknowledged
//! bump could bring a count back to a number a node already holds for older records.
//! A revocation or suspension acknowledged on any node is therefore refused on every node
//! from the next request, for one read of one key.
//!
//! What a node keeps is also read again after [`CHECKED_FOR`] whatever the generation says. That
//! bounds what a writer that died between its write and its bump (a write never
//! acknowledged), or a node of a version that does not bump, can leave unseen.
//!
//! A credential seen for the first time is read in order (its record names the voucher), and
//! those reads came before any generation, so only its owners are remembered; its next
//! request reads the generation, then the records, and keeps them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use quick_cache::Weighter;
use quick_cache::sync::Cache;
use redis::AsyncCommands;
use yibao_shared::VoucherId;

use super::connection::Connection;
use super::keys::{
    credential_key, credential_revoked_key, person_key, person_voucher_key, voucher_creds_key,
    voucher_generation_key, voucher_key, voucher_status_key,
};
use super::{RedisStore, failed, keys_of};
use crate::model::{HolderCredential, Person, Voucher, VoucherStatus};
use crate::secrets::{CredentialHash, IdKey, random_id};
use crate::store::{HolderRecords, StoreError, decode, holder_records_in_order as in_order};

/// How long remembered records are trusted on their generation alone (module docs).
pub(super) const CHECKED_FOR: Duration = Duration::from_secs(30);

/// What a node keeps of the holders it has seen: a budget in bytes of records (each holder
/// weighs its three records as stored, plus the cache's bookkeeping). A node sees a phone
/// about once a minute while its code is on screen; past the budget the cache keeps those
/// seen more than once. Only credentials the store knows are kept, so made-up ones cannot
/// push real ones out.
const REMEMBERED_BYTES: u64 = 64 << 20;
/// Bookkeeping counted per entry on top of its records' bytes.
const ENTRY_OVERHEAD: u64 = 160;

/// A new holder generation: random and never 0, the value of a voucher that has none.
fn fresh_generation() -> Result<u64, StoreError> {
    let bytes = random_id::<8>().map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(u64::from_le_bytes(bytes) | 1)
}

/// A credential from its record and its `:revoked` key, as `MGET` returns them.
pub(super) fn credential_from(
    record: Option<Vec<u8>>,
    revoked: Option<String>,
) -> Result<Option<HolderCredential>, StoreError> {
    let Some(record) = record else {
        return Ok(None);
    };
    let mut credential: HolderCredential = decode(&record)?;
    credential.revoked |= revoked.is_some();
    Ok(Some(credential))
}

/// A voucher from its record and its `:status` key, as `MGET` returns them.
pub(super) fn voucher_from(
    record: Option<Vec<u8>>,
    status: Option<String>,
) -> Result<Option<Voucher>, StoreError> {
    let Some(record) = record else {
        return Ok(None);
    };
    let mut voucher: Voucher = decode(&record)?;
    if status.as_deref() == Some("suspended") {
        voucher.status = VoucherStatus::Suspended;
    }
    Ok(Some(voucher))
}

/// Two keys' values, as `MGET` returns them.
type Pair = (Option<Vec<u8>>, Option<String>);

/// What a node knows of one credential.
pub(super) struct Remembered {
    voucher_id: VoucherId,
    id_key: IdKey,
    /// The records, once read after a generation.
    checked: Option<Checked>,
}

struct Checked {
    generation: u64,
    at: Instant,
    records: HolderRecords,
    bytes: u64,
}

#[derive(Clone)]
pub(super) struct ByBytes;

impl Weighter<CredentialHash, Arc<Remembered>> for ByBytes {
    fn weight(&self, _: &CredentialHash, entry: &Arc<Remembered>) -> u64 {
        ENTRY_OVERHEAD + entry.checked.as_ref().map_or(0, |c| c.bytes)
    }
}

/// The holders a node has seen (module docs).
pub(super) struct HolderMemory(Cache<CredentialHash, Arc<Remembered>, ByBytes>);

impl Default for HolderMemory {
    fn default() -> Self {
        Self(Cache::with_weighter(100_000, REMEMBERED_BYTES, ByBytes))
    }
}

/// Sets or clears a voucher's suspension and replaces its holder generation (ARGV[2]), in
/// one step (one slot): a crash cannot leave the one without the other. 0 when there is no
/// such voucher.
const SET_STATUS: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] == 'suspended' then redis.call('SET', KEYS[2], 'suspended')
else redis.call('DEL', KEYS[2]) end
redis.call('SET', KEYS[3], ARGV[2])
return 1
"#;

impl RedisStore {
    /// [`crate::store::Store::holder_records`]: one read of one key for a credential this
    /// node has seen and whose voucher nothing has changed since.
    pub(super) async fn holder_records_in_redis(
        &self,
        hash: &CredentialHash,
    ) -> Result<Option<HolderRecords>, StoreError> {
        let Some(known) = self.holders.0.get(hash) else {
            let records = in_order(self, hash).await?;
            if let Some(HolderRecords { credential, .. }) = &records
                && !credential.revoked
            {
                self.remember(hash, credential.voucher_id, credential.id_key, None);
            }
            return Ok(records);
        };
        if let Some(checked) = &known.checked
            && checked.at.elapsed() < CHECKED_FOR
            && self.generation(known.voucher_id).await? == checked.generation
        {
            return Ok(Some(checked.records.clone()));
        }
        let (generation, records, bytes) = self
            .read_after_generation(hash, known.voucher_id, &known.id_key)
            .await?;
        let Some(records) = records else {
            self.holders.0.remove(hash);
            return Ok(None);
        };
        let credential = &records.credential;
        if credential.revoked
            || credential.voucher_id != known.voucher_id
            || credential.id_key != known.id_key
        {
            // Refused from now on, or (which immutable records rule out) not whose it was.
            self.holders.0.remove(hash);
            return Ok(Some(records));
        }
        let checked = Checked {
            generation,
            at: Instant::now(),
            records: records.clone(),
            bytes,
        };
        self.remember(hash, known.voucher_id, known.id_key, Some(checked));
        Ok(Some(records))
    }

    fn remember(
        &self,
        hash: &CredentialHash,
        voucher_id: VoucherId,
        id_key: IdKey,
        checked: Option<Checked>,
    ) {
        let entry = Remembered {
            voucher_id,
            id_key,
            checked,
        };
        self.holders.0.insert(*hash, Arc::new(entry));
    }

    async fn generation(&self, voucher: VoucherId) -> Result<u64, StoreError> {
        let value: Option<u64> = redis::cmd("GET")
            .arg(voucher_generation_key(voucher))
            .query_async(&mut self.conn())
            .await
            .map_err(failed)?;
        Ok(value.unwrap_or(0))
    }

    /// The voucher's holder generation, then the credential, the voucher and the person,
    /// with the records' size. On one server one pipeline (a connection's commands run in
    /// order); on a cluster the generation and the voucher first (one slot), then the other two.
    async fn read_after_generation(
        &self,
        hash: &CredentialHash,
        voucher_id: VoucherId,
        id_key: &IdKey,
    ) -> Result<(u64, Option<HolderRecords>, u64), StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("GET")
            .arg(voucher_generation_key(voucher_id))
            .cmd("MGET")
            .arg(voucher_key(voucher_id))
            .arg(voucher_status_key(voucher_id));
        let mut credential_read = redis::cmd("MGET");
        credential_read
            .arg(credential_key(hash))
            .arg(credential_revoked_key(hash));
        let mut person_read = redis::cmd("GET");
        person_read.arg(person_key(id_key));
        let (generation, voucher, credential, person): (Option<u64>, Pair, Pair, Option<Vec<u8>>) =
            if let Connection::Cluster(_) = &self.conn {
                let (generation, voucher): (Option<u64>, Pair) =
                    pipe.query_async(&mut self.conn()).await.map_err(failed)?;
                let (mut a, mut b) = (self.conn(), self.conn());
                let (credential, person) = tokio::try_join!(
                    credential_read.query_async(&mut a),
                    person_read.query_async(&mut b)
                )
                .map_err(failed)?;
                (generation, voucher, credential, person)
            } else {
                pipe.add_command(credential_read)
                    .add_command(person_read)
                    .query_async(&mut self.conn())
                    .await
                    .map_err(failed)?
            };
        let bytes = [&voucher.0, &credential.0, &person]
            .iter()
            .map(|raw| raw.as_ref().map_or(0, Vec::len) as u64)
            .sum();
        let Some(credential) = credential_from(credential.0, credential.1)? else {
            return Ok((generation.unwrap_or(0), None, bytes));
        };
        let records = HolderRecords {
            credential,
            voucher: voucher_from(voucher.0, voucher.1)?,
            person: person.map(|p| decode::<Person>(&p)).transpose()?,
        };
        Ok((generation.unwrap_or(0), Some(records), bytes))
    }

    /// [`crate::store::Store::set_voucher_status`]: the status and the holder generation in
    /// one step.
    pub(super) async fn set_voucher_status_in_redis(
        &self,
        id: VoucherId,
        status: VoucherStatus,
    ) -> Result<bool, StoreError> {
        let status = match status {
            VoucherStatus::Suspended => "suspended",
            VoucherStatus::Active => "active",
        };
        let found: i64 = redis::Script::new(SET_STATUS)
            .key(voucher_key(id))
            .key(voucher_status_key(id))
            .key(voucher_generation_key(id))
            .arg(status)
            .arg(fresh_generation()?)
            .invoke_async(&mut self.conn())
            .await
            .map_err(failed)?;
        if found == 0 {
            return Ok(false);
        }
        self.replicated(&[&voucher_status_key(id)]).await?;
        Ok(true)
    }

    /// [`crate::store::Store::revoke_credential`]: the mark, then the generation of the
    /// credential's voucher.
    pub(super) async fn revoke_credential_in_redis(
        &self,
        hash: &CredentialHash,
    ) -> Result<bool, StoreError> {
        let record: Option<Vec<u8>> = redis::cmd("GET")
            .arg(credential_key(hash))
            .query_async(&mut self.conn())
            .await
            .map_err(failed)?;
        let Some(record) = record else {
            return Ok(false);
        };
        let voucher = decode::<HolderCredential>(&record)?.voucher_id;
        let _: () = redis::cmd("SET")
            .arg(credential_revoked_key(hash))
            .arg("1")
            .query_async(&mut self.conn())
            .await
            .map_err(failed)?;
        self.bump(voucher).await?;
        self.replicated(&[
            &credential_revoked_key(hash),
            &voucher_generation_key(voucher),
        ])
        .await?;
        Ok(true)
    }

    /// [`crate::store::Store::revoke_credentials_of`]: every mark, then the voucher's
    /// generation once.
    pub(super) async fn revoke_credentials_of_in_redis(
        &self,
        voucher: VoucherId,
    ) -> Result<usize, StoreError> {
        let hashes: Vec<String> = self
            .conn()
            .smembers(voucher_creds_key(voucher))
            .await
            .map_err(failed)?;
        let mut revoked = 0;
        let mut written = vec![voucher_generation_key(voucher)];
        for hash in hashes.iter().filter_map(|h| CredentialHash::from_hex(h)) {
            let mut conn = self.conn();
            let live: bool = conn.exists(credential_key(&hash)).await.map_err(failed)?;
            // SET NX: counts only credentials this call revoked.
            if live
                && conn
                    .set_nx(credential_revoked_key(&hash), "1")
                    .await
                    .map_err(failed)?
            {
                revoked += 1;
            }
            written.push(credential_revoked_key(&hash));
        }
        self.bump(voucher).await?;
        self.replicated(&keys_of(&written)).await?;
        Ok(revoked)
    }

    /// After registry rows were written: bumps the generation of each activated person's
    /// voucher, so nodes read the new row at the holder's next request.
    pub(super) async fn persons_changed(&self, persons: &[Person]) -> Result<(), StoreError> {
        let pointers = self
            .each_item(persons.len(), 1, |pipe, i| {
                pipe.get(person_voucher_key(&persons[i].id_key));
            })
            .await?;
        let vouchers: Vec<VoucherId> = pointers
            .iter()
            .filter_map(|reply| match reply.first() {
                Some(redis::Value::BulkString(id)) => std::str::from_utf8(id).ok(),
                _ => None,
            })
            .filter_map(VoucherId::parse)
            .collect();
        let generations = (0..vouchers.len())
            .map(|_| fresh_generation())
            .collect::<Result<Vec<_>, _>>()?;
        self.each_item(vouchers.len(), 1, |pipe, i| {
            pipe.set(voucher_generation_key(vouchers[i]), generations[i]);
        })
        .await?;
        Ok(())
    }

    async fn bump(&self, voucher: VoucherId) -> Result<(), StoreError> {
        redis::cmd("SET")
            .arg(voucher_generation_key(voucher))
            .arg(fresh_generation()?)
            .query_async::<()>(&mut self.conn())
            .await
            .map_err(failed)?;
        Ok(())
    }
}
