//! The web app page (`/app`): plays the phone app. One self-contained file (no CDN, no
//! external script, style or font): it calls the same holder API a phone app calls.

use axum::http::header;
use axum::response::{IntoResponse, Response};

const APP: &str = include_str!("app.html");

/// The app page.
#[utoipa::path(get, path = "/app", tag = "holder",
    responses((status = 200, content_type = "text/html", description = "the phone app page")))]
pub async fn app() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            // Nothing from anywhere else; inline script and style only from this file.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:",
            ),
        ],
        APP,
    )
        .into_response()
}
