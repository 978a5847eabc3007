//! The web app page (`/app`): plays the phone app. Installable and offline-first: a web app
//! manifest and a service worker (`/app-sw.js`) keep the page and its scripts, so it loads
//! with no network once it has been opened; a P-256 device key it keeps in IndexedDB signs
//! offline codes (离线码) when the issuer does not answer. Everything is served from here (no
//! CDN, no external script, style or font): the QR library is vendored with its license.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};

const APP: &str = include_str!("app/index.html");
const APP_JS: &str = include_str!("app/app.js");
const LOGIN_JS: &str = include_str!("app/login.js");
const SHARES_JS: &str = include_str!("app/shares.js");
const OFFLINE_JS: &str = include_str!("app/offline.js");
const QR_JS: &str = include_str!("app/vendor/qrcode-generator-2.0.4.js");
const SW_JS: &str = include_str!("app/sw.js");
const MANIFEST: &str = include_str!("app/manifest.webmanifest");
const ICON: &str = include_str!("app/icon.svg");

/// The service worker with its cache named after a digest of every asset it keeps: a changed
/// page makes a changed worker, which the browser installs, and which drops the old cache.
static SERVICE_WORKER: LazyLock<String> = LazyLock::new(|| {
    let digest = [
        APP, APP_JS, LOGIN_JS, SHARES_JS, OFFLINE_JS, QR_JS, MANIFEST, ICON,
    ]
    .iter()
    .fold(Sha256::new(), |h, asset| h.chain_update(asset.as_bytes()))
    .finalize();
    let version: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    SW_JS.replace("__ASSETS_VERSION__", &version)
});

/// Nothing from anywhere else: scripts from this origin (the page's own, the vendored QR
/// library, the worker) and inline ones of this file; no framing.
const CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; \
                   style-src 'unsafe-inline'; img-src 'self' data:; worker-src 'self'; \
                   manifest-src 'self'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // Revalidated on every load while online; the service worker answers offline.
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CSP),
        ],
        body,
    )
        .into_response()
}

/// The app page.
#[utoipa::path(get, path = "/app", tag = "holder",
    responses((status = 200, content_type = "text/html", description = "the phone app page")))]
pub async fn app() -> Response {
    asset("text/html; charset=utf-8", APP)
}

/// The page's main script: codes, family, expenses.
pub async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// The page's sign-in script: the device key as the phone's login.
pub async fn login_js() -> Response {
    asset("text/javascript; charset=utf-8", LOGIN_JS)
}

/// The page's 家庭共济 and identity-reads script.
pub async fn shares_js() -> Response {
    asset("text/javascript; charset=utf-8", SHARES_JS)
}

/// The page's offline-code script: device key, certificates, presentations.
pub async fn offline_js() -> Response {
    asset("text/javascript; charset=utf-8", OFFLINE_JS)
}

/// The vendored QR library (qrcode-generator 2.0.4, MIT).
pub async fn qr_js() -> Response {
    asset("text/javascript; charset=utf-8", QR_JS)
}

/// The web app manifest (installable).
pub async fn manifest() -> Response {
    asset("application/manifest+json", MANIFEST)
}

/// The app icon.
pub async fn icon() -> Response {
    asset("image/svg+xml", ICON)
}

/// The service worker, at the root so its scope covers `/app` (it answers only for `/app`
/// and `/app/…`; the API always goes to the network).
pub async fn service_worker() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SERVICE_WORKER.as_str(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worker_names_its_cache_after_the_assets() {
        let worker = SERVICE_WORKER.as_str();
        assert!(!worker.contains("__ASSETS_VERSION__"));
        let name = worker
            .split("\"yibao-app-")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a cache name");
        assert_eq!(name.len(), 12, "{name}");
        assert!(name.bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
        // It precaches the page and every script, the manifest and the icon.
        for asset in [
            "/app",
            "/app/app.js",
            "/app/login.js",
            "/app/shares.js",
            "/app/offline.js",
            "/app/qrcode.js",
            "/app/manifest.webmanifest",
            "/app/icon.svg",
        ] {
            assert!(worker.contains(&format!("\"{asset}\"")), "{asset}");
        }
    }
}
