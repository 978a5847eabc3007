//! Family links: compare-and-set, the member limit, proxy activation and its repair.

use super::*;

pub(crate) fn link(binder: u8, member: u8, status: LinkStatus, version: u64) -> FamilyLink {
    FamilyLink {
        kind: LinkKind::Proxy,
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

pub(crate) async fn links_are_compare_and_set_and_indexed_both_ways(store: &dyn Store) {
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
    assert_eq!(
        store.link(LinkKind::Proxy, b, m).await.expect("get"),
        Some(active.clone())
    );
    assert_eq!(
        store
            .links_of_binder(LinkKind::Proxy, b)
            .await
            .expect("list"),
        vec![active.clone()]
    );
    assert_eq!(
        store
            .links_of_member(LinkKind::Proxy, m)
            .await
            .expect("list"),
        vec![active]
    );
    assert_eq!(
        store.link(LinkKind::Proxy, m, b).await.expect("get"),
        None,
        "links are directed"
    );
    assert!(
        store
            .links_of_binder(LinkKind::Proxy, m)
            .await
            .expect("list")
            .is_empty()
    );
}

pub(crate) async fn at_most_five_active_links_and_unbinding_frees_a_place(store: &dyn Store) {
    let limit = Some(5);
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
            .link(LinkKind::Proxy, VoucherId([1; 8]), VoucherId([15; 8]))
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
    // Pending requests take no place (the limit must not tell whether a request reached
    // a real person): with the sixth pending and four active, a fifth active link fits.
    let seventh = link(1, 16, LinkStatus::Active, 1);
    assert_eq!(
        store.save_link(&seventh, 0, limit).await.expect("seventh"),
        LinkSave::Saved
    );
    // Approving the pending sixth would make six active: refused.
    let approved = link(1, 15, LinkStatus::Active, 2);
    assert_eq!(
        store.save_link(&approved, 1, limit).await.expect("approve"),
        LinkSave::LimitReached
    );
    assert_eq!(
        store
            .links_of_binder(LinkKind::Proxy, VoucherId([1; 8]))
            .await
            .expect("list")
            .len(),
        7
    );
}

/// An account share (个账家庭共济) and a 亲情账户 link between the same two vouchers are two
/// records: each kind has its own compare-and-set, lists and limit, and neither shows in the
/// other's lists.
pub(crate) async fn account_shares_and_proxy_links_are_kept_apart(store: &dyn Store) {
    let (b, m) = (VoucherId([1; 8]), VoucherId([2; 8]));
    let proxy = link(1, 2, LinkStatus::Active, 1);
    let share = FamilyLink {
        kind: LinkKind::AccountShare,
        ..link(1, 2, LinkStatus::Pending, 1)
    };
    for l in [&proxy, &share] {
        assert_eq!(
            store.save_link(l, 0, Some(1)).await.expect("save"),
            LinkSave::Saved
        );
    }
    assert_eq!(
        store.link(LinkKind::Proxy, b, m).await.expect("get"),
        Some(proxy.clone())
    );
    assert_eq!(
        store.link(LinkKind::AccountShare, b, m).await.expect("get"),
        Some(share.clone())
    );
    assert_eq!(
        store
            .links_of_member(LinkKind::AccountShare, m)
            .await
            .expect("list"),
        vec![share.clone()]
    );
    assert_eq!(
        store
            .links_of_binder(LinkKind::Proxy, b)
            .await
            .expect("list"),
        vec![proxy.clone()]
    );
    // The limit counts one kind: the active proxy link leaves the share's one place free.
    let approved = FamilyLink {
        status: LinkStatus::Active,
        version: 2,
        ..share.clone()
    };
    assert_eq!(
        store
            .save_link(&approved, 1, Some(1))
            .await
            .expect("approve"),
        LinkSave::Saved
    );
    let second = FamilyLink {
        kind: LinkKind::AccountShare,
        ..link(1, 3, LinkStatus::Active, 1)
    };
    assert_eq!(
        store.save_link(&second, 0, Some(1)).await.expect("full"),
        LinkSave::LimitReached
    );
    // Versions are per kind: the proxy link is still at version 1.
    assert_eq!(
        store
            .save_link(
                &FamilyLink {
                    version: 2,
                    ..proxy
                },
                1,
                None
            )
            .await
            .expect("cas"),
        LinkSave::Saved
    );
    assert!(
        store
            .links_of_member(LinkKind::AccountShare, VoucherId([3; 8]))
            .await
            .expect("list")
            .is_empty()
    );
}

/// The repair of a bind that activated a voucher by proxy and then failed.
pub(crate) async fn an_unused_proxy_voucher_is_discarded_and_a_used_one_kept(store: &dyn Store) {
    let binder = VoucherId([1; 8]);
    let p = person(30, InsuredStatus::Insured);
    let created = store
        .ensure_voucher(&voucher(&p, 30))
        .await
        .expect("create");
    assert!(created.created);
    // The failed bind wrote the member's index entry before its link was refused.
    let refused = link(1, 30, LinkStatus::Active, 1);
    let full = Some(0);
    assert_eq!(
        store.save_link(&refused, 0, full).await.expect("save"),
        LinkSave::LimitReached
    );
    assert!(
        store
            .discard_unused_voucher(&created.voucher, binder)
            .await
            .expect("discard")
    );
    assert_eq!(store.voucher_of(&p.id_key).await.expect("read"), None);
    assert_eq!(store.voucher(VoucherId([30; 8])).await.expect("read"), None);
    // The person activates later and gets a fresh voucher.
    let later = store
        .activate(&voucher(&p, 31), &credential("ybh_after-discard"))
        .await
        .expect("activate");
    assert_eq!(later.voucher.voucher_id, VoucherId([31; 8]));
    // A voucher the person has meanwhile signed in to is kept, and still theirs.
    assert!(
        !store
            .discard_unused_voucher(&later.voucher, binder)
            .await
            .expect("discard")
    );
    assert_eq!(
        store.voucher_of(&p.id_key).await.expect("read"),
        Some(later.voucher.clone())
    );
    // So is one another binder's link points to.
    let q = person(32, InsuredStatus::Insured);
    let shared = store
        .ensure_voucher(&voucher(&q, 32))
        .await
        .expect("create");
    let other = link(2, 32, LinkStatus::Active, 1);
    assert_eq!(
        store.save_link(&other, 0, None).await.expect("save"),
        LinkSave::Saved
    );
    assert!(
        !store
            .discard_unused_voucher(&shared.voucher, binder)
            .await
            .expect("discard")
    );
    assert!(store.voucher_of(&q.id_key).await.expect("read").is_some());
}

pub(crate) async fn ensure_voucher_creates_once(store: &dyn Store) {
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
