//! Registry, channels, institutions, terminals, activation, suspension.

use super::*;

pub(crate) async fn person_round_trip_and_reimport(store: &dyn Store) {
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

pub(crate) async fn channel_keys_resolve_and_rotate(store: &dyn Store) {
    let mut channel = Channel {
        id: "wechat".into(),
        name: "微信".into(),
        regions: vec!["11".into()],
        key_hash: hash_credential("ybc_one"),
        created_at: NOW,
        disabled: false,
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
        Some(channel.clone())
    );
    // By id and listed, once however often it was written; disabled is kept.
    channel.disabled = true;
    store.put_channel(&channel).await.expect("disable");
    assert_eq!(
        store.channel("wechat").await.expect("get"),
        Some(channel.clone())
    );
    assert_eq!(store.channel("alipay").await.expect("get"), None);
    assert_eq!(store.channels().await.expect("list"), vec![channel]);
}

pub(crate) async fn institutions_and_terminals(store: &dyn Store) {
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
    store
        .put_institutions(std::slice::from_ref(&pharmacy))
        .await
        .expect("put");
    store
        .put_institutions(&[hospital.clone(), hospital.clone()])
        .await
        .expect("put a batch (the same code twice: one record)");
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
        revoked: false,
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
        Some(terminal.clone())
    );
    // By id, listed under its institution; revoked is kept; a move changes the list.
    terminal.revoked = true;
    store.put_terminal(&terminal).await.expect("revoke");
    assert_eq!(
        store.terminal("T1").await.expect("get"),
        Some(terminal.clone())
    );
    assert_eq!(
        store.terminals_of("P11010500001").await.expect("list"),
        vec![terminal.clone()]
    );
    terminal.institution = "H31010100001".into();
    store.put_terminal(&terminal).await.expect("move");
    assert_eq!(
        store.terminals_of("P11010500001").await.expect("list"),
        vec![]
    );
    assert_eq!(
        store.terminals_of("H31010100001").await.expect("list"),
        vec![terminal]
    );
}

pub(crate) async fn activation_is_idempotent_per_person(store: &dyn Store) {
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

pub(crate) async fn suspension_and_revocation(store: &dyn Store) {
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

/// What authenticating a holder reads is always current: later reads of the same credential
/// (which a Redis node answers from what it remembers, checked against the voucher's holder
/// generation) still see a suspension, a re-imported registry row and a revocation at once.
pub(crate) async fn holder_records_are_current_on_every_read(store: &dyn Store) {
    let p = person(1, InsuredStatus::Insured);
    store.upsert_persons(vec![p.clone()]).await.expect("import");
    store
        .activate(&voucher(&p, 4), &credential("ybh_reader"))
        .await
        .expect("activate");
    let hash = hash_credential("ybh_reader");
    let read = || async {
        store
            .holder_records(&hash)
            .await
            .expect("read")
            .expect("known credential")
    };
    let first = read().await;
    assert_eq!(first.credential.voucher_id, VoucherId([4; 8]));
    assert_eq!(first.voucher.map(|v| v.status), Some(VoucherStatus::Active));
    assert_eq!(first.person.map(|p| p.status), Some(InsuredStatus::Insured));
    assert!(!first.credential.revoked);

    store
        .set_voucher_status(VoucherId([4; 8]), VoucherStatus::Suspended)
        .await
        .expect("suspend");
    let lapsed = Person {
        status: InsuredStatus::Suspended,
        ..p.clone()
    };
    store.upsert_persons(vec![lapsed]).await.expect("re-import");
    let second = read().await;
    assert_eq!(
        second.voucher.map(|v| v.status),
        Some(VoucherStatus::Suspended)
    );
    assert_eq!(
        second.person.map(|p| p.status),
        Some(InsuredStatus::Suspended)
    );

    assert!(store.revoke_credential(&hash).await.expect("revoke"));
    assert!(
        read().await.credential.revoked,
        "revocation is seen at once"
    );
    assert_eq!(
        store
            .holder_records(&hash_credential("ybh_never-issued"))
            .await
            .expect("read"),
        None
    );
}

/// Two nodes on one store: what the reader remembers of a holder (read three times, so it
/// answers from what it checked against the voucher's generation) gives way at once to a
/// suspension, a re-imported row, a revocation and a deactivation made through the writer.
pub(crate) async fn holder_records_follow_another_nodes_writes(
    reader: &dyn Store,
    writer: &dyn Store,
) {
    let p = person(7, InsuredStatus::Insured);
    writer
        .upsert_persons(vec![p.clone()])
        .await
        .expect("import");
    let voucher_id = VoucherId([7; 8]);
    for secret in ["ybh_phone", "ybh_tablet"] {
        writer
            .activate(
                &voucher(&p, 7),
                &HolderCredential {
                    id_key: p.id_key,
                    ..credential(secret)
                },
            )
            .await
            .expect("activate");
    }
    let read = |secret: &'static str| async move {
        let mut last = None;
        for _ in 0..3 {
            last = reader
                .holder_records(&hash_credential(secret))
                .await
                .expect("read");
        }
        last.expect("known credential")
    };
    let remembered = read("ybh_phone").await;
    assert_eq!(remembered.credential.voucher_id, voucher_id);
    assert_eq!(
        remembered.voucher.map(|v| v.status),
        Some(VoucherStatus::Active)
    );
    assert_eq!(read("ybh_tablet").await.credential.voucher_id, voucher_id);

    writer
        .set_voucher_status(voucher_id, VoucherStatus::Suspended)
        .await
        .expect("suspend");
    let status = |r: HolderRecords| r.voucher.map(|v| v.status);
    assert_eq!(
        status(read("ybh_phone").await),
        Some(VoucherStatus::Suspended)
    );
    writer
        .set_voucher_status(voucher_id, VoucherStatus::Active)
        .await
        .expect("resume");
    assert_eq!(status(read("ybh_phone").await), Some(VoucherStatus::Active));

    let lapsed = Person {
        status: InsuredStatus::Suspended,
        ..p.clone()
    };
    writer
        .upsert_persons(vec![lapsed])
        .await
        .expect("re-import");
    assert_eq!(
        read("ybh_phone").await.person.map(|p| p.status),
        Some(InsuredStatus::Suspended)
    );

    assert!(
        writer
            .revoke_credential(&hash_credential("ybh_phone"))
            .await
            .expect("revoke")
    );
    assert!(read("ybh_phone").await.credential.revoked);
    assert!(!read("ybh_tablet").await.credential.revoked);
    assert_eq!(
        writer
            .revoke_credentials_of(voucher_id)
            .await
            .expect("deactivate"),
        1
    );
    assert!(read("ybh_tablet").await.credential.revoked);
}
