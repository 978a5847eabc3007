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
use yibao_verifier::yibao_shared::BusinessType;
use yibao_verifier::{Clock, Policy, SystemClock, Terminal};

#[path = "../tests/common/mod.rs"]
mod common;

use common::{INSTITUTION, terminal_dir};

fn main() {
    // `cargo bench` passes `--bench`; under `cargo test --benches` only check it builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    println!("| candidate / baseline | median ratio | interquartile range |");
    println!("|---|---|---|");
    through_the_c_abi();
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
        &yibao_verifier::terminal_dir::load(rust_dir.path(), Policy::default())
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
