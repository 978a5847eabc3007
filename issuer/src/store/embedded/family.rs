//! Family links in the embedded store: the link record on the binder's side and the
//! member's index, written in one transaction (each kind in its own pair of tables), and the
//! undoing of a proxy activation.

use redb::{ReadableDatabase, ReadableTable};
use yibao_shared::VoucherId;

use super::{
    EmbeddedStore, LINKS, MEMBER_LINKS, MEMBER_SHARES, PERSON_VOUCHER, SHARES, Table,
    VOUCHER_CREDENTIALS, VOUCHERS, backend, get_in, put,
};
use crate::model::{FamilyLink, LinkKind, Voucher};

/// The record table and the member index of a kind of link.
fn tables(kind: LinkKind) -> (Table, Table) {
    match kind {
        LinkKind::Proxy => (LINKS, MEMBER_LINKS),
        LinkKind::AccountShare => (SHARES, MEMBER_SHARES),
    }
}
use crate::store::{LinkSave, StoreError, decode, encode};

impl EmbeddedStore {
    pub(super) async fn discard_unused_voucher_in_redb(
        &self,
        voucher: &Voucher,
        binder: VoucherId,
    ) -> Result<bool, StoreError> {
        let (id, person) = (voucher.voucher_id.to_string(), voucher.id_key.to_hex());
        self.write(move |txn| {
            let pointed = {
                let table = txn.open_table(PERSON_VOUCHER).map_err(backend)?;
                let v = table.get(person.as_str()).map_err(backend)?;
                v.is_some_and(|v| v.value() == id.as_bytes())
            };
            let prefix = format!("{id}/");
            let has_credential = !keys_with_prefix(txn, VOUCHER_CREDENTIALS, &prefix)?.is_empty();
            let mut other_binder = false;
            for index in [MEMBER_LINKS, MEMBER_SHARES] {
                other_binder |= keys_with_prefix(txn, index, &prefix)?
                    .iter()
                    .any(|k| k[prefix.len()..] != binder.to_string());
            }
            if !pointed || has_credential || other_binder {
                return Ok(false);
            }
            let mut vouchers = txn.open_table(VOUCHERS).map_err(backend)?;
            vouchers.remove(id.as_str()).map_err(backend)?;
            let mut pointers = txn.open_table(PERSON_VOUCHER).map_err(backend)?;
            pointers.remove(person.as_str()).map_err(backend)?;
            for index in [MEMBER_LINKS, MEMBER_SHARES] {
                let mut members = txn.open_table(index).map_err(backend)?;
                members
                    .remove(format!("{id}/{binder}").as_str())
                    .map_err(backend)?;
            }
            Ok(true)
        })
        .await
    }

    pub(super) async fn save_link_in_redb(
        &self,
        link: &FamilyLink,
        expected_version: u64,
        limit: Option<usize>,
    ) -> Result<LinkSave, StoreError> {
        let link = link.clone();
        let (records, index) = tables(link.kind);
        self.write(move |txn| {
            let key = format!("{}/{}", link.binder, link.member);
            let stored = get_in::<FamilyLink>(txn, records, &key)?;
            if stored.as_ref().map_or(0, |l| l.version) != expected_version {
                return Ok(LinkSave::Conflict);
            }
            if let Some(max) = limit {
                let others = links_with_prefix(txn, records, &format!("{}/", link.binder))?
                    .into_iter()
                    .filter(|l| l.member != link.member && l.counts_against_limit())
                    .count();
                if others >= max {
                    return Ok(LinkSave::LimitReached);
                }
            }
            put(txn, records, &key, &encode(&link))?;
            put(txn, index, &format!("{}/{}", link.member, link.binder), &[])?;
            Ok(LinkSave::Saved)
        })
        .await
    }

    pub(super) async fn link_in_redb(
        &self,
        kind: LinkKind,
        binder: VoucherId,
        member: VoucherId,
    ) -> Result<Option<FamilyLink>, StoreError> {
        self.get_record(tables(kind).0, &format!("{binder}/{member}"))
    }

    pub(super) async fn links_of_binder_in_redb(
        &self,
        kind: LinkKind,
        binder: VoucherId,
    ) -> Result<Vec<FamilyLink>, StoreError> {
        self.with_prefix(tables(kind).0, &format!("{binder}/"))
    }

    pub(super) async fn links_of_member_in_redb(
        &self,
        kind: LinkKind,
        member: VoucherId,
    ) -> Result<Vec<FamilyLink>, StoreError> {
        let (records, index) = tables(kind);
        let prefix = format!("{member}/");
        let binders: Vec<String> = {
            let txn = self.db.begin_read().map_err(backend)?;
            let table = txn.open_table(index).map_err(backend)?;
            let mut out = Vec::new();
            for entry in table.range(prefix.as_str()..).map_err(backend)? {
                let (key, _) = entry.map_err(backend)?;
                match key.value().strip_prefix(&prefix) {
                    Some(binder) => out.push(binder.to_owned()),
                    None => break,
                }
            }
            out
        };
        let mut links = Vec::new();
        for binder in binders {
            if let Some(link) = self.get_record(records, &format!("{binder}/{member}"))? {
                links.push(link);
            }
        }
        Ok(links)
    }
}

fn links_with_prefix(
    txn: &redb::WriteTransaction,
    records: Table,
    prefix: &str,
) -> Result<Vec<FamilyLink>, StoreError> {
    let table = txn.open_table(records).map_err(backend)?;
    let mut out = Vec::new();
    for entry in table.range(prefix..).map_err(backend)? {
        let (key, value) = entry.map_err(backend)?;
        if !key.value().starts_with(prefix) {
            break;
        }
        out.push(decode(value.value())?);
    }
    Ok(out)
}

/// The keys of `table` that start with `prefix`.
fn keys_with_prefix(
    txn: &redb::WriteTransaction,
    table: Table,
    prefix: &str,
) -> Result<Vec<String>, StoreError> {
    let table = txn.open_table(table).map_err(backend)?;
    let mut out = Vec::new();
    for entry in table.range(prefix..).map_err(backend)? {
        let (key, _) = entry.map_err(backend)?;
        if !key.value().starts_with(prefix) {
            break;
        }
        out.push(key.value().to_owned());
    }
    Ok(out)
}
