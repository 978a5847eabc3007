//! What the issuer keeps about a registered device and the certificates it was given.

use serde::{Deserialize, Serialize};
use yibao_shared::{CertificateId, RevokedCertificate, UnixTime, VoucherId};

/// A phone whose key the issuer certifies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Random id, 16 hex characters.
    pub device_id: String,
    /// The holder who registered it.
    pub holder: VoucherId,
    /// The device's P-256 key, SEC1 compressed, base64url.
    pub public_key: String,
    /// What the holder calls it (e.g. a phone model), for the device list.
    #[serde(default)]
    pub label: Option<String>,
    /// The channel whose holder credential registered it: what a session opened with the
    /// device's key counts as (attestations, audit).
    #[serde(default)]
    pub channel: String,
    /// When it was registered.
    pub registered_at: UnixTime,
    /// When certificates were last issued to it.
    pub renewed_at: UnixTime,
    /// Certificates issued to it that have not expired (revoked all at once on removal).
    pub certificates: Vec<IssuedCertificate>,
}

/// One certificate given to a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCertificate {
    /// The certificate.
    pub certificate_id: CertificateId,
    /// Whose voucher it certifies.
    pub voucher_id: VoucherId,
    /// Set for a family member's certificate: the device holder acting as binder.
    #[serde(default)]
    pub binder: Option<VoucherId>,
    /// When it expires.
    pub expires_at: UnixTime,
}

impl IssuedCertificate {
    /// The status list entry that revokes it at `now`.
    pub fn revoked_at(&self, now: UnixTime) -> RevokedCertificate {
        RevokedCertificate {
            certificate_id: self.certificate_id,
            expires_at: self.expires_at,
            revoked_at: now,
        }
    }
}
