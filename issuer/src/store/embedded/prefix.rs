//! Range reads by key prefix, shared by the embedded store's record kinds.

use redb::ReadableDatabase;

use super::{EmbeddedStore, Table, backend};
use crate::store::{StoreError, decode};

impl EmbeddedStore {
    /// Every record whose key starts with `prefix`, in key order.
    pub(super) fn with_prefix<T: for<'de> serde::Deserialize<'de>>(
        &self,
        table: Table,
        prefix: &str,
    ) -> Result<Vec<T>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(table).map_err(backend)?;
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
}
