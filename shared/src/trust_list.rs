//! The trust bundle: the root-signed list of issuer keys that terminals verify tokens with.
//!
//! On disk and on the wire it is a small JSON envelope whose `payload` is base64url of the
//! exact JSON bytes the root key signed, so nobody has to canonicalise JSON to check it
//! (`docs/token-format.md` §6).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::error::{DecodeError, KeyError};
use crate::key::{KeyId, PublicKey, SIGNATURE_LEN, SecretKey};
use crate::time::UnixTime;

/// Domain-separation tag in front of the payload in the signed bytes.
pub const BUNDLE_DOMAIN: &[u8; 15] = b"yibao.bundle.v1";

/// Value of the envelope's `format` field.
pub const BUNDLE_FORMAT: &str = "yibao-trust-bundle-v1";

/// Largest bundle file accepted, refused before parsing.
pub const MAX_BUNDLE_BYTES: usize = 1 << 20;

/// Lifecycle of an issuer key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyStatus {
    /// Signs new tokens.
    Active,
    /// No longer signs, but its tokens stay valid inside its validity window (rotation
    /// overlap).
    Retired,
    /// Compromised or withdrawn: its tokens are refused at once.
    Revoked,
}

/// One issuer key as the bundle lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerKey {
    /// Id carried in tokens.
    pub key_id: KeyId,
    /// The verifying key (never weak).
    pub public_key: PublicKey,
    /// Region prefixes (2, 4 or 6 digits) the key may sign for; empty means every region.
    pub regions: Vec<String>,
    /// Tokens issued before this are refused.
    pub not_before: UnixTime,
    /// Tokens issued after this are refused.
    pub not_after: UnixTime,
    /// Active, retired or revoked.
    pub status: KeyStatus,
}

impl IssuerKey {
    /// Whether tokens of `region` may be signed by this key.
    pub fn covers(&self, region: crate::RegionCode) -> bool {
        self.regions.is_empty() || self.regions.iter().any(|scope| region.is_within(scope))
    }
}

/// The signed content of a trust bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustBundle {
    /// Increases with every bundle the root signs; verifiers refuse to go back.
    pub sequence: u64,
    /// When the root signed it.
    pub issued_at: UnixTime,
    /// After this a verifier refuses to use it (stale) until it gets a newer one.
    pub expires_at: UnixTime,
    /// The issuer keys, unique by id.
    pub keys: Vec<IssuerKey>,
}

/// Why a trust bundle is refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Not a bundle document, or a field has the wrong shape.
    #[error("malformed trust bundle: {0}")]
    Malformed(DecodeError),
    /// The root signature does not verify: not from our root, or altered.
    #[error("trust bundle signature does not verify against the root key")]
    BadSignature,
    /// The bundle lists a small-order or invalid public key.
    #[error("trust bundle lists an unusable public key for key id {key_id}: {reason}")]
    BadKey {
        /// The offending entry.
        key_id: KeyId,
        /// Weak or invalid.
        reason: KeyError,
    },
    /// Two entries share one key id.
    #[error("trust bundle lists key id {0} twice")]
    DuplicateKeyId(KeyId),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    format: String,
    payload: String,
    signature: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PayloadWire {
    sequence: u64,
    issued_at: UnixTime,
    expires_at: UnixTime,
    keys: Vec<KeyWire>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyWire {
    key_id: KeyId,
    public_key: String,
    regions: Vec<String>,
    not_before: UnixTime,
    not_after: UnixTime,
    status: KeyStatus,
}

impl TrustBundle {
    /// The entry for `key_id`, if listed.
    pub fn key(&self, key_id: KeyId) -> Option<&IssuerKey> {
        self.keys.iter().find(|k| k.key_id == key_id)
    }

    /// Signs the bundle with the root key and returns the envelope document.
    pub fn sign(&self, root: &SecretKey) -> String {
        let payload = self.payload_json();
        let signature = root.sign(BUNDLE_DOMAIN, payload.as_bytes());
        envelope_json(payload.as_bytes(), &signature)
    }

    /// The payload JSON (what the root signs).
    pub fn payload_json(&self) -> String {
        let wire = PayloadWire {
            sequence: self.sequence,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            keys: self
                .keys
                .iter()
                .map(|k| KeyWire {
                    key_id: k.key_id,
                    public_key: k.public_key.to_base64(),
                    regions: k.regions.clone(),
                    not_before: k.not_before,
                    not_after: k.not_after,
                    status: k.status,
                })
                .collect(),
        };
        // Serialising plain structs of strings and integers cannot fail.
        serde_json::to_string(&wire).unwrap_or_default()
    }

    /// Checks the envelope's root signature and decodes the payload. Time (staleness) and
    /// rollback are the verifier's policy, not checked here.
    ///
    /// # Errors
    ///
    /// A [`BundleError`]; the signature is checked before the payload is interpreted.
    pub fn open(document: &str, root: &PublicKey) -> Result<Self, BundleError> {
        let malformed = |what: &str| BundleError::Malformed(DecodeError::Json(what.to_owned()));
        if document.len() > MAX_BUNDLE_BYTES {
            return Err(BundleError::Malformed(DecodeError::TooLong));
        }
        let envelope: Envelope =
            serde_json::from_str(document).map_err(|e| malformed(&e.to_string()))?;
        if envelope.format != BUNDLE_FORMAT {
            return Err(malformed("format is not yibao-trust-bundle-v1"));
        }
        let payload = URL_SAFE_NO_PAD
            .decode(&envelope.payload)
            .map_err(|_| malformed("payload is not base64url"))?;
        let signature: [u8; SIGNATURE_LEN] = URL_SAFE_NO_PAD
            .decode(&envelope.signature)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| malformed("signature is not 64 bytes of base64url"))?;
        root.verify(BUNDLE_DOMAIN, &payload, &signature)
            .map_err(|_| BundleError::BadSignature)?;
        let wire: PayloadWire =
            serde_json::from_slice(&payload).map_err(|e| malformed(&e.to_string()))?;
        Self::from_wire(wire)
    }

    fn from_wire(wire: PayloadWire) -> Result<Self, BundleError> {
        let mut keys: Vec<IssuerKey> = Vec::with_capacity(wire.keys.len());
        for k in wire.keys {
            if keys.iter().any(|seen| seen.key_id == k.key_id) {
                return Err(BundleError::DuplicateKeyId(k.key_id));
            }
            let public_key =
                PublicKey::from_base64(&k.public_key).map_err(|reason| BundleError::BadKey {
                    key_id: k.key_id,
                    reason,
                })?;
            if let Some(bad) = k.regions.iter().find(|r| !is_region_scope(r)) {
                return Err(BundleError::Malformed(DecodeError::Json(format!(
                    "key {}: region scope {bad:?} is not 2, 4 or 6 digits",
                    k.key_id
                ))));
            }
            keys.push(IssuerKey {
                key_id: k.key_id,
                public_key,
                regions: k.regions,
                not_before: k.not_before,
                not_after: k.not_after,
                status: k.status,
            });
        }
        Ok(Self {
            sequence: wire.sequence,
            issued_at: wire.issued_at,
            expires_at: wire.expires_at,
            keys,
        })
    }
}

/// Whether `scope` is a region prefix: 2, 4 or 6 ASCII digits.
pub fn is_region_scope(scope: &str) -> bool {
    matches!(scope.len(), 2 | 4 | 6) && scope.bytes().all(|b| b.is_ascii_digit())
}

/// Builds an envelope around payload bytes and a signature. Exposed so tests and tools can
/// build deliberately broken bundles.
pub fn envelope_json(payload: &[u8], signature: &[u8; SIGNATURE_LEN]) -> String {
    let envelope = Envelope {
        format: BUNDLE_FORMAT.to_owned(),
        payload: URL_SAFE_NO_PAD.encode(payload),
        signature: URL_SAFE_NO_PAD.encode(signature),
    };
    // Serialising three strings cannot fail.
    serde_json::to_string_pretty(&envelope).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(root: &SecretKey) -> (TrustBundle, String) {
        let bundle = TrustBundle {
            sequence: 4,
            issued_at: UnixTime::from_secs(1_000),
            expires_at: UnixTime::from_secs(2_000),
            keys: vec![IssuerKey {
                key_id: KeyId(1),
                public_key: SecretKey::from_seed(&[1; 32]).public_key(),
                regions: vec!["11".into()],
                not_before: UnixTime::from_secs(0),
                not_after: UnixTime::from_secs(5_000),
                status: KeyStatus::Active,
            }],
        };
        let doc = bundle.sign(root);
        (bundle, doc)
    }

    #[test]
    fn a_signed_bundle_opens_with_its_root() {
        let root = SecretKey::from_seed(&[42; 32]);
        let (bundle, doc) = sample(&root);
        assert_eq!(TrustBundle::open(&doc, &root.public_key()), Ok(bundle));
    }

    #[test]
    fn another_root_is_refused() {
        let root = SecretKey::from_seed(&[42; 32]);
        let (_, doc) = sample(&root);
        let other = SecretKey::from_seed(&[43; 32]).public_key();
        assert_eq!(
            TrustBundle::open(&doc, &other),
            Err(BundleError::BadSignature)
        );
    }

    #[test]
    fn a_weak_key_in_a_signed_bundle_is_refused() {
        let root = SecretKey::from_seed(&[42; 32]);
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let payload = format!(
            r#"{{"sequence":1,"issued_at":0,"expires_at":9,"keys":[{{"key_id":9,"public_key":"{}","regions":[],"not_before":0,"not_after":9,"status":"active"}}]}}"#,
            URL_SAFE_NO_PAD.encode(identity)
        );
        let doc = envelope_json(
            payload.as_bytes(),
            &root.sign(BUNDLE_DOMAIN, payload.as_bytes()),
        );
        assert_eq!(
            TrustBundle::open(&doc, &root.public_key()),
            Err(BundleError::BadKey {
                key_id: KeyId(9),
                reason: KeyError::Weak
            })
        );
    }

    #[test]
    fn duplicate_key_ids_are_refused() {
        let root = SecretKey::from_seed(&[42; 32]);
        let (mut bundle, _) = sample(&root);
        bundle.keys.push(bundle.keys[0].clone());
        let doc = bundle.sign(&root);
        assert_eq!(
            TrustBundle::open(&doc, &root.public_key()),
            Err(BundleError::DuplicateKeyId(KeyId(1)))
        );
    }
}
