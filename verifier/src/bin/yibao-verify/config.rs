//! The terminal's configuration file, `terminal.toml` in the terminal directory, written by
//! `yibao-verify init`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use yibao_shared::PublicKey;
use yibao_shared::key_file::{KeyRole, PublicKeyFile};
use yibao_verifier::Policy;

pub(crate) use yibao_verifier::terminal_dir::{
    CONFIG_FILE as FILE, ConfigFile, ROOT_KEY_FILE as ROOT_KEY, TerminalDir as Loaded,
};

pub(crate) fn read_root_key(path: &Path) -> anyhow::Result<PublicKey> {
    Ok(yibao_verifier::terminal_dir::read_root_key(path)?)
}

pub(crate) fn load(dir: &Path, policy: Policy) -> anyhow::Result<Loaded> {
    Ok(yibao_verifier::terminal_dir::load(dir, policy)?)
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
