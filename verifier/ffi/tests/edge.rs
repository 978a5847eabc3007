//! The ABI at its edges: a flush waiting on an issuer that never answers does not hold up a
//! check, a second open shares the terminal, closed handles and array requests get error
//! answers, a field settlement would refuse is never queued, a damaged outbox is one verdict
//! and its contained panic goes to the library's log. See: issue 20.
#![allow(unsafe_code)]

mod common;

use std::ffi::{CString, c_char};
use std::net::TcpListener;

use serde_json::Value;
use yibao_tests::sample;
use yibao_verifier::yibao_shared::SecretKey;
use yibao_verifier::{Clock, SystemClock};
use yibao_verifier_ffi::{
    YIBAO_ERROR, YIBAO_OK, YibaoTerminal, yibao_check, yibao_flush, yibao_status,
    yibao_terminal_close, yibao_terminal_open, yibao_terminal_salvage,
};

#[derive(Clone, Copy)]
struct Shared(*mut YibaoTerminal);
// SAFETY: the library documents and implements a handle usable from several threads.
unsafe impl Send for Shared {}

fn call(f: impl FnOnce(*mut *mut c_char) -> i32) -> (i32, Value) {
    let (status, text) = common::call(f);
    (status, serde_json::from_str(&text).expect("a JSON answer"))
}

fn open(dir: &std::path::Path) -> (i32, Value, *mut YibaoTerminal) {
    let request = CString::new(format!("{{\"dir\": \"{}\"}}", dir.display())).expect("c");
    let mut handle = std::ptr::null_mut();
    // SAFETY: valid request and out pointers.
    let (status, answer) =
        call(|out| unsafe { yibao_terminal_open(request.as_ptr(), &mut handle, out) });
    (status, answer, handle)
}

fn check(handle: *mut YibaoTerminal, code: &str, operator: &str) -> (i32, Value) {
    let request = serde_json::json!({
        "code": code,
        "institution": common::INSTITUTION,
        "operator": operator,
        "business_type": "02121",
    })
    .to_string();
    let request = CString::new(request).expect("c");
    // SAFETY: a handle from open (or a closed one: the library looks it up), valid pointers.
    call(|out| unsafe { yibao_check(handle, request.as_ptr(), out) })
}

fn code(issuer: &SecretKey, n: u32) -> String {
    let mut body = sample::body(false);
    body.issued_at = SystemClock.now();
    body.token_id.0[..4].copy_from_slice(&n.to_be_bytes());
    body.sign(issuer).expect("signs")
}

fn status(handle: *mut YibaoTerminal) -> (i32, Value) {
    // SAFETY: as in `check`.
    call(|out| unsafe { yibao_status(handle, out) })
}

#[test]
fn a_check_is_answered_while_a_flush_waits_on_a_silent_issuer() {
    let (root, issuer) = (sample::root_key(), sample::issuer_key());
    let dir = common::terminal_dir(&root, &issuer, SystemClock.now());
    // An issuer that accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let config = dir.path().join("terminal.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    let text = text.replace(
        "http://127.0.0.1:9",
        &format!("http://{}", silent.local_addr().expect("addr")),
    );
    std::fs::write(&config, format!("{text}timeout_secs = 5\n")).expect("config");
    let (status_code, answer, handle) = open(dir.path());
    assert_eq!(status_code, YIBAO_OK, "{answer}");
    let (accepted, answer) = check(handle, &code(&issuer, 1), "op");
    assert_eq!(accepted, YIBAO_OK, "{answer}");

    let shared = Shared(handle);
    let flushing = std::thread::spawn(move || {
        let shared = shared;
        let request = CString::new("{\"timeout_secs\": 1}").expect("c");
        // SAFETY: the open handle, valid pointers.
        call(|out| unsafe { yibao_flush(shared.0, request.as_ptr(), out) })
    });
    // Let the flush reach the network (it holds its request open for the client timeout).
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (accepted, answer) = check(handle, &code(&issuer, 2), "op");
    assert_eq!(accepted, YIBAO_OK, "{answer}");
    let (ok, answer) = status(handle);
    assert_eq!(ok, YIBAO_OK, "{answer}");
    // A second open of the same directory in this process shares the terminal.
    let (second, answer, other) = open(dir.path());
    assert_eq!(second, YIBAO_OK, "{answer}");
    assert!(
        !flushing.is_finished(),
        "check, status and a second open were answered while the flush still waited"
    );
    let (flushed, answer) = flushing.join().expect("flush thread");
    assert_eq!(flushed, YIBAO_ERROR, "{answer}");
    assert_eq!(answer["error"], "issuer-unreachable", "{answer}");
    let (_, answer) = status(other);
    assert_eq!(
        answer["queued"], 2,
        "both visits queued, none lost: {answer}"
    );
    // SAFETY: handles from open; the second close of one is ignored.
    unsafe {
        yibao_terminal_close(other);
        yibao_terminal_close(handle);
        yibao_terminal_close(handle);
    }
    drop(silent);
}

#[test]
fn closed_handles_arrays_and_unpayable_visits_get_error_answers() {
    let (root, issuer) = (sample::root_key(), sample::issuer_key());
    let dir = common::terminal_dir(&root, &issuer, SystemClock.now());
    let (_, _, handle) = open(dir.path());
    // Requests are objects: an array filled by position is refused.
    let array = CString::new(format!(
        "[\"{}\", \"{}\", \"op\", \"02121\"]",
        code(&issuer, 1),
        common::INSTITUTION
    ))
    .expect("c");
    // SAFETY: the open handle, valid pointers.
    let (refused, answer) = call(|out| unsafe { yibao_check(handle, array.as_ptr(), out) });
    assert_eq!(refused, YIBAO_ERROR, "{answer}");
    assert_eq!(answer["error"], "invalid-request", "{answer}");
    // Operators settlement would refuse are refused before anything is recorded.
    for operator in ["a\tb", "a\nb", "a\0b", "", &"x".repeat(65)] {
        let (refused, answer) = check(handle, &code(&issuer, 2), operator);
        assert_eq!(refused, YIBAO_ERROR, "{operator:?}: {answer}");
        assert_eq!(answer["error"], "invalid-field", "{answer}");
        assert_eq!(answer["field"], "operator", "{answer}");
    }
    let (_, answer) = status(handle);
    assert_eq!(
        answer["queued"], 0,
        "nothing unpayable was queued: {answer}"
    );
    let (accepted, answer) = check(handle, &code(&issuer, 2), "收银员 7");
    assert_eq!(accepted, YIBAO_OK, "{answer}");
    // SAFETY: the open handle, closed twice: the second is ignored.
    unsafe {
        yibao_terminal_close(handle);
        yibao_terminal_close(handle);
    }
    let (status_code, answer) = check(handle, &code(&issuer, 3), "op");
    assert_eq!(status_code, YIBAO_ERROR, "{answer}");
    assert_eq!(answer["error"], "invalid-handle", "{answer}");
    let made_up = std::ptr::without_provenance_mut::<YibaoTerminal>(0x1234);
    let (status_code, answer) = status(made_up);
    assert_eq!(answer["error"], "invalid-handle", "{status_code} {answer}");
}

#[test]
fn a_damaged_outbox_is_one_verdict_logged_quietly_and_salvaged() {
    let (root, issuer) = (sample::root_key(), sample::issuer_key());
    let dir = common::terminal_dir(&root, &issuer, SystemClock.now());
    let (_, _, handle) = open(dir.path());
    for n in 1..=12 {
        let (accepted, answer) = check(handle, &code(&issuer, n), "op");
        assert_eq!(accepted, YIBAO_OK, "{answer}");
    }
    // SAFETY: the open handle.
    unsafe { yibao_terminal_close(handle) };
    let path = dir.path().join("outbox.redb");
    let original = std::fs::read(&path).expect("read");
    let mut damaged_pages = 0;
    for page in 1..original.len() / 4096 {
        let mut bytes = original.clone();
        bytes[page * 4096..(page + 1) * 4096].fill(0);
        std::fs::write(&path, &bytes).expect("write");
        let (opened, answer, handle) = open(dir.path());
        if opened != YIBAO_OK {
            assert_eq!(answer["error"], "outbox-damaged", "page {page}: {answer}");
            damaged_pages += 1;
            // Salvage: every visit whose record is intact is queued again, none twice.
            let request =
                CString::new(format!("{{\"dir\": \"{}\"}}", dir.path().display())).expect("c");
            // SAFETY: valid pointers.
            let (salvaged, report) =
                call(|out| unsafe { yibao_terminal_salvage(request.as_ptr(), out) });
            assert_eq!(salvaged, YIBAO_OK, "page {page}: {report}");
            let (reopened, answer, handle) = open(dir.path());
            assert_eq!(
                reopened, YIBAO_OK,
                "page {page}: salvaged outbox opens: {answer}"
            );
            let (_, state) = status(handle);
            assert_eq!(
                state["queued"], report["queued"],
                "page {page}: {report} {state}"
            );
            // Every visit whose record is still in the file (the zeroed page takes the
            // records on it, unless a stale copy lies elsewhere) is salvaged.
            let intact = (1..=12u32)
                .filter(|seq| {
                    let start = format!("{{\"seq\":{seq},");
                    bytes.windows(start.len()).any(|w| w == start.as_bytes())
                })
                .count() as u64;
            assert!(
                report["queued"].as_u64().unwrap_or(0) >= intact && intact > 0,
                "page {page}: {intact} intact visits, salvaged {report}"
            );
            assert!(
                report["replay_entries"].as_u64() >= report["queued"].as_u64(),
                "page {page}: the replay memory came along: {report}"
            );
            // SAFETY: the open handle.
            unsafe { yibao_terminal_close(handle) };
        } else {
            // Healthy by the check at open: then checks and status work too.
            let (ok, answer) = status(handle);
            assert_eq!(ok, YIBAO_OK, "page {page}: {answer}");
            let (accepted, answer) = check(handle, &code(&issuer, 100 + page as u32), "op");
            assert_eq!(accepted, YIBAO_OK, "page {page}: {answer}");
            // SAFETY: the open handle.
            unsafe { yibao_terminal_close(handle) };
        }
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, &original).expect("restore");
    }
    assert!(damaged_pages > 0, "zeroed pages were noticed");
    let log = std::fs::read_to_string(dir.path().join(yibao_verifier_ffi::log::LOG_FILE));
    assert!(
        log.is_ok_and(|l| l.contains("panic contained")),
        "contained panics are in the library's log"
    );
}
