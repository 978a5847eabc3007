//! The exported C functions. The only `unsafe` code of the crate: reading the caller's
//! NUL-terminated strings, writing the answer pointer, and owning the handle and answer
//! allocations. Every entry point catches panics, so nothing unwinds into the caller.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use crate::handle::{Answer, Handle, YIBAO_NO_ANSWER, error};

/// An open terminal directory. Opaque to C; made by [`yibao_terminal_open`], freed by
/// [`yibao_terminal_close`].
#[derive(Debug)]
pub struct YibaoTerminal(Handle);

/// The ABI version: 1 for the functions of this header. A later incompatible ABI gets a new
/// number (and new symbol names); additions keep it.
#[unsafe(no_mangle)]
pub extern "C" fn yibao_abi_version() -> u32 {
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
pub unsafe extern "C" fn yibao_terminal_open(
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
        let (handle, value) = Handle::open(request)?;
        let boxed = Box::into_raw(Box::new(YibaoTerminal(handle)));
        // SAFETY: checked non-null above; the caller owns the handle from here on.
        unsafe { *terminal = boxed };
        Ok((crate::handle::YIBAO_OK, value))
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
pub unsafe extern "C" fn yibao_check(
    terminal: *const YibaoTerminal,
    request: *const c_char,
    answer: *mut *mut c_char,
) -> i32 {
    guarded(answer, || {
        // SAFETY: as documented, a live handle or null.
        let handle = unsafe { handle(terminal) }?;
        Ok(handle.check(read(request)?))
    })
}

/// The terminal's state: bundle, status list, queue.
///
/// # Safety
///
/// As [`yibao_check`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn yibao_status(
    terminal: *const YibaoTerminal,
    answer: *mut *mut c_char,
) -> i32 {
    guarded(answer, || {
        // SAFETY: as documented, a live handle or null.
        Ok(unsafe { handle(terminal) }?.status())
    })
}

/// Fetches the trust bundle and the status list from the issuer.
///
/// # Safety
///
/// As [`yibao_check`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn yibao_sync(
    terminal: *const YibaoTerminal,
    answer: *mut *mut c_char,
) -> i32 {
    guarded(answer, || {
        // SAFETY: as documented, a live handle or null.
        Ok(unsafe { handle(terminal) }?.sync())
    })
}

/// Hands queued visits to settlement. `request` is null (60 s) or JSON
/// `{"timeout_secs": n}`.
///
/// # Safety
///
/// As [`yibao_check`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn yibao_flush(
    terminal: *const YibaoTerminal,
    request: *const c_char,
    answer: *mut *mut c_char,
) -> i32 {
    guarded(answer, || {
        // SAFETY: as documented, a live handle or null.
        let handle = unsafe { handle(terminal) }?;
        let request = if request.is_null() {
            None
        } else {
            Some(read(request)?)
        };
        Ok(handle.flush(request))
    })
}

/// One queued visit, `{"queued": n}` as a check answered: its settlement reference once
/// settled (`outcome`).
///
/// # Safety
///
/// As [`yibao_check`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn yibao_presentation(
    terminal: *const YibaoTerminal,
    request: *const c_char,
    answer: *mut *mut c_char,
) -> i32 {
    guarded(answer, || {
        // SAFETY: as documented, a live handle or null.
        let handle = unsafe { handle(terminal) }?;
        Ok(handle.presentation(read(request)?))
    })
}

/// Closes a terminal handle. Null is ignored.
///
/// # Safety
///
/// `terminal` is null or a handle from [`yibao_terminal_open`], not used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn yibao_terminal_close(terminal: *mut YibaoTerminal) {
    if terminal.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: made by Box::into_raw in `yibao_terminal_open`, closed once.
        drop(unsafe { Box::from_raw(terminal) });
    }));
}

/// Frees an answer string. Null is ignored.
///
/// # Safety
///
/// `answer` is null or a string this library returned, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn yibao_string_free(answer: *mut c_char) {
    if answer.is_null() {
        return;
    }
    // SAFETY: made by CString::into_raw in `write_answer`, freed once.
    drop(unsafe { CString::from_raw(answer) });
}

/// The handle behind a pointer.
///
/// # Safety
///
/// `terminal` is null or a live handle.
unsafe fn handle<'a>(terminal: *const YibaoTerminal) -> Result<&'a Handle, Answer> {
    // SAFETY: the caller's contract.
    unsafe { terminal.as_ref() }
        .map(|t| &t.0)
        .ok_or_else(|| error("null-pointer", "terminal is null"))
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
    let (status, value) = match catch_unwind(AssertUnwindSafe(work)) {
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
