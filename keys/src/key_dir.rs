//! A directory of keys: the root key pair, issuer key pairs, the keyring (public metadata of
//! every issuer key) and the latest signed bundle.
//!
//! ```text
//! DIR/root.secret.json          0600, keep offline
//! DIR/root.public.json          pin on every terminal
//! DIR/issuer-<id>.secret.json   0600, for the issuer service
//! DIR/issuer-<id>.public.json
//! DIR/keyring.json              issuer keys, status, last bundle sequence
//! DIR/bundle.json               the latest signed trust bundle
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use yibao_shared::key_file::{KeyRole, PublicKeyFile, SecretKeyFile};
use yibao_shared::trust_list::is_region_scope;
use yibao_shared::{IssuerKey, KeyId, KeyStatus, PublicKey, SecretKey, TrustBundle, UnixTime};

use crate::error::KeysError;
use crate::files;

const KEYRING_FORMAT: &str = "yibao-keyring-v1";

/// What a new issuer key may do and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewIssuerKey {
    /// Id to use; `None` picks the next free one.
    pub key_id: Option<KeyId>,
    /// Region prefixes (2, 4 or 6 digits); empty for every region.
    pub regions: Vec<String>,
    /// First instant tokens may be issued under it.
    pub not_before: UnixTime,
    /// Last instant tokens may be issued under it.
    pub not_after: UnixTime,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Keyring {
    format: String,
    last_sequence: u64,
    keys: Vec<KeyringEntry>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyringEntry {
    key_id: KeyId,
    public_key: PublicKey,
    regions: Vec<String>,
    not_before: UnixTime,
    not_after: UnixTime,
    status: KeyStatus,
}

impl From<&KeyringEntry> for IssuerKey {
    fn from(e: &KeyringEntry) -> Self {
        IssuerKey {
            key_id: e.key_id,
            public_key: e.public_key,
            regions: e.regions.clone(),
            not_before: e.not_before,
            not_after: e.not_after,
            status: e.status,
        }
    }
}

/// A key directory.
#[derive(Clone, Debug)]
pub struct KeyDir {
    dir: PathBuf,
}

impl KeyDir {
    /// The key directory at `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Path of the root public key file.
    pub fn root_public_path(&self) -> PathBuf {
        self.dir.join("root.public.json")
    }

    /// Path of the root secret key file.
    pub fn root_secret_path(&self) -> PathBuf {
        self.dir.join("root.secret.json")
    }

    /// Path of an issuer key's secret file.
    pub fn issuer_secret_path(&self, key_id: KeyId) -> PathBuf {
        self.dir.join(format!("issuer-{}.secret.json", key_id.0))
    }

    /// Path of the latest signed bundle.
    pub fn bundle_path(&self) -> PathBuf {
        self.dir.join("bundle.json")
    }

    fn keyring_path(&self) -> PathBuf {
        self.dir.join("keyring.json")
    }

    /// Creates the root key pair.
    ///
    /// # Errors
    ///
    /// [`KeysError::Exists`] if a root secret is already there; I/O errors.
    pub fn create_root(&self) -> Result<PublicKey, KeysError> {
        files::ensure_dir(&self.dir)?;
        let secret = SecretKeyFile {
            role: KeyRole::Root,
            key_id: None,
            secret: SecretKey::from_seed(&*files::random_seed()?),
        };
        let public = secret.secret.public_key();
        files::write_secret(&self.root_secret_path(), &secret.to_json())?;
        files::write_public(
            &self.root_public_path(),
            &PublicKeyFile::new(KeyRole::Root, None, public).to_json(),
        )?;
        Ok(public)
    }

    /// Reads the root public key.
    ///
    /// # Errors
    ///
    /// I/O or key-file errors.
    pub fn root_public(&self) -> Result<PublicKey, KeysError> {
        read_public_key(&self.root_public_path(), KeyRole::Root)
    }

    fn root_secret(&self) -> Result<SecretKey, KeysError> {
        read_secret_key(&self.root_secret_path(), KeyRole::Root).map(|f| f.secret)
    }

    /// Reads an issuer secret key.
    ///
    /// # Errors
    ///
    /// I/O or key-file errors.
    pub fn issuer_secret(&self, key_id: KeyId) -> Result<SecretKeyFile, KeysError> {
        read_secret_key(&self.issuer_secret_path(key_id), KeyRole::Issuer)
    }

    /// Creates an issuer key pair and records it (active) in the keyring.
    ///
    /// # Errors
    ///
    /// Invalid regions or validity, a duplicate id, I/O errors.
    pub fn create_issuer_key(&self, spec: &NewIssuerKey) -> Result<IssuerKey, KeysError> {
        if let Some(bad) = spec.regions.iter().find(|r| !is_region_scope(r)) {
            return Err(KeysError::InvalidRegion(bad.clone()));
        }
        if spec.not_after <= spec.not_before {
            return Err(KeysError::InvalidValidity(
                "not-after must be later than not-before".into(),
            ));
        }
        files::ensure_dir(&self.dir)?;
        let mut ring = self.keyring()?;
        let key_id = match spec.key_id {
            Some(id) if ring.keys.iter().any(|k| k.key_id == id) => {
                return Err(KeysError::DuplicateKeyId(id));
            }
            Some(id) => id,
            None => {
                let next = ring.keys.iter().map(|k| k.key_id.0).max().unwrap_or(0);
                KeyId(next.checked_add(1).ok_or_else(|| {
                    KeysError::InvalidValidity("all 65535 key ids are used".into())
                })?)
            }
        };
        let secret = SecretKeyFile {
            role: KeyRole::Issuer,
            key_id: Some(key_id),
            secret: SecretKey::from_seed(&*files::random_seed()?),
        };
        let entry = KeyringEntry {
            key_id,
            public_key: secret.secret.public_key(),
            regions: spec.regions.clone(),
            not_before: spec.not_before,
            not_after: spec.not_after,
            status: KeyStatus::Active,
        };
        files::write_secret(&self.issuer_secret_path(key_id), &secret.to_json())?;
        files::write_public(
            &self.dir.join(format!("issuer-{}.public.json", key_id.0)),
            &PublicKeyFile::new(KeyRole::Issuer, Some(key_id), entry.public_key).to_json(),
        )?;
        let issuer_key = IssuerKey::from(&entry);
        ring.keys.push(entry);
        self.save_keyring(&ring)?;
        Ok(issuer_key)
    }

    /// The issuer keys in the keyring.
    ///
    /// # Errors
    ///
    /// An unreadable keyring.
    pub fn issuer_keys(&self) -> Result<Vec<IssuerKey>, KeysError> {
        Ok(self.keyring()?.keys.iter().map(IssuerKey::from).collect())
    }

    /// Marks an issuer key retired or revoked. Takes effect for terminals with the next
    /// signed bundle.
    ///
    /// # Errors
    ///
    /// Unknown key, a revoked key, I/O errors.
    pub fn set_status(&self, key_id: KeyId, status: KeyStatus) -> Result<(), KeysError> {
        let mut ring = self.keyring()?;
        let entry = ring
            .keys
            .iter_mut()
            .find(|k| k.key_id == key_id)
            .ok_or(KeysError::UnknownKey(key_id))?;
        if entry.status == KeyStatus::Revoked && status != KeyStatus::Revoked {
            return Err(KeysError::AlreadyRevoked(key_id));
        }
        entry.status = status;
        self.save_keyring(&ring)
    }

    /// Builds the next trust bundle from the keyring (sequence one above the last), signs it
    /// with the root key, writes `bundle.json` and returns the bundle and its document.
    ///
    /// # Errors
    ///
    /// A missing root key, I/O errors.
    pub fn sign_bundle(
        &self,
        now: UnixTime,
        valid_for_secs: u64,
    ) -> Result<(TrustBundle, String), KeysError> {
        if valid_for_secs == 0 {
            return Err(KeysError::InvalidValidity("bundle validity is zero".into()));
        }
        let root = self.root_secret()?;
        let mut ring = self.keyring()?;
        let bundle = TrustBundle {
            sequence: ring.last_sequence + 1,
            issued_at: now,
            expires_at: now.saturating_add(valid_for_secs),
            keys: ring.keys.iter().map(IssuerKey::from).collect(),
        };
        let document = bundle.sign(&root);
        // Record the sequence first: a crash after this wastes a number, never reuses one.
        ring.last_sequence = bundle.sequence;
        self.save_keyring(&ring)?;
        files::write_public(&self.bundle_path(), &document)?;
        Ok((bundle, document))
    }

    fn keyring(&self) -> Result<Keyring, KeysError> {
        let path = self.keyring_path();
        if !path.exists() {
            return Ok(Keyring {
                format: KEYRING_FORMAT.to_owned(),
                last_sequence: 0,
                keys: Vec::new(),
            });
        }
        let ring: Keyring =
            serde_json::from_str(&files::read(&path)?).map_err(|e| KeysError::Keyring {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        if ring.format != KEYRING_FORMAT {
            return Err(KeysError::Keyring {
                path,
                reason: format!("format is {:?}", ring.format),
            });
        }
        Ok(ring)
    }

    fn save_keyring(&self, ring: &Keyring) -> Result<(), KeysError> {
        // A struct of strings and integers always serialises.
        let text = serde_json::to_string_pretty(ring).unwrap_or_default() + "\n";
        files::write_public(&self.keyring_path(), &text)
    }
}

/// Reads a public key file of the given role.
///
/// # Errors
///
/// I/O or key-file errors, including a secret key file given by mistake.
pub fn read_public_key(path: &Path, role: KeyRole) -> Result<PublicKey, KeysError> {
    PublicKeyFile::parse(&files::read(path)?, role)
        .map(|f| f.public_key)
        .map_err(|cause| KeysError::KeyFile {
            path: path.to_owned(),
            cause,
        })
}

/// Reads a secret key file of the given role.
///
/// # Errors
///
/// I/O or key-file errors, including a public key file given by mistake.
pub fn read_secret_key(path: &Path, role: KeyRole) -> Result<SecretKeyFile, KeysError> {
    let text = zeroize::Zeroizing::new(files::read(path)?);
    SecretKeyFile::parse(&text, role).map_err(|cause| KeysError::KeyFile {
        path: path.to_owned(),
        cause,
    })
}
