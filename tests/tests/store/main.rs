//! One conformance suite for every storage backend: the embedded store (redb in a temporary
//! directory) and Redis (a real `redis-server` on a free loopback port).

mod devices;
mod family;
mod fixtures;
mod registry;
mod settlement;

use std::sync::Arc;

use yibao_issuer::id_number::{BirthDate, IdNumber, synthetic};
use yibao_issuer::model::{
    Channel, FamilyLink, HolderCredential, Institution, InstitutionKind, InsuredStatus, LinkStatus,
    Person, Terminal, Voucher, VoucherStatus,
};
use yibao_issuer::secrets::{CredentialHash, IndexKey, hash_credential};
use yibao_issuer::settlement::{Amounts, DoubleUse, Settlement, reference};
use yibao_issuer::store::{EmbeddedStore, LinkSave, RedisStore, Store};
use yibao_shared::{
    BusinessType, Gender, InsuranceType, MaskedName, RegionCode, Relation, TokenId, UnixTime,
    VoucherId,
};
use yibao_tests::redis_server::RedisServer;

pub(crate) const NOW: UnixTime = UnixTime::from_secs(1_767_225_600);

use self::devices::*;
use self::family::*;
use self::fixtures::*;
use self::registry::*;
use self::settlement::*;

async fn ping_answers(store: &dyn Store) {
    store.ping().await.expect("reachable");
}

macro_rules! conformance {
    ($backend:ident, $open:path) => {
        mod $backend {
            use super::*;

            #[tokio::test]
            async fn devices_are_kept_per_holder() {
                let (store, _guard) = $open().await;
                super::devices_are_kept_per_holder(&*store).await;
            }

            #[tokio::test]
            async fn revocations_are_read_as_deltas_in_order() {
                let (store, _guard) = $open().await;
                super::revocations_are_read_as_deltas_in_order(&*store).await;
            }

            #[tokio::test]
            async fn concurrent_revocations_get_distinct_sequences() {
                let (store, _guard) = $open().await;
                super::concurrent_revocations_get_distinct_sequences(&*store).await;
            }

            #[tokio::test]
            async fn person_round_trip_and_reimport() {
                let (store, _guard) = $open().await;
                super::person_round_trip_and_reimport(&*store).await;
            }

            #[tokio::test]
            async fn channel_keys_resolve_and_rotate() {
                let (store, _guard) = $open().await;
                super::channel_keys_resolve_and_rotate(&*store).await;
            }

            #[tokio::test]
            async fn institutions_and_terminals() {
                let (store, _guard) = $open().await;
                super::institutions_and_terminals(&*store).await;
            }

            #[tokio::test]
            async fn activation_is_idempotent_per_person() {
                let (store, _guard) = $open().await;
                super::activation_is_idempotent_per_person(&*store).await;
            }

            #[tokio::test]
            async fn suspension_and_revocation() {
                let (store, _guard) = $open().await;
                super::suspension_and_revocation(&*store).await;
            }

            #[tokio::test]
            async fn links_are_compare_and_set_and_indexed_both_ways() {
                let (store, _guard) = $open().await;
                super::links_are_compare_and_set_and_indexed_both_ways(&*store).await;
            }

            #[tokio::test]
            async fn at_most_five_active_links_and_unbinding_frees_a_place() {
                let (store, _guard) = $open().await;
                super::at_most_five_active_links_and_unbinding_frees_a_place(&*store).await;
            }

            #[tokio::test]
            async fn an_unused_proxy_voucher_is_discarded_and_a_used_one_kept() {
                let (store, _guard) = $open().await;
                super::an_unused_proxy_voucher_is_discarded_and_a_used_one_kept(&*store).await;
            }

            #[tokio::test]
            async fn ensure_voucher_creates_once() {
                let (store, _guard) = $open().await;
                super::ensure_voucher_creates_once(&*store).await;
            }

            #[tokio::test]
            async fn a_token_settles_once_under_concurrent_handoffs() {
                let (store, _guard) = $open().await;
                super::a_token_settles_once_under_concurrent_handoffs(&*store).await;
            }

            #[tokio::test]
            async fn completion_is_compare_and_set_and_double_use_recorded_once() {
                let (store, _guard) = $open().await;
                super::completion_is_compare_and_set_and_double_use_recorded_once(&*store).await;
            }

            #[tokio::test]
            async fn ping_answers() {
                let (store, _guard) = $open().await;
                super::ping_answers(&*store).await;
            }
        }
    };
}

async fn open_embedded() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path()).expect("opens");
    (Arc::new(store), dir)
}

async fn open_redis() -> (Arc<dyn Store>, RedisServer) {
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url()).await.expect("connects");
    (Arc::new(store), server)
}

conformance!(embedded, open_embedded);
conformance!(redis, open_redis);

#[tokio::test]
async fn redis_activation_repairs_a_voucher_claimed_by_a_crashed_attempt() {
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url()).await.expect("connects");
    let p = person(1, InsuredStatus::Insured);
    // An earlier attempt claimed voucher id 05.. for the person, then died before writing
    // the voucher record.
    let client = redis_client(&server);
    let mut conn = client.get_connection().expect("connects");
    redis_cmd(
        "SET",
        &[
            &format!("yb:p:{{{}}}:v", p.id_key.to_hex()),
            "0505050505050505",
        ],
        &mut conn,
    );
    let activation = store
        .activate(&voucher(&p, 1), &credential("ybh_a"))
        .await
        .expect("activate");
    assert_eq!(activation.voucher.voucher_id, VoucherId([5; 8]));
    assert_eq!(
        store
            .voucher(VoucherId([5; 8]))
            .await
            .expect("get")
            .map(|v| v.id_key),
        Some(p.id_key)
    );
    let c: CredentialHash = hash_credential("ybh_a");
    assert_eq!(
        store
            .credential(&c)
            .await
            .expect("get")
            .map(|c| c.voucher_id),
        Some(VoucherId([5; 8]))
    );
}

fn redis_client(server: &RedisServer) -> ::redis::Client {
    ::redis::Client::open(server.url()).expect("url")
}

fn redis_cmd(name: &str, args: &[&str], conn: &mut ::redis::Connection) {
    let mut cmd = ::redis::cmd(name);
    for a in args {
        cmd.arg(*a);
    }
    cmd.query::<()>(conn).expect("redis command");
}

#[tokio::test]
async fn redis_a_crash_between_the_member_index_and_the_link_grants_nothing() {
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url()).await.expect("connects");
    // The crash: the member's index names binder 01.. but the link record was never written.
    let client = redis_client(&server);
    let mut conn = client.get_connection().expect("connects");
    redis_cmd(
        "SADD",
        &["yb:v:{0202020202020202}:binders", "0101010101010101"],
        &mut conn,
    );
    assert!(
        store
            .links_of_member(VoucherId([2; 8]))
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        store
            .link(VoucherId([1; 8]), VoucherId([2; 8]))
            .await
            .expect("get"),
        None
    );
    // The binder retries and the link appears on both sides.
    let l = link(1, 2, LinkStatus::Active, 1);
    assert_eq!(
        store.save_link(&l, 0, Some(5)).await.expect("save"),
        LinkSave::Saved
    );
    assert_eq!(
        store
            .links_of_member(VoucherId([2; 8]))
            .await
            .expect("list"),
        vec![l]
    );
}
