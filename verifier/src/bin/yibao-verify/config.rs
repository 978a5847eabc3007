//! The terminal's configuration file, `terminal.toml` in the terminal directory, written by
//! `yibao-verify init`.

use std::path::Path;

use yibao_shared::PublicKey;
use yibao_verifier::Policy;

pub(crate) use yibao_verifier::terminal_dir::{CONFIG_FILE as FILE, TerminalDir as Loaded};

pub(crate) fn read_root_key(path: &Path) -> anyhow::Result<PublicKey> {
    Ok(yibao_verifier::terminal_dir::read_root_key(path)?)
}

pub(crate) fn load(dir: &Path, policy: Policy) -> anyhow::Result<Loaded> {
    Ok(yibao_verifier::terminal_dir::load(dir, policy)?)
}
