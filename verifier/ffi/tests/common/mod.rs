//! A terminal directory without an issuer, for the ABI's tests and benchmark.
#![allow(dead_code)]

use yibao_verifier::yibao_shared::key_file::{KeyRole, PublicKeyFile};
use yibao_verifier::yibao_shared::{IssuerKey, KeyId, KeyStatus, SecretKey, TrustBundle, UnixTime};
use yibao_verifier::{Policy, Terminal, terminal_dir};

/// Runs one ABI call that writes an answer, and returns its status and the answer's text
/// (freed here).
pub fn call(f: impl FnOnce(*mut *mut std::ffi::c_char) -> i32) -> (i32, String) {
    let mut out: *mut std::ffi::c_char = std::ptr::null_mut();
    let status = f(&mut out);
    // SAFETY: the library wrote a NUL-terminated string, freed right after.
    let text = unsafe { std::ffi::CStr::from_ptr(out) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: the answer this library returned, freed once.
    unsafe { yibao_verifier_ffi::yibao_string_free(out) };
    (status, text)
}

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
