//! Shared state of the service.

use std::ops::Deref;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use tokio_util::task::TaskTracker;

use yibao_verifier::Clock;

use crate::domain::devices::numbers::CertificateNumbers;
use crate::domain::limits::RateLimits;
use crate::secrets::{CredentialHash, IndexKey};
use crate::signing::KeyMaterial;
use crate::store::Store;

/// Everything a handler needs, behind one `Arc`: axum clones the state for every extractor
/// and middleware of every request, so a clone is one reference count (not a copy of
/// [`Shared`]'s paths and keys).
#[derive(Clone)]
pub struct Context(Arc<Shared>);

impl Context {
    /// The service's state.
    #[must_use]
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl Deref for Context {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`Context`] shares.
pub struct Shared {
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
    /// This node's reserved certificate numbers (the ids of device certificates).
    pub certificate_numbers: Arc<CertificateNumbers>,
    /// Work done after the answer was sent: family requests delivered to their member, so an
    /// unattested bind's answer never waits on who the member is (`family/bind.rs`).
    pub deliveries: TaskTracker,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Context").finish_non_exhaustive()
    }
}

impl Shared {
    /// Waits until every delivery started so far is done (shutdown, and tests that look at
    /// what a bind delivered).
    pub async fn deliveries_done(&self) {
        self.deliveries.close();
        self.deliveries.wait().await;
        self.deliveries.reopen();
    }

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
