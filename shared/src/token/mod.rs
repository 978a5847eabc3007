//! The token: the text form, the kinds, and parsing untrusted text. One module per kind:
//! [`issuer_signed`] (kind 1, the issuer signs each code) and [`device`] (kind 2, a phone
//! key the issuer certified signs each code).
//!
//! `docs/token-format.md` is the specification; these files implement it.

mod claims_wire;
pub mod device;
mod issuer_signed;

use serde::{Deserialize, Serialize};

pub use self::device::UntrustedDeviceParts;
pub use self::issuer_signed::TokenBody;
use crate::codec;
use crate::error::{BadSignature, DecodeError};
use crate::key::{KeyId, PublicKey, SIGNATURE_LEN};

/// Format version written in byte 0.
pub const VERSION: u8 = 1;

/// Domain-separation tag in front of a kind-1 body in the signed bytes (fixed length, no
/// NUL).
pub const TOKEN_DOMAIN: &[u8; 14] = b"yibao.token.v1";

/// Longest text form accepted by [`UntrustedToken::parse`] before any decoding work. A
/// device-bound code with the longest masked name and the family-proxy part is 544 characters.
pub const MAX_TEXT_LEN: usize = 600;

/// What kind of token this is (low nibble of byte 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TokenKind {
    /// Wire value 1: signed by an issuer key listed in the trust bundle.
    IssuerSigned,
    /// Wire value 2: signed by a phone key that an issuer key certified (离线码).
    DeviceBound,
}

impl TokenKind {
    pub(crate) fn wire(self) -> u8 {
        match self {
            Self::IssuerSigned => 1,
            Self::DeviceBound => 2,
        }
    }
}

/// The QR text of raw token bytes: prefix then digits.
pub fn to_text(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(codec::PREFIX.len() + bytes.len() * 17 / 7 + 3);
    text.push_str(codec::PREFIX);
    codec::encode_digits(bytes, &mut text);
    text
}

/// A token read from a scanner whose signatures have not been checked. Nothing in it may be
/// trusted until a verifier has checked it against the trust bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UntrustedToken {
    body: TokenBody,
    /// The decoded bytes, exactly as scanned.
    raw: Vec<u8>,
    device: Option<UntrustedDeviceParts>,
}

impl UntrustedToken {
    /// Parses the text a scanner produced. Surrounding ASCII whitespace (a scanner's Enter)
    /// is ignored.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`]: wrong prefix, bad digits, or a malformed layout.
    pub fn parse(text: &str) -> Result<Self, DecodeError> {
        let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
        if text.len() > MAX_TEXT_LEN {
            return Err(DecodeError::TooLong);
        }
        let digits = text
            .strip_prefix(codec::PREFIX)
            .ok_or(DecodeError::WrongPrefix)?;
        let bytes = codec::decode_digits(digits)?;
        Self::from_bytes(&bytes)
    }

    /// Parses raw token bytes.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] for a malformed layout.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        // The signature is split off first: a code too short to hold one is malformed,
        // never an unsupported version.
        let split = bytes
            .len()
            .checked_sub(SIGNATURE_LEN)
            .filter(|n| *n > 0)
            .ok_or(DecodeError::Truncated { field: "signature" })?;
        if bytes[0] != VERSION {
            return Err(DecodeError::UnsupportedVersion(bytes[0]));
        }
        let kind = bytes.get(1).map(|b| b & 0x0f);
        let (body, device) = if kind == Some(TokenKind::DeviceBound.wire()) {
            let (body, parts) = device::decode(bytes)?;
            (body, Some(parts))
        } else {
            (TokenBody::decode(&bytes[..split])?, None)
        };
        Ok(Self {
            body,
            raw: bytes.to_vec(),
            device,
        })
    }

    /// The token's kind.
    pub fn kind(&self) -> TokenKind {
        self.body.kind
    }

    /// The key id that names the issuer key to verify with (safe to read before
    /// verification: it only selects a key). For kind 2, the key that signed the certificate.
    pub fn key_id(&self) -> KeyId {
        self.body.key_id
    }

    /// The decoded body, **not verified**. Use only to build a verified token after the
    /// signatures verified, or to explain a rejection.
    pub fn unverified_body(&self) -> &TokenBody {
        &self.body
    }

    /// The certificate and presentation of a device-bound code, **not verified**.
    pub fn device(&self) -> Option<&UntrustedDeviceParts> {
        self.device.as_ref()
    }

    /// Checks the issuer's signature with `key` (strict Ed25519): over
    /// `TOKEN_DOMAIN || body` for kind 1, over `CERTIFICATE_DOMAIN || certificate body` for
    /// kind 2.
    ///
    /// # Errors
    ///
    /// [`BadSignature`] if it does not verify.
    pub fn verify_signature(&self, key: &PublicKey) -> Result<(), BadSignature> {
        match &self.device {
            Some(parts) => device::verify_certificate(&self.raw, parts, key),
            None => {
                let (body, signature) = self.raw.split_at(self.raw.len() - SIGNATURE_LEN);
                let mut sig = [0u8; SIGNATURE_LEN];
                sig.copy_from_slice(signature);
                key.verify(TOKEN_DOMAIN, body, &sig)
            }
        }
    }

    /// Checks the device's ECDSA signature of a kind-2 code under the certified device key.
    /// Meaningful only after [`Self::verify_signature`] succeeded (which authenticates that
    /// key). A kind-1 code has none: [`BadSignature`].
    ///
    /// # Errors
    ///
    /// [`BadSignature`] if it does not verify, or for a kind-1 code.
    pub fn verify_device_signature(&self) -> Result<(), BadSignature> {
        match &self.device {
            Some(parts) => device::verify_presentation(&self.raw, parts),
            None => Err(BadSignature),
        }
    }

    /// The bytes as scanned (signatures included).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }
}

#[cfg(test)]
mod device_tests;
#[cfg(test)]
mod tests;
