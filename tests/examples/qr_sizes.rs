//! Prints the QR-size table of `docs/token-format.md` §2:
//!
//! ```text
//! cargo run -p yibao-tests --example qr_sizes
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use yibao_shared::codec;
use yibao_tests::peers::{JsonClaims, Jwt, Paseto};
use yibao_tests::qr::{Candidate, candidates, version_at_m};
use yibao_tests::sample;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let normal = encodings(false)?;
    let proxy = encodings(true)?;
    println!(
        "| encoding | QR mode | characters (normal / proxy) | QR version at M (normal / proxy) | keyboard-wedge safe |"
    );
    println!("|---|---|---|---|---|");
    let version =
        |c: &Candidate| version_at_m(&c.text).map_or("too big".to_owned(), |v| v.to_string());
    for (n, p) in normal.iter().zip(&proxy) {
        println!(
            "| {} | {} | {} / {} | **{}** / **{}** | {} |",
            n.name,
            n.mode,
            n.text.chars().count(),
            p.text.chars().count(),
            version(n),
            version(p),
            n.wedge_safe
        );
    }
    // Kind 2 (离线码): the same claims in a device certificate, plus a presentation the
    // phone signs with its P-256 key.
    let (device, device_proxy) = (sample::device_code(false), sample::device_code(true));
    let bytes = |code: &str| codec::decode_digits(&code[codec::PREFIX.len()..]).map(|b| b.len());
    println!(
        "| yibao kind 2, device-bound ({} / {} bytes) | numeric | {} / {} | **{}** / **{}** | yes (digits only) |",
        bytes(&device)?,
        bytes(&device_proxy)?,
        device.len(),
        device_proxy.len(),
        version_at_m(&device).map_or("too big".to_owned(), |v| v.to_string()),
        version_at_m(&device_proxy).map_or("too big".to_owned(), |v| v.to_string()),
    );
    Ok(())
}

fn encodings(proxy: bool) -> Result<Vec<Candidate>, Box<dyn std::error::Error>> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let body = sample::body(proxy);
    let code = body.sign(&sample::issuer_key())?;
    let bytes = codec::decode_digits(&code[codec::PREFIX.len()..])?;
    println!(
        "token bytes ({}): {}",
        if proxy { "family proxy" } else { "normal" },
        bytes.len()
    );
    let claims = JsonClaims::of(&body, now, now + 60);
    let jwt = Jwt::new(&[0x11; 32]).sign(&claims)?;
    let paseto = Paseto::new()?.sign(&claims)?;
    Ok(candidates(&bytes, jwt, paseto))
}
