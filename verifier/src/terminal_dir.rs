//! A terminal directory as `yibao-verify init` writes it: `terminal.toml` (issuer, institution,
//! credential, defaults) and the pinned `root.public.json`. Shared by the CLI and the C ABI
//! (feature `terminal-dir`), so both open a terminal the same way.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use yibao_shared::key_file::{KeyRole, PublicKeyFile};
use yibao_shared::{BusinessType, PublicKey};

use crate::{Policy, TerminalConfig};

/// The configuration file's name in a terminal directory.
pub const CONFIG_FILE: &str = "terminal.toml";
/// The pinned root key's file name in a terminal directory.
pub const ROOT_KEY_FILE: &str = "root.public.json";

/// What `terminal.toml` holds. The credential is in it, so the file is written 0600.
#[derive(Serialize, Deserialize)]
pub struct ConfigFile {
    /// The issuer's base URL.
    pub issuer_url: String,
    /// The terminal's institution.
    pub institution: String,
    /// The terminal credential (`ybt_…`).
    pub credential: String,
    /// Operator id used when a command names none.
    pub operator: String,
    /// Business type used when a command names none.
    pub business_type: BusinessType,
    /// How long one call to the issuer may take.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

impl std::fmt::Debug for ConfigFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigFile")
            .field("issuer_url", &self.issuer_url)
            .field("institution", &self.institution)
            .field("credential", &"<redacted>")
            .finish_non_exhaustive()
    }
}

fn default_timeout() -> u64 {
    10
}

/// A terminal directory, loaded.
#[derive(Debug)]
pub struct TerminalDir {
    /// What [`crate::Terminal::open`] takes.
    pub config: TerminalConfig,
    /// The default operator.
    pub operator: String,
    /// The default business type.
    pub business_type: BusinessType,
}

/// Why a terminal directory could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirError {
    /// A file could not be read.
    #[error("reading {path}: {source} (set the terminal up with `yibao-verify init`)")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not what it should be.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Reads the pinned root key file (a root public key file, never an issuer key or a secret).
///
/// # Errors
///
/// [`DirError`] when the file is missing or not a root public key file.
pub fn read_root_key(path: &Path) -> Result<PublicKey, DirError> {
    let text = std::fs::read_to_string(path).map_err(|source| DirError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    PublicKeyFile::parse(&text, KeyRole::Root)
        .map(|file| file.public_key)
        .map_err(|e| DirError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// Loads the terminal directory `dir` with `policy`.
///
/// # Errors
///
/// [`DirError`] when `terminal.toml` or the root key is missing or invalid.
pub fn load(dir: &Path, policy: Policy) -> Result<TerminalDir, DirError> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| DirError::Read {
        path: path.clone(),
        source,
    })?;
    let file: ConfigFile = toml::from_str(&text).map_err(|e| DirError::Invalid {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let root_key = read_root_key(&dir.join(ROOT_KEY_FILE))?;
    Ok(TerminalDir {
        config: TerminalConfig {
            issuer_url: file.issuer_url,
            credential: file.credential,
            institution: file.institution,
            root_key,
            data_dir: dir.to_path_buf(),
            policy,
            timeout: Duration::from_secs(file.timeout_secs.max(1)),
        },
        operator: file.operator,
        business_type: file.business_type,
    })
}
