//! The service's state as an operator checks it: the store (and cluster), the signing key
//! and trust bundle with their ages, and the status list's sequence.

use yibao_shared::UnixTime;

use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::store::StoreHealth;

/// The service's state.
#[derive(Clone, Debug)]
pub struct ServiceStatus {
    /// The store as this node sees it.
    pub store: StoreHealth,
    /// Now, by the issuer's clock.
    pub now: UnixTime,
    /// The key that signs tokens and certificates.
    pub signing_key_id: u16,
    /// When that key became valid.
    pub signing_key_not_before: UnixTime,
    /// When it stops being valid.
    pub signing_key_not_after: UnixTime,
    /// The served trust bundle's sequence.
    pub bundle_sequence: u64,
    /// When it was issued.
    pub bundle_issued_at: UnixTime,
    /// When terminals stop accepting it.
    pub bundle_expires_at: UnixTime,
    /// The status list's sequence (revocations appended so far).
    pub status_list_sequence: u64,
}

/// The service's state now.
///
/// # Errors
///
/// [`DomainError::Unavailable`] when the store does not answer.
pub async fn service_status(state: &Context) -> Result<ServiceStatus, DomainError> {
    state.store.ping().await?;
    let (health, revocations) = tokio::join!(
        state.store.health(),
        // No entry follows the largest sequence: this reads the sequence alone.
        state.store.revocations_since(u64::MAX)
    );
    let keys = state.keys();
    let bundle = keys.bundle();
    let signing = bundle
        .keys
        .iter()
        .find(|k| k.key_id == keys.key_id())
        .ok_or_else(|| DomainError::Internal("signing key missing from its bundle".into()))?;
    Ok(ServiceStatus {
        store: health?,
        now: state.clock.now(),
        signing_key_id: keys.key_id().0,
        signing_key_not_before: signing.not_before,
        signing_key_not_after: signing.not_after,
        bundle_sequence: bundle.sequence,
        bundle_issued_at: bundle.issued_at,
        bundle_expires_at: bundle.expires_at,
        status_list_sequence: revocations?.0,
    })
}
