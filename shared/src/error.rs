//! Errors of the wire formats and the signature primitives.

use thiserror::Error;

/// Why bytes or text are not a well-formed token, key or bundle.
///
/// Every variant is a property of the input alone: decoding never looks at keys or time.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The text does not start with the codec's `PREFIX` ("96"): it is not a yibao code (it
    /// may be a payment code or the national 28-digit code).
    #[error("not a yibao code: wrong prefix")]
    WrongPrefix,
    /// A character other than `0-9` after the prefix, at this digit offset.
    #[error("non-digit character at offset {at}")]
    NotDigits {
        /// Offset of the first bad character, counted in bytes after the prefix.
        at: usize,
    },
    /// The number of digits cannot come from the encoder (a digit was lost or added).
    #[error("impossible number of digits: {len}")]
    DigitCount {
        /// Digits after the prefix.
        len: usize,
    },
    /// A digit group holds a value larger than its byte width allows.
    #[error("digit group out of range")]
    DigitOverflow,
    /// The input ends inside this field.
    #[error("truncated in field {field}")]
    Truncated {
        /// Name of the field being read.
        field: &'static str,
    },
    /// Bytes are left over after the last field.
    #[error("{count} trailing bytes")]
    TrailingBytes {
        /// How many bytes are left.
        count: usize,
    },
    /// The format version is not one this library reads.
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u8),
    /// The token kind is unknown or reserved for a later version (device-bound codes).
    #[error("unsupported token kind {0}")]
    UnsupportedKind(u8),
    /// A field holds a value outside its documented range.
    #[error("invalid value in field {field}")]
    InvalidField {
        /// Name of the field.
        field: &'static str,
    },
    /// The input is longer than any valid encoding, refused before any work.
    #[error("input too long")]
    TooLong,
    /// A JSON document (key file, trust bundle) does not have the expected shape.
    #[error("invalid document: {0}")]
    Json(String),
}

/// Why a public key is refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The 32 bytes are not a point on the curve.
    #[error("not a valid ed25519 public key")]
    Invalid,
    /// Not in the prime-order subgroup (small order, or a torsion component): signatures
    /// under it can be forged or made ambiguous.
    #[error("weak public key (small order or torsion component)")]
    Weak,
    /// A non-canonical encoding of a point (`y ≥ p`, or a sign bit on `x = 0`).
    #[error("non-canonical public key encoding")]
    NonCanonical,
    /// The key encoding (base64url, length) is wrong.
    #[error("bad key encoding")]
    Encoding,
}

/// Why a token could not be built.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A claim is outside the range the format can carry.
    #[error("claim out of range: {field}")]
    OutOfRange {
        /// Name of the field.
        field: &'static str,
    },
}

/// A signature did not verify under the given key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("signature does not verify")]
pub struct BadSignature;
