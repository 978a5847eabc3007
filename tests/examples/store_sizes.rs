//! Bytes per record on a real Redis Cluster, for `docs/SCALE.md`: registry rows, activations
//! (voucher, credential, the person's pointer and credential set), family links and
//! settlements are written through the store, and the growth of `used_memory` summed over the
//! primaries is divided by the count (so per-key overhead and hash encodings are included).
//! `MEMORY USAGE` of one key of each kind is printed beside it. Also times activations with
//! and without waiting for a replica (`WAIT 1`), the cost of "acknowledged means durable".
//!
//! `cargo run --release -p yibao-tests --example store_sizes [records per kind, default 20000]`
//! Bounded: a fixed number of records.

use std::time::Instant;

use futures_util::future::join_all;
use yibao_issuer::id_number::{BirthDate, IdNumber, synthetic};
use yibao_issuer::model::settlement::{Settlement, reference};
use yibao_issuer::model::{
    FamilyLink, HolderCredential, InstitutionKind, InsuredStatus, LinkEvent, LinkStatus, Person,
    Voucher, VoucherStatus,
};
use yibao_issuer::secrets::{IndexKey, hash_credential};
use yibao_issuer::store::{Durability, RedisStore, Store};
use yibao_shared::{
    BusinessType, Gender, InsuranceType, MaskedName, RegionCode, Relation, TokenId, UnixTime,
    VoucherId,
};
use yibao_tests::redis_cluster::RedisCluster;

const NOW: UnixTime = UnixTime::from_secs(1_767_225_600);
/// Records written concurrently (as many issuer requests would).
const CONCURRENCY: usize = 64;

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let cluster = RedisCluster::start();
    let durable = Durability {
        replicas: 1,
        timeout: std::time::Duration::from_secs(2),
    };
    let store = RedisStore::open_cluster(&cluster.urls(), false, durable)
        .await
        .expect("cluster");
    let index = IndexKey::new(vec![9; 32]).expect("index key");
    let people: Vec<Person> = (0..n).map(|i| person(&index, i)).collect();

    println!("{n} records per kind, 3 primaries + 3 replicas; bytes on the primaries\n");
    println!("| record | bytes each (used_memory growth / n) | MEMORY USAGE of one key |");
    println!("|---|---|---|");
    let before = used_memory(&cluster);
    for chunk in people.chunks(1_000) {
        store.upsert_persons(chunk.to_vec()).await.expect("persons");
    }
    let rows = used_memory(&cluster);
    report(
        &cluster,
        "registry row (person)",
        before,
        rows,
        n,
        "yb:p:{*}",
    );

    let started = Instant::now();
    in_parallel(people.iter().enumerate(), |(i, p)| {
        let store = &store;
        async move {
            store
                .activate(&voucher(p, i), &credential(p, i))
                .await
                .expect("activate");
        }
    })
    .await;
    let durable_rate = n as f64 / started.elapsed().as_secs_f64();
    let activated = used_memory(&cluster);
    report(
        &cluster,
        "activation (voucher + credential + pointer + set)",
        rows,
        activated,
        n,
        "yb:v:{*}",
    );

    in_parallel(0..n / 2, |i| {
        let store = &store;
        async move {
            let l = link(2 * i, 2 * i + 1);
            store.save_link(&l, 0, Some(5)).await.expect("link");
        }
    })
    .await;
    let linked = used_memory(&cluster);
    report(
        &cluster,
        "family link (both sides)",
        activated,
        linked,
        n / 2,
        "yb:v:{*}:members",
    );

    in_parallel(0..n, |i| {
        let store = &store;
        async move {
            store
                .insert_settlement(&settlement(i))
                .await
                .expect("settle");
        }
    })
    .await;
    let settled = used_memory(&cluster);
    report(
        &cluster,
        "settlement",
        linked,
        settled,
        n,
        "yb:v:{*}:settled",
    );

    // The same activations again (new vouchers) without waiting for a replica.
    let fast = RedisStore::open_cluster(&cluster.urls(), false, Durability::default())
        .await
        .expect("cluster");
    let others: Vec<Person> = (n..2 * n).map(|i| person(&index, i)).collect();
    let started = Instant::now();
    in_parallel(others.iter().enumerate(), |(i, p)| {
        let fast = &fast;
        async move {
            fast.activate(&voucher(p, n + i), &credential(p, n + i))
                .await
                .expect("activate");
        }
    })
    .await;
    let fast_rate = n as f64 / started.elapsed().as_secs_f64();
    println!(
        "\nactivations/s through the store, {CONCURRENCY} at a time: WAIT 1 replica \
         {durable_rate:.0}, no WAIT {fast_rate:.0} (ratio {:.2})",
        durable_rate / fast_rate
    );
}

/// Runs `f` over `items`, `CONCURRENCY` at a time.
async fn in_parallel<I, F, Fut>(items: I, f: F)
where
    I: Iterator,
    F: Fn(I::Item) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut batch = Vec::with_capacity(CONCURRENCY);
    for item in items {
        batch.push(f(item));
        if batch.len() == CONCURRENCY {
            join_all(batch.drain(..)).await;
        }
    }
    join_all(batch).await;
}

fn used_memory(cluster: &RedisCluster) -> u64 {
    (0..6)
        .filter(|&i| {
            cluster
                .cli(i, &["INFO", "replication"])
                .contains("role:master")
        })
        .filter_map(|i| {
            cluster
                .cli(i, &["INFO", "memory"])
                .lines()
                .find_map(|l| l.trim().strip_prefix("used_memory:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .sum()
}

fn report(cluster: &RedisCluster, what: &str, before: u64, after: u64, n: usize, pattern: &str) {
    let each = after.saturating_sub(before) as f64 / n as f64;
    // One key of the kind, from whichever primary holds some.
    let sample = (0..6).find_map(|i| {
        let key = cluster.cli(i, &["--scan", "--pattern", pattern]);
        let key = key.lines().next()?.trim().to_owned();
        let usage = cluster.cli(i, &["MEMORY", "USAGE", &key]);
        Some(format!("{} bytes (`{pattern}`)", usage.trim()))
    });
    println!("| {what} | {each:.0} | {} |", sample.unwrap_or_default());
}

fn person(index: &IndexKey, i: usize) -> Person {
    let birth = BirthDate {
        year: 1940 + (i % 70) as u16,
        month: 1 + (i % 12) as u8,
        day: 1 + (i % 28) as u8,
    };
    let id_text = synthetic((i / 1000 % 100) as u8, birth, (i % 1000) as u16);
    let id = IdNumber::parse(&id_text).expect("synthetic id");
    let id_key = index.id_key(&id);
    let mut details = yibao_issuer::sealed::IdentityDetails::default();
    details.id_number = id_text;
    details.name = format!("测试{i}");
    details.ethnicity = "01".into();
    details.person_type = "11".into();
    details.insured_since = "2010-07-01".into();
    details.employer = "示例科技有限公司".into();
    Person {
        id_key,
        identity: Some(yibao_issuer::sealed::seal(index, &id_key, &details).expect("random")),
        person_no: format!("P{i:010}"),
        name_key: index.name_key(&format!("测试{i}")),
        masked_name: MaskedName::mask("测试甲").expect("mask"),
        gender: Gender::Female,
        birth_date: birth,
        region: RegionCode::parse("110105").expect("region"),
        insurance: InsuranceType::Resident,
        status: InsuredStatus::Insured,
        guardians: vec![],
    }
}

fn voucher_id(i: usize) -> VoucherId {
    VoucherId(
        (i as u64 + 1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .to_be_bytes(),
    )
}

fn voucher(p: &Person, i: usize) -> Voucher {
    Voucher {
        voucher_id: voucher_id(i),
        id_key: p.id_key,
        status: VoucherStatus::Active,
        activated_at: NOW,
        activated_by: "wechat".into(),
    }
}

fn credential(p: &Person, i: usize) -> HolderCredential {
    HolderCredential {
        hash: hash_credential(&format!("ybh_sizing_{i}")),
        voucher_id: voucher_id(i),
        id_key: p.id_key,
        channel: "wechat".into(),
        issued_at: NOW,
        revoked: false,
    }
}

/// An active link with the history a real one carries (requested by the binder, approved).
fn link(binder: usize, member: usize) -> FamilyLink {
    let event = |action: &str, actor: &str| LinkEvent {
        at: NOW,
        action: action.into(),
        actor: actor.into(),
        channel: "wechat".into(),
        evidence: None,
    };
    FamilyLink {
        kind: yibao_issuer::model::LinkKind::Proxy,
        binder: voucher_id(binder),
        member: voucher_id(member),
        relation: Relation::Parent,
        status: LinkStatus::Active,
        consent: None,
        pending_until: None,
        member_activated_by_proxy: false,
        version: 2,
        history: vec![event("requested", "binder"), event("approved", "member")],
    }
}

fn settlement(i: usize) -> Settlement {
    let (voucher_id, token_id) = (voucher_id(i), TokenId((i as u64).to_be_bytes()));
    Settlement {
        reference: reference(voucher_id, token_id),
        voucher_id,
        token_id,
        shown_by: None,
        terminal: "t-0001".into(),
        institution: "H11010500001".into(),
        institution_kind: InstitutionKind::Hospital,
        operator: "cashier-01".into(),
        business_type: BusinessType::parse("01301").expect("listed"),
        context: Default::default(),
        verified_at: NOW,
        offline: true,
        received_at: NOW,
        amounts: None,
        completed_at: None,
        identity_reads: Vec::new(),
    }
}
