//! Rate limits shared by every issuer node: a generic cell-rate algorithm (the one `governor`
//! runs in memory) kept in Redis, one key per caller (`yb:rl:{<caller>}`), so a holder who
//! alternates between two nodes still gets one quota. The clock is the Redis server's
//! (`TIME`), so issuer nodes with skewed clocks agree. Cost: one round trip per limited
//! request (`docs/SCALE.md`). A lost counter (failover) only grants a fresh quota once, so
//! these writes do not wait for a replica.

use std::sync::LazyLock;
use std::time::Duration;

use super::{RedisStore, failed};
use crate::store::{Quota, StoreError};

/// GCRA: KEYS[1] the caller; ARGV[1] emission interval (µs), ARGV[2] burst. Returns 0 when
/// admitted, else the microseconds until the next request would be.
const ADMIT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
if now < tat - tolerance then return tat - tolerance - now end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1)
return 0
"#;

/// Hashed once (a `Script` computes the SHA-1 it calls `EVALSHA` with).
static ADMIT_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(ADMIT));

impl RedisStore {
    /// Counts one request of `caller` against `quota`: `None` admitted, else how long until
    /// it would be.
    pub(super) async fn admit_in_redis(
        &self,
        caller: &str,
        quota: Quota,
    ) -> Result<Option<Duration>, StoreError> {
        let interval = u64::try_from(quota.interval.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let wait_us: u64 = ADMIT_SCRIPT
            .key(format!("yb:rl:{{{caller}}}"))
            .arg(interval)
            .arg(quota.burst.max(1))
            .invoke_async(&mut self.conn())
            .await
            .map_err(failed)?;
        Ok((wait_us > 0).then(|| Duration::from_micros(wait_us)))
    }
}
