//! Many single-slot items at once (registry rows, a batch of handoffs): one pipeline on one
//! server, as fast as a single round trip; on a cluster, one small pipeline per item sent
//! together, because a pipeline must stay within one slot there (the client multiplexes
//! them over its per-node connections, so they still travel together).

use futures_util::{StreamExt, TryStreamExt, stream};
use redis::{Pipeline, Value};

use super::connection::Connection;
use super::keys::person_key;
use super::{RedisStore, failed};
use crate::model::Person;
use crate::store::{StoreError, encode};

/// Items in flight at once on a cluster: enough to keep three primaries busy, few enough that
/// none waits past the response timeout behind the others on a loaded machine.
const CLUSTER_IN_FLIGHT: usize = 256;

/// Registry rows per `MSET` on one server. With `appendfsync always` the server flushes its
/// AOF once per event-loop pass, so a few large commands cost a few flushes where one `SET`
/// per row cost one per read of the pipeline.
const ROWS_PER_MSET: usize = 500;

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
            Connection::Cluster(c) => {
                let pipes: Vec<Pipeline> = (0..count)
                    .map(|i| {
                        let mut pipe = redis::pipe();
                        add(&mut pipe, i);
                        pipe
                    })
                    .collect();
                stream::iter(pipes)
                    .map(|pipe| {
                        let mut c = c.clone();
                        async move { pipe.query_async::<Vec<Value>>(&mut c).await }
                    })
                    .buffered(CLUSTER_IN_FLIGHT)
                    .try_collect()
                    .await
                    .map_err(failed)
            }
        }
    }

    /// Writes registry rows, each one single-key write (a row lands whole): `MSET`s of
    /// [`ROWS_PER_MSET`] on one server, one `SET` per row on a cluster (rows hash to
    /// different slots).
    pub(super) async fn upsert_persons_in_redis(
        &self,
        persons: &[Person],
    ) -> Result<(), StoreError> {
        match self.conn() {
            Connection::Single(mut c) => {
                let mut pipe = redis::pipe();
                for rows in persons.chunks(ROWS_PER_MSET) {
                    let mut mset = redis::cmd("MSET");
                    for person in rows {
                        mset.arg(person_key(&person.id_key)).arg(encode(person));
                    }
                    pipe.add_command(mset).ignore();
                }
                pipe.query_async::<()>(&mut c).await.map_err(failed)
            }
            Connection::Cluster(_) => {
                self.each_item(persons.len(), 1, |pipe, i| {
                    pipe.set(person_key(&persons[i].id_key), encode(&persons[i]));
                })
                .await?;
                Ok(())
            }
        }
    }
}
