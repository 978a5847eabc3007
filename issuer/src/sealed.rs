//! The real identity for 实名就医, sealed.
//!
//! The registry otherwise keeps only keyed hashes of ID numbers and names, which is what makes
//! a stolen database useless. A hospital settling a voucher patient must still record who
//! they are (national transaction 1101), so the import seals the ID number, the full name and
//! the few registry fields the 1101 answer needs with XChaCha20-Poly1305 (random 192-bit
//! nonces: no coordination across import processes, no collision risk at 10^9 records), bound
//! to the person's ID-number key as associated data so a sealed value copied onto another
//! person's record does not open. The key is derived from the index secret (HMAC with its own
//! domain), so it lives wherever that secret lives and never in the store. Only the person
//! information operation opens it, for the institution that settled that person's visit.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::secrets::{IdKey, IndexKey, random_bytes};

const NONCE: usize = 24;

/// What 1101 answers beyond the registry's plain fields. Wiped on drop, never printed.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct IdentityDetails {
    /// The 18-character ID number (`certno`).
    pub id_number: String,
    /// The full name (`psn_name`).
    pub name: String,
    /// 民族 code, two digits (`naty`, "01" 汉族).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ethnicity: String,
    /// 人员类别 code as the registry has it (`psn_type`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub person_type: String,
    /// 参保日期, `YYYY-MM-DD` (`psn_insu_date`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub insured_since: String,
    /// 暂停参保日期, `YYYY-MM-DD` (`paus_insu_date`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub paused_since: String,
    /// 公务员标志 (`cvlserv_flag`).
    #[serde(default)]
    pub civil_servant: bool,
    /// 单位名称 of an employee (`emp_name`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub employer: String,
}

impl fmt::Debug for IdentityDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentityDetails(<redacted>)")
    }
}

/// [`IdentityDetails`] sealed: nonce then ciphertext, stored as base64url.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedIdentity(Vec<u8>);

impl fmt::Debug for SealedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedIdentity({} bytes)", self.0.len())
    }
}

impl Serialize for SealedIdentity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&URL_SAFE_NO_PAD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for SealedIdentity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .ok()
            .filter(|b| b.len() > NONCE)
            .map(Self)
            .ok_or_else(|| serde::de::Error::custom("expected a sealed identity"))
    }
}

fn cipher(index: &IndexKey) -> XChaCha20Poly1305 {
    let key = Zeroizing::new(index.derive(b"yibao.identity-seal.v1"));
    XChaCha20Poly1305::new(key.as_ref().into())
}

/// Seals `details` for the person whose ID-number key is `owner`.
///
/// # Errors
///
/// If the operating system's random source fails.
pub fn seal(
    index: &IndexKey,
    owner: &IdKey,
    details: &IdentityDetails,
) -> Result<SealedIdentity, getrandom::Error> {
    let nonce: [u8; NONCE] = random_bytes()?;
    let plain = Zeroizing::new(serde_json::to_vec(details).unwrap_or_default());
    let sealed = cipher(index)
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &plain,
                aad: &owner.0,
            },
        )
        // Encryption fails only for messages beyond 256 GiB.
        .unwrap_or_default();
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(SealedIdentity(out))
}

/// Opens what [`seal`] sealed for `owner`; `None` if it was sealed for someone else, under
/// another index secret, or altered.
pub fn open(index: &IndexKey, owner: &IdKey, sealed: &SealedIdentity) -> Option<IdentityDetails> {
    let (nonce, body) = sealed.0.split_at_checked(NONCE)?;
    let nonce: [u8; NONCE] = nonce.try_into().ok()?;
    let plain = Zeroizing::new(
        cipher(index)
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: body,
                    aad: &owner.0,
                },
            )
            .ok()?,
    );
    serde_json::from_slice(&plain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details() -> IdentityDetails {
        let mut d = IdentityDetails::default();
        d.id_number = "11010519491231002X".into();
        d.name = "测试零".into();
        d.ethnicity = "01".into();
        d.employer = "示例单位".into();
        d
    }

    #[test]
    fn opens_only_for_its_owner_and_its_secret() {
        let index = IndexKey::new(vec![7; 32]).expect("long enough");
        let (alice, bob) = (IdKey([1; 32]), IdKey([2; 32]));
        let sealed = seal(&index, &alice, &details()).expect("random");
        assert_eq!(open(&index, &alice, &sealed), Some(details()));
        assert_eq!(open(&index, &bob, &sealed), None);
        let other = IndexKey::new(vec![8; 32]).expect("long enough");
        assert_eq!(open(&other, &alice, &sealed), None);
        let mut altered = sealed.clone();
        if let Some(last) = altered.0.last_mut() {
            *last ^= 1;
        }
        assert_eq!(open(&index, &alice, &altered), None);
        // Two seals of the same details differ (fresh nonces), and neither shows the values.
        let again = seal(&index, &alice, &details()).expect("random");
        assert_ne!(sealed, again);
        let stored = serde_json::to_string(&sealed).expect("serialises");
        assert!(!stored.contains("1101051949"));
        let back: SealedIdentity = serde_json::from_str(&stored).expect("parses");
        assert_eq!(back, sealed);
        assert!(!format!("{:?}", details()).contains("测试"));
    }
}
