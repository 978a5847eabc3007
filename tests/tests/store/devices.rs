//! Devices and the status list of revoked certificates.

use yibao_issuer::model::device::{Device, IssuedCertificate};
use yibao_shared::{CertificateId, RevokedCertificate};

use super::*;

fn device(holder: u8, id: &str) -> Device {
    Device {
        device_id: id.into(),
        holder: VoucherId([holder; 8]),
        public_key: "AxAbCd".into(),
        label: Some("phone".into()),
        channel: "wechat".into(),
        registered_at: NOW,
        renewed_at: NOW,
        certificates: vec![IssuedCertificate {
            certificate_id: CertificateId([holder; 8]),
            voucher_id: VoucherId([holder; 8]),
            binder: None,
            expires_at: NOW.saturating_add(72 * 3_600),
        }],
    }
}

fn revoked(id: u8, expires_in: u64) -> RevokedCertificate {
    RevokedCertificate {
        certificate_id: CertificateId([id; 8]),
        expires_at: NOW.saturating_add(expires_in),
        revoked_at: NOW,
    }
}

pub(crate) async fn devices_are_kept_per_holder(store: &dyn Store) {
    let (a, b, other) = (device(1, "00aa"), device(1, "00bb"), device(2, "00cc"));
    for d in [&a, &b, &other] {
        store.put_device(d).await.expect("put");
    }
    let mut mine = store.devices_of(VoucherId([1; 8])).await.expect("list");
    mine.sort_by(|x, y| x.device_id.cmp(&y.device_id));
    assert_eq!(mine, vec![a.clone(), b.clone()]);
    // Another holder cannot reach a device by guessing its id.
    assert_eq!(
        store.device(VoucherId([2; 8]), "00aa").await.expect("get"),
        None
    );
    let mut renewed = a.clone();
    renewed.renewed_at = NOW.saturating_add(60);
    store.put_device(&renewed).await.expect("replace");
    assert_eq!(
        store.device(VoucherId([1; 8]), "00aa").await.expect("get"),
        Some(renewed.clone())
    );
    assert!(store.delete_device(&renewed).await.expect("delete"));
    assert!(!store.delete_device(&renewed).await.expect("again"));
    assert_eq!(
        store.devices_of(VoucherId([1; 8])).await.expect("list"),
        vec![b]
    );
}

pub(crate) async fn revocations_are_read_as_deltas_in_order(store: &dyn Store) {
    assert_eq!(
        store.revocations_since(0).await.expect("empty"),
        (0, vec![])
    );
    let first = store
        .append_revocations(&[revoked(1, 3_600), revoked(2, 7_200)])
        .await
        .expect("append");
    assert_eq!(first, 2);
    let second = store
        .append_revocations(&[revoked(3, 3_600)])
        .await
        .expect("append");
    assert_eq!(second, 3);
    let (sequence, all) = store.revocations_since(0).await.expect("all");
    assert_eq!(sequence, 3);
    assert_eq!(
        all,
        vec![revoked(1, 3_600), revoked(2, 7_200), revoked(3, 3_600)]
    );
    assert_eq!(
        store.revocations_since(2).await.expect("delta"),
        (3, vec![revoked(3, 3_600)])
    );
    assert_eq!(store.revocations_since(3).await.expect("none"), (3, vec![]));
    assert_eq!(
        store
            .revocation(CertificateId([2; 8]))
            .await
            .expect("lookup"),
        Some(revoked(2, 7_200))
    );
    assert_eq!(
        store
            .revocation(CertificateId([9; 8]))
            .await
            .expect("lookup"),
        None
    );
    // Entries of certificates expired before the cutoff leave; the sequence stays.
    let pruned = store
        .prune_revocations(NOW.saturating_add(5_000))
        .await
        .expect("prune");
    assert_eq!(pruned, 2);
    assert_eq!(
        store.revocations_since(0).await.expect("after prune"),
        (3, vec![revoked(2, 7_200)])
    );
    assert_eq!(
        store
            .revocation(CertificateId([1; 8]))
            .await
            .expect("lookup"),
        None
    );
}

pub(crate) async fn concurrent_revocations_get_distinct_sequences(store: &dyn Store) {
    let batch = |i: u8| vec![revoked(10 + 2 * i, 3_600), revoked(11 + 2 * i, 3_600)];
    let (a, b, c, d) = (batch(0), batch(1), batch(2), batch(3));
    let results = tokio::join!(
        store.append_revocations(&a),
        store.append_revocations(&b),
        store.append_revocations(&c),
        store.append_revocations(&d),
    );
    let mut ends = [results.0, results.1, results.2, results.3].map(|r| r.expect("append"));
    ends.sort_unstable();
    assert_eq!(ends, [2, 4, 6, 8]);
    let (sequence, all) = store.revocations_since(0).await.expect("all");
    assert_eq!(sequence, 8);
    assert_eq!(all.len(), 8);
    // Every batch's two entries are adjacent: an append is one atomic step.
    for pair in all.chunks(2) {
        assert_eq!(pair[0].certificate_id.0[0] + 1, pair[1].certificate_id.0[0]);
    }
}

pub(crate) async fn certificate_numbers_are_never_handed_out_twice(store: &dyn Store) {
    let (a, b, c) = tokio::join!(
        store.reserve_certificate_numbers(256),
        store.reserve_certificate_numbers(256),
        store.reserve_certificate_numbers(1),
    );
    let mut firsts = [
        (a.expect("a"), 256),
        (b.expect("b"), 256),
        (c.expect("c"), 1),
    ];
    firsts.sort_unstable();
    assert!(firsts[0].0 >= 1, "numbers start at 1");
    for pair in firsts.windows(2) {
        assert_eq!(
            pair[0].0 + pair[0].1,
            pair[1].0,
            "{firsts:?}: ranges meet, never overlap"
        );
    }
    let next = store.reserve_certificate_numbers(10).await.expect("next");
    assert_eq!(
        next,
        firsts[2].0 + firsts[2].1,
        "after every earlier reservation"
    );
}
