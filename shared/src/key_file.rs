//! Key file formats. A public key file and a secret key file have different `format` values,
//! so one is never taken for the other; parsing is pure (reading and writing files, with mode
//! 0600 for secrets, is `yibao-keys`' job).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

use crate::error::KeyError;
use crate::key::{KeyId, PublicKey, SecretKey};

/// `format` of a public key file.
pub const PUBLIC_KEY_FORMAT: &str = "yibao-public-key-v1";
/// `format` of a secret key file.
pub const SECRET_KEY_FORMAT: &str = "yibao-secret-key-v1";

/// What a key is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyRole {
    /// Signs trust bundles; kept offline by the operator.
    Root,
    /// Signs tokens; named by a key id.
    Issuer,
}

/// Why a key file is refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// Not JSON of the expected shape.
    #[error("not a yibao key file: {0}")]
    NotAKeyFile(String),
    /// A secret key file where a public one was expected, or the reverse.
    #[error("this is a {found} key file, expected a {expected} key file")]
    WrongKind {
        /// `public` or `secret`.
        expected: &'static str,
        /// `public` or `secret`.
        found: &'static str,
    },
    /// The key role is not the one asked for (an issuer key given as the root key).
    #[error("this is a {found:?} key, expected a {expected:?} key")]
    WrongRole {
        /// The role wanted.
        expected: KeyRole,
        /// The role in the file.
        found: KeyRole,
    },
    /// The key material is unusable.
    #[error("bad key: {0}")]
    Key(#[from] KeyError),
    /// The public key stored beside a secret seed does not match it.
    #[error("secret key file is inconsistent: its public key does not match the secret")]
    Mismatch,
}

/// A public key file: safe to copy to every terminal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKeyFile {
    /// Always [`PUBLIC_KEY_FORMAT`].
    pub format: String,
    /// Root or issuer.
    pub role: KeyRole,
    /// Issuer keys only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<KeyId>,
    /// The key.
    pub public_key: PublicKey,
}

impl PublicKeyFile {
    /// A public key file for `key`.
    pub fn new(role: KeyRole, key_id: Option<KeyId>, public_key: PublicKey) -> Self {
        Self {
            format: PUBLIC_KEY_FORMAT.to_owned(),
            role,
            key_id,
            public_key,
        }
    }

    /// The file's text.
    pub fn to_json(&self) -> String {
        // A struct of strings and integers always serialises.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Parses a public key file, requiring `role`.
    ///
    /// # Errors
    ///
    /// [`KeyFileError::WrongKind`] for a secret key file, [`KeyFileError::WrongRole`], or a
    /// malformed/weak key.
    pub fn parse(text: &str, role: KeyRole) -> Result<Self, KeyFileError> {
        let format = format_of(text)?;
        if format == SECRET_KEY_FORMAT {
            return Err(KeyFileError::WrongKind {
                expected: "public",
                found: "secret",
            });
        }
        if format != PUBLIC_KEY_FORMAT {
            return Err(KeyFileError::NotAKeyFile(format!(
                "unknown format {format:?}"
            )));
        }
        let file: Self =
            serde_json::from_str(text).map_err(|e| KeyFileError::NotAKeyFile(e.to_string()))?;
        if file.role != role {
            return Err(KeyFileError::WrongRole {
                expected: role,
                found: file.role,
            });
        }
        Ok(file)
    }
}

/// A secret key file. Write it with mode 0600; never log it.
#[derive(Debug)]
pub struct SecretKeyFile {
    /// Root or issuer.
    pub role: KeyRole,
    /// Issuer keys only.
    pub key_id: Option<KeyId>,
    /// The key (wiped on drop).
    pub secret: SecretKey,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretWire {
    format: String,
    role: KeyRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_id: Option<KeyId>,
    public_key: String,
    secret_seed: String,
}

impl Drop for SecretWire {
    fn drop(&mut self) {
        self.secret_seed.zeroize();
    }
}

impl SecretKeyFile {
    /// The file's text, in a buffer wiped on drop.
    pub fn to_json(&self) -> Zeroizing<String> {
        let wire = SecretWire {
            format: SECRET_KEY_FORMAT.to_owned(),
            role: self.role,
            key_id: self.key_id,
            public_key: self.secret.public_key().to_base64(),
            secret_seed: URL_SAFE_NO_PAD.encode(self.secret.seed().as_slice()),
        };
        // A struct of strings and integers always serialises.
        Zeroizing::new(serde_json::to_string_pretty(&wire).unwrap_or_default() + "\n")
    }

    /// Parses a secret key file, requiring `role`.
    ///
    /// # Errors
    ///
    /// [`KeyFileError::WrongKind`] for a public key file, [`KeyFileError::WrongRole`],
    /// [`KeyFileError::Mismatch`] when the stored public key does not match the seed.
    pub fn parse(text: &str, role: KeyRole) -> Result<Self, KeyFileError> {
        let format = format_of(text)?;
        if format == PUBLIC_KEY_FORMAT {
            return Err(KeyFileError::WrongKind {
                expected: "secret",
                found: "public",
            });
        }
        if format != SECRET_KEY_FORMAT {
            return Err(KeyFileError::NotAKeyFile(format!(
                "unknown format {format:?}"
            )));
        }
        // serde_json's error text never quotes string values, so the seed cannot leak here.
        let wire: SecretWire =
            serde_json::from_str(text).map_err(|e| KeyFileError::NotAKeyFile(e.to_string()))?;
        if wire.role != role {
            return Err(KeyFileError::WrongRole {
                expected: role,
                found: wire.role,
            });
        }
        let seed = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(&wire.secret_seed)
                .map_err(|_| KeyError::Encoding)?,
        );
        let seed: &[u8; 32] = seed.as_slice().try_into().map_err(|_| KeyError::Encoding)?;
        let secret = SecretKey::from_seed(seed);
        if secret.public_key() != PublicKey::from_base64(&wire.public_key)? {
            return Err(KeyFileError::Mismatch);
        }
        Ok(Self {
            role: wire.role,
            key_id: wire.key_id,
            secret,
        })
    }
}

fn format_of(text: &str) -> Result<String, KeyFileError> {
    #[derive(Deserialize)]
    struct Probe {
        format: String,
    }
    serde_json::from_str::<Probe>(text)
        .map(|p| p.format)
        .map_err(|_| KeyFileError::NotAKeyFile("no \"format\" field".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_file() -> SecretKeyFile {
        SecretKeyFile {
            role: KeyRole::Issuer,
            key_id: Some(KeyId(3)),
            secret: SecretKey::from_seed(&[3; 32]),
        }
    }

    #[test]
    fn secret_file_round_trips() {
        let text = secret_file().to_json();
        let back = SecretKeyFile::parse(&text, KeyRole::Issuer).expect("parses");
        assert_eq!(back.key_id, Some(KeyId(3)));
        assert_eq!(back.secret.public_key(), secret_file().secret.public_key());
    }

    #[test]
    fn public_and_secret_files_are_never_confused() {
        let secret_text = secret_file().to_json();
        assert_eq!(
            PublicKeyFile::parse(&secret_text, KeyRole::Issuer),
            Err(KeyFileError::WrongKind {
                expected: "public",
                found: "secret"
            })
        );
        let public_text =
            PublicKeyFile::new(KeyRole::Root, None, secret_file().secret.public_key()).to_json();
        assert!(matches!(
            SecretKeyFile::parse(&public_text, KeyRole::Root),
            Err(KeyFileError::WrongKind { .. })
        ));
    }

    #[test]
    fn an_issuer_key_is_not_taken_for_the_root() {
        let public_text = PublicKeyFile::new(
            KeyRole::Issuer,
            Some(KeyId(1)),
            secret_file().secret.public_key(),
        )
        .to_json();
        assert!(matches!(
            PublicKeyFile::parse(&public_text, KeyRole::Root),
            Err(KeyFileError::WrongRole { .. })
        ));
    }

    #[test]
    fn a_tampered_public_half_is_detected() {
        let text = secret_file().to_json();
        let other = SecretKey::from_seed(&[4; 32]).public_key().to_base64();
        let mine = secret_file().secret.public_key().to_base64();
        let tampered = text.replace(&mine, &other);
        assert!(matches!(
            SecretKeyFile::parse(&tampered, KeyRole::Issuer),
            Err(KeyFileError::Mismatch)
        ));
    }
}
