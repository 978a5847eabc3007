//! A terminal directory without an issuer, for the ABI's tests and benchmark.
#![allow(dead_code)]

use yibao_verifier::yibao_shared::key_file::{KeyRole, PublicKeyFile};
use yibao_verifier::yibao_shared::{IssuerKey, KeyId, KeyStatus, SecretKey, TrustBundle, UnixTime};
use yibao_verifier::{Policy, Terminal, terminal_dir};

/// The institution of the terminal directories made here.
pub const INSTITUTION: &str = "P11010500002";

/// A terminal directory on tmpfs trusting `issuer`, valid around the real clock.
pub fn terminal_dir(root: &SecretKey, issuer: &SecretKey, now: UnixTime) -> tempfile::TempDir {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "/tmp"
    };
    let dir = tempfile::tempdir_in(base).expect("tempdir");
    std::fs::write(
        dir.path().join(terminal_dir::CONFIG_FILE),
        format!(
            "issuer_url = \"http://127.0.0.1:9\"\ninstitution = \"{INSTITUTION}\"\n\
             credential = \"ybt_bench\"\noperator = \"op\"\nbusiness_type = \"02121\"\n"
        ),
    )
    .expect("config");
    std::fs::write(
        dir.path().join(terminal_dir::ROOT_KEY_FILE),
        PublicKeyFile::new(KeyRole::Root, None, root.public_key()).to_json(),
    )
    .expect("root key");
    let loaded = terminal_dir::load(dir.path(), Policy::default()).expect("terminal dir");
    Terminal::create_outbox(&loaded.config, false, now).expect("outbox");
    let bundle = TrustBundle {
        sequence: 1,
        issued_at: now,
        expires_at: now.saturating_add(86_400),
        keys: vec![IssuerKey {
            key_id: KeyId(1),
            public_key: issuer.public_key(),
            regions: vec![],
            not_before: now.saturating_sub(86_400),
            not_after: now.saturating_add(86_400),
            status: KeyStatus::Active,
        }],
    }
    .sign(root);
    let terminal = Terminal::open(&loaded.config).expect("terminal");
    terminal.install_bundle(&bundle, now).expect("bundle");
    dir
}
