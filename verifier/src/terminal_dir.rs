//! A terminal directory as `yibao-verify init` writes it: `terminal.toml` (issuer, institution,
//! credential, defaults) and the pinned `root.public.json`. Shared by the CLI and the C ABI
//! (feature `terminal-dir`), so both open a terminal the same way.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use yibao_shared::key_file::{KeyRole, PublicKeyFile};
use yibao_shared::{BusinessType, PublicKey};

use crate::{OutboxCreated, OutboxError, Policy, Terminal, TerminalConfig};

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
    /// A file could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A setting given to [`set_up`] is not usable.
    #[error("{0}")]
    Setting(&'static str),
    /// The outbox could not be created or opened.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

impl DirError {
    /// A stable code for the caller.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Read { .. } => "terminal-not-set-up",
            Self::Invalid { .. } => "terminal-config-invalid",
            Self::Write { .. } => "terminal-dir-unwritable",
            Self::Setting(_) => "invalid-setting",
            Self::Outbox(e) => e.code(),
        }
    }
}

/// What setting a terminal up takes (`yibao-verify init`'s arguments).
pub struct SetUp<'a> {
    /// The issuer's base URL.
    pub issuer_url: &'a str,
    /// The terminal's institution.
    pub institution: &'a str,
    /// The terminal credential (`ybt_…`).
    pub credential: &'a str,
    /// The text of the operator's root public key file, pinned from now on.
    pub root_key: &'a str,
    /// Default operator id.
    pub operator: &'a str,
    /// Default business type.
    pub business_type: BusinessType,
    /// Start a new, empty outbox even though one is there (the old one kept aside; its
    /// queue is NOT forwarded).
    pub reset_outbox: bool,
}

impl std::fmt::Debug for SetUp<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetUp")
            .field("issuer_url", &self.issuer_url)
            .field("institution", &self.institution)
            .field("credential", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Sets the terminal directory `dir` up, or again with new settings: writes `terminal.toml`
/// (0600: it holds the credential) and the pinned root key, and creates the outbox or keeps
/// the one there. Repeating it with the same settings changes nothing.
///
/// # Errors
///
/// [`DirError`]: a bad setting or root key, an unwritable directory, a terminal set up
/// before whose outbox has vanished ([`OutboxError::Missing`]: it held the queue and the
/// replay memory, so a new one is made only with `reset_outbox`), a damaged outbox.
pub fn set_up(
    dir: &Path,
    settings: &SetUp<'_>,
    now: yibao_shared::UnixTime,
) -> Result<OutboxCreated, DirError> {
    if !settings.credential.starts_with("ybt_") {
        return Err(DirError::Setting(
            "the terminal credential starts with ybt_ (as the issuer's admin API returns it)",
        ));
    }
    if !yibao_shared::visit::is_institution_code(settings.institution) {
        return Err(DirError::Setting(
            "institution: 1-32 ASCII letters and digits",
        ));
    }
    if !yibao_shared::visit::is_operator(settings.operator) {
        return Err(DirError::Setting(
            "operator: 1-64 characters, no control characters",
        ));
    }
    let root_path = dir.join(ROOT_KEY_FILE);
    PublicKeyFile::parse(settings.root_key, KeyRole::Root).map_err(|e| DirError::Invalid {
        path: root_path.clone(),
        message: e.to_string(),
    })?;
    let config_path = dir.join(CONFIG_FILE);
    let outbox = dir.join(crate::outbox::FILE_NAME);
    if config_path.exists() && !outbox.exists() && !settings.reset_outbox {
        return Err(OutboxError::Missing(outbox).into());
    }
    let file = ConfigFile {
        issuer_url: settings.issuer_url.to_owned(),
        institution: settings.institution.to_owned(),
        credential: settings.credential.to_owned(),
        operator: settings.operator.to_owned(),
        business_type: settings.business_type,
        timeout_secs: default_timeout(),
    };
    let written = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DirError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(written(dir))?;
    std::fs::write(&root_path, settings.root_key).map_err(written(&root_path))?;
    let text = toml::to_string(&file).map_err(|e| DirError::Invalid {
        path: config_path.clone(),
        message: e.to_string(),
    })?;
    write_private(&config_path, &text).map_err(written(&config_path))?;
    let loaded = load(dir, Policy::default())?;
    Ok(Terminal::create_outbox(
        &loaded.config,
        settings.reset_outbox,
        now,
    )?)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
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
