//! Settlements on Redis: a token's settlement lives in its voucher's hash
//! (`yb:v:{<voucher>}:settled`), so insert-if-absent (the once-only rule) and the ledger read
//! are single-slot operations.

use redis::AsyncCommands;
use yibao_shared::{TokenId, VoucherId};

use super::{RedisStore, failed};
use crate::model::settlement::{DoubleUse, Settlement};
use crate::store::{StoreError, decode, encode};

fn settled_key(voucher: VoucherId) -> String {
    format!("yb:v:{{{voucher}}}:settled")
}
fn double_use_key(voucher: VoucherId) -> String {
    format!("yb:v:{{{voucher}}}:double-use")
}

/// Compare-and-set of one hash field on its exact stored bytes: 1 replaced, 0 changed.
const REPLACE_FIELD: &str = r#"
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"#;

impl RedisStore {
    pub(super) async fn insert_settlements_in_redis(
        &self,
        batch: &[Settlement],
    ) -> Result<Vec<Option<Settlement>>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        // Per item, HSETNX (the atomic once-only step) and an HGET reading back whichever
        // record won (ours, or the one kept); both on the item's slot.
        let replies = self
            .each_item(batch.len(), 2, |pipe, i| {
                let (key, field) = (
                    settled_key(batch[i].voucher_id),
                    batch[i].token_id.to_string(),
                );
                pipe.hset_nx(&key, &field, encode(&batch[i]))
                    .hget(&key, &field);
            })
            .await?
            .into_iter()
            .map(|item| {
                let [set, current]: [redis::Value; 2] = item
                    .try_into()
                    .map_err(|_| StoreError::Backend("short pipeline reply".into()))?;
                let set: bool =
                    redis::from_redis_value(set).map_err(|e| StoreError::Backend(e.to_string()))?;
                let current: Option<Vec<u8>> = redis::from_redis_value(current)
                    .map_err(|e| StoreError::Backend(e.to_string()))?;
                Ok((set, current))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let keys: Vec<String> = batch.iter().map(|s| settled_key(s.voucher_id)).collect();
        self.replicated(&keys.iter().map(String::as_str).collect::<Vec<_>>())
            .await?;
        replies
            .into_iter()
            .map(|(set, current)| match (set, current) {
                (true, _) => Ok(None),
                (false, Some(bytes)) => decode(&bytes).map(Some),
                (false, None) => Err(StoreError::Backend("settlement vanished".into())),
            })
            .collect()
    }

    pub(super) async fn replace_settlement_in_redis(
        &self,
        current: &Settlement,
        new: &Settlement,
    ) -> Result<bool, StoreError> {
        let replaced: i64 = redis::Script::new(REPLACE_FIELD)
            .key(settled_key(current.voucher_id))
            .arg(current.token_id.to_string())
            .arg(encode(current))
            .arg(encode(new))
            .invoke_async(&mut self.conn())
            .await
            .map_err(failed)?;
        self.replicated(&[&settled_key(current.voucher_id)]).await?;
        Ok(replaced == 1)
    }

    pub(super) async fn settlement_in_redis(
        &self,
        voucher: VoucherId,
        token: TokenId,
    ) -> Result<Option<Settlement>, StoreError> {
        let raw: Option<Vec<u8>> = self
            .conn()
            .hget(settled_key(voucher), token.to_string())
            .await
            .map_err(failed)?;
        raw.map(|b| decode(&b)).transpose()
    }

    pub(super) async fn settlements_of_in_redis(
        &self,
        voucher: VoucherId,
    ) -> Result<Vec<Settlement>, StoreError> {
        let all: Vec<Vec<u8>> = self
            .conn()
            .hvals(settled_key(voucher))
            .await
            .map_err(failed)?;
        all.iter().map(|b| decode(b)).collect()
    }

    pub(super) async fn record_double_use_in_redis(
        &self,
        double_use: &DoubleUse,
    ) -> Result<(), StoreError> {
        let _: bool = self
            .conn()
            .hset_nx(
                double_use_key(double_use.voucher_id),
                format!("{}/{}", double_use.token_id, double_use.terminal),
                encode(double_use),
            )
            .await
            .map_err(failed)?;
        self.replicated(&[&double_use_key(double_use.voucher_id)])
            .await
    }

    pub(super) async fn double_uses_of_in_redis(
        &self,
        voucher: VoucherId,
    ) -> Result<Vec<DoubleUse>, StoreError> {
        let all: Vec<Vec<u8>> = self
            .conn()
            .hvals(double_use_key(voucher))
            .await
            .map_err(failed)?;
        all.iter().map(|b| decode(b)).collect()
    }
}
