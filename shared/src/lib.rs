//! # yibao-shared
//!
//! The wire format of the yibao medical-insurance voucher code and the primitives around it:
//! claims, key ids, public and secret keys, the root-signed trust bundle, the issuer-signed
//! status list of revoked device certificates, Ed25519 signing and strict verification, and
//! the device-bound kind's P-256 certificates and presentations.
//!
//! This crate does no I/O: it reads no clock, draws no random numbers, opens no files and
//! starts no tasks. Time and randomness are arguments, which is what lets a terminal verify
//! offline with a clock it does not trust, and what makes the test vectors reproducible.
//!
//! Verification *policy* (validity window, clock skew, revoked keys, replay) lives in
//! `yibao-verifier`; this crate only answers "is this well-formed" and "does this signature
//! verify under this key".
//!
//! ```
//! use yibao_shared::{
//!     Claims, Gender, InsuranceType, KeyId, MaskedName, RegionCode, SecretKey, TokenBody,
//!     TokenId, TokenKind, UnixTime, UntrustedToken, VoucherId,
//! };
//!
//! let key = SecretKey::from_seed(&[7; 32]);
//! let body = TokenBody {
//!     kind: TokenKind::IssuerSigned,
//!     key_id: KeyId(1),
//!     token_id: TokenId([1; 8]),
//!     issued_at: UnixTime::from_secs(1_767_225_600),
//!     lifetime_secs: 60,
//!     claims: Claims {
//!         voucher_id: VoucherId([2; 8]),
//!         region: RegionCode::parse("110105").unwrap(),
//!         insurance: InsuranceType::Employee,
//!         masked_name: MaskedName::mask("测试甲").unwrap(),
//!         gender: Gender::Female,
//!         birth_year: 1950,
//!         proxy: None,
//!     },
//! };
//! let code = body.sign(&key)?;
//! assert!(code.starts_with("96"));
//!
//! let untrusted = UntrustedToken::parse(&code)?;
//! untrusted.verify_signature(&key.public_key())?;
//! assert_eq!(untrusted.unverified_body(), &body);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod business;
mod claims;
pub mod codec;
mod error;
mod key;
pub mod key_file;
pub mod status_list;
mod time;
mod token;
pub mod trust_list;
pub mod visit;

pub use business::{BusinessType, UnknownBusinessType};
pub use claims::{
    CertificateId, Claims, FamilyProxy, Gender, InsuranceType, MaskedName, RegionCode, Relation,
    TokenId, VoucherId,
};
pub use error::{BadSignature, DecodeError, EncodeError, KeyError};
pub use key::{KeyId, PublicKey, SIGNATURE_LEN, SecretKey};
pub use status_list::{RevokedCertificate, StatusList, StatusListError};
pub use time::UnixTime;
pub use token::device::{
    DeviceCertificate, DevicePublicKey, DeviceSecretKey, Presentation, present,
};
pub use token::{
    MAX_TEXT_LEN, TOKEN_DOMAIN, TokenBody, TokenKind, UntrustedDeviceParts, UntrustedToken,
    VERSION, to_text,
};
pub use trust_list::{BundleError, IssuerKey, KeyStatus, TrustBundle};
pub use visit::{InvalidVisitField, VisitContext, VisitFields};
