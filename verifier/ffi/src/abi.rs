//! The exported C functions. The only `unsafe` code of the crate: reading the caller's
//! NUL-terminated strings, writing the answer and handle pointers, and owning the answer
//! allocations. Every entry point catches panics, so nothing unwinds into the caller.
//!
//! A handle is not an address: it is a number in a table of open handles, never reused, so
//! a call with a closed, doubly closed or made-up handle finds nothing and answers
//! `invalid-handle` instead of touching freed memory.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::handle::Handle;
use crate::json_calls::{self, Answer, YIBAO_NO_ANSWER, error};

/// An open terminal directory. Opaque to C, and never dereferenced: the pointer value is a
/// handle number made by [`yibao_terminal_open`] and ended by [`yibao_terminal_close`].
#[derive(Debug)]
pub struct YibaoTerminal {
    _opaque: [u8; 0],
}

/// Open handles by number.
static HANDLES: Mutex<Option<HashMap<usize, Arc<Handle>>>> = Mutex::new(None);
/// The next handle number: odd and large, so neither NULL nor a small integer a caller
/// might pass by mistake is ever one.
static NEXT_HANDLE: AtomicUsize = AtomicUsize::new(0x5942_0001);

/// The ABI version: 1 for the functions of this header. A later incompatible ABI gets a new
/// number (and new symbol names); additions keep it.
#[unsafe(no_mangle)]
pub extern "system" fn yibao_abi_version() -> u32 {
    crate::YIBAO_ABI_VERSION
}

/// Opens a terminal directory set up by `yibao-verify init`. `request` is JSON
/// `{"dir": "<path>"}`. On success writes the handle to `*terminal` and returns 0.
///
/// # Safety
///
/// `request` is null or a NUL-terminated string; `terminal` and `answer` are null or valid
/// pointers to writable pointers.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn yibao_terminal_open(
    request: *const c_char,
    terminal: *mut *mut YibaoTerminal,
    answer: *mut *mut c_char,
) -> i32 {
    if !terminal.is_null() {
        // SAFETY: the caller passes a valid pointer to a writable pointer (or null).
        unsafe { *terminal = ptr::null_mut() };
    }
    guarded(answer, || {
        let request = read(request)?;
        if terminal.is_null() {
            return Err(error(
                "null-pointer",
                "terminal (the handle's out pointer) is null",
            ));
        }
        let (handle, value) = json_calls::open(request)?;
        let number = NEXT_HANDLE.fetch_add(2, Ordering::Relaxed);
        HANDLES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(HashMap::new)
            .insert(number, Arc::new(handle));
        // The number travels as a pointer value (it is never dereferenced).
        let token = ptr::without_provenance_mut::<YibaoTerminal>(number);
        // SAFETY: checked non-null above; the caller passes a valid pointer to a pointer.
        unsafe { *terminal = token };
        Ok((json_calls::YIBAO_OK, value))
    })
}

/// Checks a code: JSON `{"code", "institution", "operator", "business_type"}`. Returns 0
/// accepted (queued durably before this returns), 1 rejected (a verdict), 2 error.
///
/// # Safety
///
/// `terminal` is null or a handle from [`yibao_terminal_open`] not yet closed; `request` is
/// null or a NUL-terminated string; `answer` is null or a valid pointer to a writable pointer.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn yibao_check(
    terminal: *const YibaoTerminal,
    request: *const c_char,
    answer: *mut *mut c_char,
) -> i32 {
    guarded(answer, || {
        let handle = handle(terminal)?;
        Ok(json_calls::check(&handle, read(request)?))
    })
}

/// The terminal's state: bundle, status list, queue.
///
/// # Safety
///
/// As [`yibao_check`].
#[unsafe(no_mangle)]
pub unsafe extern "system" fn yibao_status(
    terminal: *const YibaoTerminal,
    answer: *mut *mut c_char,
) -> i32 {
    guarded(answer, || Ok(json_calls::status(&*handle(terminal)?)))
}

/// Fetches the trust bundle and the status list from the issuer.
///
/// # Safety
///
/// As [`yibao_check`].
#[unsafe(no_mangle)]
pub unsafe extern "system" fn yibao_sync(
    terminal: *const YibaoTerminal,
    answer: *mut *mut c_char,
) -> i32 {
    guarded(answer, || Ok(json_calls::sync(&*handle(terminal)?)))
}

/// Hands queued visits to settlement. `request` is null (60 s) or JSON
/// `{"timeout_secs": n}`.
///
/// # Safety
///
/// As [`yibao_check`].
#[unsafe(no_mangle)]
pub unsafe extern "system" fn yibao_flush(
    terminal: *const YibaoTerminal,
    request: *const c_char,
    answer: *mut *mut c_char,
) -> i32 {
    guarded(answer, || {
        let handle = handle(terminal)?;
        let request = if request.is_null() {
            None
        } else {
            Some(read(request)?)
        };
        Ok(json_calls::flush(&handle, request))
    })
}

/// One queued visit, `{"queued": n}` as a check answered: its settlement reference once
/// settled (`outcome`).
///
/// # Safety
///
/// As [`yibao_check`].
#[unsafe(no_mangle)]
pub unsafe extern "system" fn yibao_presentation(
    terminal: *const YibaoTerminal,
    request: *const c_char,
    answer: *mut *mut c_char,
) -> i32 {
    guarded(answer, || {
        let handle = handle(terminal)?;
        Ok(json_calls::presentation(&handle, read(request)?))
    })
}

/// Salvages a damaged outbox into a new one: every readable queued visit, the history, the
/// replay memory and the clock mark; the damaged file is kept aside. `request` is JSON
/// `{"dir": "<path>"}`; no handle may have that directory open (close them first). The
/// answer says what was copied and what could not be read.
///
/// # Safety
///
/// `request` is null or a NUL-terminated string; `answer` is null or a valid pointer to a
/// writable pointer.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn yibao_terminal_salvage(
    request: *const c_char,
    answer: *mut *mut c_char,
) -> i32 {
    guarded(answer, || Ok(json_calls::salvage(read(request)?)))
}

/// Closes a terminal handle. Null, an unknown and an already closed handle are ignored. A
/// call still running on another thread finishes first; calls made after this answer
/// `invalid-handle`.
///
/// # Safety
///
/// None beyond passing a value this library gave or null: the handle is looked up, never
/// dereferenced.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn yibao_terminal_close(terminal: *mut YibaoTerminal) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let removed = HANDLES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
            .and_then(|handles| handles.remove(&terminal.addr()));
        drop(removed);
    }));
}

/// Frees an answer string. Null is ignored.
///
/// # Safety
///
/// `answer` is null or a string this library returned, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn yibao_string_free(answer: *mut c_char) {
    if answer.is_null() {
        return;
    }
    // SAFETY: made by CString::into_raw in `write_answer`, freed once.
    drop(unsafe { CString::from_raw(answer) });
}

/// The open handle behind a handle value.
fn handle(terminal: *const YibaoTerminal) -> Result<Arc<Handle>, Answer> {
    if terminal.is_null() {
        return Err(error("null-pointer", "terminal is null"));
    }
    HANDLES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .and_then(|handles| handles.get(&terminal.addr()).cloned())
        .ok_or_else(|| {
            error(
                "invalid-handle",
                "the terminal handle is closed or was never opened",
            )
        })
}

/// The caller's request text: non-null, NUL-terminated, UTF-8.
fn read<'a>(request: *const c_char) -> Result<&'a str, Answer> {
    if request.is_null() {
        return Err(error("null-pointer", "request is null"));
    }
    // SAFETY: non-null; the caller passes a NUL-terminated string that outlives the call.
    unsafe { CStr::from_ptr(request) }
        .to_str()
        .map_err(|e| error("invalid-utf8", e))
}

/// Runs `work` with panics contained, writes its answer to `*answer`, returns its status.
fn guarded(answer: *mut *mut c_char, work: impl FnOnce() -> Result<Answer, Answer>) -> i32 {
    if answer.is_null() {
        return YIBAO_NO_ANSWER;
    }
    let (status, value) = match crate::log::in_call(|| catch_unwind(AssertUnwindSafe(work))) {
        Ok(Ok(answer) | Err(answer)) => answer,
        Err(_) => error(
            "panic",
            "internal error: the call was stopped; the outbox is intact",
        ),
    };
    write_answer(answer, value);
    status
}

fn write_answer(answer: *mut *mut c_char, value: String) {
    // JSON text never holds a NUL byte (serde_json escapes U+0000).
    let text = CString::new(value).unwrap_or_default();
    // SAFETY: checked non-null by `guarded`; the caller frees it with `yibao_string_free`.
    unsafe { *answer = text.into_raw() };
}
