//! Settlements in the embedded store: one record per token under its voucher's prefix, so
//! the once-only insert is a lookup and a write in one transaction.

use yibao_shared::{TokenId, VoucherId};

use super::{DOUBLE_USES, EmbeddedStore, SETTLEMENTS, get_in, put};
use crate::model::settlement::{DoubleUse, Settlement};
use crate::store::{StoreError, encode};

impl EmbeddedStore {
    pub(super) async fn insert_settlements_in_redb(
        &self,
        batch: &[Settlement],
    ) -> Result<Vec<Option<Settlement>>, StoreError> {
        let batch: Vec<(String, Vec<u8>)> = batch
            .iter()
            .map(|s| (format!("{}/{}", s.voucher_id, s.token_id), encode(s)))
            .collect();
        // One transaction, one fsync, for the whole batch.
        self.write(move |txn| {
            batch
                .iter()
                .map(|(key, record)| {
                    if let Some(existing) = get_in::<Settlement>(txn, SETTLEMENTS, key)? {
                        return Ok(Some(existing));
                    }
                    put(txn, SETTLEMENTS, key, record)?;
                    Ok(None)
                })
                .collect()
        })
        .await
    }

    pub(super) async fn replace_settlement_in_redb(
        &self,
        current: &Settlement,
        new: &Settlement,
    ) -> Result<bool, StoreError> {
        let key = format!("{}/{}", current.voucher_id, current.token_id);
        let (current, new) = (current.clone(), encode(new));
        self.write(move |txn| {
            if get_in::<Settlement>(txn, SETTLEMENTS, &key)?.as_ref() != Some(&current) {
                return Ok(false);
            }
            put(txn, SETTLEMENTS, &key, &new)?;
            Ok(true)
        })
        .await
    }

    pub(super) async fn settlement_in_redb(
        &self,
        voucher: VoucherId,
        token: TokenId,
    ) -> Result<Option<Settlement>, StoreError> {
        self.get_record(SETTLEMENTS, &format!("{voucher}/{token}"))
    }

    pub(super) async fn settlements_of_in_redb(
        &self,
        voucher: VoucherId,
    ) -> Result<Vec<Settlement>, StoreError> {
        self.with_prefix(SETTLEMENTS, &format!("{voucher}/"))
    }

    pub(super) async fn record_double_use_in_redb(
        &self,
        double_use: &DoubleUse,
    ) -> Result<(), StoreError> {
        let key = format!(
            "{}/{}/{}",
            double_use.voucher_id, double_use.token_id, double_use.terminal
        );
        let record = encode(double_use);
        self.write(move |txn| {
            if get_in::<DoubleUse>(txn, DOUBLE_USES, &key)?.is_none() {
                put(txn, DOUBLE_USES, &key, &record)?;
            }
            Ok(())
        })
        .await
    }

    pub(super) async fn double_uses_of_in_redb(
        &self,
        voucher: VoucherId,
    ) -> Result<Vec<DoubleUse>, StoreError> {
        self.with_prefix(DOUBLE_USES, &format!("{voucher}/"))
    }
}
