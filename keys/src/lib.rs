//! # yibao-keys
//!
//! Key management for the operator of a yibao deployment: the **root key** (kept offline;
//! it only signs trust bundles), **issuer keys** (named by a short key id, scoped to regions,
//! valid for a window, active → retired → revoked), and the **trust bundle** the root signs
//! for terminals. Secret key files are written with mode 0600, never overwritten, parsed into
//! types that wipe themselves on drop and print as `<redacted>`.
//!
//! [`mint_dev_token`] signs a code directly with an issuer key, for tests and demos only.
//!
//! ```no_run
//! use yibao_keys::{KeyDir, NewIssuerKey};
//! use yibao_shared::UnixTime;
//!
//! let now = UnixTime::from_secs(1_767_225_600);
//! let keys = KeyDir::new("keys");
//! keys.create_root()?;
//! keys.create_issuer_key(&NewIssuerKey {
//!     key_id: None,
//!     regions: vec!["11".into()],
//!     not_before: now,
//!     not_after: now.saturating_add(90 * 86_400),
//! })?;
//! let (bundle, _document) = keys.sign_bundle(now, 7 * 86_400)?;
//! assert_eq!(bundle.sequence, 1);
//! # Ok::<(), yibao_keys::KeysError>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod files;
mod key_dir;
mod mint;

pub use error::KeysError;
pub use files::random_bytes;
pub use key_dir::{KeyDir, NewIssuerKey, read_public_key, read_secret_key};
pub use mint::mint_dev_token;

#[cfg(test)]
mod tests;
