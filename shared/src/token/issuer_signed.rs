//! Kind 1: a code the issuer signs for one minute (`docs/token-format.md` §3–4).

use serde::{Deserialize, Serialize};

use super::{TOKEN_DOMAIN, TokenKind, VERSION, claims_wire, to_text};
use crate::claims::{Claims, TokenId, VoucherId};
use crate::codec::Reader;
use crate::error::{DecodeError, EncodeError};
use crate::key::{KeyId, SecretKey};
use crate::time::UnixTime;

/// Everything a code says, decoded. For kind 1 it is exactly what the issuer's signature
/// covers. For a device-bound code (kind 2) it is the code's logical content: the issuer key
/// that certified the device, the presentation's time, lifetime and derived token id, and the
/// certificate's claims (the certificate itself is [`crate::DeviceCertificate`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TokenBody {
    /// Token kind.
    pub kind: TokenKind,
    /// Which issuer key signed it (kind 2: signed the device certificate).
    pub key_id: KeyId,
    /// Unique per token; the replay and settle-once key with the voucher id.
    pub token_id: TokenId,
    /// When it was signed (kind 2: the presentation time the phone signed).
    pub issued_at: UnixTime,
    /// Seconds of validity after `issued_at` (1–255).
    pub lifetime_secs: u8,
    /// The person.
    pub claims: Claims,
}

impl TokenBody {
    /// When the token stops being valid (before any clock-skew leeway).
    pub fn expires_at(&self) -> UnixTime {
        self.issued_at.saturating_add(u64::from(self.lifetime_secs))
    }

    /// Appends the kind-1 body bytes (layout in `docs/token-format.md` §3).
    ///
    /// # Errors
    ///
    /// [`EncodeError::OutOfRange`] if a value does not fit its field (issued-at past 2106,
    /// zero lifetime, birth year outside 1900–2155), or for a kind-2 body, which the phone
    /// signs in its own layout ([`crate::DeviceCertificate::present`]).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if self.kind != TokenKind::IssuerSigned {
            return Err(EncodeError::OutOfRange { field: "kind" });
        }
        let issued_at = u32::try_from(self.issued_at.as_secs())
            .map_err(|_| EncodeError::OutOfRange { field: "issued_at" })?;
        if self.lifetime_secs == 0 {
            return Err(EncodeError::OutOfRange { field: "lifetime" });
        }
        out.push(VERSION);
        out.push(claims_wire::flags(&self.claims) | self.kind.wire());
        out.extend_from_slice(&self.key_id.0.to_be_bytes());
        out.extend_from_slice(&self.claims.voucher_id.0);
        out.extend_from_slice(&self.token_id.0);
        out.extend_from_slice(&issued_at.to_be_bytes());
        out.push(self.lifetime_secs);
        claims_wire::encode(&self.claims, out)
    }

    /// Decodes kind-1 body bytes, consuming them exactly.
    ///
    /// # Errors
    ///
    /// Any [`DecodeError`] describing the first field that is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("version")?;
        if version != VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let kind_flags = r.u8("kind")?;
        if kind_flags & 0x0f != TokenKind::IssuerSigned.wire() {
            return Err(DecodeError::UnsupportedKind(kind_flags & 0x0f));
        }
        let proxy = claims_wire::proxy_flag(kind_flags)?;
        let key_id = KeyId(u16::from_be_bytes(r.array("key_id")?));
        let voucher_id = VoucherId(r.array("voucher_id")?);
        let token_id = TokenId(r.array("token_id")?);
        let issued_at = UnixTime::from_secs(u64::from(u32::from_be_bytes(r.array("issued_at")?)));
        let lifetime_secs = r.u8("lifetime")?;
        if lifetime_secs == 0 {
            return Err(DecodeError::InvalidField { field: "lifetime" });
        }
        let claims = claims_wire::decode(&mut r, voucher_id, proxy)?;
        r.finish()?;
        Ok(Self {
            kind: TokenKind::IssuerSigned,
            key_id,
            token_id,
            issued_at,
            lifetime_secs,
            claims,
        })
    }

    /// Signs the kind-1 body with `key` and returns the text that goes into the QR code.
    ///
    /// The caller is responsible for `key` being the secret half of `self.key_id`.
    ///
    /// # Errors
    ///
    /// As [`Self::encode`].
    pub fn sign(&self, key: &SecretKey) -> Result<String, EncodeError> {
        let mut bytes = Vec::with_capacity(128);
        self.encode(&mut bytes)?;
        let signature = key.sign(TOKEN_DOMAIN, &bytes);
        bytes.extend_from_slice(&signature);
        Ok(to_text(&bytes))
    }
}
