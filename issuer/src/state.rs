//! Shared state of the service.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use yibao_verifier::Clock;

use yibao_shared::VoucherId;

use crate::config::Limits;
use crate::error::ApiError;
use crate::secrets::{CredentialHash, IndexKey};
use crate::signing::KeyMaterial;
use crate::store::Store;

/// Everything a handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Storage backend.
    pub store: Arc<dyn Store>,
    /// Signing key and trust bundle, swappable at run time.
    pub keys: Arc<RwLock<Arc<KeyMaterial>>>,
    /// Where [`KeyMaterial`] is reloaded from.
    pub keys_dir: PathBuf,
    /// Secret for ID-number and name hashes.
    pub index: IndexKey,
    /// Time source (a fixed clock in tests).
    pub clock: Arc<dyn Clock>,
    /// SHA-256 of the admin token.
    pub admin_token: CredentialHash,
    /// Lifetime of issued tokens.
    pub token_lifetime_secs: u8,
    /// Validity of device certificates in hours.
    pub device_validity_hours: u8,
    /// How late an offline-verified code may be handed off, after its expiry.
    pub handoff_window_secs: u64,
    /// Per-caller rate limits.
    pub limits: Arc<RateLimits>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// The current key material.
    pub fn keys(&self) -> Arc<KeyMaterial> {
        // A poisoned lock only means a reload panicked midway; the old value is still whole.
        Arc::clone(&self.keys.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Replaces the key material (after `yibao-keys issuer new` + `bundle sign`).
    pub fn set_keys(&self, keys: KeyMaterial) {
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
    }
}

/// Rate limiters keyed by caller.
pub struct RateLimits {
    channel: DefaultKeyedRateLimiter<String>,
    holder: DefaultKeyedRateLimiter<CredentialHash>,
    bind: DefaultKeyedRateLimiter<VoucherId>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RateLimits")
    }
}

impl RateLimits {
    /// Limiters for the configured quotas (a zero quota is treated as 1).
    pub fn new(limits: &Limits) -> Self {
        let per_sec = NonZeroU32::new(limits.channel_per_sec).unwrap_or(NonZeroU32::MIN);
        let per_min = NonZeroU32::new(limits.holder_per_min).unwrap_or(NonZeroU32::MIN);
        let binds = NonZeroU32::new(limits.binds_per_day).unwrap_or(NonZeroU32::MIN);
        // `binds` a day, all of them at once if need be (a family set up in one sitting).
        let bind_period = std::time::Duration::from_secs(86_400) / binds.get();
        let bind = Quota::with_period(bind_period)
            .unwrap_or_else(|| Quota::per_hour(binds))
            .allow_burst(binds);
        Self {
            channel: RateLimiter::keyed(Quota::per_second(per_sec)),
            holder: RateLimiter::keyed(Quota::per_minute(per_min).allow_burst(per_min)),
            bind: RateLimiter::keyed(bind),
        }
    }

    /// Admits one request of a channel.
    ///
    /// # Errors
    ///
    /// [`ApiError::RateLimited`] when over quota.
    pub fn channel(&self, id: &str) -> Result<(), ApiError> {
        self.channel
            .check_key(&id.to_owned())
            .map_err(|not_until| ApiError::RateLimited(retry_after(&not_until)))
    }

    /// Admits one request of a holder credential.
    ///
    /// # Errors
    ///
    /// [`ApiError::RateLimited`] when over quota.
    pub fn holder(&self, credential: &CredentialHash) -> Result<(), ApiError> {
        self.holder
            .check_key(credential)
            .map_err(|not_until| ApiError::RateLimited(retry_after(&not_until)))
    }

    /// Forgets callers idle long enough to be back at full quota (bounds memory).
    /// Counts one family bind by `binder`: binds are what a stranger would repeat to probe
    /// the registry, so they have their own, much smaller quota.
    ///
    /// # Errors
    ///
    /// [`ApiError::RateLimited`] when the binder's quota is used up.
    pub fn bind(&self, binder: VoucherId) -> Result<(), ApiError> {
        self.bind
            .check_key(&binder)
            .map_err(|not_until| ApiError::RateLimited(retry_after(&not_until)))
    }

    pub fn forget_idle(&self) {
        self.channel.retain_recent();
        self.holder.retain_recent();
        self.bind.retain_recent();
    }
}

/// Whole seconds until the quota has room again (at least 1), for `Retry-After`.
fn retry_after(not_until: &governor::NotUntil<governor::clock::QuantaInstant>) -> u64 {
    let wait = not_until.wait_time_from(governor::clock::Clock::now(
        &governor::clock::DefaultClock::default(),
    ));
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}
