//! Rate limits kept in Redis (shared by issuer nodes): a burst is admitted, the next request
//! refused with a wait, callers are independent, and the quota refills with time.

use std::time::Duration;

use yibao_issuer::store::{Quota, Store};

pub(crate) async fn shared_limits_admit_a_burst_then_refuse(store: &dyn Store) {
    let quota = Quota {
        interval: Duration::from_millis(500),
        burst: 3,
    };
    for i in 0..3 {
        assert_eq!(
            store.admit("test:a", quota).await.expect("admit"),
            None,
            "request {i} of the burst"
        );
    }
    let wait = store
        .admit("test:a", quota)
        .await
        .expect("admit")
        .expect("the fourth request is refused");
    assert!(wait > Duration::ZERO && wait <= quota.interval, "{wait:?}");
    // Another caller has its own quota.
    assert_eq!(store.admit("test:b", quota).await.expect("admit"), None);
    // One interval later, one more request fits.
    tokio::time::sleep(wait + Duration::from_millis(20)).await;
    assert_eq!(store.admit("test:a", quota).await.expect("admit"), None);
    assert!(store.admit("test:a", quota).await.expect("admit").is_some());
}
