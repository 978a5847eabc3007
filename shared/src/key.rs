//! Key ids, public keys that refuse weak points, and secret keys that wipe themselves.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use crate::error::{BadSignature, KeyError};

/// Length of an Ed25519 signature on the wire.
pub const SIGNATURE_LEN: usize = 64;

/// Short id of an issuer key, carried in every token (2 bytes on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(pub u16);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An Ed25519 public key: the canonical encoding (RFC 8032 §5.1.3: `y < p`, no sign bit on
/// `x = 0`) of a point in the prime-order subgroup.
///
/// Weak keys (small order, or with a torsion component) and non-canonical encodings are
/// refused at construction, so no code path can verify under one, and one key has exactly one
/// byte form; verification itself uses `verify_strict` (canonical `S`, no small-order `R`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses 32 key bytes.
    ///
    /// # Errors
    ///
    /// [`KeyError::Invalid`] if the bytes are not a curve point, [`KeyError::NonCanonical`]
    /// for a non-canonical encoding of one, [`KeyError::Weak`] for a point outside the
    /// prime-order subgroup (small order, or a torsion component).
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::Invalid)?;
        // dalek reduces y modulo p on decoding: re-encoding tells a non-canonical input.
        let point = key.to_edwards();
        if point.compress().to_bytes() != *bytes {
            return Err(KeyError::NonCanonical);
        }
        if key.is_weak() || !point.is_torsion_free() {
            return Err(KeyError::Weak);
        }
        Ok(Self(key))
    }

    /// Parses the base64url (no padding) form used in key files and bundles.
    ///
    /// # Errors
    ///
    /// [`KeyError::Encoding`] for bad base64 or length, otherwise as [`Self::from_bytes`].
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let raw = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| KeyError::Encoding)?;
        let bytes: [u8; 32] = raw.try_into().map_err(|_| KeyError::Encoding)?;
        Self::from_bytes(&bytes)
    }

    /// The 32 key bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The base64url (no padding) form.
    pub fn to_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.as_bytes())
    }

    /// Checks `signature` over `domain || message` with strict Ed25519 rules.
    ///
    /// # Errors
    ///
    /// [`BadSignature`] when it does not verify (including a non-canonical `S`).
    pub fn verify(
        &self,
        domain: &[u8],
        message: &[u8],
        signature: &[u8; SIGNATURE_LEN],
    ) -> Result<(), BadSignature> {
        let signature = Signature::from_bytes(signature);
        let signed = signed_bytes(domain, message);
        self.0
            .verify_strict(&signed, &signature)
            .map_err(|_| BadSignature)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::from_base64(&text).map_err(serde::de::Error::custom)
    }
}

/// An Ed25519 secret key. Wiped from memory on drop; `Debug` never shows it.
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// Builds the key from its 32-byte seed. The caller supplies the randomness: this crate
    /// has no RNG.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    /// The 32-byte seed, in a buffer that is wiped when dropped. Only key files need it.
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The matching public key.
    ///
    /// # Panics
    ///
    /// Never: a key derived from a seed by clamping is never of small order.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs `domain || message`.
    pub fn sign(&self, domain: &[u8], message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.0.sign(&signed_bytes(domain, message)).to_bytes()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// The exact bytes a signature covers. Every domain tag has a fixed length, so the join is
/// unambiguous without a length prefix.
fn signed_bytes(domain: &[u8], message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(domain.len() + message.len());
    out.extend_from_slice(domain);
    out.extend_from_slice(message);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_order_points_are_refused() {
        // The identity point (y = 1) and the point of order 2 (y = -1) are valid encodings.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(PublicKey::from_bytes(&identity), Err(KeyError::Weak));
        let mut minus_one = [0xffu8; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        assert_eq!(PublicKey::from_bytes(&minus_one), Err(KeyError::Weak));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = SecretKey::from_seed(&[7u8; 32]);
        let shown = format!("{key:?}");
        assert_eq!(shown, "SecretKey(<redacted>)");
    }

    #[test]
    fn signature_binds_the_domain() {
        let key = SecretKey::from_seed(&[9u8; 32]);
        let sig = key.sign(b"domain-a", b"hello");
        assert_eq!(key.public_key().verify(b"domain-a", b"hello", &sig), Ok(()));
        assert_eq!(
            key.public_key().verify(b"domain-b", b"hello", &sig),
            Err(BadSignature)
        );
    }
}
