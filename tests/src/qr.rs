//! QR symbol sizes of candidate text encodings.

use qrcode::{EcLevel, QrCode, Version};

/// The QR version (1–40) `text` needs at error-correction level M, with the segment modes the
/// `qrcode` crate's optimiser picks; `None` if it does not fit at all.
pub fn version_at_m(text: &str) -> Option<i16> {
    match QrCode::with_error_correction_level(text, EcLevel::M)
        .ok()?
        .version()
    {
        Version::Normal(v) | Version::Micro(v) => Some(v),
    }
}

/// Base45 (RFC 9285): 2 bytes in 3 characters of the QR alphanumeric set. Written here only
/// to measure it; no production code uses it.
pub fn base45(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    let mut out = String::new();
    for pair in bytes.chunks(2) {
        let mut n = pair
            .iter()
            .fold(0usize, |acc, b| acc * 256 + usize::from(*b));
        let digits = if pair.len() == 2 { 3 } else { 2 };
        for _ in 0..digits {
            out.push(char::from(ALPHABET[n % 45]));
            n /= 45;
        }
    }
    out
}

/// One candidate text form of a token and whether keyboard-wedge scanners type it safely.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Name for the table.
    pub name: &'static str,
    /// QR mode the text ends up in.
    pub mode: &'static str,
    /// Whether every character is a digit (types the same under any layout or input method).
    pub wedge_safe: &'static str,
    /// The text.
    pub text: String,
}

/// Every candidate encoding of the same signed token bytes, plus the peers' own formats of
/// the same claims.
pub fn candidates(token_bytes: &[u8], jwt: String, paseto: String) -> Vec<Candidate> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token_bytes);
    let hex: String = token_bytes.iter().map(|b| format!("{b:02X}")).collect();
    vec![
        Candidate {
            name: "yibao: prefix 96 + 7-byte/17-digit groups",
            mode: "numeric",
            wedge_safe: "yes (digits only)",
            text: yibao_shared::to_text(token_bytes),
        },
        Candidate {
            name: "base45 (RFC 9285)",
            mode: "alphanumeric",
            wedge_safe: "no (space $ % * + / :)",
            text: format!("YB:{}", base45(token_bytes)),
        },
        Candidate {
            name: "hex, upper case",
            mode: "alphanumeric",
            wedge_safe: "mostly (letters hit Chinese IMEs)",
            text: format!("YB:{hex}"),
        },
        Candidate {
            name: "base64url",
            mode: "byte",
            wedge_safe: "no (case, - _ vary by layout/IME)",
            text: format!("yb:{b64}"),
        },
        Candidate {
            name: "JWT, EdDSA, same claims",
            mode: "byte",
            wedge_safe: "no",
            text: jwt,
        },
        Candidate {
            name: "PASETO v4.public, same claims",
            mode: "byte",
            wedge_safe: "no",
            text: paseto,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base45_matches_the_rfc_examples() {
        assert_eq!(base45(b"AB"), "BB8");
        assert_eq!(base45(b"Hello!!"), "%69 VD92EX0");
        assert_eq!(base45(b"ietf!"), "QED8WEX0");
    }
}
