//! Operator records in Redis: channels and terminals (a record, a key-hash index, and an id
//! set to list them by), and the institutions' hash.

use futures_util::future::try_join_all;
use redis::AsyncCommands;

use super::keys::INSTITUTIONS;
use super::{RedisStore, failed, keys_of};
use crate::model::{Channel, Institution, Terminal};
use crate::secrets::CredentialHash;
use crate::store::{StoreError, decode, encode};

/// The set of every channel id (one key: a platform has tens of channels).
const CHANNEL_IDS: &str = "yb:channels";

/// The set of institution `code`'s terminal ids.
fn terminal_ids(code: &str) -> String {
    format!("yb:it:{{{code}}}")
}

impl RedisStore {
    pub(super) async fn get_record<T: for<'de> serde::Deserialize<'de>>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let bytes: Option<Vec<u8>> = self.conn().get(key).await.map_err(failed)?;
        bytes.map(|b| decode(&b)).transpose()
    }

    pub(super) async fn lookup<T: for<'de> serde::Deserialize<'de>>(
        &self,
        index_key: &str,
        record_prefix: &str,
    ) -> Result<Option<T>, StoreError> {
        let id: Option<String> = self.conn().get(index_key).await.map_err(failed)?;
        match id {
            Some(id) => self.get_record(&format!("{record_prefix}{{{id}}}")).await,
            None => Ok(None),
        }
    }

    pub(super) async fn put_with_key_index(
        &self,
        record_key: String,
        record: Vec<u8>,
        key_prefix: &str,
        old_key_hash: Option<CredentialHash>,
        new_key_hash: &CredentialHash,
        id: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        // New index first, then the record, then drop the old index: at every point the
        // record's current key resolves.
        let new_index = format!("{key_prefix}{{{}}}", new_key_hash.to_hex());
        let _: () = conn.set(&new_index, id).await.map_err(failed)?;
        let _: () = conn.set(&record_key, record).await.map_err(failed)?;
        let mut written = vec![new_index, record_key];
        if let Some(old) = old_key_hash.filter(|old| old != new_key_hash) {
            let old_index = format!("{key_prefix}{{{}}}", old.to_hex());
            let _: () = conn.del(&old_index).await.map_err(failed)?;
            written.push(old_index);
        }
        self.replicated(&keys_of(&written)).await
    }

    /// Every record listed in set `ids` (records missing, as after a crash between the set
    /// and the record, are skipped).
    async fn records_in<T: for<'de> serde::Deserialize<'de>>(
        &self,
        ids: &str,
        record_prefix: &str,
    ) -> Result<Vec<T>, StoreError> {
        let ids: Vec<String> = self.conn().smembers(ids).await.map_err(failed)?;
        let records = ids.iter().map(|id| async move {
            self.get_record::<T>(&format!("{record_prefix}{{{id}}}"))
                .await
        });
        Ok(try_join_all(records).await?.into_iter().flatten().collect())
    }

    pub(super) async fn put_channel_in_redis(&self, channel: &Channel) -> Result<(), StoreError> {
        // Listed first, so a channel that exists is always listed.
        let _: () = self
            .conn()
            .sadd(CHANNEL_IDS, &channel.id)
            .await
            .map_err(failed)?;
        self.replicated(&[CHANNEL_IDS]).await?;
        let record_key = format!("yb:ch:{{{}}}", channel.id);
        let old: Option<Channel> = self.get_record(&record_key).await?;
        self.put_with_key_index(
            record_key,
            encode(channel),
            "yb:chk:",
            old.map(|c| c.key_hash),
            &channel.key_hash,
            &channel.id,
        )
        .await
    }

    pub(super) async fn channels_in_redis(&self) -> Result<Vec<Channel>, StoreError> {
        self.records_in(CHANNEL_IDS, "yb:ch:").await
    }

    pub(super) async fn put_institutions_in_redis(
        &self,
        institutions: &[Institution],
    ) -> Result<(), StoreError> {
        if institutions.is_empty() {
            return Ok(());
        }
        let fields: Vec<(&str, Vec<u8>)> = institutions
            .iter()
            .map(|i| (i.code.as_str(), encode(i)))
            .collect();
        let _: () = self
            .conn()
            .hset_multiple(INSTITUTIONS, &fields)
            .await
            .map_err(failed)?;
        self.replicated(&[INSTITUTIONS]).await
    }

    pub(super) async fn put_terminal_in_redis(
        &self,
        terminal: &Terminal,
    ) -> Result<(), StoreError> {
        let listed = terminal_ids(&terminal.institution);
        let _: () = self
            .conn()
            .sadd(&listed, &terminal.id)
            .await
            .map_err(failed)?;
        self.replicated(&[&listed]).await?;
        let record_key = format!("yb:t:{{{}}}", terminal.id);
        let old: Option<Terminal> = self.get_record(&record_key).await?;
        let moved_from = old
            .as_ref()
            .filter(|o| o.institution != terminal.institution)
            .map(|o| terminal_ids(&o.institution));
        self.put_with_key_index(
            record_key,
            encode(terminal),
            "yb:tk:",
            old.map(|t| t.key_hash),
            &terminal.key_hash,
            &terminal.id,
        )
        .await?;
        // A terminal moved to another institution leaves the old one's list last.
        if let Some(old_list) = moved_from {
            let _: () = self
                .conn()
                .srem(&old_list, &terminal.id)
                .await
                .map_err(failed)?;
            self.replicated(&[&old_list]).await?;
        }
        Ok(())
    }

    pub(super) async fn terminals_of_in_redis(
        &self,
        code: &str,
    ) -> Result<Vec<Terminal>, StoreError> {
        let listed: Vec<Terminal> = self.records_in(&terminal_ids(code), "yb:t:").await?;
        Ok(listed
            .into_iter()
            .filter(|t| t.institution == code)
            .collect())
    }
}
