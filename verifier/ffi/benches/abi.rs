//! The cost of one check through the C ABI against the same check in Rust, paired:
//!
//! ```text
//! cargo bench -p yibao-verifier-ffi --bench abi
//! ```
//!
//! Each side has its own terminal directory on tmpfs (so the outbox's fsync costs next to
//! nothing and the ratio shows the ABI's own cost: JSON request and answer, C strings), and
//! every check is of a fresh code (a replay would take another path).
#![allow(unsafe_code)]

use std::ffi::{CString, c_char};

use yibao_tests::paired::paired;
use yibao_tests::sample;
use yibao_verifier::yibao_shared::key_file::{KeyRole, PublicKeyFile};
use yibao_verifier::yibao_shared::{
    BusinessType, IssuerKey, KeyId, KeyStatus, SecretKey, TrustBundle, UnixTime,
};
use yibao_verifier::{Clock, Policy, SystemClock, Terminal, terminal_dir};

const INSTITUTION: &str = "P11010500002";

fn main() {
    // `cargo bench` passes `--bench`; under `cargo test --benches` only check it builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    println!("| candidate / baseline | median ratio | interquartile range |");
    println!("|---|---|---|");
    through_the_c_abi();
}

/// A terminal directory on tmpfs trusting `issuer`, valid around the real clock.
fn terminal_dir(root: &SecretKey, issuer: &SecretKey, now: UnixTime) -> tempfile::TempDir {
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
    let mut terminal = Terminal::open(&loaded.config).expect("terminal");
    terminal.install_bundle(&bundle, now).expect("bundle");
    dir
}

fn through_the_c_abi() {
    let (root, issuer) = (sample::root_key(), sample::issuer_key());
    let now = SystemClock.now();
    let (rust_dir, abi_dir) = (
        terminal_dir(&root, &issuer, now),
        terminal_dir(&root, &issuer, now),
    );
    let codes = |salt: u8| -> Vec<String> {
        (0..40_000u32)
            .map(|i| {
                let mut body = sample::body(false);
                body.issued_at = now;
                body.token_id.0[..4].copy_from_slice(&i.to_be_bytes());
                body.token_id.0[4] = salt;
                body.sign(&issuer).expect("signs")
            })
            .collect()
    };
    let (rust_codes, abi_codes) = (codes(1), codes(2));
    let rust = Terminal::open(
        &terminal_dir::load(rust_dir.path(), Policy::default())
            .expect("dir")
            .config,
    )
    .expect("terminal");
    let open =
        CString::new(format!("{{\"dir\": \"{}\"}}", abi_dir.path().display())).expect("no NUL");
    let mut handle = std::ptr::null_mut();
    let mut answer: *mut c_char = std::ptr::null_mut();
    // SAFETY: valid C strings and out pointers, as the header documents.
    let opened =
        unsafe { yibao_verifier_ffi::yibao_terminal_open(open.as_ptr(), &mut handle, &mut answer) };
    assert_eq!(opened, 0);
    // SAFETY: the answer this library returned.
    unsafe { yibao_verifier_ffi::yibao_string_free(answer) };
    let business = BusinessType::parse("02121").expect("listed");
    let requests: Vec<CString> = abi_codes
        .iter()
        .map(|code| {
            CString::new(format!(
                "{{\"code\": \"{code}\", \"institution\": \"{INSTITUTION}\", \
                 \"operator\": \"op\", \"business_type\": \"02121\"}}"
            ))
            .expect("no NUL")
        })
        .collect();
    let (mut r, mut a) = (0, 0);
    paired(
        "check through the C ABI / the same check in Rust (outbox on tmpfs)",
        || {
            rust.check(&rust_codes[r], "op", business, SystemClock.now())
                .expect("accepted");
            r += 1;
        },
        || {
            let mut out: *mut c_char = std::ptr::null_mut();
            // SAFETY: a live handle, a valid request and out pointer.
            let status =
                unsafe { yibao_verifier_ffi::yibao_check(handle, requests[a].as_ptr(), &mut out) };
            assert_eq!(status, 0);
            // SAFETY: the answer this library returned.
            unsafe { yibao_verifier_ffi::yibao_string_free(out) };
            a += 1;
        },
    );
    // SAFETY: the handle from open, closed once.
    unsafe { yibao_verifier_ffi::yibao_terminal_close(handle) };
}
