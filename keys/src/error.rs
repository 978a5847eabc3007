//! Errors of key management.

use std::path::PathBuf;

use thiserror::Error;
use yibao_shared::KeyId;
use yibao_shared::key_file::KeyFileError;

/// Why a key operation failed. Messages name files, never key material.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeysError {
    /// Reading or writing a file failed.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause (in the message, so it is not also a `source`).
        cause: std::io::Error,
    },
    /// A key file is unusable.
    #[error("{path}: {cause}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// The cause (in the message, so it is not also a `source`).
        cause: KeyFileError,
    },
    /// The keyring file is not valid.
    #[error("{path}: invalid keyring: {reason}")]
    Keyring {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Refusing to overwrite an existing key.
    #[error("{0} already exists (refusing to overwrite a key)")]
    Exists(PathBuf),
    /// No issuer key with this id in the keyring.
    #[error("no issuer key with id {0}")]
    UnknownKey(KeyId),
    /// The key id is taken.
    #[error("issuer key id {0} is already used")]
    DuplicateKeyId(KeyId),
    /// A region scope is not 2, 4 or 6 digits.
    #[error("region scope {0:?} is not 2, 4 or 6 digits")]
    InvalidRegion(String),
    /// A time or duration argument makes no sense.
    #[error("invalid validity: {0}")]
    InvalidValidity(String),
    /// A revoked key cannot change status again.
    #[error("key {0} is revoked; revocation is final")]
    AlreadyRevoked(KeyId),
    /// The operating system's random source failed.
    #[error("random number generator failed: {0}")]
    Random(String),
    /// A token could not be encoded.
    #[error("cannot encode token: {0}")]
    Encode(#[from] yibao_shared::EncodeError),
}
