//! Per-caller rate limits: channels (activations), holder credentials (tokens) and family
//! binds. With the embedded store the issuer is one process and keeps them in memory
//! (`governor`); with Redis several issuer nodes serve the same callers, so the limits live
//! in Redis ([`crate::store::Store::take_quota`]) and hold across nodes. A busy caller's
//! requests are taken from Redis in small leases (`lease.rs`), so its quota costs a round
//! trip per lease, not per request (`docs/SCALE.md`).

mod lease;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::domain::error::DomainError;
use crate::secrets::CredentialHash;
use crate::store::{Grant, Quota, Store};
use governor::{DefaultKeyedRateLimiter, Quota as GovernorQuota, RateLimiter};
use lease::{Ask, Leases, largest_lease};
use serde::Deserialize;
use yibao_shared::VoucherId;

/// Limits that protect the service.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest request body accepted, in bytes.
    pub body_bytes: usize,
    /// Requests slower than this are answered 408.
    pub request_timeout_ms: u64,
    /// Activation and deactivation requests per channel per second (burst the same).
    pub channel_per_sec: u32,
    /// Token requests per holder credential per minute (burst the same); a phone refreshes
    /// about once a minute.
    pub holder_per_min: u32,
    /// Family binds per binder per day (burst the same): each bind is a registry look-up a
    /// stranger could repeat, so the quota is small.
    pub binds_per_day: u32,
    /// Person-information reads (实名就医, 1101) per terminal per minute (burst the same): a
    /// counter registers a patient or two a minute; a terminal reading faster is harvesting
    /// identities.
    #[serde(default = "default_person_info_per_min")]
    pub person_info_per_min: u32,
    /// Keep the limits in the store, shared by every issuer node (a Redis round trip per
    /// request of a quiet caller, per lease of a busy one), or in this process. Default: shared with a Redis store, per
    /// process with the embedded one. Per process on Redis is only right for a single node.
    #[serde(default)]
    pub shared: Option<bool>,
}

fn default_person_info_per_min() -> u32 {
    30
}

/// How long a device-login challenge may be answered, and so how long its one answer is
/// remembered ([`RateLimits::answer_once`]).
pub const CHALLENGE_SECS: u64 = 120;

/// Rate limits keyed by caller.
pub struct RateLimits {
    quotas: Quotas,
    keeper: Keeper,
}

/// The three quotas.
#[derive(Clone, Copy, Debug)]
struct Quotas {
    channel: Quota,
    holder: Quota,
    bind: Quota,
    person_info: Quota,
}

enum Keeper {
    /// This process's memory (one issuer).
    Local(Box<LocalLimiters>),
    /// The shared store (several issuer nodes), and this node's leases of it.
    Shared(Arc<dyn Store>, Leases),
}

struct LocalLimiters {
    /// Device-login challenges answered (one answer each; see [`RateLimits::answer_once`]).
    answered: DefaultKeyedRateLimiter<[u8; 16]>,
    channel: DefaultKeyedRateLimiter<String>,
    holder: DefaultKeyedRateLimiter<CredentialHash>,
    bind: DefaultKeyedRateLimiter<VoucherId>,
    person_info: DefaultKeyedRateLimiter<String>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("quotas", &self.quotas)
            .finish_non_exhaustive()
    }
}

impl RateLimits {
    /// In-process limits for the configured quotas (a zero quota is treated as 1).
    pub fn local(limits: &Limits) -> Self {
        let quotas = Quotas::of(limits);
        Self {
            quotas,
            keeper: Keeper::Local(Box::new(LocalLimiters {
                answered: RateLimiter::keyed(governor_quota(once_within(CHALLENGE_SECS))),
                channel: RateLimiter::keyed(governor_quota(quotas.channel)),
                holder: RateLimiter::keyed(governor_quota(quotas.holder)),
                bind: RateLimiter::keyed(governor_quota(quotas.bind)),
                person_info: RateLimiter::keyed(governor_quota(quotas.person_info)),
            })),
        }
    }

    /// Limits kept in `store`, shared with every issuer node using it.
    pub fn shared(limits: &Limits, store: Arc<dyn Store>) -> Self {
        Self {
            quotas: Quotas::of(limits),
            keeper: Keeper::Shared(store, Leases::default()),
        }
    }

    /// Admits one request of a channel.
    ///
    /// # Errors
    ///
    /// [`DomainError::RateLimited`] when over quota, [`DomainError::Unavailable`] when the shared
    /// store cannot count it.
    pub async fn channel(&self, id: &str) -> Result<(), DomainError> {
        match &self.keeper {
            Keeper::Local(l) => local(l.channel.check_key(&id.to_owned())),
            Keeper::Shared(store, leases) => {
                shared(store, leases, &format!("ch:{id}"), self.quotas.channel).await
            }
        }
    }

    /// Admits one request of a holder credential.
    ///
    /// # Errors
    ///
    /// As [`Self::channel`].
    pub async fn holder(&self, credential: &CredentialHash) -> Result<(), DomainError> {
        match &self.keeper {
            Keeper::Local(l) => local(l.holder.check_key(credential)),
            Keeper::Shared(store, leases) => {
                let caller = format!("h:{}", credential.to_hex());
                shared(store, leases, &caller, self.quotas.holder).await
            }
        }
    }

    /// Counts one family bind by `binder`: binds are what a stranger would repeat to probe
    /// the registry, so they have their own, much smaller quota.
    ///
    /// # Errors
    ///
    /// As [`Self::channel`].
    pub async fn bind(&self, binder: VoucherId) -> Result<(), DomainError> {
        match &self.keeper {
            Keeper::Local(l) => local(l.bind.check_key(&binder)),
            Keeper::Shared(store, leases) => {
                shared(store, leases, &format!("b:{binder}"), self.quotas.bind).await
            }
        }
    }

    /// Counts one person-information read by `terminal`.
    ///
    /// # Errors
    ///
    /// As [`Self::channel`].
    pub async fn person_info(&self, terminal: &str) -> Result<(), DomainError> {
        match &self.keeper {
            Keeper::Local(l) => local(l.person_info.check_key(&terminal.to_owned())),
            Keeper::Shared(store, leases) => {
                let caller = format!("pi:{terminal}");
                shared(store, leases, &caller, self.quotas.person_info).await
            }
        }
    }

    /// Admits the answer to a device-login challenge once: a second answer within the
    /// challenge's life (a replayed login) is refused. Kept like the other limits, so it holds
    /// across issuer nodes.
    ///
    /// # Errors
    ///
    /// [`DomainError::Unauthorized`] for a challenge answered already; [`DomainError::Unavailable`]
    /// when the shared store cannot count it.
    pub async fn answer_once(&self, nonce: [u8; 16]) -> Result<(), DomainError> {
        let answer = match &self.keeper {
            Keeper::Local(l) => local(l.answered.check_key(&nonce)),
            Keeper::Shared(store, leases) => {
                let hex: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
                let caller = format!("c:{hex}");
                shared(store, leases, &caller, once_within(CHALLENGE_SECS)).await
            }
        };
        answer.map_err(|e| match e {
            DomainError::RateLimited(_) => DomainError::Unauthorized,
            other => other,
        })
    }

    /// Forgets callers idle long enough to be back at full quota, and expired leases
    /// (bounds memory; shared limits expire in Redis by themselves).
    pub fn forget_idle(&self) {
        match &self.keeper {
            Keeper::Local(l) => {
                l.answered.retain_recent();
                l.channel.retain_recent();
                l.holder.retain_recent();
                l.bind.retain_recent();
                l.person_info.retain_recent();
            }
            Keeper::Shared(_, leases) => leases.forget_expired(Instant::now()),
        }
    }
}

impl Quotas {
    fn of(limits: &Limits) -> Self {
        let per_sec = limits.channel_per_sec.max(1);
        let per_min = limits.holder_per_min.max(1);
        let binds = limits.binds_per_day.max(1);
        let reads = limits.person_info_per_min.max(1);
        Self {
            channel: Quota {
                interval: Duration::from_secs(1) / per_sec,
                burst: per_sec,
            },
            holder: Quota {
                interval: Duration::from_secs(60) / per_min,
                burst: per_min,
            },
            // `binds` a day, all of them at once if need be (a family set up in one sitting).
            bind: Quota {
                interval: Duration::from_secs(86_400) / binds,
                burst: binds,
            },
            person_info: Quota {
                interval: Duration::from_secs(60) / reads,
                burst: reads,
            },
        }
    }
}

/// One request per `secs`.
fn once_within(secs: u64) -> Quota {
    Quota {
        interval: Duration::from_secs(secs),
        burst: 1,
    }
}

fn governor_quota(quota: Quota) -> GovernorQuota {
    let burst = NonZeroU32::new(quota.burst).unwrap_or(NonZeroU32::MIN);
    GovernorQuota::with_period(quota.interval)
        .unwrap_or_else(|| GovernorQuota::per_second(burst))
        .allow_burst(burst)
}

fn local(
    answer: Result<(), governor::NotUntil<governor::clock::QuantaInstant>>,
) -> Result<(), DomainError> {
    answer.map_err(|not_until| {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(
            &governor::clock::DefaultClock::default(),
        ));
        DomainError::RateLimited(whole_seconds(wait))
    })
}

/// Admits one request of `caller` from this node's lease, or takes a new lease.
async fn shared(
    store: &Arc<dyn Store>,
    leases: &Leases,
    caller: &str,
    quota: Quota,
) -> Result<(), DomainError> {
    let largest = largest_lease(quota);
    // A quota too small to lease is taken a request at a time and needs no lease at all.
    let ask = if largest == 1 {
        Ask { want: 1, unused: 0 }
    } else {
        match leases.admit_or_ask(caller, largest, Instant::now()) {
            None => return Ok(()),
            Some(ask) => ask,
        }
    };
    match store
        .take_quota(caller, quota, ask.want, ask.unused)
        .await?
    {
        Grant::Granted(granted) => {
            if largest > 1 {
                leases.granted(caller, ask, granted, Instant::now());
            }
            Ok(())
        }
        Grant::Wait(wait) => Err(DomainError::RateLimited(whole_seconds(wait))),
    }
}

/// Whole seconds until the quota has room again (at least 1), for `Retry-After`.
fn whole_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}
