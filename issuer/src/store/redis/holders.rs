//! Authenticating a holder in one round trip instead of two. The credential record names the
//! voucher and the person to read next, which made a token request two dependent round
//! trips. Which voucher and person a credential belongs to never changes (the record is
//! written once; only its `:revoked` key is ever added), so a node remembers it for the
//! credentials it has seen and sends all three reads at once. The credential itself is still
//! read on every request, in the same round trip: revocation takes effect at once, and what
//! the node remembered is only a guess the fresh record confirms (a mismatch, which cannot
//! happen with immutable records, falls back to reading in order).

use quick_cache::sync::Cache;
use yibao_shared::VoucherId;

use super::connection::Connection;
use super::keys::{
    credential_key, credential_revoked_key, person_key, voucher_key, voucher_status_key,
};
use super::{RedisStore, failed};
use crate::model::{HolderCredential, Person, Voucher, VoucherStatus};
use crate::secrets::{CredentialHash, IdKey};
use crate::store::{HolderRecords, Store, StoreError, decode, holder_records_in_order as in_order};

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

/// Credentials remembered per node. An entry is about 120 bytes with the cache's own
/// bookkeeping, so this is at most about 24 MB. A node sees a phone about once a minute
/// while its code is on screen; past this many phones a minute per node some are forgotten
/// (the cache keeps those seen more than once) and their requests take the two round trips
/// of an unknown credential. Only credentials the store knows are remembered, so a flood of
/// made-up ones cannot push real ones out.
const REMEMBERED: usize = 200_000;

/// Which voucher and person each recently seen credential belongs to.
pub(super) struct Owners(Cache<CredentialHash, (VoucherId, IdKey)>);

impl Default for Owners {
    fn default() -> Self {
        Self(Cache::new(REMEMBERED))
    }
}

impl RedisStore {
    /// [`Store::holder_records`]: one round trip for a credential this node has seen, the
    /// trait's two for any other.
    pub(super) async fn holder_records_in_redis(
        &self,
        hash: &CredentialHash,
    ) -> Result<Option<HolderRecords>, StoreError> {
        if let Some((voucher_id, id_key)) = self.owners.0.get(hash) {
            let (credential, voucher, person) =
                self.read_together(hash, voucher_id, &id_key).await?;
            let Some(credential) = credential else {
                self.owners.0.remove(hash);
                return Ok(None);
            };
            if credential.revoked {
                // Refused from now on: no need to keep its place.
                self.owners.0.remove(hash);
            }
            if credential.voucher_id == voucher_id && credential.id_key == id_key {
                return Ok(Some(HolderRecords {
                    credential,
                    voucher,
                    person,
                }));
            }
        }
        let records = in_order(self, hash).await?;
        if let Some(HolderRecords { credential, .. }) = &records
            && !credential.revoked
        {
            self.owners
                .0
                .insert(*hash, (credential.voucher_id, credential.id_key));
        }
        Ok(records)
    }

    /// The credential, the voucher and the person at once. On one server that is one
    /// pipeline (one write, one answer); on a cluster the three keys live on different
    /// nodes, so they are three requests sent together.
    async fn read_together(
        &self,
        hash: &CredentialHash,
        voucher_id: VoucherId,
        id_key: &IdKey,
    ) -> Result<(Option<HolderCredential>, Option<Voucher>, Option<Person>), StoreError> {
        if let Connection::Cluster(_) = &self.conn {
            return tokio::try_join!(
                self.credential(hash),
                self.voucher(voucher_id),
                self.person(id_key)
            );
        }
        let ((credential, revoked), (voucher, status), person): (Pair, Pair, Option<Vec<u8>>) =
            redis::pipe()
                .cmd("MGET")
                .arg(credential_key(hash))
                .arg(credential_revoked_key(hash))
                .cmd("MGET")
                .arg(voucher_key(voucher_id))
                .arg(voucher_status_key(voucher_id))
                .cmd("GET")
                .arg(person_key(id_key))
                .query_async(&mut self.conn())
                .await
                .map_err(failed)?;
        Ok((
            credential_from(credential, revoked)?,
            voucher_from(voucher, status)?,
            person.map(|p| decode(&p)).transpose()?,
        ))
    }
}
