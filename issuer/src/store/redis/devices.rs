//! Devices and the status list on Redis.
//!
//! ```text
//! yb:v:{<holder>}:devices      hash: device id → device record (the holder's slot)
//! yb:status:{rev}:seq          the status list's last sequence
//! yb:status:{rev}:log          sorted set: entry → sequence (delta reads by score)
//! yb:status:{rev}:expiry       sorted set: entry → certificate expiry (pruning)
//! yb:status:{rev}:revoked      hash: certificate id → first revocation
//! ```
//!
//! The status list keys share one hash tag, so an append (sequence and entries) is one
//! atomic script and a delta read one atomic transaction: a reader never sees sequence n
//! without every entry up to n. At the revocation rates `docs/SCALE.md` assumes this slot
//! takes a few hundred writes a second, far below one node's capacity.

use redis::AsyncCommands;
use yibao_shared::{CertificateId, RevokedCertificate, UnixTime, VoucherId};

use super::{RedisStore, failed};
use crate::model::device::Device;
use crate::store::{StoreError, decode, encode};

fn devices_key(holder: VoucherId) -> String {
    format!("yb:v:{{{holder}}}:devices")
}
const SEQ: &str = "yb:status:{rev}:seq";
/// The last certificate number reserved.
const CERTIFICATE_NUMBER: &str = "yb:status:{rev}:certno";
const LOG: &str = "yb:status:{rev}:log";
const EXPIRY: &str = "yb:status:{rev}:expiry";
const REVOKED: &str = "yb:status:{rev}:revoked";

/// ARGV: pairs of (certificate id, entry). Each entry gets the next sequence.
const APPEND: &str = r#"
local seq = 0
for i = 1, #ARGV, 2 do
  seq = redis.call('INCR', KEYS[1])
  redis.call('ZADD', KEYS[2], seq, ARGV[i + 1])
  redis.call('ZADD', KEYS[3], cjson.decode(ARGV[i + 1])['expires_at'], ARGV[i + 1])
  redis.call('HSETNX', KEYS[4], ARGV[i], ARGV[i + 1])
end
if seq == 0 then seq = tonumber(redis.call('GET', KEYS[1]) or '0') end
return seq
"#;

/// ARGV[1]: expiry cutoff; removes at most 1000 entries per call; returns how many.
const PRUNE: &str = r#"
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1], 'LIMIT', 0, 1000)
for _, entry in ipairs(gone) do
  redis.call('ZREM', KEYS[1], entry)
  redis.call('ZREM', KEYS[2], entry)
  local id = cjson.decode(entry)['certificate_id']
  if redis.call('HGET', KEYS[3], id) == entry then redis.call('HDEL', KEYS[3], id) end
end
return #gone
"#;

impl RedisStore {
    pub(super) async fn put_device_in_redis(&self, device: &Device) -> Result<(), StoreError> {
        let _: () = self
            .conn()
            .hset(
                devices_key(device.holder),
                &device.device_id,
                encode(device),
            )
            .await
            .map_err(failed)?;
        self.replicated(&[&devices_key(device.holder)]).await
    }

    pub(super) async fn device_in_redis(
        &self,
        holder: VoucherId,
        id: &str,
    ) -> Result<Option<Device>, StoreError> {
        let bytes: Option<Vec<u8>> = self
            .conn()
            .hget(devices_key(holder), id)
            .await
            .map_err(failed)?;
        bytes.map(|b| decode(&b)).transpose()
    }

    pub(super) async fn devices_of_in_redis(
        &self,
        holder: VoucherId,
    ) -> Result<Vec<Device>, StoreError> {
        let all: Vec<Vec<u8>> = self
            .conn()
            .hvals(devices_key(holder))
            .await
            .map_err(failed)?;
        all.iter().map(|b| decode(b)).collect()
    }

    pub(super) async fn delete_device_in_redis(&self, device: &Device) -> Result<bool, StoreError> {
        let removed: u64 = self
            .conn()
            .hdel(devices_key(device.holder), &device.device_id)
            .await
            .map_err(failed)?;
        self.replicated(&[&devices_key(device.holder)]).await?;
        Ok(removed > 0)
    }

    pub(super) async fn reserve_certificate_numbers_in_redis(
        &self,
        count: u64,
    ) -> Result<u64, StoreError> {
        let last: u64 = redis::cmd("INCRBY")
            .arg(CERTIFICATE_NUMBER)
            .arg(count)
            .query_async(&mut self.conn())
            .await
            .map_err(failed)?;
        self.replicated(&[CERTIFICATE_NUMBER]).await?;
        Ok(last + 1 - count)
    }

    pub(super) async fn append_revocations_in_redis(
        &self,
        revoked: &[RevokedCertificate],
    ) -> Result<u64, StoreError> {
        let script = redis::Script::new(APPEND);
        let mut invocation = script.key(SEQ);
        invocation.key(LOG).key(EXPIRY).key(REVOKED);
        for entry in revoked {
            invocation
                .arg(entry.certificate_id.to_string())
                .arg(encode(entry));
        }
        let sequence = invocation
            .invoke_async(&mut self.conn())
            .await
            .map_err(failed)?;
        self.replicated(&[SEQ]).await?;
        Ok(sequence)
    }

    pub(super) async fn revocations_since_in_redis(
        &self,
        since: u64,
    ) -> Result<(u64, Vec<RevokedCertificate>), StoreError> {
        // MULTI/EXEC: the sequence and the entries are read at one instant.
        let (sequence, entries): (Option<u64>, Vec<Vec<u8>>) = redis::pipe()
            .atomic()
            .get(SEQ)
            .zrangebyscore(LOG, format!("({since}"), "+inf")
            .query_async(&mut self.conn())
            .await
            .map_err(failed)?;
        let entries = entries
            .iter()
            .map(|b| decode(b))
            .collect::<Result<_, _>>()?;
        Ok((sequence.unwrap_or(0), entries))
    }

    pub(super) async fn revocation_in_redis(
        &self,
        certificate: CertificateId,
    ) -> Result<Option<RevokedCertificate>, StoreError> {
        let bytes: Option<Vec<u8>> = self
            .conn()
            .hget(REVOKED, certificate.to_string())
            .await
            .map_err(failed)?;
        bytes.map(|b| decode(&b)).transpose()
    }

    pub(super) async fn prune_revocations_in_redis(
        &self,
        before: UnixTime,
    ) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let gone: usize = redis::Script::new(PRUNE)
                .key(LOG)
                .key(EXPIRY)
                .key(REVOKED)
                .arg(before.as_secs())
                .invoke_async(&mut self.conn())
                .await
                .map_err(failed)?;
            total += gone;
            // Batches of 1000 keep each script short: Redis serves nothing else meanwhile.
            if gone < 1000 {
                return Ok(total);
            }
        }
    }
}
