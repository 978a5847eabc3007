//! Who may use the cashier page's API: the cashier's own browser, not any web page it visits.
//!
//! Two attacks reach a server on loopback from an ordinary page. **DNS rebinding**: a page at
//! `attacker.example` has its name re-resolved to 127.0.0.1, and its scripts then talk to this
//! server as same-origin (they read the institution and the queue, and post checks). The
//! browser still sends `Host: attacker.example`, so only a `Host` that names no domain is
//! served: `localhost` or an IP literal (which no DNS answer can rebind). **Cross-site
//! requests** (a form posting to `http://127.0.0.1:8090/api/check`): a request that says where
//! it comes from (`Origin`, `Sec-Fetch-Site`) must come from this page itself, and a state
//! change must carry the page's token (`X-Cashier-Token`), a random value made at each start
//! and written into the page, which no other origin can read.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Shared;
use super::api::ApiError;

/// The request header a state-changing call carries the page's token in.
pub(super) const TOKEN_HEADER: &str = "x-cashier-token";

/// A fresh token for this start: 128 random bits, hex.
pub(super) fn new_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness for the page token: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The `--allow-origin` values, checked: `http(s)://host[:port]`, nothing after.
pub(super) fn origins(given: &[String]) -> anyhow::Result<Vec<String>> {
    given
        .iter()
        .map(|o| {
            let o = o.trim_end_matches('/');
            let authority = o
                .strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"));
            match authority {
                Some(a) if !a.is_empty() && !a.contains(['/', '?', '#', ' ']) => Ok(o.to_owned()),
                _ => anyhow::bail!("--allow-origin {o:?}: expected http(s)://host[:port]"),
            }
        })
        .collect()
}

/// Refuses a request from anywhere but the cashier's own page or an allowed HIS (module docs).
pub(super) async fn only_this_page(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let verdict = allowed(
        request.method(),
        request.headers(),
        &shared.page_token,
        &shared.allowed_origins,
    );
    match verdict {
        Ok(()) => next.run(request).await,
        Err(refused) => refused.into_response(),
    }
}

fn allowed(
    method: &Method,
    headers: &HeaderMap,
    token: &str,
    his: &[String],
) -> Result<(), ApiError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| names_no_domain(h))
        .ok_or(ApiError::HostNotAllowed)?;
    let origin = match headers.get(header::ORIGIN) {
        Some(o) => Some(o.to_str().map_err(|_| ApiError::CrossOrigin)?),
        None => None,
    };
    let from_his = origin.is_some_and(|o| his.iter().any(|h| h == o));
    if origin.is_some_and(|o| o != format!("http://{host}") && !from_his) {
        return Err(ApiError::CrossOrigin);
    }
    let site = headers.get("sec-fetch-site").and_then(|s| s.to_str().ok());
    if site.is_some_and(|s| !matches!(s, "same-origin" | "none")) && !from_his {
        return Err(ApiError::CrossOrigin);
    }
    let from_this_page = !from_his && (origin.is_some() || site.is_some());
    let changes_state = !matches!(*method, Method::GET | Method::HEAD);
    if changes_state
        && from_this_page
        && headers.get(TOKEN_HEADER).and_then(|t| t.to_str().ok()) != Some(token)
    {
        return Err(ApiError::PageTokenMissing);
    }
    Ok(())
}

/// `localhost` or an IP literal, with or without a port: a `Host` no DNS answer can point
/// elsewhere.
fn names_no_domain(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        // `[::1]:8090`
        Some(rest) => {
            return rest.split_once(']').is_some_and(|(ip, port)| {
                ip.parse::<std::net::Ipv6Addr>().is_ok() && (port.is_empty() || is_port(port))
            });
        }
        None => match host.rsplit_once(':') {
            Some((name, port)) if is_port(&format!(":{port}")) => name,
            Some(_) => return false,
            None => host,
        },
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::Ipv4Addr>().is_ok()
}

fn is_port(text: &str) -> bool {
    text.strip_prefix(':')
        .is_some_and(|p| !p.is_empty() && p.parse::<u16>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().expect("header value"));
        }
        map
    }

    #[test]
    fn only_hosts_that_name_no_domain_are_served() {
        for host in [
            "127.0.0.1:8090",
            "localhost:8090",
            "LOCALHOST",
            "[::1]:8090",
            "[::1]",
            "192.168.1.20:8090",
            "127.0.0.1",
        ] {
            assert!(names_no_domain(host), "{host}");
        }
        for host in [
            "attacker.example",
            "attacker.example:8090",
            "127.0.0.1.nip.io:8090",
            "localhost.attacker.example",
            "[::1",
            "127.0.0.1:",
            "127.0.0.1:99999",
            "[evil]:80",
            "",
        ] {
            assert!(!names_no_domain(host), "{host}");
        }
    }

    #[test]
    fn a_rebound_or_cross_site_request_is_refused_and_the_page_itself_served() {
        let token = "00ff";
        let his = ["https://his.hospital.example".to_owned()];
        let this_page = headers(&[
            ("host", "127.0.0.1:8090"),
            ("origin", "http://127.0.0.1:8090"),
            ("sec-fetch-site", "same-origin"),
            (TOKEN_HEADER, token),
        ]);
        let served = [
            (Method::POST, this_page),
            (Method::GET, headers(&[("host", "localhost:8090")])),
            // A program on this machine that is no browser.
            (Method::POST, headers(&[("host", "127.0.0.1:8090")])),
            // An allowed HIS page.
            (
                Method::POST,
                headers(&[
                    ("host", "127.0.0.1:8090"),
                    ("origin", "https://his.hospital.example"),
                    ("sec-fetch-site", "cross-site"),
                ]),
            ),
        ];
        for (method, headers) in served {
            assert!(
                allowed(&method, &headers, token, &his).is_ok(),
                "{headers:?}"
            );
        }
        let refused = [
            (
                Method::GET,
                headers(&[("host", "attacker.example:8090")]),
                "host-not-allowed",
            ),
            (Method::GET, headers(&[]), "host-not-allowed"),
            (
                Method::POST,
                headers(&[
                    ("host", "127.0.0.1:8090"),
                    ("origin", "http://attacker.example"),
                    (TOKEN_HEADER, token),
                ]),
                "cross-origin",
            ),
            (
                Method::POST,
                headers(&[
                    ("host", "127.0.0.1:8090"),
                    ("origin", "null"),
                    (TOKEN_HEADER, token),
                ]),
                "cross-origin",
            ),
            (
                Method::POST,
                headers(&[
                    ("host", "127.0.0.1:8090"),
                    ("origin", "https://his.hospital.example.attacker"),
                ]),
                "cross-origin",
            ),
            (
                Method::GET,
                headers(&[("host", "127.0.0.1:8090"), ("sec-fetch-site", "cross-site")]),
                "cross-origin",
            ),
            (
                Method::POST,
                headers(&[
                    ("host", "127.0.0.1:8090"),
                    ("origin", "http://127.0.0.1:8090"),
                ]),
                "page-token",
            ),
            (
                Method::POST,
                headers(&[
                    ("host", "127.0.0.1:8090"),
                    ("sec-fetch-site", "same-origin"),
                    (TOKEN_HEADER, "guess"),
                ]),
                "page-token",
            ),
        ];
        for (method, headers, code) in refused {
            let refusal = allowed(&method, &headers, token, &his).expect_err("refused");
            assert_eq!(refusal.code(), code, "{headers:?}");
        }
    }
}

#[cfg(test)]
mod origin_tests {
    #[test]
    fn allowed_origins_are_bare_origins() {
        let ok = super::origins(&["https://his.example:8443/".into(), "http://10.0.0.5".into()]);
        assert_eq!(
            ok.expect("valid"),
            ["https://his.example:8443", "http://10.0.0.5"]
        );
        for bad in [
            "his.example",
            "https://his.example/app",
            "ftp://x",
            "https://",
        ] {
            assert!(super::origins(&[bad.into()]).is_err(), "{bad}");
        }
    }
}
