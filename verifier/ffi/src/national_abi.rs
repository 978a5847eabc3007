//! The exported buffer calls, shaped as HIS programs call today's voucher DLL: strings in,
//! the answer written into the caller's buffer, nothing to free. With `abi.rs`, the only
//! `unsafe` code of the crate: reading the caller's strings and writing its buffer. Every
//! entry point catches panics, so nothing unwinds into the caller.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::charset::Charset;
use crate::handle::error_info;
use crate::json_calls::{YIBAO_ERROR, YIBAO_NO_ANSWER, YIBAO_OK};
use crate::national::{self, Outcome, reply};

/// The output buffer was too small: nothing ran (or, for a read, run it again) with a
/// buffer of `*needed` bytes.
pub const YIBAO_BUFFER_TOO_SMALL: i32 = 4;

/// The national-shaped call. `dir` is the terminal directory; `input` is JSON
/// `{"transType", "orgId", "data"}` (`ec.query`, `ec.result`, `yibao.init`, `yibao.sync`,
/// `yibao.flush`, `yibao.status`, `yibao.version`, `yibao.close`); both in the charset set
/// by [`yibao_set_charset`] (UTF-8 unless set). The answer, JSON `{"code", "reason",
/// "message", "messageEn", "data"}` in that charset, is written NUL-terminated into
/// `output` (`output_size` bytes); `*needed` (when `needed` is not null) gets the bytes the
/// answer takes, NUL included.
///
/// Returns `YIBAO_OK` (0), `YIBAO_REJECTED` (1: the code or the visit refused),
/// `YIBAO_ERROR` (2), `YIBAO_NO_ANSWER` (3: `output` is null) or `YIBAO_BUFFER_TOO_SMALL`
/// (4). `ec.query` needs at least 4096 bytes and does not run with less (its answer always
/// fits then, so an accepted code's answer is never lost).
///
/// # Safety
///
/// `dir` and `input` are null or NUL-terminated strings; `output` is null or writable for
/// `output_size` bytes; `needed` is null or a valid pointer to an `int32_t`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn yibao_ec_trans(
    dir: *const c_char,
    input: *const c_char,
    output: *mut c_char,
    output_size: i32,
    needed: *mut i32,
) -> i32 {
    if output.is_null() {
        return YIBAO_NO_ANSWER;
    }
    let room = usize::try_from(output_size).unwrap_or(0);
    let charset = Charset::current();
    let outcome = crate::log::in_call(|| {
        catch_unwind(AssertUnwindSafe(|| {
            let dir = match read(dir, charset, "dir") {
                Ok(d) => d,
                Err(reply) => return Outcome::Answer(reply),
            };
            let input = match read(input, charset, "input") {
                Ok(i) => i,
                Err(reply) => return Outcome::Answer(reply),
            };
            national::trans(&dir, &input, room)
        }))
    })
    .unwrap_or_else(|_| {
        Outcome::Answer(reply::error(&error_info(
            "panic",
            "internal error: the call was stopped; the outbox is intact",
        )))
    });
    // SAFETY: the caller's buffer and needed pointers, as documented.
    unsafe { deliver(outcome, charset, output, room, needed) }
}

/// The library's version: JSON `{"version", "build", "abiVersion", "charset"}` written into
/// `output` as [`yibao_ec_trans`] writes its answers.
///
/// # Safety
///
/// `output` is null or writable for `output_size` bytes; `needed` is null or a valid
/// pointer to an `int32_t`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn yibao_version(
    output: *mut c_char,
    output_size: i32,
    needed: *mut i32,
) -> i32 {
    if output.is_null() {
        return YIBAO_NO_ANSWER;
    }
    let room = usize::try_from(output_size).unwrap_or(0);
    let text = national::setup_version().to_string();
    // SAFETY: the caller's buffer and needed pointers, as documented.
    unsafe {
        deliver(
            Outcome::Answer((YIBAO_OK, text)),
            Charset::current(),
            output,
            room,
            needed,
        )
    }
}

/// Sets the charset of [`yibao_ec_trans`] and [`yibao_version`], in and out, for the whole
/// process: `"UTF-8"` (the default), `"GBK"` (code page 936; characters it lacks are sent
/// as JSON `\u` escapes) or `"GB18030"`. Returns `YIBAO_OK`, or `YIBAO_ERROR` for another
/// name or null (the charset stays).
///
/// # Safety
///
/// `name` is null or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn yibao_set_charset(name: *const c_char) -> i32 {
    if name.is_null() {
        return YIBAO_ERROR;
    }
    // SAFETY: non-null; the caller passes a NUL-terminated string.
    let name = unsafe { CStr::from_ptr(name) };
    match name.to_str().ok().and_then(Charset::parse) {
        Some(charset) => {
            charset.make_current();
            YIBAO_OK
        }
        None => YIBAO_ERROR,
    }
}

/// The caller's string, decoded.
fn read(text: *const c_char, charset: Charset, what: &str) -> Result<String, reply::Reply> {
    if text.is_null() {
        return Err(reply::error(&error_info(
            "null-pointer",
            format!("{what} is null"),
        )));
    }
    // SAFETY: non-null; the caller passes a NUL-terminated string that outlives the call.
    let bytes = unsafe { CStr::from_ptr(text) }.to_bytes();
    charset
        .decode(bytes)
        .map(|t| t.into_owned())
        .ok_or_else(|| {
            let code = if charset == Charset::Utf8 {
                "invalid-utf8"
            } else {
                "invalid-charset"
            };
            reply::error(&error_info(
                code,
                format!("{what} is not {} text", charset.name()),
            ))
        })
}

/// Writes the answer into the caller's buffer, or says how much room it needs.
///
/// # Safety
///
/// `output` is writable for `room` bytes; `needed` is null or valid.
unsafe fn deliver(
    outcome: Outcome,
    charset: Charset,
    output: *mut c_char,
    room: usize,
    needed: *mut i32,
) -> i32 {
    let (status, text, size) = match &outcome {
        Outcome::NeedsRoom(size) => (YIBAO_BUFFER_TOO_SMALL, None, *size),
        Outcome::Answer((status, text)) => {
            let bytes = charset.encode(text);
            let size = bytes.len() + 1;
            (*status, Some(bytes), size)
        }
    };
    if !needed.is_null() {
        // SAFETY: the caller passes a valid pointer to an int32_t (or null, checked).
        unsafe { *needed = i32::try_from(size).unwrap_or(i32::MAX) };
    }
    match text {
        Some(bytes) if size <= room => {
            // SAFETY: `output` holds `room` ≥ `size` bytes; JSON text has no NUL byte.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), output.cast::<u8>(), bytes.len());
                *output.add(bytes.len()) = 0;
            }
            status
        }
        _ => {
            if room > 0 {
                // SAFETY: at least one byte is writable.
                unsafe { *output = 0 };
            }
            YIBAO_BUFFER_TOO_SMALL
        }
    }
}
