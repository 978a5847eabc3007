//! One conformance suite for every storage backend: the embedded store (redb in a temporary
//! directory) and Redis (a real `redis-server` on a free loopback port).

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

const NOW: UnixTime = UnixTime::from_secs(1_767_225_600);

fn index() -> IndexKey {
    IndexKey::new(vec![9; 32]).expect("32 bytes")
}

fn person(n: u16, status: InsuredStatus) -> Person {
    let birth = BirthDate {
        year: 1950,
        month: 3,
        day: 1,
    };
    let id = IdNumber::parse(&synthetic(1, birth, n)).expect("valid");
    Person {
        id_key: index().id_key(&id),
        person_no: format!("P{n:06}"),
        name_key: index().name_key(&format!("测试{n}")),
        masked_name: MaskedName::mask("测试甲").expect("mask"),
        gender: Gender::Female,
        birth_date: birth,
        region: RegionCode::parse("110105").expect("region"),
        insurance: InsuranceType::Resident,
        status,
    }
}

fn voucher(p: &Person, byte: u8) -> Voucher {
    Voucher {
        voucher_id: VoucherId([byte; 8]),
        id_key: p.id_key,
        status: VoucherStatus::Active,
        activated_at: NOW,
        activated_by: "wechat".into(),
    }
}

fn credential(secret: &str) -> HolderCredential {
    HolderCredential {
        hash: hash_credential(secret),
        voucher_id: VoucherId([0; 8]),
        id_key: person(1, InsuredStatus::Insured).id_key,
        channel: "wechat".into(),
        issued_at: NOW,
        revoked: false,
    }
}

async fn person_round_trip_and_reimport(store: &dyn Store) {
    let p = person(1, InsuredStatus::Insured);
    store
        .upsert_persons(vec![p.clone(), person(2, InsuredStatus::Insured)])
        .await
        .expect("upsert");
    assert_eq!(store.person(&p.id_key).await.expect("get"), Some(p.clone()));
    let suspended = Person {
        status: InsuredStatus::Suspended,
        ..p.clone()
    };
    store
        .upsert_persons(vec![suspended.clone()])
        .await
        .expect("re-import");
    assert_eq!(store.person(&p.id_key).await.expect("get"), Some(suspended));
    assert_eq!(
        store
            .person(&person(3, InsuredStatus::Insured).id_key)
            .await
            .expect("get"),
        None
    );
}

async fn channel_keys_resolve_and_rotate(store: &dyn Store) {
    let mut channel = Channel {
        id: "wechat".into(),
        name: "微信".into(),
        regions: vec!["11".into()],
        key_hash: hash_credential("ybc_one"),
        created_at: NOW,
    };
    store.put_channel(&channel).await.expect("put");
    assert_eq!(
        store
            .channel_by_key(&hash_credential("ybc_one"))
            .await
            .expect("get"),
        Some(channel.clone())
    );
    channel.key_hash = hash_credential("ybc_two");
    store.put_channel(&channel).await.expect("rotate");
    assert_eq!(
        store
            .channel_by_key(&hash_credential("ybc_one"))
            .await
            .expect("get"),
        None
    );
    assert_eq!(
        store
            .channel_by_key(&hash_credential("ybc_two"))
            .await
            .expect("get"),
        Some(channel)
    );
}

async fn institutions_and_terminals(store: &dyn Store) {
    let pharmacy = Institution {
        code: "P11010500001".into(),
        name: "测试药店".into(),
        kind: InstitutionKind::Pharmacy,
        region: RegionCode::parse("110105").expect("region"),
        accepts_voucher: true,
    };
    let hospital = Institution {
        code: "H31010100001".into(),
        name: "测试医院".into(),
        kind: InstitutionKind::Hospital,
        region: RegionCode::parse("310101").expect("region"),
        accepts_voucher: false,
    };
    store.put_institution(&pharmacy).await.expect("put");
    store.put_institution(&hospital).await.expect("put");
    let mut all = store.institutions().await.expect("list");
    all.sort_by(|a, b| a.code.cmp(&b.code));
    assert_eq!(all, vec![hospital, pharmacy.clone()]);
    assert_eq!(
        store.institution("P11010500001").await.expect("get"),
        Some(pharmacy)
    );

    let mut terminal = Terminal {
        id: "T1".into(),
        institution: "P11010500001".into(),
        key_hash: hash_credential("ybt_one"),
        created_at: NOW,
    };
    store.put_terminal(&terminal).await.expect("put");
    assert_eq!(
        store
            .terminal_by_key(&hash_credential("ybt_one"))
            .await
            .expect("get"),
        Some(terminal.clone())
    );
    terminal.key_hash = hash_credential("ybt_two");
    store.put_terminal(&terminal).await.expect("rekey");
    assert_eq!(
        store
            .terminal_by_key(&hash_credential("ybt_one"))
            .await
            .expect("get"),
        None
    );
    assert_eq!(
        store
            .terminal_by_key(&hash_credential("ybt_two"))
            .await
            .expect("get"),
        Some(terminal)
    );
}

async fn activation_is_idempotent_per_person(store: &dyn Store) {
    let p = person(1, InsuredStatus::Insured);
    let first = store
        .activate(&voucher(&p, 1), &credential("ybh_a"))
        .await
        .expect("activate");
    assert!(first.created);
    assert_eq!(first.voucher.voucher_id, VoucherId([1; 8]));
    // A second channel: another candidate id, same voucher, its own credential.
    let second = store
        .activate(&voucher(&p, 2), &credential("ybh_b"))
        .await
        .expect("again");
    assert!(!second.created);
    assert_eq!(second.voucher, first.voucher);
    for secret in ["ybh_a", "ybh_b"] {
        let c = store
            .credential(&hash_credential(secret))
            .await
            .expect("get")
            .expect("stored");
        assert_eq!(c.voucher_id, VoucherId([1; 8]));
        assert!(!c.revoked);
    }
    assert_eq!(
        store.voucher_of(&p.id_key).await.expect("get"),
        Some(first.voucher.clone())
    );
    assert_eq!(
        store.voucher(VoucherId([1; 8])).await.expect("get"),
        Some(first.voucher)
    );
    assert_eq!(store.voucher(VoucherId([2; 8])).await.expect("get"), None);
}

async fn suspension_and_revocation(store: &dyn Store) {
    let p = person(1, InsuredStatus::Insured);
    let id = VoucherId([1; 8]);
    store
        .activate(&voucher(&p, 1), &credential("ybh_a"))
        .await
        .expect("activate");
    store
        .activate(&voucher(&p, 1), &credential("ybh_b"))
        .await
        .expect("activate");
    assert!(
        store
            .set_voucher_status(id, VoucherStatus::Suspended)
            .await
            .expect("suspend")
    );
    assert_eq!(
        store.voucher(id).await.expect("get").map(|v| v.status),
        Some(VoucherStatus::Suspended)
    );
    let again = store
        .activate(&voucher(&p, 3), &credential("ybh_c"))
        .await
        .expect("activate");
    assert_eq!(
        again.voucher.status,
        VoucherStatus::Suspended,
        "re-activation does not lift a suspension"
    );
    assert!(
        store
            .set_voucher_status(id, VoucherStatus::Active)
            .await
            .expect("reinstate")
    );
    assert_eq!(
        store.voucher(id).await.expect("get").map(|v| v.status),
        Some(VoucherStatus::Active)
    );
    assert!(
        !store
            .set_voucher_status(VoucherId([7; 8]), VoucherStatus::Suspended)
            .await
            .expect("unknown")
    );

    assert!(
        store
            .revoke_credential(&hash_credential("ybh_a"))
            .await
            .expect("revoke")
    );
    assert!(
        !store
            .revoke_credential(&hash_credential("ybh_zzz"))
            .await
            .expect("unknown")
    );
    let a = store
        .credential(&hash_credential("ybh_a"))
        .await
        .expect("get")
        .expect("kept");
    assert!(a.revoked);
    // Lost phone: the two still-live credentials go.
    assert_eq!(
        store.revoke_credentials_of(id).await.expect("revoke all"),
        2
    );
    assert_eq!(store.revoke_credentials_of(id).await.expect("again"), 0);
    for secret in ["ybh_b", "ybh_c"] {
        let c = store
            .credential(&hash_credential(secret))
            .await
            .expect("get")
            .expect("kept");
        assert!(c.revoked, "{secret}");
    }
}

fn link(binder: u8, member: u8, status: LinkStatus, version: u64) -> FamilyLink {
    FamilyLink {
        binder: VoucherId([binder; 8]),
        member: VoucherId([member; 8]),
        relation: Relation::Parent,
        status,
        consent: None,
        pending_until: (status == LinkStatus::Pending).then_some(NOW.saturating_add(600)),
        member_activated_by_proxy: false,
        version,
        history: vec![],
    }
}

async fn links_are_compare_and_set_and_indexed_both_ways(store: &dyn Store) {
    let first = link(1, 2, LinkStatus::Pending, 1);
    assert_eq!(
        store.save_link(&first, 0, None).await.expect("save"),
        LinkSave::Saved
    );
    assert_eq!(
        store.save_link(&first, 0, None).await.expect("again"),
        LinkSave::Conflict
    );
    let active = link(1, 2, LinkStatus::Active, 2);
    assert_eq!(
        store.save_link(&active, 5, None).await.expect("stale"),
        LinkSave::Conflict
    );
    assert_eq!(
        store.save_link(&active, 1, None).await.expect("cas"),
        LinkSave::Saved
    );
    let b = VoucherId([1; 8]);
    let m = VoucherId([2; 8]);
    assert_eq!(store.link(b, m).await.expect("get"), Some(active.clone()));
    assert_eq!(
        store.links_of_binder(b).await.expect("list"),
        vec![active.clone()]
    );
    assert_eq!(store.links_of_member(m).await.expect("list"), vec![active]);
    assert_eq!(
        store.link(m, b).await.expect("get"),
        None,
        "links are directed"
    );
    assert!(store.links_of_binder(m).await.expect("list").is_empty());
}

async fn at_most_five_places_with_expired_and_unbound_freeing_them(store: &dyn Store) {
    let limit = Some((5, NOW));
    for member in 10..15 {
        let l = link(1, member, LinkStatus::Active, 1);
        assert_eq!(
            store.save_link(&l, 0, limit).await.expect("save"),
            LinkSave::Saved
        );
    }
    let sixth = link(1, 15, LinkStatus::Pending, 1);
    assert_eq!(
        store.save_link(&sixth, 0, limit).await.expect("sixth"),
        LinkSave::LimitReached
    );
    assert_eq!(
        store
            .link(VoucherId([1; 8]), VoucherId([15; 8]))
            .await
            .expect("get"),
        None
    );
    // Updating one of the five is not a new place.
    let update = link(1, 10, LinkStatus::Active, 2);
    assert_eq!(
        store.save_link(&update, 1, limit).await.expect("update"),
        LinkSave::Saved
    );
    // Unbinding frees a place.
    let unbound = link(1, 11, LinkStatus::Unbound, 2);
    assert_eq!(
        store.save_link(&unbound, 1, limit).await.expect("unbind"),
        LinkSave::Saved
    );
    assert_eq!(
        store.save_link(&sixth, 0, limit).await.expect("sixth"),
        LinkSave::Saved
    );
    // A pending request past its deadline frees its place too.
    let later = Some((5, NOW.saturating_add(3_600)));
    let seventh = link(1, 16, LinkStatus::Active, 1);
    assert_eq!(
        store.save_link(&seventh, 0, later).await.expect("seventh"),
        LinkSave::Saved
    );
    assert_eq!(
        store
            .links_of_binder(VoucherId([1; 8]))
            .await
            .expect("list")
            .len(),
        7
    );
}

async fn ensure_voucher_creates_once(store: &dyn Store) {
    let p = person(20, InsuredStatus::Insured);
    let first = store
        .ensure_voucher(&voucher(&p, 20))
        .await
        .expect("create");
    assert!(first.created);
    let again = store.ensure_voucher(&voucher(&p, 21)).await.expect("again");
    assert!(!again.created);
    assert_eq!(again.voucher.voucher_id, VoucherId([20; 8]));
    // A later activation by the person finds the same voucher.
    let activated = store
        .activate(&voucher(&p, 22), &credential("ybh_later"))
        .await
        .expect("activate");
    assert_eq!(activated.voucher.voucher_id, VoucherId([20; 8]));
}

fn settlement(token: u8, terminal: &str) -> Settlement {
    let (voucher_id, token_id) = (VoucherId([7; 8]), TokenId([token; 8]));
    Settlement {
        reference: reference(voucher_id, token_id),
        voucher_id,
        token_id,
        shown_by: None,
        terminal: terminal.into(),
        institution: "H11010500001".into(),
        institution_kind: InstitutionKind::Hospital,
        operator: "op".into(),
        business_type: BusinessType::parse("01301").expect("listed"),
        verified_at: NOW,
        offline: true,
        received_at: NOW,
        amounts: None,
        completed_at: None,
    }
}

async fn a_token_settles_once_under_concurrent_handoffs(store: &dyn Store) {
    let (a, b, c, d) = (
        settlement(1, "t-a"),
        settlement(1, "t-b"),
        settlement(1, "t-c"),
        settlement(1, "t-d"),
    );
    let results = tokio::join!(
        store.insert_settlement(&a),
        store.insert_settlement(&b),
        store.insert_settlement(&c),
        store.insert_settlement(&d),
    );
    let results = [results.0, results.1, results.2, results.3].map(|r| r.expect("insert"));
    let winners = results.iter().filter(|r| r.is_none()).count();
    assert_eq!(winners, 1, "{results:?}");
    let stored = store
        .settlement(VoucherId([7; 8]), TokenId([1; 8]))
        .await
        .expect("get")
        .expect("settled");
    // Every loser was shown the winner's record.
    for kept in results.iter().flatten() {
        assert_eq!(kept, &stored);
    }
    store
        .insert_settlement(&settlement(2, "t-a"))
        .await
        .expect("insert");
    let mut all = store.settlements_of(VoucherId([7; 8])).await.expect("list");
    all.sort_by_key(|s| s.token_id);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], stored);
    assert!(
        store
            .settlements_of(VoucherId([8; 8]))
            .await
            .expect("list")
            .is_empty()
    );
    // A batch: an already settled token, a new one, and the new one again from another
    // terminal, in one round trip; each item sees the ones before it.
    let batch = [
        settlement(1, "t-z"),
        settlement(5, "t-a"),
        settlement(5, "t-b"),
    ];
    let found = store.insert_settlements(&batch).await.expect("batch");
    assert_eq!(found, vec![Some(stored), None, Some(settlement(5, "t-a"))]);
    assert!(
        store
            .insert_settlements(&[])
            .await
            .expect("empty")
            .is_empty()
    );
}

async fn completion_is_compare_and_set_and_double_use_recorded_once(store: &dyn Store) {
    let open = settlement(3, "t-a");
    assert_eq!(store.insert_settlement(&open).await.expect("insert"), None);
    let done = Settlement {
        amounts: Some(Amounts {
            total_fen: 100,
            fund_fen: 60,
            account_fen: 30,
            cash_fen: 10,
        }),
        completed_at: Some(NOW),
        ..open.clone()
    };
    assert!(store.replace_settlement(&open, &done).await.expect("cas"));
    // The second writer read the old record: refused.
    assert!(!store.replace_settlement(&open, &done).await.expect("cas"));
    assert_eq!(
        store
            .settlement(open.voucher_id, open.token_id)
            .await
            .expect("get"),
        Some(done)
    );

    let refused = DoubleUse {
        reference: open.reference.clone(),
        voucher_id: open.voucher_id,
        token_id: open.token_id,
        settled_by: "t-a".into(),
        terminal: "t-b".into(),
        institution: "H11010500001".into(),
        operator: "op".into(),
        verified_at: NOW,
        received_at: NOW,
    };
    for _ in 0..3 {
        store.record_double_use(&refused).await.expect("record");
    }
    store
        .record_double_use(&DoubleUse {
            terminal: "t-c".into(),
            ..refused.clone()
        })
        .await
        .expect("record");
    let mut recorded = store.double_uses_of(open.voucher_id).await.expect("list");
    recorded.sort_by(|x, y| x.terminal.cmp(&y.terminal));
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    assert_eq!(recorded[0], refused);
}

async fn ping_answers(store: &dyn Store) {
    store.ping().await.expect("reachable");
}

macro_rules! conformance {
    ($backend:ident, $open:path) => {
        mod $backend {
            use super::*;

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
            async fn at_most_five_places_with_expired_and_unbound_freeing_them() {
                let (store, _guard) = $open().await;
                super::at_most_five_places_with_expired_and_unbound_freeing_them(&*store).await;
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
        store.save_link(&l, 0, Some((5, NOW))).await.expect("save"),
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
