//! One terminal handle used from several threads at once: every check is answered, every
//! accepted visit is in the outbox once, and a code raced from two threads is accepted once.
#![allow(unsafe_code)]

mod common;

use std::ffi::{CString, c_char};

use yibao_tests::sample;
use yibao_verifier::{Clock, SystemClock};
use yibao_verifier_ffi::{
    YIBAO_OK, YIBAO_REJECTED, YibaoTerminal, yibao_check, yibao_status, yibao_terminal_close,
    yibao_terminal_open,
};

/// The handle as something threads may share (the ABI serialises calls on it).
#[derive(Clone, Copy)]
struct Shared(*mut YibaoTerminal);
// SAFETY: the library documents and implements a handle usable from several threads.
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

fn call(f: impl FnOnce(*mut *mut c_char) -> i32) -> (i32, String) {
    common::call(f)
}

#[test]
fn one_handle_serves_several_threads() {
    let (root, issuer) = (sample::root_key(), sample::issuer_key());
    let now = SystemClock.now();
    let dir = common::terminal_dir(&root, &issuer, now);
    let open = CString::new(format!("{{\"dir\": \"{}\"}}", dir.path().display())).expect("c");
    let mut handle = std::ptr::null_mut();
    let (status, text) =
        // SAFETY: valid request and out pointers.
        call(|out| unsafe { yibao_terminal_open(open.as_ptr(), &mut handle, out) });
    assert_eq!(status, YIBAO_OK, "{text}");
    let shared = Shared(handle);
    let request = |i: u32| {
        let mut body = sample::body(false);
        body.issued_at = now;
        body.token_id.0[..4].copy_from_slice(&i.to_be_bytes());
        let code = body.sign(&issuer).expect("signs");
        CString::new(format!(
            "{{\"code\": \"{code}\", \"institution\": \"{}\", \"operator\": \"op\", \
             \"business_type\": \"02121\"}}",
            common::INSTITUTION
        ))
        .expect("c")
    };
    let raced = request(999);
    let results: Vec<Vec<i32>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4u32)
            .map(|t| {
                let (request, raced) = (&request, &raced);
                scope.spawn(move || {
                    let shared = shared;
                    let mut statuses = Vec::new();
                    for i in 0..10 {
                        let req = request(t * 100 + i);
                        // SAFETY: a live handle shared across threads, a valid request.
                        statuses.push(
                            call(|out| unsafe { yibao_check(shared.0, req.as_ptr(), out) }).0,
                        );
                    }
                    // SAFETY: as above.
                    statuses
                        .push(call(|out| unsafe { yibao_check(shared.0, raced.as_ptr(), out) }).0);
                    statuses
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("no panic"))
            .collect()
    });
    let all: Vec<i32> = results.into_iter().flatten().collect();
    assert_eq!(
        all.iter().filter(|s| **s == YIBAO_OK).count(),
        41,
        "{all:?}"
    );
    assert_eq!(
        all.iter().filter(|s| **s == YIBAO_REJECTED).count(),
        3,
        "{all:?}"
    );
    // SAFETY: a live handle.
    let (status, text) = call(|out| unsafe { yibao_status(handle, out) });
    assert_eq!(status, YIBAO_OK);
    assert!(text.contains("\"queued\":41"), "{text}");
    // SAFETY: closed once.
    unsafe { yibao_terminal_close(handle) };
}
