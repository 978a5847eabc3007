//! Family links: compare-and-set, the member limit, proxy activation and its repair.

use super::*;

pub(crate) fn link(binder: u8, member: u8, status: LinkStatus, version: u64) -> FamilyLink {
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
            .links_of_binder(VoucherId([1; 8]))
            .await
            .expect("list")
            .len(),
        7
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
