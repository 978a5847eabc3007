//! Record access on the embedded file: reads, write transactions on a blocking thread, and
//! the writes every table shares (a record, a record with its key-hash index, a voucher
//! claimed for a person).

use std::sync::Arc;

use redb::{ReadableDatabase, ReadableTable};

use super::{EmbeddedStore, PERSON_VOUCHER, Table, VOUCHERS, backend};
use crate::model::Voucher;
use crate::secrets::CredentialHash;
use crate::store::{Activation, StoreError, decode, encode};

impl EmbeddedStore {
    pub(super) fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(table).map_err(backend)?;
        Ok(table.get(key).map_err(backend)?.map(|v| v.value().to_vec()))
    }

    pub(super) fn get_record<T: for<'de> serde::Deserialize<'de>>(
        &self,
        table: Table,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        self.get(table, key)?.map(|b| decode(&b)).transpose()
    }

    /// A record found through a key-hash index (channel or terminal credentials).
    pub(super) fn by_key<T: for<'de> serde::Deserialize<'de>>(
        &self,
        keys: Table,
        records: Table,
        key: &CredentialHash,
    ) -> Result<Option<T>, StoreError> {
        let Some(id) = self.get(keys, &key.to_hex())? else {
            return Ok(None);
        };
        let id = String::from_utf8(id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.get_record(records, &id)
    }

    /// Every record of `table` (operator tables: tens of channels, an issuer's terminals,
    /// the designated institutions).
    pub(super) fn all_records<T: for<'de> serde::Deserialize<'de>>(
        &self,
        table: Table,
    ) -> Result<Vec<T>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(table).map_err(backend)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(backend)? {
            out.push(decode(entry.map_err(backend)?.1.value())?);
        }
        Ok(out)
    }

    /// Runs a write transaction on a blocking thread and commits it.
    pub(super) async fn write<R: Send + 'static>(
        &self,
        work: impl FnOnce(&redb::WriteTransaction) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_write().map_err(backend)?;
            let out = work(&txn)?;
            txn.commit().map_err(backend)?;
            Ok(out)
        })
        .await
        .map_err(backend)?
    }
}

pub(super) fn put(
    txn: &redb::WriteTransaction,
    table: Table,
    key: &str,
    value: &[u8],
) -> Result<(), StoreError> {
    txn.open_table(table)
        .map_err(backend)?
        .insert(key, value)
        .map_err(backend)?;
    Ok(())
}

/// Writes a record and its key-hash index entry; a replaced key's old entry is removed, so
/// re-registering retires the old credential.
pub(super) fn put_keyed(
    txn: &redb::WriteTransaction,
    records: Table,
    keys: Table,
    id: &str,
    record: &[u8],
    old_key: Option<CredentialHash>,
    new_key: &CredentialHash,
) -> Result<(), StoreError> {
    if let Some(old) = old_key {
        txn.open_table(keys)
            .map_err(backend)?
            .remove(old.to_hex().as_str())
            .map_err(backend)?;
    }
    put(txn, records, id, record)?;
    put(txn, keys, &new_key.to_hex(), id.as_bytes())
}

/// The person's voucher inside a write transaction, created from `candidate` if missing.
pub(super) fn claim_voucher_in(
    txn: &redb::WriteTransaction,
    candidate: Voucher,
) -> Result<Activation, StoreError> {
    let person = candidate.id_key.to_hex();
    let existing = {
        let table = txn.open_table(PERSON_VOUCHER).map_err(backend)?;
        table
            .get(person.as_str())
            .map_err(backend)?
            .map(|v| v.value().to_vec())
    };
    if let Some(id) = existing {
        let id = String::from_utf8(id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let voucher = get_in::<Voucher>(txn, VOUCHERS, &id)?
            .ok_or_else(|| StoreError::Corrupt(format!("voucher {id} missing")))?;
        return Ok(Activation {
            voucher,
            created: false,
        });
    }
    let id = candidate.voucher_id.to_string();
    put(txn, VOUCHERS, &id, &encode(&candidate))?;
    put(txn, PERSON_VOUCHER, &person, id.as_bytes())?;
    Ok(Activation {
        voucher: candidate,
        created: true,
    })
}

pub(super) fn get_in<T: for<'de> serde::Deserialize<'de>>(
    txn: &redb::WriteTransaction,
    table: Table,
    key: &str,
) -> Result<Option<T>, StoreError> {
    let table = txn.open_table(table).map_err(backend)?;
    let bytes = table.get(key).map_err(backend)?.map(|v| v.value().to_vec());
    bytes.map(|b| decode(&b)).transpose()
}
