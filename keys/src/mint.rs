//! Development-only minting of codes, for tests and demos before (and beside) the issuer
//! service. It signs whatever it is given: no registry, no activation, no credential.

use yibao_shared::{Claims, KeyId, SecretKey, TokenBody, TokenId, TokenKind, UnixTime};

use crate::error::KeysError;
use crate::files;

/// Signs a code for `claims` with an issuer key, a fresh random token id, issued at `now`.
///
/// # Errors
///
/// Claims out of range, or the random source failing.
pub fn mint_dev_token(
    key_id: KeyId,
    key: &SecretKey,
    claims: Claims,
    now: UnixTime,
    lifetime_secs: u8,
) -> Result<String, KeysError> {
    let body = TokenBody {
        kind: TokenKind::IssuerSigned,
        key_id,
        token_id: TokenId(files::random_bytes()?),
        issued_at: now,
        lifetime_secs,
        claims,
    };
    Ok(body.sign(key)?)
}
