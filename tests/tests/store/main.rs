//! One conformance suite for every storage backend: the embedded store (redb in a temporary
//! directory), Redis and Valkey (a real server on a free loopback port), and a six-node
//! cluster of each.

mod devices;
mod family;
mod fixtures;
mod limits;
mod registry;
mod settlement;

use std::sync::Arc;

use yibao_issuer::domain::registry as import;
use yibao_issuer::id_number::{BirthDate, IdNumber, synthetic};
use yibao_issuer::model::settlement::{Amounts, DoubleUse, Settlement, reference};
use yibao_issuer::model::{
    Channel, FamilyLink, HolderCredential, Institution, InstitutionKind, InsuredStatus, LinkKind,
    LinkStatus, Person, Terminal, Voucher, VoucherStatus,
};
use yibao_issuer::secrets::{CredentialHash, IndexKey, hash_credential};
use yibao_issuer::store::{Durability, EmbeddedStore, HolderRecords, LinkSave, RedisStore, Store};
use yibao_shared::{
    BusinessType, Gender, InsuranceType, MaskedName, RegionCode, Relation, TokenId, UnixTime,
    VisitContext, VoucherId,
};
use yibao_tests::redis_cluster::RedisCluster;
use yibao_tests::redis_server::{Flavour, RedisServer};

pub(crate) const NOW: UnixTime = UnixTime::from_secs(1_767_225_600);

use self::devices::*;
use self::family::*;
use self::fixtures::*;
use self::limits::*;
use self::registry::*;
use self::settlement::*;

async fn ping_answers(store: &dyn Store) {
    store.ping().await.expect("reachable");
}

/// Calls `$then!` with every conformance case: each is an `async fn(&dyn Store)` above or
/// in a module, run against each backend.
macro_rules! with_every_case {
    ($then:ident!($($args:tt)*)) => {
        $then!($($args)*;
            devices_are_kept_per_holder,
            revocations_are_read_as_deltas_in_order,
            concurrent_revocations_get_distinct_sequences,
            certificate_numbers_are_never_handed_out_twice,
            person_round_trip_and_reimport,
            channel_keys_resolve_and_rotate,
            institutions_and_terminals,
            activation_is_idempotent_per_person,
            suspension_and_revocation,
            holder_records_are_current_on_every_read,
            links_are_compare_and_set_and_indexed_both_ways,
            at_most_five_active_links_and_unbinding_frees_a_place,
            account_shares_and_proxy_links_are_kept_apart,
            an_unused_proxy_voucher_is_discarded_and_a_used_one_kept,
            ensure_voucher_creates_once,
            a_token_settles_once_under_concurrent_handoffs,
            completion_is_compare_and_set_and_double_use_recorded_once,
            ping_answers);
    };
}

/// One test per case on a fresh store from `$open`, in parallel.
macro_rules! conformance {
    ($backend:ident, $open:path; $($case:ident),*) => {
        mod $backend {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    let (store, _guard) = $open().await;
                    super::$case(&*store).await;
                }
            )*
        }
    };
}

/// Every case in turn on one Redis Cluster (six processes are too many to start per case),
/// emptied between cases; a failure names its case.
macro_rules! conformance_in_turn {
    ($store:expr, $empty:expr; $($case:ident),*) => {
        $(
            $empty.await;
            eprintln!("cluster conformance: {}", stringify!($case));
            $case(&*$store).await;
        )*
    };
}

async fn open_embedded() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path()).expect("opens");
    (Arc::new(store), dir)
}

async fn open_redis() -> (Arc<dyn Store>, RedisServer) {
    open_server(Flavour::Redis).await
}

async fn open_valkey() -> (Arc<dyn Store>, RedisServer) {
    open_server(Flavour::Valkey).await
}

async fn open_server(flavour: Flavour) -> (Arc<dyn Store>, RedisServer) {
    let server = RedisServer::start_flavour(flavour);
    let store = RedisStore::open(&server.url()).await.expect("connects");
    (Arc::new(store), server)
}

with_every_case!(conformance!(embedded, open_embedded));
with_every_case!(conformance!(redis, open_redis));
with_every_case!(conformance!(valkey, open_valkey));

#[tokio::test]
async fn redis_cluster_passes_every_case() {
    cluster_passes_every_case(Flavour::Redis).await;
}

#[tokio::test]
async fn valkey_cluster_passes_every_case() {
    cluster_passes_every_case(Flavour::Valkey).await;
}

/// The same cases on a real six-node cluster (3 primaries, 3 replicas), with every write
/// waiting for a replica as in production.
async fn cluster_passes_every_case(flavour: Flavour) {
    let cluster = RedisCluster::start_flavour(flavour);
    // A generous wait: two cores shared with the rest of the suite can starve a replica.
    let waiting = |ms| Durability {
        replicas: 1,
        timeout: std::time::Duration::from_millis(ms),
    };
    let store = RedisStore::open_cluster(&cluster.urls(), false, waiting(3_000))
        .await
        .expect("connects to the cluster");
    let store: Arc<dyn Store> = Arc::new(store);
    let empty = || async {
        // FLUSHALL goes to every primary (replicas follow).
        let mut conn = ::redis::cluster::ClusterClient::new(cluster.urls())
            .expect("cluster client")
            .get_async_connection()
            .await
            .expect("connects");
        let _: () = ::redis::cmd("FLUSHALL")
            .query_async(&mut conn)
            .await
            .expect("flushall");
    };
    with_every_case!(conformance_in_turn!(store, empty()));
    let other_node = RedisStore::open_cluster(&cluster.urls(), false, waiting(3_000))
        .await
        .expect("connects to the cluster");
    holder_records_follow_another_nodes_writes(&*store, &other_node).await;
    shared_limits_admit_a_burst_then_refuse(&*store).await;
    shared_limits_lease_what_is_left_and_take_back_what_is_given(&*store).await;
    let health = store.health().await.expect("health");
    assert_eq!(health.backend, "redis-cluster");
    let cluster_health = health.cluster.expect("cluster state");
    assert_eq!(
        (
            cluster_health.state.as_str(),
            cluster_health.slots_ok,
            cluster_health.primaries
        ),
        ("ok", 16384, 3)
    );
    assert_eq!(cluster_health.primaries_without_replica, 0);

    // With the replica of a primary down, a write to its slots is not acknowledged: 503,
    // never a silent "ok" that a failover could lose.
    let slot: u16 = cluster
        .cli(0, &["CLUSTER", "KEYSLOT", "yb:inst"])
        .trim()
        .parse()
        .expect("slot");
    let replica = cluster.replica_of(cluster.primary_of(slot));
    cluster.kill(replica);
    let impatient = RedisStore::open_cluster(&cluster.urls(), false, waiting(300))
        .await
        .expect("connects to the cluster");
    let refused = impatient
        .put_institutions(&[institution("H11010500009")])
        .await;
    assert!(
        matches!(refused, Err(ref e) if e.is_unavailable()),
        "{refused:?}"
    );
    let health = store.health().await.expect("health");
    assert_eq!(health.cluster.map(|c| c.primaries_without_replica), Some(1));
    cluster.restart(replica);
    cluster.wait_healthy(std::time::Duration::from_secs(30));
    store
        .put_institutions(&[institution("H11010500009")])
        .await
        .expect("acknowledged once the replica is back");
}

/// An import meets a server that stops answering for longer than the client waits (1 s): the
/// piece that timed out is sent again, smaller, until the server is back, and every row lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_rides_out_a_stalled_server() {
    // Few enough rows that parsing them (sealing each identity is slow in a test build) ends
    // well within the stall, so the first write meets a frozen server.
    const ROWS: usize = 5_000;
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url()).await.expect("connects");
    let index = IndexKey::new(vec![7; 32]).expect("index key");
    let registry = yibao_issuer::demo::synthetic_registry(ROWS);
    server.freeze();
    let stalled = std::time::Instant::now();
    let thaw = std::thread::spawn({
        let pid = server.pid();
        move || {
            std::thread::sleep(std::time::Duration::from_millis(2_500));
            let _ = std::process::Command::new("kill")
                .args(["-CONT", &pid.to_string()])
                .status();
        }
    });
    let mut retried_at = Vec::new();
    let report = import::import(
        registry.as_bytes(),
        import::Format::Csv,
        &store,
        &index,
        NOW,
        |p| {
            if p.retrying.is_some() {
                retried_at.push(p.applied);
            }
        },
    )
    .await
    .expect("the import waits the stall out");
    thaw.join().expect("thaw");
    assert!(stalled.elapsed() >= std::time::Duration::from_secs(2));
    assert_eq!(report.applied, ROWS as u64, "{report:?}");
    assert!(report.retries >= 1, "{report:?}");
    assert_eq!(
        retried_at.first(),
        Some(&0),
        "progress stayed at what was written"
    );
    let (last, _, _) = yibao_issuer::demo::synthetic_person(ROWS - 1);
    let id = yibao_issuer::id_number::IdNumber::parse(&last.id_number).expect("valid");
    assert!(
        store
            .person(&index.id_key(&id))
            .await
            .expect("get")
            .is_some()
    );
}

#[tokio::test]
async fn redis_shared_limits_admit_a_burst_lease_and_hold_across_nodes() {
    let (store, _server) = open_redis().await;
    shared_limits_admit_a_burst_then_refuse(&*store).await;
    shared_limits_lease_what_is_left_and_take_back_what_is_given(&*store).await;
    leases_keep_one_quota_across_nodes(store).await;
}

/// Two issuer nodes on one server: [`holder_records_follow_another_nodes_writes`].
#[tokio::test]
async fn redis_and_valkey_nodes_see_each_others_holder_writes_at_once() {
    for flavour in [Flavour::Redis, Flavour::Valkey] {
        let server = RedisServer::start_flavour(flavour);
        let reader = RedisStore::open(&server.url()).await.expect("connects");
        let writer = RedisStore::open(&server.url()).await.expect("connects");
        holder_records_follow_another_nodes_writes(&reader, &writer).await;
    }
}

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
            .links_of_member(LinkKind::Proxy, VoucherId([2; 8]))
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        store
            .link(LinkKind::Proxy, VoucherId([1; 8]), VoucherId([2; 8]))
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
            .links_of_member(LinkKind::Proxy, VoucherId([2; 8]))
            .await
            .expect("list"),
        vec![l]
    );
}
