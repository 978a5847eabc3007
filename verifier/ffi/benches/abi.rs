//! The cost of one check through the C ABI against the same check in Rust, paired:
//!
//! ```text
//! cargo bench -p yibao-verifier-ffi --bench abi
//! ```
//!
//! Each side has its own terminal directory on tmpfs (so the outbox's fsync costs next to
//! nothing and the ratio shows the ABI's own cost: JSON request and answer, C strings), and
//! every check is of a fresh code (a replay would take another path).
//!
//! The second row: a check on a handle whose flush is stalled on an issuer that accepts the
//! connection and never answers, against a check on a handle with no flush (goal: ≤ 1.2;
//! the terminal holds no lock across the network).
#![allow(unsafe_code)]

use std::ffi::{CString, c_char};

use yibao_tests::paired::paired;
use yibao_tests::sample;
use yibao_verifier::yibao_shared::{BusinessType, VisitContext};
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
    through_the_national_call();
    while_a_flush_is_stalled();
}

/// 40,000 distinct codes valid at `now` (each check is of a fresh code, as at a counter).
fn fresh_codes(
    issuer: &yibao_verifier::yibao_shared::SecretKey,
    now: yibao_verifier::yibao_shared::UnixTime,
    salt: u8,
) -> Vec<String> {
    (0..40_000u32)
        .map(|i| {
            let mut body = sample::body(false);
            body.issued_at = now;
            body.token_id.0[..4].copy_from_slice(&i.to_be_bytes());
            body.token_id.0[4] = salt;
            body.sign(issuer).expect("signs")
        })
        .collect()
}

fn through_the_c_abi() {
    let (root, issuer) = (sample::root_key(), sample::issuer_key());
    let now = SystemClock.now();
    let (rust_dir, abi_dir) = (
        terminal_dir(&root, &issuer, now),
        terminal_dir(&root, &issuer, now),
    );
    let codes = |salt| fresh_codes(&issuer, now, salt);
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

/// `ec.query` through `yibao_ec_trans` (national field names, the caller's 8 KB buffer)
/// against the same check in Rust.
fn through_the_national_call() {
    let (root, issuer) = (sample::root_key(), sample::issuer_key());
    let now = SystemClock.now();
    let (rust_dir, abi_dir) = (
        terminal_dir(&root, &issuer, now),
        terminal_dir(&root, &issuer, now),
    );
    let codes = |salt| fresh_codes(&issuer, now, salt);
    let (rust_codes, abi_codes) = (codes(5), codes(6));
    let rust = Terminal::open(
        &yibao_verifier::terminal_dir::load(rust_dir.path(), Policy::default())
            .expect("dir")
            .config,
    )
    .expect("terminal");
    let dir = CString::new(abi_dir.path().display().to_string()).expect("no NUL");
    let requests: Vec<CString> = abi_codes
        .iter()
        .map(|code| {
            CString::new(format!(
                "{{\"transType\":\"ec.query\",\"orgId\":\"{INSTITUTION}\",\"data\":{{\
                 \"businessType\":\"02121\",\"operatorId\":\"op\",\"operatorName\":\"测试收银员\",\
                 \"officeId\":\"A03\",\"officeName\":\"消化内科\",\"deviceType\":\"\",\
                 \"ecQrCode\":\"{code}\"}}}}"
            ))
            .expect("no NUL")
        })
        .collect();
    let business = BusinessType::parse("02121").expect("listed");
    let context = VisitContext {
        operator_name: Some("测试收银员".into()),
        office_id: Some("A03".into()),
        office_name: Some("消化内科".into()),
        device_type: None,
    };
    let mut out = vec![0u8; 8192];
    let (mut r, mut a) = (0, 0);
    paired(
        "ec.query through yibao_ec_trans / the same check in Rust (outbox on tmpfs)",
        || {
            rust.check_with(
                &rust_codes[r],
                "op",
                business,
                context.clone(),
                SystemClock.now(),
            )
            .expect("accepted");
            r += 1;
        },
        || {
            let mut needed = 0;
            // SAFETY: NUL-terminated strings, an 8 KB buffer, a valid `needed`.
            let status = unsafe {
                yibao_verifier_ffi::yibao_ec_trans(
                    dir.as_ptr(),
                    requests[a].as_ptr(),
                    out.as_mut_ptr().cast(),
                    8192,
                    &mut needed,
                )
            };
            assert_eq!(status, 0);
            a += 1;
        },
    );
}

fn while_a_flush_is_stalled() {
    let (root, issuer) = (sample::root_key(), sample::issuer_key());
    let now = SystemClock.now();
    let (idle_dir, stalled_dir) = (
        terminal_dir(&root, &issuer, now),
        terminal_dir(&root, &issuer, now),
    );
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let config = stalled_dir.path().join("terminal.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    let text = text.replace(
        "http://127.0.0.1:9",
        &format!("http://{}", silent.local_addr().expect("addr")),
    );
    std::fs::write(&config, format!("{text}timeout_secs = 600\n")).expect("config");
    let open = |dir: &std::path::Path| {
        let request = CString::new(format!("{{\"dir\": \"{}\"}}", dir.display())).expect("c");
        let mut handle = std::ptr::null_mut();
        let mut answer: *mut c_char = std::ptr::null_mut();
        // SAFETY: valid C strings and out pointers.
        let opened = unsafe {
            yibao_verifier_ffi::yibao_terminal_open(request.as_ptr(), &mut handle, &mut answer)
        };
        assert_eq!(opened, 0);
        // SAFETY: the answer this library returned.
        unsafe { yibao_verifier_ffi::yibao_string_free(answer) };
        handle
    };
    let (idle, stalled) = (open(idle_dir.path()), open(stalled_dir.path()));
    let requests = |salt: u8| -> Vec<CString> {
        fresh_codes(&issuer, now, salt)
            .iter()
            .map(|code| {
                CString::new(format!(
                    "{{\"code\": \"{code}\", \"institution\": \"{INSTITUTION}\", \
                     \"operator\": \"op\", \"business_type\": \"02121\"}}"
                ))
                .expect("no NUL")
            })
            .collect()
    };
    let (idle_requests, stalled_requests) = (requests(3), requests(4));
    let check = |handle, request: &CString| {
        let mut out: *mut c_char = std::ptr::null_mut();
        // SAFETY: a live handle, a valid request and out pointer.
        let status = unsafe { yibao_verifier_ffi::yibao_check(handle, request.as_ptr(), &mut out) };
        assert_eq!(status, 0);
        // SAFETY: the answer this library returned.
        unsafe { yibao_verifier_ffi::yibao_string_free(out) };
    };
    // A queued visit, then a flush that waits on the silent issuer for the whole run.
    check(stalled, &stalled_requests[0]);
    let token = stalled.addr();
    let flushing = std::thread::spawn(move || {
        let handle = std::ptr::without_provenance_mut::<yibao_verifier_ffi::YibaoTerminal>(token);
        let request = CString::new("{\"timeout_secs\": 600}").expect("c");
        let mut out: *mut c_char = std::ptr::null_mut();
        // SAFETY: a live handle (a number the library looks up), valid pointers.
        unsafe { yibao_verifier_ffi::yibao_flush(handle, request.as_ptr(), &mut out) };
        // SAFETY: the answer this library returned.
        unsafe { yibao_verifier_ffi::yibao_string_free(out) };
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (mut i, mut s) = (0, 1);
    paired(
        "check while a flush is stalled on a silent issuer / check with no flush (C ABI)",
        || {
            check(idle, &idle_requests[i]);
            i += 1;
        },
        || {
            check(stalled, &stalled_requests[s]);
            s += 1;
        },
    );
    assert!(!flushing.is_finished(), "the flush was stalled throughout");
    // Closing the listener resets the connection: the flush ends.
    drop(silent);
    let _ = flushing.join();
    // SAFETY: the handles from open, closed once.
    unsafe {
        yibao_verifier_ffi::yibao_terminal_close(idle);
        yibao_verifier_ffi::yibao_terminal_close(stalled);
    }
}
