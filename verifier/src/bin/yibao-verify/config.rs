//! The terminal's configuration file, `terminal.toml` in the terminal directory, written by
//! `yibao-verify init`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use yibao_shared::key_file::{KeyRole, PublicKeyFile};
use yibao_shared::{BusinessType, PublicKey};
use yibao_verifier::{Policy, TerminalConfig};

pub(crate) const FILE: &str = "terminal.toml";
pub(crate) const ROOT_KEY: &str = "root.public.json";

/// What `terminal.toml` holds. The credential is in it, so the file is written 0600.
#[derive(Serialize, Deserialize)]
pub(crate) struct ConfigFile {
    pub issuer_url: String,
    pub institution: String,
    pub credential: String,
    /// Operator id used when a command names none.
    pub operator: String,
    /// Business type used when a command names none.
    pub business_type: BusinessType,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_timeout() -> u64 {
    10
}

/// A terminal directory, loaded.
pub(crate) struct Loaded {
    pub config: TerminalConfig,
    pub operator: String,
    pub business_type: BusinessType,
}

pub(crate) fn read_root_key(path: &Path) -> anyhow::Result<PublicKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading root key {}", path.display()))?;
    let file = PublicKeyFile::parse(&text, KeyRole::Root)
        .with_context(|| format!("root key {}", path.display()))?;
    Ok(file.public_key)
}

pub(crate) fn load(dir: &Path, policy: Policy) -> anyhow::Result<Loaded> {
    let path = dir.join(FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {}: set the terminal up with `yibao-verify init`",
            path.display()
        )
    })?;
    let file: ConfigFile =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let root_key = read_root_key(&dir.join(ROOT_KEY))?;
    Ok(Loaded {
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

pub(crate) fn write(dir: &Path, file: &ConfigFile, root_key: &Path) -> anyhow::Result<PathBuf> {
    if !file.credential.starts_with("ybt_") {
        bail!("the terminal credential starts with ybt_ (as the issuer's admin API returns it)");
    }
    // The root key must be a root key file before anything is written.
    let root = std::fs::read_to_string(root_key)
        .with_context(|| format!("reading root key {}", root_key.display()))?;
    PublicKeyFile::parse(&root, KeyRole::Root)
        .with_context(|| format!("root key {}", root_key.display()))?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join(ROOT_KEY), root).context("writing the pinned root key")?;
    let path = dir.join(FILE);
    let text = toml::to_string(file).context("serialising the configuration")?;
    write_private(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
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
