//! The bodies of the device endpoints, as the OpenAPI document describes them, and how the
//! domain's values become them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use yibao_shared::{CertificateId, Relation, UnixTime, VoucherId};

use crate::domain::devices::session::{Answer, NewChallenge, Session};
use crate::domain::devices::{Certificate, Certified, Proof, Registration};
use crate::model::device::Device;

/// Registering a device: its key and a proof that the caller holds it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationRequest {
    /// The device's P-256 public key, SEC1 (33 bytes compressed or 65 uncompressed, as
    /// WebCrypto's `raw` export gives it), base64url without padding.
    pub public_key: String,
    /// Unix seconds at which the proof was signed (within 5 minutes of the issuer's clock).
    pub signed_at: u64,
    /// ECDSA P-256/SHA-256 signature (`r || s`, 64 bytes, base64url) by the device key over
    /// `"yibao.device-pop.v1" || holder voucher id (8 bytes) || signed_at (u64 big-endian) ||
    /// the compressed public key (33 bytes)`.
    pub proof: String,
    /// A name for the device list, e.g. the phone model (at most 40 characters).
    #[serde(default)]
    pub label: Option<String>,
}

/// Renewing a device's certificates: a fresh proof with the registered key.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewalRequest {
    /// As in the registration.
    pub signed_at: u64,
    /// As in the registration, by the registered key.
    pub proof: String,
}

/// A device's certificates, as the phone stores them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceCertificates {
    /// The device's id (for renewal and removal).
    pub device_id: String,
    /// Renew after this (unix seconds), whenever online.
    #[schema(value_type = u64)]
    pub renew_after: UnixTime,
    /// One for the holder's own voucher, one per actively bound family member.
    pub certificates: Vec<CertificateView>,
}

/// One certificate and what the phone shows next to it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CertificateView {
    /// Whose voucher it certifies.
    #[schema(value_type = String)]
    pub voucher_id: VoucherId,
    /// The signed certificate (body and issuer signature), base64url: the phone puts it in
    /// front of every presentation it signs (`docs/token-format.md` §8).
    pub certificate: String,
    /// Its id (what the status list names if it is revoked).
    #[schema(value_type = String)]
    pub certificate_id: CertificateId,
    /// Valid from (unix seconds).
    #[schema(value_type = u64)]
    pub issued_at: UnixTime,
    /// Valid until (unix seconds): after this the phone must go online once.
    #[schema(value_type = u64)]
    pub expires_at: UnixTime,
    /// e.g. `张*三`.
    pub masked_name: String,
    /// Set for a family member's certificate: the relation shown on the 代家人出示 banner.
    #[schema(value_type = Option<crate::model::names::RelationName>)]
    pub relation: Option<Relation>,
}

/// A registered device, as its holder sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceView {
    /// The device's id.
    pub device_id: String,
    /// Its label.
    pub label: Option<String>,
    /// Unix seconds.
    #[schema(value_type = u64)]
    pub registered_at: UnixTime,
    /// Unix seconds.
    #[schema(value_type = u64)]
    pub renewed_at: UnixTime,
    /// When its last certificate expires (unix seconds), if any is left.
    #[schema(value_type = Option<u64>)]
    pub certificates_expire_at: Option<UnixTime>,
}

/// A challenge for the device to sign.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Challenge {
    /// Opaque, base64url: sign it as it decodes (docs/issuer.md, "The phone's login").
    pub challenge: String,
    /// Answer it before this (unix seconds).
    #[schema(value_type = u64)]
    pub expires_at: UnixTime,
}

/// Opening a session: the challenge signed by a registered device.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The holder's voucher id (16 hex digits), as in the device's own certificate.
    pub voucher_id: String,
    /// The registered device's id.
    pub device_id: String,
    /// The challenge, as received.
    pub challenge: String,
    /// ECDSA P-256/SHA-256 (`r || s`, base64url) by the device key over
    /// `"yibao.device-session.v1" || voucher id (8 bytes) || device id (8 bytes) ||
    /// the decoded challenge (56 bytes)`.
    pub signature: String,
}

/// A session: a bearer credential for the holder's endpoints, bound to one device.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceSession {
    /// `Authorization: Bearer <session>`.
    pub session: String,
    /// It ends then (unix seconds), or when the device is removed, whichever comes first.
    #[schema(value_type = u64)]
    pub expires_at: UnixTime,
}

/// Signing a device out: a statement its key signed (possibly while offline, long before).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignOutRequest {
    /// The holder's voucher id (16 hex digits).
    pub voucher_id: String,
    /// ECDSA P-256/SHA-256 (`r || s`, base64url) by the device key over
    /// `"yibao.device-signout.v1" || voucher id (8 bytes) || device id (8 bytes)`.
    pub signature: String,
}

impl RegistrationRequest {
    /// What the domain takes.
    pub fn registration(&self) -> Registration<'_> {
        Registration {
            public_key: &self.public_key,
            signed_at: self.signed_at,
            proof: &self.proof,
            label: self.label.as_deref(),
        }
    }
}

impl RenewalRequest {
    /// What the domain takes.
    pub fn proof(&self) -> Proof<'_> {
        Proof {
            signed_at: self.signed_at,
            proof: &self.proof,
        }
    }
}

impl SessionRequest {
    /// What the domain takes.
    pub fn answer(&self) -> Answer<'_> {
        Answer {
            voucher_id: &self.voucher_id,
            device_id: &self.device_id,
            challenge: &self.challenge,
            signature: &self.signature,
        }
    }
}

impl From<Certified> for DeviceCertificates {
    fn from(c: Certified) -> Self {
        Self {
            device_id: c.device_id,
            renew_after: c.renew_after,
            certificates: c
                .certificates
                .into_iter()
                .map(CertificateView::from)
                .collect(),
        }
    }
}

impl From<Certificate> for CertificateView {
    fn from(c: Certificate) -> Self {
        Self {
            voucher_id: c.voucher_id,
            certificate: URL_SAFE_NO_PAD.encode(c.signed),
            certificate_id: c.certificate_id,
            issued_at: c.issued_at,
            expires_at: c.expires_at,
            masked_name: c.masked_name,
            relation: c.relation,
        }
    }
}

impl From<Device> for DeviceView {
    fn from(d: Device) -> Self {
        Self {
            certificates_expire_at: d.certificates.iter().map(|c| c.expires_at).max(),
            device_id: d.device_id,
            label: d.label,
            registered_at: d.registered_at,
            renewed_at: d.renewed_at,
        }
    }
}

impl From<NewChallenge> for Challenge {
    fn from(c: NewChallenge) -> Self {
        Self {
            challenge: c.challenge,
            expires_at: c.expires_at,
        }
    }
}

impl From<Session> for DeviceSession {
    fn from(s: Session) -> Self {
        Self {
            session: s.token,
            expires_at: s.expires_at,
        }
    }
}
