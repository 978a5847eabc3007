//! The phone's login: its registered device key. The page asks for a challenge, signs it with
//! the non-extractable key it registered, and gets a short-lived session that works wherever
//! a holder credential does (issuer codes, renewal, expenses, family). The holder's pasted
//! credential is needed once, to register the key, and never kept.
//!
//! Nothing here is stored: a challenge and a session are MACed by the issuer (a key derived
//! from the index secret, which every node shares), so any node answers and a session costs
//! no write. A challenge is answered once (the shared limiter admits its nonce once); a
//! session lives while its device is registered: removing the device (sign-out, a lost-phone
//! report, the device list) ends it at the next request.
//!
//! Signing out offline cannot reach the issuer, and the key is deleted at once, so the page
//! signs a sign-out statement first and sends it at its next contact ([`sign_out`]).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use yibao_shared::{DevicePublicKey, UnixTime, VoucherId};

use super::revoke;
use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::model::device::Device;
use crate::secrets::{hash_credential, random_bytes};

/// How long a challenge may be answered (seconds).
pub use crate::domain::limits::CHALLENGE_SECS;
/// How long a session lasts (seconds); the page opens a new one with its key when it ends.
pub const SESSION_SECS: u64 = 1_800;
/// What a session token starts with (never a holder credential's `ybh_`).
pub const SESSION_PREFIX: &str = "yds1.";
/// Tag in front of what the device signs to open a session.
pub const SESSION_DOMAIN: &[u8] = b"yibao.device-session.v1";
/// Tag in front of what the device signs to sign out.
pub const SIGN_OUT_DOMAIN: &[u8] = b"yibao.device-signout.v1";

const NONCE_LEN: usize = 16;
const MAC_LEN: usize = 32;
const CHALLENGE_LEN: usize = NONCE_LEN + 8 + MAC_LEN;
const SESSION_LEN: usize = 8 + 8 + 8 + MAC_LEN;

/// A challenge for the device to sign.
#[derive(Clone, Debug)]
pub struct NewChallenge {
    /// Opaque, base64url.
    pub challenge: String,
    /// Answer it before this.
    pub expires_at: UnixTime,
}

/// A session: a bearer credential for the holder's endpoints, bound to one device.
#[derive(Clone, Debug)]
pub struct Session {
    /// The bearer text (`yds1.…`).
    pub token: String,
    /// It ends then, or when the device is removed.
    pub expires_at: UnixTime,
}

/// A registered device's answer to a challenge (all as received, base64url or hex).
#[derive(Clone, Copy, Debug)]
pub struct Answer<'a> {
    /// The holder's voucher id.
    pub voucher_id: &'a str,
    /// The device's id.
    pub device_id: &'a str,
    /// The challenge.
    pub challenge: &'a str,
    /// The device key's signature over [`SESSION_DOMAIN`], the voucher and device ids and the
    /// challenge bytes.
    pub signature: &'a str,
}

/// Who a valid session token speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSubject {
    /// The holder.
    pub voucher: VoucherId,
    /// The device it is bound to.
    pub device_id: String,
}

/// A new challenge.
///
/// # Errors
///
/// [`DomainError::Internal`] if the random source fails.
pub fn challenge(state: &Context) -> Result<NewChallenge, DomainError> {
    let nonce: [u8; NONCE_LEN] =
        random_bytes().map_err(|e| DomainError::Internal(e.to_string()))?;
    let expires_at = state.clock.now().saturating_add(CHALLENGE_SECS);
    let mut raw = Vec::with_capacity(CHALLENGE_LEN);
    raw.extend_from_slice(&nonce);
    raw.extend_from_slice(&expires_at.as_secs().to_be_bytes());
    let mac = state.index.session_mac(b"challenge", &raw);
    raw.extend_from_slice(&mac);
    Ok(NewChallenge {
        challenge: URL_SAFE_NO_PAD.encode(raw),
        expires_at,
    })
}

/// Opens a session for a registered device that signed a live challenge. Every refusal is
/// the same [`DomainError::Unauthorized`]: an unknown device, another holder's, a bad
/// signature, a used or expired challenge.
///
/// # Errors
///
/// [`DomainError::Unauthorized`]; [`DomainError::RateLimited`]; store failures.
pub async fn open(state: &Context, request: &Answer<'_>) -> Result<Session, DomainError> {
    let now = state.clock.now();
    let voucher = VoucherId::parse(request.voucher_id).ok_or(DomainError::Unauthorized)?;
    let device_bytes = device_bytes(request.device_id).ok_or(DomainError::Unauthorized)?;
    let raw = URL_SAFE_NO_PAD
        .decode(request.challenge)
        .ok()
        .filter(|r| r.len() == CHALLENGE_LEN)
        .ok_or(DomainError::Unauthorized)?;
    let (body, mac) = raw.split_at(NONCE_LEN + 8);
    if !state.index.session_mac_matches(b"challenge", body, mac) {
        return Err(DomainError::Unauthorized);
    }
    let expires = u64::from_be_bytes(body[NONCE_LEN..].try_into().unwrap_or([0; 8]));
    if now.as_secs() >= expires {
        return Err(DomainError::Unauthorized);
    }
    // Per device: a stranger guessing ids is slowed like a stranger guessing credentials.
    let caller = hash_credential(&format!("session:{voucher}:{}", request.device_id));
    state.limits.holder(&caller).await?;
    let device = state
        .store
        .device(voucher, request.device_id)
        .await?
        .ok_or(DomainError::Unauthorized)?;
    let mut message = Vec::with_capacity(SESSION_DOMAIN.len() + 16 + CHALLENGE_LEN);
    message.extend_from_slice(SESSION_DOMAIN);
    message.extend_from_slice(&voucher.0);
    message.extend_from_slice(&device_bytes);
    message.extend_from_slice(&raw);
    verify(&device, &message, request.signature)?;
    // Last, so a wrong signature does not use the challenge up.
    let nonce: [u8; NONCE_LEN] = body[..NONCE_LEN].try_into().unwrap_or([0; NONCE_LEN]);
    state.limits.answer_once(nonce).await?;

    let expires_at = now.saturating_add(SESSION_SECS);
    let mut token = Vec::with_capacity(SESSION_LEN);
    token.extend_from_slice(&voucher.0);
    token.extend_from_slice(&device_bytes);
    token.extend_from_slice(&expires_at.as_secs().to_be_bytes());
    let mac = state.index.session_mac(b"session", &token);
    token.extend_from_slice(&mac);
    metrics::counter!("yibao_device_sessions_opened_total").increment(1);
    Ok(Session {
        token: format!("{SESSION_PREFIX}{}", URL_SAFE_NO_PAD.encode(token)),
        expires_at,
    })
}

/// The holder and device a session token speaks for, if it is one of ours and has not
/// ended. Whether the device is still registered is the caller's check.
pub fn subject(state: &Context, token: &str) -> Option<SessionSubject> {
    let raw = URL_SAFE_NO_PAD
        .decode(token.strip_prefix(SESSION_PREFIX)?)
        .ok()
        .filter(|r| r.len() == SESSION_LEN)?;
    let (body, mac) = raw.split_at(SESSION_LEN - MAC_LEN);
    if !state.index.session_mac_matches(b"session", body, mac) {
        return None;
    }
    let voucher = VoucherId(body[..8].try_into().ok()?);
    let expires = u64::from_be_bytes(body[16..24].try_into().ok()?);
    if state.clock.now().as_secs() >= expires {
        return None;
    }
    let device_id = body[8..16].iter().map(|b| format!("{b:02x}")).collect();
    Some(SessionSubject { voucher, device_id })
}

/// Signs a device out by a statement its key signed: the device is removed and its
/// certificates revoked. An unknown device (already signed out, or never registered) is
/// done already.
///
/// # Errors
///
/// [`DomainError::Unauthorized`] for a statement the device's key did not sign; store
/// failures.
pub async fn sign_out(
    state: &Context,
    device_id: &str,
    voucher_id: &str,
    signature: &str,
) -> Result<(), DomainError> {
    let voucher = VoucherId::parse(voucher_id).ok_or(DomainError::Unauthorized)?;
    let device_bytes = device_bytes(device_id).ok_or(DomainError::Unauthorized)?;
    let Some(device) = state.store.device(voucher, device_id).await? else {
        return Ok(());
    };
    let mut message = Vec::with_capacity(SIGN_OUT_DOMAIN.len() + 16);
    message.extend_from_slice(SIGN_OUT_DOMAIN);
    message.extend_from_slice(&voucher.0);
    message.extend_from_slice(&device_bytes);
    verify(&device, &message, signature)?;
    revoke::remove_devices(
        &*state.store,
        state.clock.now(),
        vec![device],
        "device signed out",
    )
    .await?;
    tracing::info!(holder = %voucher, device = %device_id, "device signed out");
    Ok(())
}

/// A device id's 8 bytes (ids are 16 lower-case hex digits).
fn device_bytes(id: &str) -> Option<[u8; 8]> {
    if id.len() != 16
        || !id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0u8; 8];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(id.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn verify(device: &Device, message: &[u8], signature: &str) -> Result<(), DomainError> {
    let raw = URL_SAFE_NO_PAD
        .decode(&device.public_key)
        .map_err(|_| DomainError::Internal("stored device key".into()))?;
    let key = DevicePublicKey::from_sec1(&raw)
        .map_err(|_| DomainError::Internal("stored device key".into()))?;
    let signature: [u8; 64] = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or(DomainError::Unauthorized)?;
    key.verify(message, &signature)
        .map_err(|_| DomainError::Unauthorized)
}
