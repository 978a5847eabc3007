//! The status list as the issuer serves it, and the issuer's own view of a certificate's
//! status when it re-verifies a handed-off device code.

use yibao_shared::{CertificateId, RevokedCertificate, UnixTime, UntrustedToken};
use yibao_verifier::{CertificateStatus, Policy, Rejection};

use crate::domain::context::Context;
use crate::domain::error::DomainError;

/// The signed status list after `since` (0, or a sequence this issuer never reached: the
/// complete list). Entries whose certificate has expired are left out.
///
/// # Errors
///
/// Store failures.
pub async fn document(state: &Context, since: u64) -> Result<Vec<u8>, DomainError> {
    let now = state.clock.now();
    let (mut sequence, mut entries) = state.store.revocations_since(since).await?;
    let mut from = since;
    if since > sequence {
        // The terminal holds a sequence from a store that was since replaced: start over.
        (sequence, entries) = state.store.revocations_since(0).await?;
        from = 0;
    }
    let leeway = state.keys().verifier().policy().leeway_secs;
    let cutoff = now.saturating_sub(leeway);
    entries.retain(|e| e.expires_at > cutoff);
    metrics::counter!("yibao_status_list_served_total", "complete" => (from == 0).to_string())
        .increment(1);
    Ok(state.keys().sign_status_list(from, sequence, now, entries))
}

/// What the issuer knows first-hand about one certificate: revoked from when, if at all.
#[derive(Clone, Copy, Debug)]
pub struct KnownStatus {
    revoked: Option<RevokedCertificate>,
}

impl KnownStatus {
    /// Looks up the certificate of a device-bound code (nothing to look up for kind 1).
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn of_code(state: &Context, code: &str) -> Result<Self, DomainError> {
        match UntrustedToken::parse(code) {
            Ok(token) => Self::of(state, &token).await,
            // Unparsable: the verifier refuses it before any status is asked.
            Err(_) => Ok(Self { revoked: None }),
        }
    }

    /// Looks up the certificate of a parsed device-bound code.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn of(state: &Context, token: &UntrustedToken) -> Result<Self, DomainError> {
        let revoked = match token.device() {
            Some(parts) => {
                state
                    .store
                    .revocation(parts.certificate().certificate_id)
                    .await?
            }
            None => None,
        };
        Ok(Self { revoked })
    }
}

/// Revoked as of `now` if it was revoked at or before `now`: a code a terminal accepted
/// offline before the revocation settles; one accepted after it does not.
impl CertificateStatus for KnownStatus {
    fn check(
        &self,
        certificate: CertificateId,
        now: UnixTime,
        _policy: &Policy,
    ) -> Result<(), Rejection> {
        match self.revoked {
            Some(entry) if entry.certificate_id == certificate && entry.revoked_at <= now => {
                Err(Rejection::CertificateRevoked {
                    certificate_id: certificate,
                    revoked_at: entry.revoked_at,
                })
            }
            _ => Ok(()),
        }
    }
}
