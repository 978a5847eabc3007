//! Configuration: defaults, then an optional TOML file, then `YIBAO__…` environment variables
//! (e.g. `YIBAO__LISTEN=127.0.0.1:9000`, `YIBAO__STORE__TYPE=redis`,
//! `YIBAO__STORE__URL=redis://127.0.0.1:6379/0`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::limits::Limits;
use crate::store::StoreConfig;

/// The issuer's configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to serve on.
    pub listen: SocketAddr,
    /// Where secrets (index key, admin token) and the embedded store live.
    pub data_dir: PathBuf,
    /// Key directory of `yibao-keys` (issuer keys, keyring, signed bundle). Default
    /// `<data_dir>/keys`.
    #[serde(default)]
    pub keys_dir: Option<PathBuf>,
    /// Storage backend. Default: embedded in `<data_dir>/store`.
    #[serde(default)]
    pub store: Option<StoreConfig>,
    /// Lifetime of issued tokens in seconds (1–255).
    pub token_lifetime_secs: u8,
    /// Validity of device certificates in hours (1–168; default 72, so a phone that went
    /// offline with fresh certificates shows codes through a weekend outage).
    pub device_validity_hours: u8,
    /// How long after a code's expiry a terminal that verified it offline may still hand it
    /// to settlement (default 7 days: a terminal cut off for a week loses nothing).
    pub handoff_window_secs: u64,
    /// Request limits.
    pub limits: Limits,
}

impl Config {
    /// Loads defaults, `file` if given, then the environment.
    ///
    /// # Errors
    ///
    /// A file or variable that does not parse.
    pub fn load(file: Option<&Path>) -> Result<Self, config::ConfigError> {
        let mut builder = config::Config::builder()
            .set_default("listen", "127.0.0.1:8080")?
            .set_default("data_dir", "data")?
            .set_default("token_lifetime_secs", 60)?
            .set_default(
                "device_validity_hours",
                crate::domain::devices::DEFAULT_VALIDITY_HOURS,
            )?
            .set_default(
                "handoff_window_secs",
                crate::domain::settlement::DEFAULT_HANDOFF_WINDOW_SECS,
            )?
            .set_default("limits.body_bytes", 16 * 1024)?
            .set_default("limits.request_timeout_ms", 5_000)?
            .set_default("limits.channel_per_sec", 100)?
            .set_default("limits.holder_per_min", 30)?
            .set_default("limits.binds_per_day", 10)?
            .set_default("limits.person_info_per_min", 30)?;
        if let Some(file) = file {
            builder = builder.add_source(config::File::from(file));
        }
        builder
            .add_source(
                config::Environment::with_prefix("YIBAO")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()?
            .try_deserialize()
    }

    /// The key directory.
    pub fn keys_dir(&self) -> PathBuf {
        self.keys_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys"))
    }

    /// The store configuration.
    pub fn store(&self) -> StoreConfig {
        self.store.clone().unwrap_or_else(|| StoreConfig::Embedded {
            path: self.data_dir.join("store"),
        })
    }
}
