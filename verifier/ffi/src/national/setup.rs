//! `yibao.init` (what `yibao-verify init` and `sync` do, from the hospital system) and the
//! library's version.

use std::path::Path;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use yibao_verifier::yibao_shared::BusinessType;
use yibao_verifier::{Clock, OutboxCreated, SystemClock, terminal_dir};

use super::reply::{self, Reply};
use crate::handle::{ErrorInfo, Handle, error_info};
use crate::log::Level;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InitData {
    issuer_url: String,
    credential: String,
    org_id: String,
    /// The root public key file the operator handed out (a path).
    root_key_file: String,
    #[serde(default = "default_operator")]
    operator_id: String,
    #[serde(default = "default_business_type")]
    business_type: String,
    #[serde(default)]
    reset_outbox: bool,
    #[serde(default)]
    log_level: Option<String>,
    /// Fetch the trust bundle and status list now (default yes).
    #[serde(default = "yes")]
    sync: bool,
}

fn default_operator() -> String {
    "cashier".into()
}

fn default_business_type() -> String {
    "02121".into()
}

fn yes() -> bool {
    true
}

/// Sets the terminal directory `dir` up (idempotent: the same settings again change
/// nothing and keep the outbox), then syncs. Returns the handle to cache.
pub fn init(dir: &Path, data: Option<&RawValue>) -> Result<(Handle, Reply), Reply> {
    let data: InitData = super::data(data)?;
    if let Some(level) = &data.log_level {
        let level = Level::parse(level).ok_or_else(|| {
            reply::error(&error_info(
                "invalid-setting",
                "logLevel is one of off, error, warn, info, debug",
            ))
        })?;
        crate::log::set_level(level);
    }
    let business_type = BusinessType::parse(&data.business_type).ok_or_else(|| {
        reply::error(&error_info(
            "invalid-business-type",
            "expected a national 5-digit business type such as 01301 or 02121",
        ))
    })?;
    let root_key = std::fs::read_to_string(&data.root_key_file).map_err(|e| {
        reply::error(&error_info(
            "invalid-setting",
            format!("reading rootKeyFile: {e}"),
        ))
    })?;
    let settings = terminal_dir::SetUp {
        issuer_url: &data.issuer_url,
        institution: &data.org_id,
        credential: &data.credential,
        root_key: &root_key,
        operator: &data.operator_id,
        business_type,
        reset_outbox: data.reset_outbox,
    };
    let created = terminal_dir::set_up(dir, &settings, SystemClock.now())
        .map_err(|e| reply::error(&dir_error(&e)))?;
    crate::log::set_dir(dir);
    let handle = Handle::open(dir).map_err(|e| reply::error(&e))?;
    let outbox = match created {
        OutboxCreated::New => "created",
        OutboxCreated::Kept => "kept",
        OutboxCreated::Reset { .. } => "reset",
    };
    let synced = if data.sync {
        match handle.sync() {
            Ok(value) => value,
            // Set up, but not synced: the answer says so; calling init again is harmless.
            Err(e) => return Err(reply::error(&e)),
        }
    } else {
        Value::Null
    };
    crate::log::write(Level::Info, &format!("yibao.init: outbox {outbox}"));
    let answer = reply::ok(&json!({
        "orgId": handle.institution(),
        "outbox": outbox,
        "sync": synced,
        "abiVersion": crate::YIBAO_ABI_VERSION,
    }));
    Ok((handle, answer))
}

fn dir_error(e: &terminal_dir::DirError) -> ErrorInfo {
    error_info(e.code(), e)
}

/// The library's version, build and ABI version.
pub fn version() -> Value {
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "build": crate::BUILD,
        "abiVersion": crate::YIBAO_ABI_VERSION,
        "charset": crate::charset::Charset::current().name(),
    })
}
