//! Building the service from configuration: secrets on disk, store, keys, state.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use yibao_verifier::{Clock, SystemClock};
use zeroize::Zeroizing;

use crate::config::Config;
use crate::domain::context::{Context, Shared};
use crate::domain::limits::RateLimits;
use crate::secrets::{IndexKey, hash_credential, new_credential, random_bytes};
use crate::signing::KeyMaterial;
use crate::store;

/// Reads a secret file, creating it (mode 0600) with `make()` if missing.
fn secret_file(
    path: &Path,
    make: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<Zeroizing<String>> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Ok(text) = std::fs::read_to_string(path) {
        return Ok(Zeroizing::new(text.trim().to_owned()));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let value = Zeroizing::new(make()?);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(value.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(value)
}

/// The index secret (`<data_dir>/index.secret`, created on first use).
///
/// # Errors
///
/// I/O errors, or a file that is not 32+ bytes of base64url.
pub fn index_key(data_dir: &Path) -> anyhow::Result<IndexKey> {
    let text = secret_file(&data_dir.join("index.secret"), || {
        Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
    })?;
    let bytes = URL_SAFE_NO_PAD
        .decode(text.as_bytes())
        .context("index.secret is not base64url")?;
    IndexKey::new(bytes).context("index.secret must hold at least 32 bytes")
}

/// The admin token (`<data_dir>/admin.token`, created on first use).
///
/// # Errors
///
/// I/O errors.
pub fn admin_token(data_dir: &Path) -> anyhow::Result<Zeroizing<String>> {
    secret_file(&data_dir.join("admin.token"), || {
        Ok(new_credential("yba")?.secret.to_string())
    })
}

/// Builds the state from configuration.
///
/// # Errors
///
/// Anything that stops the service from starting, with what to do about it.
pub async fn state(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Context> {
    if config.token_lifetime_secs == 0 {
        anyhow::bail!("token_lifetime_secs must be 1-255");
    }
    // Terminals refuse certificates longer than a week (their default policy).
    if !(1..=168).contains(&config.device_validity_hours) {
        anyhow::bail!("device_validity_hours must be 1-168");
    }
    let store_config = config.store();
    let store = store::open(&store_config)
        .await
        .context("opening the store")?;
    // Nodes sharing a store share the limits too, or a caller would get a quota per node.
    let limits = if config.limits.shared.unwrap_or(store_config.is_shared()) {
        RateLimits::shared(&config.limits, Arc::clone(&store))
    } else {
        RateLimits::local(&config.limits)
    };
    let keys = KeyMaterial::load(&config.keys_dir(), clock.now()).context("loading issuer keys")?;
    let state = Context::new(Shared {
        store,
        keys: Arc::new(RwLock::new(Arc::new(keys))),
        keys_dir: config.keys_dir(),
        index: index_key(&config.data_dir)?,
        clock,
        admin_token: hash_credential(&admin_token(&config.data_dir)?),
        token_lifetime_secs: config.token_lifetime_secs,
        device_validity_hours: config.device_validity_hours,
        handoff_window_secs: config.handoff_window_secs,
        limits: Arc::new(limits),
        certificate_numbers: Default::default(),
        deliveries: tokio_util::task::TaskTracker::new(),
    });
    let pruning = state.clone();
    tokio::spawn(async move {
        // Revocations of expired certificates leave the status list (a day after expiry,
        // well past any terminal's leeway).
        let mut tick = tokio::time::interval(Duration::from_secs(3_600));
        loop {
            tick.tick().await;
            let before = pruning.clock.now().saturating_sub(86_400);
            if let Err(e) = pruning.store.prune_revocations(before).await {
                tracing::warn!(error = %e, "pruning the status list failed; retrying in an hour");
            }
        }
    });
    let limits = Arc::clone(&state.limits);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            limits.forget_idle();
        }
    });
    Ok(state)
}

/// The system clock as the service's clock.
pub fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}
