//! The status list: which device certificates the issuer revoked (lost phone, suspended
//! voucher, unbound family link, removed device), signed by an issuer key of the trust bundle
//! so terminals can refuse them offline (`docs/token-format.md` §10).
//!
//! A document is either the complete list (`since` 0) or the delta after the sequence a
//! terminal holds. Entries leave the list once their certificate has expired (the
//! certificate is refused by its own validity then), so its size is bounded by what is
//! revoked within one certificate lifetime. The complete list keeps the certificates the
//! issuer numbered in a [`CompactSet`] (about 11.6 bits each at the national rate, against
//! the 11.4-bit bound); a delta lists each entry with its times, 16 bytes. Binary, because
//! any text encoding of a near-optimal list costs a third more.

mod compact;
mod wire;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use compact::{BLOCK, BlockExpiry, CompactSet, Member, NUMBERED_LIMIT};

use crate::claims::CertificateId;
use crate::key::{KeyId, SIGNATURE_LEN, SecretKey};
use crate::time::UnixTime;
use crate::trust_list::{KeyStatus, TrustBundle};

/// Domain-separation tag in front of the document in the signed bytes (15 bytes).
pub const STATUS_DOMAIN: &[u8; 15] = b"yibao.status.v2";

/// The first bytes of a document: `YBSL` and the format version 2.
pub const STATUS_MAGIC: &[u8; 5] = b"YBSL\x02";

/// Media type of a document as the issuer serves it.
pub const STATUS_MEDIA_TYPE: &str = "application/vnd.yibao.status-list.v2";

/// One plain entry: certificate id (8), expires-at (u32), revoked-at (u32).
pub const ENTRY_LEN: usize = 16;

/// Largest document accepted, refused before parsing: far above the complete list at the
/// national revocation rate `docs/offline-codes.md` assumes (about 4.4 MB), and room for
/// a day of deltas as plain entries.
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
    /// Numbered certificates revoked, with expiry bounds per block (a complete list's).
    pub compact: CompactSet,
    /// Other revoked certificates, each with its times (a delta's entries, and a complete
    /// list's certificates from before numbering).
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

impl StatusList {
    /// The complete list of `entries`: numbered certificates go into the compact set,
    /// any other into the plain entries.
    pub fn complete(
        key_id: KeyId,
        sequence: u64,
        issued_at: UnixTime,
        entries: Vec<RevokedCertificate>,
    ) -> Self {
        let (numbered, plain): (Vec<_>, Vec<_>) = entries
            .into_iter()
            .partition(|e| u64::from_be_bytes(e.certificate_id.0) < NUMBERED_LIMIT);
        Self {
            key_id,
            since: 0,
            sequence,
            issued_at,
            compact: CompactSet::build(
                numbered
                    .iter()
                    .map(|e| Member::exact(e.certificate_id, e.expires_at))
                    .collect(),
            ),
            revoked: plain,
        }
    }

    /// A delta after `since`: every entry plain, with its exact times.
    pub fn delta(
        key_id: KeyId,
        since: u64,
        sequence: u64,
        issued_at: UnixTime,
        entries: Vec<RevokedCertificate>,
    ) -> Self {
        Self {
            key_id,
            since,
            sequence,
            issued_at,
            compact: CompactSet::default(),
            revoked: entries,
        }
    }

    /// Whether this is the complete list rather than a delta.
    pub fn is_complete(&self) -> bool {
        self.since == 0
    }

    /// How many revoked certificates the document names.
    pub fn len(&self) -> usize {
        self.compact.len() + self.revoked.len()
    }

    /// Whether the document names none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Signs the list with the issuer key named by `key_id`; returns the document.
    pub fn sign(&self, key: &SecretKey) -> Vec<u8> {
        let mut out = self.unsigned_bytes();
        let signature = key.sign(STATUS_DOMAIN, &out);
        out.extend_from_slice(&signature);
        out
    }

    /// The document without its signature: also the form a terminal keeps on disk.
    pub fn unsigned_bytes(&self) -> Vec<u8> {
        let compact = &self.compact;
        let mut out = Vec::with_capacity(
            64 + compact.bits().len() + compact.expiry().len() * 8 + self.revoked.len() * ENTRY_LEN,
        );
        out.extend_from_slice(STATUS_MAGIC);
        out.extend_from_slice(&self.key_id.0.to_be_bytes());
        out.extend_from_slice(&self.since.to_be_bytes());
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.issued_at.as_secs().to_be_bytes());
        out.extend_from_slice(
            &u32::try_from(compact.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        if !compact.is_empty() {
            out.extend_from_slice(&compact.first().to_be_bytes());
            out.push(compact.k());
            for block in compact.expiry() {
                out.extend_from_slice(&block.earliest.to_be_bytes());
                out.extend_from_slice(&block.latest.to_be_bytes());
            }
            let bits = compact.bits();
            out.extend_from_slice(&u32::try_from(bits.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(bits);
        }
        let plain = u32::try_from(self.revoked.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&plain.to_be_bytes());
        for entry in &self.revoked {
            out.extend_from_slice(&entry.certificate_id.0);
            out.extend_from_slice(&wire_time(entry.expires_at).to_be_bytes());
            out.extend_from_slice(&wire_time(entry.revoked_at).to_be_bytes());
        }
        out
    }

    /// Checks the signature with the named key of `bundle` (which must not be revoked) and
    /// decodes the document. Freshness and sequence are the holder's policy, not checked here.
    ///
    /// # Errors
    ///
    /// A [`StatusListError`]; the signature is checked before the entries are interpreted.
    pub fn open(document: &[u8], bundle: &TrustBundle) -> Result<Self, StatusListError> {
        if document.len() > MAX_STATUS_BYTES {
            return Err(StatusListError::Malformed("document too large".into()));
        }
        let (signed, signature) = document
            .split_last_chunk::<SIGNATURE_LEN>()
            .ok_or_else(|| StatusListError::Malformed("shorter than a signature".into()))?;
        let key_id = wire::header_key(signed)?;
        let key = bundle
            .key(key_id)
            .ok_or(StatusListError::UnknownKey(key_id))?;
        if key.status == KeyStatus::Revoked {
            return Err(StatusListError::KeyRevoked(key_id));
        }
        key.public_key
            .verify(STATUS_DOMAIN, signed, signature)
            .map_err(|_| StatusListError::BadSignature)?;
        Self::from_unsigned(signed)
    }

    /// Reads [`Self::unsigned_bytes`] (a document already verified, or the terminal's own
    /// copy of one).
    ///
    /// # Errors
    ///
    /// [`StatusListError::Malformed`].
    pub fn from_unsigned(bytes: &[u8]) -> Result<Self, StatusListError> {
        wire::parse(bytes)
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

    fn entry(id: u64, expires: u64) -> RevokedCertificate {
        RevokedCertificate {
            certificate_id: CertificateId(id.to_be_bytes()),
            expires_at: UnixTime::from_secs(expires),
            revoked_at: UnixTime::from_secs(400),
        }
    }

    fn list() -> StatusList {
        // Two numbered certificates and one from before numbering.
        let entries = vec![entry(7, 900), entry(40, 901), entry(u64::MAX - 5, 902)];
        StatusList::complete(KeyId(3), 6, UnixTime::from_secs(500), entries)
    }

    #[test]
    fn a_signed_list_opens_with_the_bundle_key() {
        for list in [
            list(),
            StatusList::delta(
                KeyId(3),
                4,
                6,
                UnixTime::from_secs(500),
                vec![entry(9, 950)],
            ),
        ] {
            let doc = list.sign(&SecretKey::from_seed(&[3; 32]));
            assert_eq!(StatusList::open(&doc, &bundle(KeyStatus::Active)), Ok(list));
        }
        let opened = StatusList::open(
            &list().sign(&SecretKey::from_seed(&[3; 32])),
            &bundle(KeyStatus::Active),
        )
        .expect("opens");
        assert_eq!((opened.compact.len(), opened.revoked.len()), (2, 1));
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
    fn any_altered_byte_is_refused() {
        let doc = list().sign(&SecretKey::from_seed(&[3; 32]));
        for at in 0..doc.len() {
            let mut altered = doc.clone();
            altered[at] ^= 0x01;
            assert!(
                StatusList::open(&altered, &bundle(KeyStatus::Active)).is_err(),
                "byte {at}"
            );
        }
        for len in 0..doc.len() {
            assert!(StatusList::open(&doc[..len], &bundle(KeyStatus::Active)).is_err());
        }
    }

    #[test]
    fn unsigned_bytes_that_do_not_parse_are_malformed_not_a_panic() {
        let bytes = list().unsigned_bytes();
        for len in 0..bytes.len() {
            assert!(matches!(
                StatusList::from_unsigned(&bytes[..len]),
                Err(StatusListError::Malformed(_))
            ));
        }
        let mut huge_count = bytes.clone();
        // The compact count sits after magic (5), key (2) and three u64s.
        huge_count[31..35].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(StatusList::from_unsigned(&huge_count).is_err());
    }
}
