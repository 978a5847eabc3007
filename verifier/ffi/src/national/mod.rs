//! The national-shaped call: one entry point taking the terminal directory and a request
//! `{"transType", "orgId", "data"}`, as HIS programs call today's voucher DLL
//! (`NationEcTrans`). Transaction types:
//!
//! - `ec.query`: a scanned code checked offline and queued (the national field names);
//! - `ec.result`: what became of it once handed off (settlement's `ecToken`);
//! - `yibao.init`: set the terminal directory up and sync (idempotent);
//! - `yibao.sync`, `yibao.flush`, `yibao.status`, `yibao.version`, `yibao.close`.
//!
//! The terminal of a directory stays open between calls (opening the outbox costs
//! milliseconds), until `yibao.close`.

mod query;
pub mod reply;
mod setup;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::handle::{Handle, error_info};
use crate::log::Level;
use reply::Reply;
pub use setup::version as setup_version;

/// The smallest output buffer `ec.query` runs with. Its answer is bounded (every field is),
/// and it must fit: the visit is queued before the answer is written, so an answer lost
/// for want of room would turn the retry into "already used".
pub const YIBAO_EC_QUERY_MIN_BUFFER: usize = 4096;

/// What a call produced: an answer, or the room it needs before it will run.
#[derive(Debug)]
pub enum Outcome {
    /// The status code and the answer's JSON text.
    Answer(Reply),
    /// The call did not run: the output buffer must hold this many bytes.
    NeedsRoom(usize),
}

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(rename = "transType")]
    trans_type: String,
    #[serde(rename = "orgId", default)]
    org_id: Option<String>,
    /// Parsed once its transaction type is known.
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// A transaction's `data` as its type (`null` when absent).
pub(crate) fn data<T: serde::de::DeserializeOwned>(data: Option<&RawValue>) -> Result<T, Reply> {
    serde_json::from_str(data.map_or("null", RawValue::get))
        .map_err(|e| reply::error(&error_info("invalid-request", e)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FlushData {
    #[serde(default)]
    timeout_secs: Option<u64>,
}

/// Terminals the national call opened, by the directory text the caller passes.
static OPEN: Mutex<Option<HashMap<String, Arc<Handle>>>> = Mutex::new(None);

fn cached(dir: &str) -> Result<Arc<Handle>, Reply> {
    let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
    let open = open.get_or_insert_with(HashMap::new);
    if let Some(handle) = open.get(dir) {
        return Ok(Arc::clone(handle));
    }
    let handle = Arc::new(Handle::open(Path::new(dir)).map_err(|e| reply::error(&e))?);
    open.insert(dir.to_owned(), Arc::clone(&handle));
    Ok(handle)
}

fn forget(dir: &str) {
    let removed = OPEN
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_mut()
        .and_then(|open| open.remove(dir));
    drop(removed);
}

/// Runs one national-shaped request for the terminal directory `dir`, with `room` bytes of
/// output buffer.
pub fn trans(dir: &str, input: &str, room: usize) -> Outcome {
    let request: Request<'_> = match serde_json::from_str(input) {
        Ok(r) => r,
        Err(e) => {
            let code = if e.is_syntax() || e.is_eof() {
                "malformed-json"
            } else {
                "invalid-request"
            };
            return Outcome::Answer(reply::error(&error_info(code, e)));
        }
    };
    if request.trans_type == "ec.query" && room < YIBAO_EC_QUERY_MIN_BUFFER {
        return Outcome::NeedsRoom(YIBAO_EC_QUERY_MIN_BUFFER);
    }
    let answer = run(dir, request);
    let level = match answer.0 {
        crate::json_calls::YIBAO_OK | crate::json_calls::YIBAO_REJECTED => Level::Debug,
        _ => Level::Warn,
    };
    if crate::log::enabled(level) {
        // The stable codes only: never the code, a name or a credential.
        let reason = serde_json::from_str::<Value>(&answer.1)
            .ok()
            .and_then(|v| v["reason"].as_str().map(str::to_owned))
            .unwrap_or_default();
        crate::log::write(level, &format!("{dir}: returned {} {reason}", answer.0));
    }
    Outcome::Answer(answer)
}

fn run(dir: &str, request: Request<'_>) -> Reply {
    let handle = match request.trans_type.as_str() {
        "yibao.init" => {
            forget(dir);
            return match setup::init(Path::new(dir), request.data) {
                Ok((handle, answer)) => {
                    OPEN.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get_or_insert_with(HashMap::new)
                        .insert(dir.to_owned(), Arc::new(handle));
                    answer
                }
                Err(answer) => answer,
            };
        }
        "yibao.version" => return reply::ok(&setup::version()),
        "yibao.close" => {
            forget(dir);
            return reply::ok(&Value::Null);
        }
        "ec.query" | "ec.result" | "yibao.sync" | "yibao.flush" | "yibao.status" => {
            match cached(dir) {
                Ok(handle) => handle,
                Err(answer) => return answer,
            }
        }
        other => {
            return reply::error(&error_info(
                "unknown-trans-type",
                format!("unknown transType {other:?}"),
            ));
        }
    };
    let done = |result: Result<Value, crate::handle::ErrorInfo>| match result {
        Ok(value) => reply::ok(&value),
        Err(e) => reply::error(&e),
    };
    match request.trans_type.as_str() {
        "ec.query" => query::query(&handle, request.org_id.as_deref(), request.data),
        "ec.result" => query::result(&handle, request.data),
        "yibao.sync" => done(handle.sync()),
        "yibao.status" => done(handle.status()),
        _ => {
            let flush: Option<FlushData> = match data(request.data) {
                Ok(f) => f,
                Err(answer) => return answer,
            };
            let timeout = flush
                .and_then(|f| f.timeout_secs)
                .unwrap_or_else(crate::json_calls::default_flush_secs);
            done(handle.flush(timeout))
        }
    }
}
