//! The verifier: a pinned root key, the trust bundle it signed, a policy, and the checks.

use yibao_shared::{
    CertificateId, Claims, DeviceCertificate, FamilyProxy, IssuerKey, KeyId, KeyStatus, PublicKey,
    StatusList, TokenBody, TokenId, TokenKind, TrustBundle, UnixTime, UntrustedToken, VoucherId,
};

use crate::error::Rejection;
use crate::policy::Policy;
use crate::status::{CertificateStatus, HeldStatus, StatusUpdate};

/// Largest step up from the held bundle sequence that a verifier accepts (2^20). The signing
/// tool steps by one, so honest bundles never come near it; it bounds what a mistaken or
/// hostile bundle can do: the sequence space is never used up, and the operator recovers by
/// signing the next bundle above the mistaken one (`docs/token-format.md` §6).
pub const MAX_SEQUENCE_STEP: u64 = 1 << 20;

/// A code that passed every offline check. Only [`Verifier::verify`] constructs one, so code
/// that takes `&VerifiedToken` cannot be handed an unchecked token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedToken {
    body: TokenBody,
    key_status: KeyStatus,
    verified_at: UnixTime,
    /// The device certificate of a device-bound code.
    certificate: Option<DeviceCertificate>,
    /// Body and signature as scanned; the text form is rebuilt only when asked for, since
    /// most callers never need it.
    raw: Vec<u8>,
}

impl VerifiedToken {
    /// The person-related claims.
    pub fn claims(&self) -> &Claims {
        &self.body.claims
    }

    /// Whose voucher (settlement is against this one, also for family-proxy codes).
    pub fn voucher_id(&self) -> VoucherId {
        self.body.claims.voucher_id
    }

    /// Set when a family member shows the code.
    pub fn proxy(&self) -> Option<&FamilyProxy> {
        self.body.claims.proxy.as_ref()
    }

    /// The token's unique id.
    pub fn token_id(&self) -> TokenId {
        self.body.token_id
    }

    /// The signing key.
    pub fn key_id(&self) -> KeyId {
        self.body.key_id
    }

    /// Whether the signing key is active or retired (revoked keys never verify).
    pub fn key_status(&self) -> KeyStatus {
        self.key_status
    }

    /// When the issuer signed it.
    pub fn issued_at(&self) -> UnixTime {
        self.body.issued_at
    }

    /// Issued-at plus lifetime (before leeway).
    pub fn expires_at(&self) -> UnixTime {
        self.body.expires_at()
    }

    /// The `now` at which it was verified.
    pub fn verified_at(&self) -> UnixTime {
        self.verified_at
    }

    /// The canonical text of the code, for handing to settlement (which re-verifies it).
    pub fn code(&self) -> String {
        yibao_shared::to_text(&self.raw)
    }

    /// The whole decoded body.
    pub fn body(&self) -> &TokenBody {
        &self.body
    }

    /// Issuer-signed (kind 1) or signed by a certified phone (kind 2, 离线码).
    pub fn kind(&self) -> TokenKind {
        self.body.kind
    }

    /// The device certificate of a device-bound code.
    pub fn certificate(&self) -> Option<&DeviceCertificate> {
        self.certificate.as_ref()
    }

    /// The device certificate's id, for a device-bound code.
    pub fn certificate_id(&self) -> Option<CertificateId> {
        self.certificate.as_ref().map(|c| c.certificate_id)
    }
}

/// What [`Verifier::install_bundle`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundleUpdate {
    /// The offered bundle replaced the held one (or was the first).
    Installed {
        /// Its sequence number.
        sequence: u64,
    },
    /// The offered bundle is the one already held.
    Unchanged,
}

/// Verifies codes offline against a root-signed trust bundle.
#[derive(Clone, Debug)]
pub struct Verifier {
    root: PublicKey,
    policy: Policy,
    bundle: Option<TrustBundle>,
    min_sequence: u64,
    status: Option<HeldStatus>,
}

impl Verifier {
    /// A verifier that trusts bundles signed by `root` and holds none yet.
    pub fn new(root: PublicKey, policy: Policy) -> Self {
        Self {
            root,
            policy,
            bundle: None,
            min_sequence: 0,
            status: None,
        }
    }

    /// Restores a status list a terminal kept (see [`HeldStatus::to_bytes`]).
    pub fn with_status(mut self, status: HeldStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// The status list held, if any.
    pub fn status(&self) -> Option<&HeldStatus> {
        self.status.as_ref()
    }

    /// Checks a status list document (complete or delta) with the held bundle's keys and
    /// merges it into the held list.
    ///
    /// # Errors
    ///
    /// [`Rejection::NoBundle`], [`Rejection::StatusListInvalid`] (signature, key, shape),
    /// [`Rejection::StatusListOutOfOrder`]; on error the held list stays.
    pub fn install_status(
        &mut self,
        document: &[u8],
        now: UnixTime,
    ) -> Result<StatusUpdate, Rejection> {
        let bundle = self.bundle.as_ref().ok_or(Rejection::NoBundle)?;
        let list = StatusList::open(document, bundle)?;
        let (held, update) = HeldStatus::merge(self.status.as_ref(), list, now, &self.policy)?;
        self.status = Some(held);
        Ok(update)
    }

    /// Refuse bundles with a sequence below `sequence`: a terminal persists the highest
    /// sequence it has seen and restores it here, so rollback is refused across restarts.
    pub fn with_min_sequence(mut self, sequence: u64) -> Self {
        self.min_sequence = sequence;
        self
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The bundle held, if any.
    pub fn bundle(&self) -> Option<&TrustBundle> {
        self.bundle.as_ref()
    }

    /// Checks a bundle document against the root key and installs it.
    ///
    /// # Errors
    ///
    /// [`Rejection::BundleInvalid`] (bad signature, weak key, malformed),
    /// [`Rejection::BundleRollback`] for a lower sequence than held (or the same sequence
    /// with different content), [`Rejection::StaleBundle`] for a bundle already expired at
    /// `now`. On error the held bundle stays in place.
    pub fn install_bundle(
        &mut self,
        document: &str,
        now: UnixTime,
    ) -> Result<BundleUpdate, Rejection> {
        let offered = TrustBundle::open(document, &self.root)?;
        let held = self
            .bundle
            .as_ref()
            .map_or(self.min_sequence, |b| b.sequence.max(self.min_sequence));
        if let Some(current) = &self.bundle {
            if *current == offered {
                return Ok(BundleUpdate::Unchanged);
            }
            // Same sequence, different content: two bundles claim one place in history.
            if offered.sequence <= current.sequence {
                return Err(Rejection::BundleRollback {
                    held,
                    offered: offered.sequence,
                });
            }
        }
        if offered.sequence < held {
            return Err(Rejection::BundleRollback {
                held,
                offered: offered.sequence,
            });
        }
        if offered.sequence > held.saturating_add(MAX_SEQUENCE_STEP) {
            return Err(Rejection::BundleSequenceJump {
                held,
                offered: offered.sequence,
            });
        }
        if now >= offered.expires_at {
            return Err(Rejection::StaleBundle {
                now,
                expired_at: offered.expires_at,
            });
        }
        let sequence = offered.sequence;
        self.bundle = Some(offered);
        self.min_sequence = sequence;
        Ok(BundleUpdate::Installed { sequence })
    }

    /// Restores the bundle a terminal installed earlier (and kept with its sequence): its
    /// signature is checked against the pinned root key, but not the step from what is held
    /// nor its expiry, which were judged when it was installed (an expired one is restored so
    /// checks say "stale bundle: sync" rather than "no bundle").
    ///
    /// # Errors
    ///
    /// [`Rejection::BundleInvalid`] when the stored document no longer verifies.
    pub fn restore_bundle(&mut self, document: &str, sequence: u64) -> Result<(), Rejection> {
        let bundle = TrustBundle::open(document, &self.root)?;
        self.min_sequence = self.min_sequence.max(sequence).max(bundle.sequence);
        self.bundle = Some(bundle);
        Ok(())
    }

    /// Parses and verifies scanned text. See [`Self::verify`].
    ///
    /// # Errors
    ///
    /// A [`Rejection`] saying exactly why.
    pub fn verify_text(&self, text: &str, now: UnixTime) -> Result<VerifiedToken, Rejection> {
        self.verify(&UntrustedToken::parse(text)?, now)
    }

    /// Runs every offline check in the order of `docs/token-format.md` §5 (kind 1) or §8.4
    /// (kind 2, revocation against the held status list) and returns the first failure.
    /// Replay is not checked here: see [`crate::ReplayGuard`].
    ///
    /// # Errors
    ///
    /// A [`Rejection`] saying exactly why.
    pub fn verify(
        &self,
        token: &UntrustedToken,
        now: UnixTime,
    ) -> Result<VerifiedToken, Rejection> {
        self.verify_with(token, now, &self.status)
    }

    /// [`Self::verify`] with another source of device-certificate status: the issuer,
    /// which knows revocations first-hand, re-verifies handed-off codes with its store.
    ///
    /// # Errors
    ///
    /// A [`Rejection`] saying exactly why.
    pub fn verify_with(
        &self,
        token: &UntrustedToken,
        now: UnixTime,
        status: &dyn CertificateStatus,
    ) -> Result<VerifiedToken, Rejection> {
        let bundle = self.bundle.as_ref().ok_or(Rejection::NoBundle)?;
        if now >= bundle.expires_at {
            return Err(Rejection::StaleBundle {
                now,
                expired_at: bundle.expires_at,
            });
        }
        let key_id = token.key_id();
        let key = bundle.key(key_id).ok_or(Rejection::UnknownKey { key_id })?;
        if key.status == KeyStatus::Revoked {
            return Err(Rejection::KeyRevoked { key_id });
        }
        let certificate = match token.device() {
            None => {
                token
                    .verify_signature(&key.public_key)
                    .map_err(|_| Rejection::BadSignature { key_id })?;
                None
            }
            Some(parts) => {
                token
                    .verify_signature(&key.public_key)
                    .map_err(|_| Rejection::BadCertificateSignature { key_id })?;
                token
                    .verify_device_signature()
                    .map_err(|_| Rejection::BadDeviceSignature)?;
                Some(parts.certificate())
            }
        };

        // From here on the body is authentic; what is left is policy.
        let body = token.unverified_body();
        // The key must have been valid when it signed: the token (kind 1) or the
        // certificate (kind 2).
        let signed_at = certificate.map_or(body.issued_at, |c| c.issued_at);
        self.check_key(key, signed_at, body)?;
        if let Some(certificate) = certificate {
            self.check_certificate(certificate, body, now)?;
        }
        self.check_window(body, now)?;
        if let Some(certificate) = certificate {
            status.check(certificate.certificate_id, now, &self.policy)?;
        }
        Ok(VerifiedToken {
            body: body.clone(),
            key_status: key.status,
            verified_at: now,
            certificate: certificate.cloned(),
            raw: token.raw().to_vec(),
        })
    }

    fn check_key(
        &self,
        key: &IssuerKey,
        signed_at: UnixTime,
        body: &TokenBody,
    ) -> Result<(), Rejection> {
        let key_id = key.key_id;
        if signed_at < key.not_before || signed_at > key.not_after {
            return Err(Rejection::KeyNotValid {
                key_id,
                issued_at: signed_at,
                not_before: key.not_before,
                not_after: key.not_after,
            });
        }
        if !key.covers(body.claims.region) {
            return Err(Rejection::KeyOutOfScope {
                key_id,
                region: body.claims.region,
            });
        }
        Ok(())
    }

    /// A device certificate's own validity, and the presentation inside it.
    fn check_certificate(
        &self,
        certificate: &DeviceCertificate,
        body: &TokenBody,
        now: UnixTime,
    ) -> Result<(), Rejection> {
        let hours = u64::from(certificate.validity_hours);
        if hours > self.policy.max_certificate_hours {
            return Err(Rejection::CertificateValidityTooLong {
                hours,
                max_hours: self.policy.max_certificate_hours,
            });
        }
        let leeway = self.policy.leeway_secs;
        if certificate.issued_at > now.saturating_add(leeway) {
            return Err(Rejection::CertificateNotYetValid {
                now,
                issued_at: certificate.issued_at,
            });
        }
        if now >= certificate.expires_at().saturating_add(leeway) {
            return Err(Rejection::CertificateExpired {
                now,
                expired_at: certificate.expires_at(),
            });
        }
        // The leeway applies at the certificate's start as at a code's: a phone whose clock
        // runs a few seconds behind the issuer's stamps its first codes "before" the
        // certificate it was just given.
        if body.issued_at.saturating_add(leeway) < certificate.issued_at
            || body.issued_at >= certificate.expires_at()
        {
            return Err(Rejection::PresentationOutsideCertificate {
                presented_at: body.issued_at,
            });
        }
        Ok(())
    }

    /// The code's own lifetime and time window (kind 1: issued-at; kind 2: presented-at).
    fn check_window(&self, body: &TokenBody, now: UnixTime) -> Result<(), Rejection> {
        let lifetime_secs = u64::from(body.lifetime_secs);
        if lifetime_secs > self.policy.max_lifetime_secs {
            return Err(Rejection::LifetimeTooLong {
                lifetime_secs,
                max_secs: self.policy.max_lifetime_secs,
            });
        }
        if body.issued_at > now.saturating_add(self.policy.leeway_secs) {
            return Err(Rejection::NotYetValid {
                now,
                issued_at: body.issued_at,
            });
        }
        if now >= body.expires_at().saturating_add(self.policy.leeway_secs) {
            return Err(Rejection::Expired {
                now,
                expired_at: body.expires_at(),
            });
        }
        Ok(())
    }
}
