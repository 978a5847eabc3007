//! Kind 2: device-bound codes (`docs/token-format.md` §8).
//!
//! The issuer certifies a phone's P-256 key for a few days (a [`DeviceCertificate`], signed
//! with an issuer Ed25519 key of the bundle); the phone then signs fresh presentations with
//! that key while it and the platform are offline. The QR code carries both:
//!
//! ```text
//! bytes = certificate body || issuer signature (64) || presentation (7) || device signature (64)
//! ```
//!
//! ECDSA P-256 with SHA-256 is what phones' secure hardware (Secure Enclave, StrongBox) and
//! every browser's WebCrypto hold as a non-extractable key.

use core::fmt;

use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

use super::{TokenKind, VERSION, claims_wire, to_text};
use crate::claims::{CertificateId, Claims, TokenId, VoucherId};
use crate::codec::Reader;
use crate::error::{BadSignature, DecodeError, EncodeError, KeyError};
use crate::key::{KeyId, PublicKey, SIGNATURE_LEN, SecretKey};
use crate::time::UnixTime;

/// Tag in front of the certificate body in what the issuer signs (16 bytes).
pub const CERTIFICATE_DOMAIN: &[u8; 16] = b"yibao.devcert.v1";
/// Tag in front of what the device signs (16 bytes).
pub const PRESENTATION_DOMAIN: &[u8; 16] = b"yibao.present.v1";
/// Tag in front of what the token id of a presentation is hashed from (17 bytes).
pub const DEVICE_TOKEN_ID_DOMAIN: &[u8; 17] = b"yibao.devtoken.v1";
/// A device public key on the wire: SEC1 compressed P-256 point.
pub const DEVICE_KEY_LEN: usize = 33;
/// A device signature on the wire: ECDSA P-256 `r || s` (IEEE P1363, WebCrypto's form).
pub const DEVICE_SIGNATURE_LEN: usize = 64;
/// The presentation fields on the wire: time (4), lifetime (1), nonce (2).
pub const PRESENTATION_LEN: usize = 7;

/// A phone's P-256 public key, as the issuer certified it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DevicePublicKey(VerifyingKey);

impl DevicePublicKey {
    /// Parses a SEC1 point: 33 bytes compressed (`02`/`03`) or 65 uncompressed (`04`,
    /// WebCrypto's `raw` export). The identity, other tags and points off the curve are
    /// refused.
    ///
    /// # Errors
    ///
    /// [`KeyError::Invalid`] when the bytes are no such point.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, KeyError> {
        // SEC1 tags: 02/03 compressed (33 bytes), 04 uncompressed (65). The `p256` decoder
        // also takes the compact form (05, 33 bytes), which `docs/token-format.md` §8.1 does
        // not allow: a second verifier written from the spec would refuse it.
        match (bytes.len(), bytes.first()) {
            (DEVICE_KEY_LEN, Some(0x02 | 0x03)) | (65, Some(0x04)) => {}
            _ => return Err(KeyError::Encoding),
        }
        VerifyingKey::from_sec1_bytes(bytes)
            .map(Self)
            .map_err(|_| KeyError::Invalid)
    }

    /// The 33-byte compressed form the certificate carries.
    pub fn to_compressed(&self) -> [u8; DEVICE_KEY_LEN] {
        let point = self.0.to_encoded_point(true);
        let mut out = [0u8; DEVICE_KEY_LEN];
        out.copy_from_slice(point.as_bytes());
        out
    }

    /// Checks an ECDSA P-256/SHA-256 signature (`r || s`) over `message`. Both low and high
    /// `s` verify (WebCrypto produces either): nothing keys on the signature bytes, the
    /// replay and settlement key is the token id the signature covers.
    ///
    /// # Errors
    ///
    /// [`BadSignature`] when it does not verify, or `r`/`s` is zero or not below the order.
    pub fn verify(
        &self,
        message: &[u8],
        signature: &[u8; DEVICE_SIGNATURE_LEN],
    ) -> Result<(), BadSignature> {
        let signature = Signature::from_slice(signature).map_err(|_| BadSignature)?;
        self.0.verify(message, &signature).map_err(|_| BadSignature)
    }
}

impl fmt::Debug for DevicePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DevicePublicKey(")?;
        self.to_compressed()
            .iter()
            .try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, ")")
    }
}

/// A device key's secret half, for tests, tools and the demo phone (a real phone keeps it in
/// its secure hardware and signs in JavaScript or native code).
pub struct DeviceSecretKey(SigningKey);

impl DeviceSecretKey {
    /// The key with this 32-byte scalar.
    ///
    /// # Errors
    ///
    /// [`KeyError::Invalid`] for zero or a value not below the curve order.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        SigningKey::from_slice(bytes)
            .map(Self)
            .map_err(|_| KeyError::Invalid)
    }

    /// The public half.
    pub fn public_key(&self) -> DevicePublicKey {
        DevicePublicKey(*self.0.verifying_key())
    }

    /// Signs `message` (ECDSA P-256/SHA-256, deterministic nonce, `r || s`).
    pub fn sign(&self, message: &[u8]) -> [u8; DEVICE_SIGNATURE_LEN] {
        let signature: Signature = self.0.sign(message);
        signature.to_bytes().into()
    }
}

impl fmt::Debug for DeviceSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceSecretKey(<redacted>)")
    }
}

/// What the issuer certifies: a voucher's claims bound to a device key for a while.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceCertificate {
    /// The issuer key that signs the certificate (listed in the trust bundle).
    pub key_id: KeyId,
    /// Unique id, named by the status list when revoked.
    pub certificate_id: CertificateId,
    /// Valid from.
    pub issued_at: UnixTime,
    /// Hours of validity after `issued_at` (1–255; issuer default 72).
    pub validity_hours: u8,
    /// The person, and the family-proxy part for a family member's certificate.
    pub claims: Claims,
    /// The phone's key that signs presentations.
    pub device_key: DevicePublicKey,
}

impl DeviceCertificate {
    /// When the certificate stops being valid (before any leeway).
    pub fn expires_at(&self) -> UnixTime {
        self.issued_at
            .saturating_add(u64::from(self.validity_hours) * 3_600)
    }

    /// Appends the certificate body (layout in `docs/token-format.md` §8.1).
    ///
    /// # Errors
    ///
    /// [`EncodeError::OutOfRange`] for a value outside its field (zero validity, issued-at
    /// past 2106, birth year outside 1900–2155).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let issued_at = u32::try_from(self.issued_at.as_secs())
            .map_err(|_| EncodeError::OutOfRange { field: "issued_at" })?;
        if self.validity_hours == 0 {
            return Err(EncodeError::OutOfRange { field: "validity" });
        }
        out.push(VERSION);
        out.push(claims_wire::flags(&self.claims) | TokenKind::DeviceBound.wire());
        out.extend_from_slice(&self.key_id.0.to_be_bytes());
        out.extend_from_slice(&self.claims.voucher_id.0);
        out.extend_from_slice(&self.certificate_id.0);
        out.extend_from_slice(&issued_at.to_be_bytes());
        out.push(self.validity_hours);
        claims_wire::encode(&self.claims, out)?;
        out.extend_from_slice(&self.device_key.to_compressed());
        Ok(())
    }

    /// Reads a certificate body, after the version byte was checked.
    fn decode(r: &mut Reader<'_>, kind_flags: u8) -> Result<Self, DecodeError> {
        let proxy = claims_wire::proxy_flag(kind_flags)?;
        let key_id = KeyId(u16::from_be_bytes(r.array("key_id")?));
        let voucher_id = VoucherId(r.array("voucher_id")?);
        let certificate_id = CertificateId(r.array("certificate_id")?);
        let issued_at = UnixTime::from_secs(u64::from(u32::from_be_bytes(
            r.array("certificate_issued_at")?,
        )));
        let validity_hours = r.u8("validity")?;
        if validity_hours == 0 {
            return Err(DecodeError::InvalidField { field: "validity" });
        }
        let claims = claims_wire::decode(r, voucher_id, proxy)?;
        let key: [u8; DEVICE_KEY_LEN] = r.array("device_key")?;
        let device_key =
            DevicePublicKey::from_sec1(&key).map_err(|_| DecodeError::InvalidField {
                field: "device_key",
            })?;
        Ok(Self {
            key_id,
            certificate_id,
            issued_at,
            validity_hours,
            claims,
            device_key,
        })
    }

    /// Signs the certificate with the issuer key named by `key_id`: body then signature,
    /// the bytes the phone stores and puts in front of every presentation.
    ///
    /// # Errors
    ///
    /// As [`Self::encode`].
    pub fn sign(&self, issuer: &SecretKey) -> Result<Vec<u8>, EncodeError> {
        let mut bytes = Vec::with_capacity(160);
        self.encode(&mut bytes)?;
        let signature = issuer.sign(CERTIFICATE_DOMAIN, &bytes);
        bytes.extend_from_slice(&signature);
        Ok(bytes)
    }

    /// Decodes signed certificate bytes (body then issuer signature) **without** checking
    /// the signature: for a phone or tool reading its own certificate back.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] for a malformed layout.
    pub fn from_signed_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("version")?;
        if version != VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let kind_flags = r.u8("kind")?;
        if kind_flags & 0x0f != TokenKind::DeviceBound.wire() {
            return Err(DecodeError::UnsupportedKind(kind_flags & 0x0f));
        }
        let certificate = Self::decode(&mut r, kind_flags)?;
        r.take("certificate_signature", SIGNATURE_LEN)?;
        r.finish()?;
        Ok(certificate)
    }
}

/// What the phone signs for one code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Presentation {
    /// When the phone signed it (its clock).
    pub presented_at: UnixTime,
    /// Seconds of validity (1–255).
    pub lifetime_secs: u8,
    /// Tells apart two presentations signed in the same second.
    pub nonce: u16,
}

impl Presentation {
    fn encode(&self) -> Result<[u8; PRESENTATION_LEN], EncodeError> {
        let at =
            u32::try_from(self.presented_at.as_secs()).map_err(|_| EncodeError::OutOfRange {
                field: "presented_at",
            })?;
        if self.lifetime_secs == 0 {
            return Err(EncodeError::OutOfRange { field: "lifetime" });
        }
        let mut out = [0u8; PRESENTATION_LEN];
        out[..4].copy_from_slice(&at.to_be_bytes());
        out[4] = self.lifetime_secs;
        out[5..].copy_from_slice(&self.nonce.to_be_bytes());
        Ok(out)
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = u32::from_be_bytes(r.array("presented_at")?);
        let lifetime_secs = r.u8("presentation_lifetime")?;
        if lifetime_secs == 0 {
            return Err(DecodeError::InvalidField {
                field: "presentation_lifetime",
            });
        }
        let nonce = u16::from_be_bytes(r.array("nonce")?);
        Ok(Self {
            presented_at: UnixTime::from_secs(u64::from(at)),
            lifetime_secs,
            nonce,
        })
    }
}

/// The token id of a presentation: the first 8 bytes of
/// `SHA-256("yibao.devtoken.v1" || certificate id || presentation fields)`. Derived rather
/// than carried, which saves 8 bytes of QR; unique per certificate, time and nonce.
fn token_id(certificate_id: CertificateId, presentation: &[u8; PRESENTATION_LEN]) -> TokenId {
    let digest = Sha256::new()
        .chain_update(DEVICE_TOKEN_ID_DOMAIN)
        .chain_update(certificate_id.0)
        .chain_update(presentation)
        .finalize();
    let mut id = [0u8; 8];
    id.copy_from_slice(&digest[..8]);
    TokenId(id)
}

/// The bytes the device signs: tag, the whole signed certificate, the presentation fields.
pub fn presentation_message(signed_certificate: &[u8], presentation: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(
        PRESENTATION_DOMAIN.len() + signed_certificate.len() + presentation.len(),
    );
    message.extend_from_slice(PRESENTATION_DOMAIN);
    message.extend_from_slice(signed_certificate);
    message.extend_from_slice(presentation);
    message
}

/// Signs a presentation with the device key and returns the QR text: what the phone does
/// for every code. `signed_certificate` is what [`DeviceCertificate::sign`] returned.
///
/// # Errors
///
/// [`EncodeError::OutOfRange`] for a presentation time past 2106 or a zero lifetime.
pub fn present(
    signed_certificate: &[u8],
    presentation: &Presentation,
    device: &DeviceSecretKey,
) -> Result<String, EncodeError> {
    let fields = presentation.encode()?;
    let signature = device.sign(&presentation_message(signed_certificate, &fields));
    let mut bytes = Vec::with_capacity(signed_certificate.len() + fields.len() + 64);
    bytes.extend_from_slice(signed_certificate);
    bytes.extend_from_slice(&fields);
    bytes.extend_from_slice(&signature);
    Ok(to_text(&bytes))
}

/// The device-bound parts of a scanned kind-2 code, not yet verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UntrustedDeviceParts {
    certificate: DeviceCertificate,
    presentation: Presentation,
    /// Where the issuer signature ends (= where the presentation starts) in the raw bytes.
    certificate_len: usize,
}

impl UntrustedDeviceParts {
    /// The certificate as decoded, **not verified**.
    pub fn certificate(&self) -> &DeviceCertificate {
        &self.certificate
    }

    /// The presentation as decoded, **not verified**.
    pub fn presentation(&self) -> &Presentation {
        &self.presentation
    }
}

/// Splits raw kind-2 bytes: certificate, issuer signature, presentation, device signature.
/// Returns the logical body and the parts. The version byte was checked by the caller.
pub(super) fn decode(
    bytes: &[u8],
) -> Result<(super::TokenBody, UntrustedDeviceParts), DecodeError> {
    let mut r = Reader::new(bytes);
    r.u8("version")?;
    let kind_flags = r.u8("kind")?;
    let certificate = DeviceCertificate::decode(&mut r, kind_flags)?;
    r.take("certificate_signature", SIGNATURE_LEN)?;
    let certificate_len = bytes.len() - r.remaining();
    let fields: [u8; PRESENTATION_LEN] = r.array("presentation")?;
    let presentation = Presentation::decode(&mut Reader::new(&fields))?;
    r.take("device_signature", DEVICE_SIGNATURE_LEN)?;
    r.finish()?;
    let body = super::TokenBody {
        kind: TokenKind::DeviceBound,
        key_id: certificate.key_id,
        token_id: token_id(certificate.certificate_id, &fields),
        issued_at: presentation.presented_at,
        lifetime_secs: presentation.lifetime_secs,
        claims: certificate.claims.clone(),
    };
    Ok((
        body,
        UntrustedDeviceParts {
            certificate,
            presentation,
            certificate_len,
        },
    ))
}

/// Checks the issuer's signature over the certificate part of `raw`.
pub(super) fn verify_certificate(
    raw: &[u8],
    parts: &UntrustedDeviceParts,
    issuer: &PublicKey,
) -> Result<(), BadSignature> {
    let (body, rest) = raw.split_at(parts.certificate_len - SIGNATURE_LEN);
    let mut signature = [0u8; SIGNATURE_LEN];
    signature.copy_from_slice(&rest[..SIGNATURE_LEN]);
    issuer.verify(CERTIFICATE_DOMAIN, body, &signature)
}

/// Checks the device's signature over certificate and presentation in `raw`.
pub(super) fn verify_presentation(
    raw: &[u8],
    parts: &UntrustedDeviceParts,
) -> Result<(), BadSignature> {
    let split = raw.len() - DEVICE_SIGNATURE_LEN;
    let (signed, signature) = raw.split_at(split);
    let mut sig = [0u8; DEVICE_SIGNATURE_LEN];
    sig.copy_from_slice(signature);
    let (certificate, fields) = signed.split_at(parts.certificate_len);
    parts
        .certificate
        .device_key
        .verify(&presentation_message(certificate, fields), &sig)
}
