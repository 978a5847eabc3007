//! The status list: which device certificates the issuer revoked (lost phone, suspended
//! voucher, unbound family link, removed device), signed by an issuer key of the trust bundle
//! so terminals can refuse them offline (`docs/token-format.md` §10).
//!
//! A document is either the complete list (`since` 0) or the delta after the sequence a
//! terminal holds. Entries leave the list once their certificate has expired (the
//! certificate is refused by its own validity then), so its size is bounded by what is
//! revoked within one certificate lifetime. As for the trust bundle, the signature covers
//! the exact payload bytes; here the payload travels as a JSON string rather than base64
//! (its entries are base64url already, so nothing needs escaping and nothing is encoded
//! twice: 21.3 bytes an entry instead of 28.4).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::claims::CertificateId;
use crate::key::{KeyId, SIGNATURE_LEN, SecretKey};
use crate::time::UnixTime;
use crate::trust_list::{KeyStatus, TrustBundle};

/// Domain-separation tag in front of the payload in the signed bytes (15 bytes).
pub const STATUS_DOMAIN: &[u8; 15] = b"yibao.status.v1";

/// Value of the envelope's `format` field.
pub const STATUS_FORMAT: &str = "yibao-status-list-v1";

/// One entry on the wire: certificate id (8), expires-at (u32), revoked-at (u32).
pub const ENTRY_LEN: usize = 16;

/// Largest document accepted, refused before parsing: about 6 million entries, twice the
/// complete list at the national revocation rate `docs/offline-codes.md` assumes.
pub const MAX_STATUS_BYTES: usize = 128 << 20;

/// One revoked certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RevokedCertificate {
    /// The certificate.
    pub certificate_id: CertificateId,
    /// When the certificate expires anyway (after which the entry is dropped).
    pub expires_at: UnixTime,
    /// When the issuer revoked it.
    pub revoked_at: UnixTime,
}

/// A status list document, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusList {
    /// The issuer key that signed it.
    pub key_id: KeyId,
    /// The sequence this delta follows; 0 for the complete list.
    pub since: u64,
    /// The issuer's revocation sequence this document brings the holder to.
    pub sequence: u64,
    /// When the issuer signed it: how fresh a terminal's knowledge is.
    pub issued_at: UnixTime,
    /// Certificates revoked after `since` (all unexpired ones when `since` is 0).
    pub revoked: Vec<RevokedCertificate>,
}

/// Why a status list document is refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StatusListError {
    /// Not a status list, or a field has the wrong shape.
    #[error("malformed status list: {0}")]
    Malformed(String),
    /// The signing key is not in the trust bundle.
    #[error("status list signed by key {0}, which the trust bundle does not list")]
    UnknownKey(KeyId),
    /// The signing key is revoked in the trust bundle.
    #[error("status list signed by revoked key {0}")]
    KeyRevoked(KeyId),
    /// The signature does not verify.
    #[error("status list signature does not verify")]
    BadSignature,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    format: String,
    key_id: KeyId,
    /// The payload JSON text, as a JSON string: the signature covers its UTF-8 bytes.
    payload: String,
    signature: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PayloadWire {
    key_id: KeyId,
    since: u64,
    sequence: u64,
    issued_at: UnixTime,
    /// base64url of the concatenated 16-byte entries.
    revoked: String,
}

impl StatusList {
    /// Whether this is the complete list rather than a delta.
    pub fn is_complete(&self) -> bool {
        self.since == 0
    }

    /// Signs the list with the issuer key named by `key_id`; returns the envelope document.
    pub fn sign(&self, key: &SecretKey) -> String {
        let mut entries = Vec::with_capacity(self.revoked.len() * ENTRY_LEN);
        for entry in &self.revoked {
            entries.extend_from_slice(&entry.certificate_id.0);
            entries.extend_from_slice(&wire_time(entry.expires_at).to_be_bytes());
            entries.extend_from_slice(&wire_time(entry.revoked_at).to_be_bytes());
        }
        let payload = PayloadWire {
            key_id: self.key_id,
            since: self.since,
            sequence: self.sequence,
            issued_at: self.issued_at,
            revoked: URL_SAFE_NO_PAD.encode(entries),
        };
        // Plain integers and strings: serialising cannot fail.
        let payload = serde_json::to_string(&payload).unwrap_or_default();
        let signature = key.sign(STATUS_DOMAIN, payload.as_bytes());
        let envelope = Envelope {
            format: STATUS_FORMAT.to_owned(),
            key_id: self.key_id,
            payload,
            signature: URL_SAFE_NO_PAD.encode(signature),
        };
        serde_json::to_string(&envelope).unwrap_or_default()
    }

    /// Checks the signature with the named key of `bundle` (which must not be revoked) and
    /// decodes the payload. Freshness and sequence are the holder's policy, not checked here.
    ///
    /// # Errors
    ///
    /// A [`StatusListError`]; the signature is checked before the payload is interpreted.
    pub fn open(document: &str, bundle: &TrustBundle) -> Result<Self, StatusListError> {
        let malformed = |what: &str| StatusListError::Malformed(what.to_owned());
        if document.len() > MAX_STATUS_BYTES {
            return Err(malformed("document too large"));
        }
        let envelope: Envelope =
            serde_json::from_str(document).map_err(|e| malformed(&e.to_string()))?;
        if envelope.format != STATUS_FORMAT {
            return Err(malformed("format is not yibao-status-list-v1"));
        }
        let key = bundle
            .key(envelope.key_id)
            .ok_or(StatusListError::UnknownKey(envelope.key_id))?;
        if key.status == KeyStatus::Revoked {
            return Err(StatusListError::KeyRevoked(envelope.key_id));
        }
        let payload = envelope.payload.as_bytes();
        let signature: [u8; SIGNATURE_LEN] = URL_SAFE_NO_PAD
            .decode(&envelope.signature)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| malformed("signature is not 64 bytes of base64url"))?;
        key.public_key
            .verify(STATUS_DOMAIN, payload, &signature)
            .map_err(|_| StatusListError::BadSignature)?;
        let wire: PayloadWire =
            serde_json::from_slice(payload).map_err(|e| malformed(&e.to_string()))?;
        if wire.key_id != envelope.key_id {
            return Err(malformed("payload key_id differs from the envelope's"));
        }
        if wire.sequence < wire.since {
            return Err(malformed("sequence is below since"));
        }
        let entries = URL_SAFE_NO_PAD
            .decode(&wire.revoked)
            .map_err(|_| malformed("revoked is not base64url"))?;
        if entries.len() % ENTRY_LEN != 0 {
            return Err(malformed(
                "revoked is not a whole number of 16-byte entries",
            ));
        }
        let revoked = entries
            .chunks_exact(ENTRY_LEN)
            .map(|e| {
                let mut id = [0u8; 8];
                id.copy_from_slice(&e[..8]);
                let time = |at: usize| {
                    UnixTime::from_secs(u64::from(u32::from_be_bytes([
                        e[at],
                        e[at + 1],
                        e[at + 2],
                        e[at + 3],
                    ])))
                };
                RevokedCertificate {
                    certificate_id: CertificateId(id),
                    expires_at: time(8),
                    revoked_at: time(12),
                }
            })
            .collect();
        Ok(Self {
            key_id: wire.key_id,
            since: wire.since,
            sequence: wire.sequence,
            issued_at: wire.issued_at,
            revoked,
        })
    }
}

/// Times on the wire are u32 seconds (the token's own range, good until 2106).
fn wire_time(at: UnixTime) -> u32 {
    u32::try_from(at.as_secs()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust_list::IssuerKey;

    fn bundle(status: KeyStatus) -> TrustBundle {
        TrustBundle {
            sequence: 1,
            issued_at: UnixTime::from_secs(0),
            expires_at: UnixTime::from_secs(9_999),
            keys: vec![IssuerKey {
                key_id: KeyId(3),
                public_key: SecretKey::from_seed(&[3; 32]).public_key(),
                regions: vec![],
                not_before: UnixTime::from_secs(0),
                not_after: UnixTime::from_secs(9_999),
                status,
            }],
        }
    }

    fn list() -> StatusList {
        StatusList {
            key_id: KeyId(3),
            since: 4,
            sequence: 6,
            issued_at: UnixTime::from_secs(500),
            revoked: vec![
                RevokedCertificate {
                    certificate_id: CertificateId([1; 8]),
                    expires_at: UnixTime::from_secs(900),
                    revoked_at: UnixTime::from_secs(400),
                },
                RevokedCertificate {
                    certificate_id: CertificateId([2; 8]),
                    expires_at: UnixTime::from_secs(901),
                    revoked_at: UnixTime::from_secs(450),
                },
            ],
        }
    }

    #[test]
    fn a_signed_list_opens_with_the_bundle_key() {
        let doc = list().sign(&SecretKey::from_seed(&[3; 32]));
        assert_eq!(
            StatusList::open(&doc, &bundle(KeyStatus::Active)),
            Ok(list())
        );
    }

    #[test]
    fn another_key_or_a_revoked_key_is_refused() {
        let forged = list().sign(&SecretKey::from_seed(&[4; 32]));
        assert_eq!(
            StatusList::open(&forged, &bundle(KeyStatus::Active)),
            Err(StatusListError::BadSignature)
        );
        let doc = list().sign(&SecretKey::from_seed(&[3; 32]));
        assert_eq!(
            StatusList::open(&doc, &bundle(KeyStatus::Revoked)),
            Err(StatusListError::KeyRevoked(KeyId(3)))
        );
    }

    #[test]
    fn an_altered_payload_is_refused() {
        let doc = list().sign(&SecretKey::from_seed(&[3; 32]));
        let mut envelope: serde_json::Value = serde_json::from_str(&doc).expect("json");
        let other = list();
        let mut altered = other.clone();
        altered.revoked.pop();
        let altered_doc = altered.sign(&SecretKey::from_seed(&[3; 32]));
        let altered_env: serde_json::Value = serde_json::from_str(&altered_doc).expect("json");
        envelope["payload"] = altered_env["payload"].clone();
        assert_eq!(
            StatusList::open(&envelope.to_string(), &bundle(KeyStatus::Active)),
            Err(StatusListError::BadSignature)
        );
    }
}
