//! Settlements: once per token, completion, double use.

use super::*;

pub(crate) fn settlement(token: u8, terminal: &str) -> Settlement {
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
        // Kept whole by every backend.
        context: VisitContext {
            operator_name: Some("测试收银员".into()),
            office_id: Some("A03".into()),
            office_name: Some("消化内科".into()),
            device_type: None,
        },
        verified_at: NOW,
        offline: true,
        received_at: NOW,
        amounts: None,
        completed_at: None,
        identity_reads: Vec::new(),
    }
}

pub(crate) async fn a_token_settles_once_under_concurrent_handoffs(store: &dyn Store) {
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

pub(crate) async fn completion_is_compare_and_set_and_double_use_recorded_once(store: &dyn Store) {
    let open = settlement(3, "t-a");
    assert_eq!(store.insert_settlement(&open).await.expect("insert"), None);
    let done = Settlement {
        amounts: Some(Amounts {
            total_fen: 100,
            fund_fen: 60,
            account_fen: 30,
            cash_fen: 10,
            mutual_aid_fen: 0,
            mutual_aid_payer: None,
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
