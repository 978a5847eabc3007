//! Shared limits at local speed: a node takes a busy caller's quota from the store in
//! leases of several requests and admits from them in memory, so the store sees one round
//! trip per lease rather than per request.
//!
//! Every request a lease holds was charged to the caller's one shared quota when the lease
//! was taken, so leases never add requests to a quota; what they change is *when* a request
//! counts. The bounds (`docs/issuer.md`):
//! - a lease lives [`LEASE_LIFE`]; a request admitted from it was charged at most that long
//!   before, so over any window a caller gets at most its quota plus, per node, what the
//!   quota refills in [`LEASE_LIFE`] (and never more than the lease less one);
//! - a lease holds at most an eighth of the burst ([`largest_lease`]), so quotas of fewer
//!   than 16 requests are taken one request at a time, exactly as without leases;
//! - what a lease did not spend is given back the next time this node asks for the same
//!   caller; a node that crashes or forgets it first loses it, which costs the caller that
//!   many requests for the quota's refill time, never grants it more.
//!
//! A caller starts with leases of one request, and the lease doubles only while this node
//! sees the caller again within a lease's life of the last one, so a phone refreshing
//! once a minute never holds a lease; a load test or a busy channel soon does. A lease that
//! just expired is followed by one as large (half if it was not spent), so a steady caller
//! does not start over from one every second.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::Quota;

/// How long requests taken for a lease may be admitted.
pub const LEASE_LIFE: Duration = Duration::from_secs(1);

/// The largest lease, however large the quota: a caller at tens of thousands of requests a
/// second then costs the store a few writes a second. Each lease is a write, and with
/// `appendfsync always` every write is an fsync that stalls Redis for everyone (leases of
/// 256 at 17,000 requests a second cost a fifth of the token endpoint's throughput).
/// Real quotas never reach it: a lease is also at most an eighth of the burst.
const MAX_LEASE: u32 = 4_096;

/// The most requests one lease may take of `quota`.
pub fn largest_lease(quota: Quota) -> u32 {
    (quota.burst / 8).clamp(1, MAX_LEASE)
}

/// This node's leases, by caller.
#[derive(Debug, Default)]
pub struct Leases {
    by_caller: Mutex<HashMap<String, Lease>>,
}

#[derive(Debug)]
struct Lease {
    /// Requests taken and not yet admitted.
    left: u32,
    /// Requests the last lease asked for (the next one asks for twice as many).
    size: u32,
    /// When it was taken.
    taken: Instant,
}

/// What to ask the store for when no lease can admit a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ask {
    /// Requests to take (the one being admitted included).
    pub want: u32,
    /// Requests an expired lease took and never admitted, to give back.
    pub unused: u32,
}

impl Leases {
    /// Admits one request of `caller` from its lease (`None`), or says what to ask the store
    /// for. `largest` is [`largest_lease`] of the caller's quota.
    pub fn admit_or_ask(&self, caller: &str, largest: u32, now: Instant) -> Option<Ask> {
        let mut leases = self.lock();
        let Some(lease) = leases.get_mut(caller) else {
            return Some(Ask { want: 1, unused: 0 });
        };
        let age = now.saturating_duration_since(lease.taken);
        if age < LEASE_LIFE && lease.left > 0 {
            lease.left -= 1;
            return None;
        }
        let unused = std::mem::take(&mut lease.left);
        let want = if age < LEASE_LIFE {
            // Spent within its life: the caller is busier than the lease.
            lease.size.saturating_mul(2)
        } else if age < 2 * LEASE_LIFE {
            // Just expired: as large again if it was spent, half if some was left over, so a
            // steady caller keeps its lease size instead of growing it again from one.
            if unused == 0 {
                lease.size
            } else {
                lease.size / 2
            }
        } else {
            1
        };
        Some(Ask {
            want: want.clamp(1, largest),
            unused,
        })
    }

    /// Records that the store granted `granted` requests for `ask`, one of them admitted now.
    pub fn granted(&self, caller: &str, ask: Ask, granted: u32, now: Instant) {
        let mut leases = self.lock();
        let spare = granted.saturating_sub(1);
        match leases.get_mut(caller) {
            // Requests racing on an empty lease each took one: keep what they all left.
            Some(lease) if now.saturating_duration_since(lease.taken) < LEASE_LIFE => {
                lease.left = lease.left.saturating_add(spare);
                lease.size = lease.size.max(ask.want);
                lease.taken = now;
            }
            _ => {
                let lease = Lease {
                    left: spare,
                    size: ask.want,
                    taken: now,
                };
                leases.insert(caller.to_owned(), lease);
            }
        }
    }

    /// Forgets leases past their life (bounds memory). Their unspent requests are lost, as
    /// with a crash: the caller gets fewer, never more.
    pub fn forget_expired(&self, now: Instant) {
        self.lock()
            .retain(|_, lease| now.saturating_duration_since(lease.taken) < LEASE_LIFE);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Lease>> {
        // A panic while holding the lock leaves plain counters, still meaningful.
        self.by_caller
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(burst: u32) -> Quota {
        Quota {
            interval: Duration::from_millis(1),
            burst,
        }
    }

    #[test]
    fn small_quotas_are_taken_a_request_at_a_time() {
        assert_eq!(largest_lease(quota(1)), 1);
        assert_eq!(largest_lease(quota(15)), 1);
        assert_eq!(largest_lease(quota(60)), 7);
        assert_eq!(largest_lease(quota(1_000_000_000)), MAX_LEASE);
    }

    #[test]
    fn a_busy_caller_is_admitted_from_a_growing_lease() {
        let leases = Leases::default();
        let t = Instant::now();
        let first = leases.admit_or_ask("h", 8, t).expect("no lease yet");
        assert_eq!(first, Ask { want: 1, unused: 0 });
        leases.granted("h", first, 1, t);
        let second = leases.admit_or_ask("h", 8, t).expect("lease spent");
        assert_eq!(second.want, 2);
        leases.granted("h", second, 2, t);
        assert_eq!(leases.admit_or_ask("h", 8, t), None, "one request left");
        let third = leases.admit_or_ask("h", 8, t).expect("lease spent");
        assert_eq!(third.want, 4);
        leases.granted("h", third, 4, t);
        let fourth = (0..3)
            .map(|_| leases.admit_or_ask("h", 8, t))
            .collect::<Vec<_>>();
        assert_eq!(fourth, [None, None, None]);
        assert_eq!(leases.admit_or_ask("h", 8, t).map(|a| a.want), Some(8));
    }

    #[test]
    fn an_expired_lease_admits_nothing_and_gives_back_what_it_held() {
        let leases = Leases::default();
        let t = Instant::now();
        leases.granted("h", Ask { want: 4, unused: 0 }, 4, t);
        let later = t + LEASE_LIFE;
        let ask = leases.admit_or_ask("h", 8, later).expect("expired");
        // Three of four left over: the next lease is half the size.
        assert_eq!(ask, Ask { want: 2, unused: 3 });
        leases.granted("h", ask, 2, later);
        assert_eq!(leases.admit_or_ask("h", 8, later), None);
        // Given back once, not again; spent within its life, so the next one doubles.
        let ask = leases.admit_or_ask("h", 8, later).expect("spent");
        assert_eq!(ask, Ask { want: 4, unused: 0 });
        // A caller back after a pause starts again from one.
        leases.granted("h", ask, 4, later);
        let ask = leases
            .admit_or_ask("h", 8, later + 2 * LEASE_LIFE)
            .expect("long expired");
        assert_eq!(ask, Ask { want: 1, unused: 3 });
    }

    #[test]
    fn a_caller_seen_once_a_lease_life_never_leases_more_than_one() {
        let leases = Leases::default();
        let mut t = Instant::now();
        for _ in 0..5 {
            let ask = leases.admit_or_ask("h", 8, t).expect("no live lease");
            assert_eq!(ask, Ask { want: 1, unused: 0 });
            leases.granted("h", ask, 1, t);
            t += LEASE_LIFE;
        }
    }

    #[test]
    fn racing_grants_keep_every_spare_request() {
        let leases = Leases::default();
        let t = Instant::now();
        leases.granted("h", Ask { want: 4, unused: 0 }, 4, t);
        leases.granted("h", Ask { want: 4, unused: 0 }, 3, t);
        let admitted = (0..6)
            .filter(|_| leases.admit_or_ask("h", 8, t).is_none())
            .count();
        assert_eq!(admitted, 5);
        leases.forget_expired(t + LEASE_LIFE);
        assert_eq!(leases.lock().len(), 0);
    }
}
