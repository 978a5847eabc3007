//! Rate limits shared by every issuer node: a generic cell-rate algorithm (the one `governor`
//! runs in memory) kept in Redis, one key per caller (`yb:rl:{<caller>}`), so a holder who
//! alternates between two nodes still gets one quota. The clock is the Redis server's
//! (`TIME`), so issuer nodes with skewed clocks agree. A node may take several requests at
//! once (a lease, `domain::limits`) and give back what it did not spend, so a busy caller
//! costs one round trip per lease rather than per request (`docs/SCALE.md`). A lost counter
//! (failover) only grants a fresh quota once, so these writes do not wait for a replica.

use std::sync::LazyLock;
use std::time::Duration;

use super::{RedisStore, failed};
use crate::store::{Grant, Quota, StoreError};

/// GCRA taking several cells: KEYS[1] the caller; ARGV[1] emission interval (µs), ARGV[2]
/// burst, ARGV[3] cells wanted, ARGV[4] cells given back (taken earlier, never spent).
/// Returns {granted, 0} with 1 ≤ granted ≤ wanted, or {0, microseconds until one would be}.
const TAKE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1])) or now
tat = tat - interval * tonumber(ARGV[4])
if tat < now then tat = now end
if now < tat - tolerance then
  -- A refusal writes only to keep what was given back: a refused flood stays read-only.
  if tonumber(ARGV[4]) > 0 then
    redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
  end
  return {0, tat - tolerance - now}
end
local room = math.floor((now + tolerance - tat) / interval) + 1
local granted = math.min(tonumber(ARGV[3]), room)
local next_tat = tat + interval * granted
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1)
return {granted, 0}
"#;

/// Hashed once (a `Script` computes the SHA-1 it calls `EVALSHA` with).
static TAKE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(TAKE));

impl RedisStore {
    /// Takes up to `want` requests of `caller`'s quota after giving back `unused` ones.
    pub(super) async fn take_quota_in_redis(
        &self,
        caller: &str,
        quota: Quota,
        want: u32,
        unused: u32,
    ) -> Result<Grant, StoreError> {
        let interval = u64::try_from(quota.interval.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let (granted, wait_us): (u32, u64) = TAKE_SCRIPT
            .key(format!("yb:rl:{{{caller}}}"))
            .arg(interval)
            .arg(quota.burst.max(1))
            .arg(want.max(1))
            .arg(unused)
            .invoke_async(&mut self.conn())
            .await
            .map_err(failed)?;
        Ok(if granted > 0 {
            Grant::Granted(granted)
        } else {
            Grant::Wait(Duration::from_micros(wait_us.max(1)))
        })
    }
}
