//! Rate limits kept in Redis (shared by issuer nodes): a burst is admitted, the next request
//! refused with a wait, callers are independent, and the quota refills with time; a lease
//! takes no more than the quota has room for, and requests given back are taken again.

use std::sync::Arc;
use std::time::Duration;

use yibao_issuer::domain::error::DomainError;
use yibao_issuer::domain::limits::{Limits, RateLimits};
use yibao_issuer::secrets::hash_credential;
use yibao_issuer::store::{Grant, Quota, Store};

async fn take(store: &dyn Store, caller: &str, quota: Quota, want: u32, unused: u32) -> Grant {
    store
        .take_quota(caller, quota, want, unused)
        .await
        .expect("take quota")
}

pub(crate) async fn shared_limits_admit_a_burst_then_refuse(store: &dyn Store) {
    let quota = Quota {
        interval: Duration::from_millis(500),
        burst: 3,
    };
    for i in 0..3 {
        let grant = take(store, "test:a", quota, 1, 0).await;
        assert_eq!(grant, Grant::Granted(1), "request {i} of the burst");
    }
    let Grant::Wait(wait) = take(store, "test:a", quota, 1, 0).await else {
        panic!("the fourth request is refused");
    };
    assert!(wait > Duration::ZERO && wait <= quota.interval, "{wait:?}");
    // Another caller has its own quota.
    assert_eq!(take(store, "test:b", quota, 1, 0).await, Grant::Granted(1));
    // One interval later, one more request fits.
    tokio::time::sleep(wait + Duration::from_millis(20)).await;
    assert_eq!(take(store, "test:a", quota, 1, 0).await, Grant::Granted(1));
    assert!(matches!(
        take(store, "test:a", quota, 1, 0).await,
        Grant::Wait(_)
    ));
}

pub(crate) async fn shared_limits_lease_what_is_left_and_take_back_what_is_given(
    store: &dyn Store,
) {
    let quota = Quota {
        interval: Duration::from_secs(60),
        burst: 10,
    };
    assert_eq!(take(store, "lease:a", quota, 4, 0).await, Grant::Granted(4));
    assert_eq!(take(store, "lease:a", quota, 4, 0).await, Grant::Granted(4));
    // Two left: a lease of four gets two, then nothing is left.
    assert_eq!(take(store, "lease:a", quota, 4, 0).await, Grant::Granted(2));
    assert!(matches!(
        take(store, "lease:a", quota, 1, 0).await,
        Grant::Wait(_)
    ));
    // Three given back (a lease that expired unspent) are three more to take, and a refusal
    // still keeps what it was given.
    assert_eq!(take(store, "lease:a", quota, 2, 3).await, Grant::Granted(2));
    assert_eq!(take(store, "lease:a", quota, 4, 0).await, Grant::Granted(1));
    assert!(matches!(
        take(store, "lease:a", quota, 1, 0).await,
        Grant::Wait(_)
    ));
    assert!(matches!(
        take(store, "lease:a", quota, 5, 1).await,
        Grant::Granted(1)
    ));
    // Giving back more than was ever taken is no more than a full quota.
    assert_eq!(
        take(store, "lease:b", quota, 50, 1_000).await,
        Grant::Granted(10)
    );
}

/// Two issuer nodes' limits on one store, a holder alternating between them as fast as it
/// can: leases let neither node admit a request the shared quota was not charged for, and
/// hold back at most what the other node's lease holds (`domain::limits::lease`).
pub(crate) async fn leases_keep_one_quota_across_nodes(store: Arc<dyn Store>) {
    let limits = Limits {
        body_bytes: 1 << 16,
        request_timeout_ms: 1_000,
        channel_per_sec: 1,
        holder_per_min: 64,
        binds_per_day: 1,
        person_info_per_min: 1,
        shared: Some(true),
    };
    let nodes = [
        RateLimits::shared(&limits, Arc::clone(&store)),
        RateLimits::shared(&limits, store),
    ];
    let holder = hash_credential("lease-test-holder");
    let mut admitted = [0_u32; 2];
    for i in 0..200 {
        match nodes[i % 2].holder(&holder).await {
            Ok(()) => admitted[i % 2] += 1,
            Err(DomainError::RateLimited(_)) => {}
            Err(other) => panic!("request {i}: {other:?}"),
        }
    }
    let total = admitted[0] + admitted[1];
    // The quota refills one request every 0.94 s: at most one more fits in this test's time.
    assert!(total <= 65, "{admitted:?} admitted of a quota of 64");
    // A lease of this quota holds at most 64 / 8 = 8 requests, one of them admitted at once.
    assert!(
        total >= 64 - 2 * 7,
        "{admitted:?} admitted of a quota of 64"
    );
    assert!(admitted.iter().all(|&n| n > 0), "{admitted:?}");
}
