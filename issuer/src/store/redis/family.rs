//! Family links on Redis: one hash per binder (`yb:v:{<binder>}:members`, the authoritative
//! record and its compare-and-set), a set per member (`yb:v:{<member>}:binders`, an index
//! that may hold extra entries, never missing ones). Account shares have their own pair
//! (`…:shares-out`, `…:shares-in`) in the same slots.

use redis::AsyncCommands;
use yibao_shared::VoucherId;

use super::keys::{
    person_voucher_key, voucher_creds_key, voucher_generation_key, voucher_key, voucher_status_key,
};
use super::{RedisStore, failed};
use crate::model::{FamilyLink, LinkKind, Voucher};
use crate::store::{LinkSave, StoreError, decode, encode};

pub(super) fn links_key(kind: LinkKind, binder: VoucherId) -> String {
    match kind {
        LinkKind::Proxy => format!("yb:v:{{{binder}}}:members"),
        LinkKind::AccountShare => format!("yb:v:{{{binder}}}:shares-out"),
    }
}
pub(super) fn member_binders_key(kind: LinkKind, member: VoucherId) -> String {
    match kind {
        LinkKind::Proxy => format!("yb:v:{{{member}}}:binders"),
        LinkKind::AccountShare => format!("yb:v:{{{member}}}:shares-in"),
    }
}

/// Compare-and-set of one link on the binder's hash, with the limit of active members
/// checked in the same atomic step. Returns 1 saved, -1 version conflict, -2 limit reached.
const SAVE_LINK: &str = r#"
local current = redis.call('HGET', KEYS[1], ARGV[1])
local expected = tonumber(ARGV[2])
if current then
  if cjson.decode(current).version ~= expected then return -1 end
elseif expected ~= 0 then
  return -1
end
local max = tonumber(ARGV[4])
if max >= 0 then
  local taken = 0
  for _, raw in ipairs(redis.call('HVALS', KEYS[1])) do
    local l = cjson.decode(raw)
    if l.member ~= ARGV[1] and l.status == 'active' then
      taken = taken + 1
    end
  end
  if taken >= max then return -2 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"#;

/// Deletes a voucher record that no credential and no other binder uses (argument: the one
/// binder whose failed bind created it). 1 deleted, 0 in use.
const DISCARD_VOUCHER: &str = r#"
if redis.call('SCARD', KEYS[2]) > 0 then return 0 end
for _, index in ipairs({KEYS[3], KEYS[5]}) do
  for _, b in ipairs(redis.call('SMEMBERS', index)) do
    if b ~= ARGV[1] then return 0 end
  end
end
redis.call('DEL', KEYS[1], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
return 1
"#;

/// Deletes a key if it still holds the given value. 1 deleted, 0 not.
const DELETE_IF: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

impl RedisStore {
    /// Undoes a proxy activation whose bind failed. Two slots, so in an order that a
    /// concurrent activation of the member survives: first the person's pointer goes (an
    /// activation from now on claims a fresh voucher), then the record, but only if no
    /// credential was added meanwhile; if one was, the pointer is put back.
    pub(super) async fn discard_unused_voucher_in_redis(
        &self,
        voucher: &Voucher,
        binder: VoucherId,
    ) -> Result<bool, StoreError> {
        let id = voucher.voucher_id;
        let mut conn = self.conn();
        let unpointed: i64 = redis::Script::new(DELETE_IF)
            .key(person_voucher_key(&voucher.id_key))
            .arg(id.to_string())
            .invoke_async(&mut conn)
            .await
            .map_err(failed)?;
        if unpointed == 0 {
            return Ok(false);
        }
        let deleted: i64 = redis::Script::new(DISCARD_VOUCHER)
            .key(voucher_key(id))
            .key(voucher_creds_key(id))
            .key(member_binders_key(LinkKind::Proxy, id))
            .key(voucher_status_key(id))
            .key(member_binders_key(LinkKind::AccountShare, id))
            .key(voucher_generation_key(id))
            .arg(binder.to_string())
            .invoke_async(&mut conn)
            .await
            .map_err(failed)?;
        if deleted == 0 {
            let _: bool = conn
                .set_nx(person_voucher_key(&voucher.id_key), id.to_string())
                .await
                .map_err(failed)?;
        }
        self.replicated(&[&person_voucher_key(&voucher.id_key), &voucher_key(id)])
            .await?;
        Ok(deleted == 1)
    }

    pub(super) async fn save_link_in_redis(
        &self,
        link: &FamilyLink,
        expected_version: u64,
        limit: Option<usize>,
    ) -> Result<LinkSave, StoreError> {
        let mut conn = self.conn();
        // The member's index first: a crash after it leaves an entry readers skip.
        let _: () = conn
            .sadd(
                member_binders_key(link.kind, link.member),
                link.binder.to_string(),
            )
            .await
            .map_err(failed)?;
        let max = limit.map_or(-1i64, |max| i64::try_from(max).unwrap_or(i64::MAX));
        let outcome: i64 = redis::Script::new(SAVE_LINK)
            .key(links_key(link.kind, link.binder))
            .arg(link.member.to_string())
            .arg(expected_version)
            .arg(encode(link))
            .arg(max)
            .invoke_async(&mut conn)
            .await
            .map_err(failed)?;
        self.replicated(&[
            &member_binders_key(link.kind, link.member),
            &links_key(link.kind, link.binder),
        ])
        .await?;
        Ok(match outcome {
            1 => LinkSave::Saved,
            -2 => LinkSave::LimitReached,
            _ => LinkSave::Conflict,
        })
    }

    pub(super) async fn link_in_redis(
        &self,
        kind: LinkKind,
        binder: VoucherId,
        member: VoucherId,
    ) -> Result<Option<FamilyLink>, StoreError> {
        let raw: Option<Vec<u8>> = self
            .conn()
            .hget(links_key(kind, binder), member.to_string())
            .await
            .map_err(failed)?;
        raw.map(|b| decode(&b)).transpose()
    }

    pub(super) async fn links_of_binder_in_redis(
        &self,
        kind: LinkKind,
        binder: VoucherId,
    ) -> Result<Vec<FamilyLink>, StoreError> {
        let all: Vec<Vec<u8>> = self
            .conn()
            .hvals(links_key(kind, binder))
            .await
            .map_err(failed)?;
        all.iter().map(|b| decode(b)).collect()
    }

    pub(super) async fn links_of_member_in_redis(
        &self,
        kind: LinkKind,
        member: VoucherId,
    ) -> Result<Vec<FamilyLink>, StoreError> {
        let binders: Vec<String> = self
            .conn()
            .smembers(member_binders_key(kind, member))
            .await
            .map_err(failed)?;
        let mut links = Vec::new();
        for binder in binders.iter().filter_map(|b| VoucherId::parse(b)) {
            // An index entry without a record (crash between the two writes) is skipped.
            if let Some(link) = self.link_in_redis(kind, binder, member).await? {
                links.push(link);
            }
        }
        Ok(links)
    }
}
