//! The token: its byte layout, the exact signed bytes, signing, and parsing untrusted text.
//!
//! `docs/token-format.md` is the specification; this file implements it.

use serde::{Deserialize, Serialize};

use crate::claims::{
    Claims, FamilyProxy, Gender, InsuranceType, MaskedName, RegionCode, Relation, TokenId,
    VoucherId,
};
use crate::codec::{self, Reader};
use crate::error::{BadSignature, DecodeError, EncodeError};
use crate::key::{KeyId, PublicKey, SIGNATURE_LEN, SecretKey};
use crate::time::UnixTime;

/// Format version written in byte 0.
pub const VERSION: u8 = 1;

/// Domain-separation tag in front of the body in the signed bytes (fixed length, no NUL).
pub const TOKEN_DOMAIN: &[u8; 14] = b"yibao.token.v1";

/// Flag bit in byte 1: the family-proxy part follows the masked name.
const FLAG_PROXY: u8 = 0x10;

/// Longest text form accepted by [`UntrustedToken::parse`] before any decoding work.
pub const MAX_TEXT_LEN: usize = 512;

/// What kind of token this is (low nibble of byte 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TokenKind {
    /// Wire value 1: signed by an issuer key listed in the trust bundle.
    IssuerSigned,
}

impl TokenKind {
    /// Wire value reserved for the device-bound kind: a phone key certified by the issuer
    /// signs fresh codes while the phone is offline. Version 1 verifiers refuse it.
    pub const RESERVED_DEVICE_BOUND: u8 = 2;

    fn wire(self) -> u8 {
        match self {
            Self::IssuerSigned => 1,
        }
    }
}

/// Everything the signature covers, decoded.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TokenBody {
    /// Token kind.
    pub kind: TokenKind,
    /// Which issuer key signed it.
    pub key_id: KeyId,
    /// Unique per token.
    pub token_id: TokenId,
    /// When the issuer signed it.
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

    /// Appends the body bytes (layout in `docs/token-format.md` §3).
    ///
    /// # Errors
    ///
    /// [`EncodeError::OutOfRange`] if a value does not fit its field (issued-at past 2106,
    /// zero lifetime, birth year outside 1900–2155).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let c = &self.claims;
        let issued_at = u32::try_from(self.issued_at.as_secs())
            .map_err(|_| EncodeError::OutOfRange { field: "issued_at" })?;
        if self.lifetime_secs == 0 {
            return Err(EncodeError::OutOfRange { field: "lifetime" });
        }
        let birth = c.birth_year_wire()?;
        let flags = if c.proxy.is_some() { FLAG_PROXY } else { 0 };
        let packed = (c.region.number() << 4)
            | (u32::from(c.insurance.wire()) << 2)
            | u32::from(c.gender.wire());
        let name = c.masked_name.as_str().as_bytes();

        out.push(VERSION);
        out.push(flags | self.kind.wire());
        out.extend_from_slice(&self.key_id.0.to_be_bytes());
        out.extend_from_slice(&c.voucher_id.0);
        out.extend_from_slice(&self.token_id.0);
        out.extend_from_slice(&issued_at.to_be_bytes());
        out.push(self.lifetime_secs);
        out.extend_from_slice(&packed.to_be_bytes()[1..]);
        out.push(birth);
        // MaskedName guarantees 2..=16 bytes.
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        if let Some(proxy) = &c.proxy {
            out.extend_from_slice(&proxy.binder.0);
            out.push(proxy.relation.wire());
        }
        Ok(())
    }

    /// Decodes body bytes, consuming them exactly.
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
        let kind = match kind_flags & 0x0f {
            1 => TokenKind::IssuerSigned,
            other => return Err(DecodeError::UnsupportedKind(other)),
        };
        if kind_flags & 0xf0 & !FLAG_PROXY != 0 {
            return Err(DecodeError::InvalidField { field: "flags" });
        }
        let key_id = KeyId(u16::from_be_bytes(r.array("key_id")?));
        let voucher_id = VoucherId(r.array("voucher_id")?);
        let token_id = TokenId(r.array("token_id")?);
        let issued_at = UnixTime::from_secs(u64::from(u32::from_be_bytes(r.array("issued_at")?)));
        let lifetime_secs = r.u8("lifetime")?;
        if lifetime_secs == 0 {
            return Err(DecodeError::InvalidField { field: "lifetime" });
        }
        let [a, b, c] = r.array::<3>("region")?;
        let packed = u32::from_be_bytes([0, a, b, c]);
        let region = RegionCode::from_number(packed >> 4)
            .ok_or(DecodeError::InvalidField { field: "region" })?;
        let insurance = InsuranceType::from_wire(((packed >> 2) & 0b11) as u8)
            .ok_or(DecodeError::InvalidField { field: "insurance" })?;
        let gender = Gender::from_wire((packed & 0b11) as u8)
            .ok_or(DecodeError::InvalidField { field: "gender" })?;
        let birth_year = Claims::BIRTH_YEAR_MIN + u16::from(r.u8("birth_year")?);
        let name_len = usize::from(r.u8("name_len")?);
        let name_bytes = r.take("masked_name", name_len)?;
        let masked_name = core::str::from_utf8(name_bytes)
            .ok()
            .and_then(MaskedName::parse)
            .ok_or(DecodeError::InvalidField {
                field: "masked_name",
            })?;
        let proxy = if kind_flags & FLAG_PROXY != 0 {
            let binder = VoucherId(r.array("proxy_binder")?);
            let relation =
                Relation::from_wire(r.u8("proxy_relation")?).ok_or(DecodeError::InvalidField {
                    field: "proxy_relation",
                })?;
            Some(FamilyProxy { binder, relation })
        } else {
            None
        };
        r.finish()?;
        Ok(Self {
            kind,
            key_id,
            token_id,
            issued_at,
            lifetime_secs,
            claims: Claims {
                voucher_id,
                region,
                insurance,
                masked_name,
                gender,
                birth_year,
                proxy,
            },
        })
    }

    /// Signs the body with `key` and returns the text that goes into the QR code.
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

/// The QR text of raw token bytes (body followed by signature): prefix then digits.
pub fn to_text(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(codec::PREFIX.len() + bytes.len() * 17 / 7 + 3);
    text.push_str(codec::PREFIX);
    codec::encode_digits(bytes, &mut text);
    text
}

/// A token read from a scanner whose signature has not been checked. Nothing in it may be
/// trusted until a verifier has checked it against the trust bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UntrustedToken {
    body: TokenBody,
    body_bytes: Vec<u8>,
    signature: [u8; SIGNATURE_LEN],
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

    /// Parses raw token bytes (body followed by the 64-byte signature).
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] for a malformed layout.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let split = bytes
            .len()
            .checked_sub(SIGNATURE_LEN)
            .ok_or(DecodeError::Truncated { field: "signature" })?;
        let (body_bytes, signature) = bytes.split_at(split);
        let body = TokenBody::decode(body_bytes)?;
        let mut sig = [0u8; SIGNATURE_LEN];
        sig.copy_from_slice(signature);
        Ok(Self {
            body,
            body_bytes: body_bytes.to_vec(),
            signature: sig,
        })
    }

    /// The key id that names the key to verify with (safe to read before verification: it
    /// only selects a key).
    pub fn key_id(&self) -> KeyId {
        self.body.key_id
    }

    /// The decoded body, **not verified**. Use only to build a verified token after
    /// [`Self::verify_signature`] succeeded, or to explain a rejection.
    pub fn unverified_body(&self) -> &TokenBody {
        &self.body
    }

    /// Checks the signature over `TOKEN_DOMAIN || body` with `key` (strict Ed25519).
    ///
    /// # Errors
    ///
    /// [`BadSignature`] if it does not verify.
    pub fn verify_signature(&self, key: &PublicKey) -> Result<(), BadSignature> {
        key.verify(TOKEN_DOMAIN, &self.body_bytes, &self.signature)
    }

    /// The exact body bytes the signature covers.
    pub fn body_bytes(&self) -> &[u8] {
        &self.body_bytes
    }

    /// The 64 signature bytes.
    pub fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        &self.signature
    }
}

#[cfg(test)]
mod tests;
