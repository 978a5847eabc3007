//! Many single-slot items at once (registry rows, a batch of handoffs): one pipeline on one
//! server, as fast as a single round trip; on a cluster, one small pipeline per item sent
//! together, because a pipeline must stay within one slot there (the client multiplexes
//! them over its per-node connections, so they still travel together).

use futures_util::future::try_join_all;
use redis::{Pipeline, Value};

use super::connection::Connection;
use super::{RedisStore, failed};
use crate::store::StoreError;

impl RedisStore {
    /// Sends `count` items, each the `per_item` commands `add(pipe, i)` appends (all on one
    /// slot); answers each item's replies, in order.
    pub(super) async fn each_item(
        &self,
        count: usize,
        per_item: usize,
        add: impl Fn(&mut Pipeline, usize),
    ) -> Result<Vec<Vec<Value>>, StoreError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        match self.conn() {
            Connection::Single(mut c) => {
                let mut pipe = redis::pipe();
                for i in 0..count {
                    add(&mut pipe, i);
                }
                let flat: Vec<Value> = pipe.query_async(&mut c).await.map_err(failed)?;
                if flat.len() != count * per_item {
                    return Err(StoreError::Backend("short pipeline reply".into()));
                }
                Ok(flat.chunks(per_item).map(<[Value]>::to_vec).collect())
            }
            Connection::Cluster(c) => try_join_all((0..count).map(|i| {
                let mut pipe = redis::pipe();
                add(&mut pipe, i);
                let mut c = c.clone();
                async move { pipe.query_async::<Vec<Value>>(&mut c).await }
            }))
            .await
            .map_err(failed),
        }
    }
}
