//! Prints the QR-size table of `docs/token-format.md` §2:
//!
//! ```text
//! cargo run -p yibao-tests --example qr_sizes
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use yibao_shared::codec;
use yibao_tests::peers::{JsonClaims, Jwt, Paseto};
use yibao_tests::qr::{candidates, version_at_m};
use yibao_tests::sample;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let jwt = Jwt::new(&[0x11; 32]);
    let paseto = Paseto::new()?;
    let mut rows: Vec<(String, String, String, Vec<(usize, Option<i16>)>)> = Vec::new();
    for proxy in [false, true] {
        let body = sample::body(proxy);
        let code = body.sign(&sample::issuer_key())?;
        let bytes = codec::decode_digits(&code[codec::PREFIX.len()..])?;
        let claims = JsonClaims::of(&body, now, now + 60);
        for (i, c) in candidates(&bytes, jwt.sign(&claims)?, paseto.sign(&claims)?)
            .into_iter()
            .enumerate()
        {
            if !proxy {
                rows.push((
                    c.name.into(),
                    c.mode.into(),
                    c.wedge_safe.into(),
                    Vec::new(),
                ));
            }
            rows[i]
                .3
                .push((c.text.chars().count(), version_at_m(&c.text)));
        }
        if !proxy {
            println!("token bytes: {} normal", bytes.len());
        } else {
            println!("token bytes: {} with the family-proxy part\n", bytes.len());
        }
    }
    println!(
        "| encoding | QR mode | characters (normal / proxy) | QR version at M (normal / proxy) | keyboard-wedge safe |"
    );
    println!("|---|---|---|---|---|");
    for (name, mode, safe, sizes) in rows {
        let v = |x: Option<i16>| x.map_or("too big".to_owned(), |v| v.to_string());
        println!(
            "| {name} | {mode} | {} / {} | **{}** / **{}** | {safe} |",
            sizes[0].0,
            sizes[1].0,
            v(sizes[0].1),
            v(sizes[1].1)
        );
    }
    Ok(())
}
