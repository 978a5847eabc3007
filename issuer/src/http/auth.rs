//! Who is calling: `Authorization: Bearer <credential>` for channels, holders, terminals and
//! the admin. Credentials are looked up by their SHA-256; the clear value is never stored or
//! logged.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::domain::caller::{Holder, TerminalCaller};
use crate::domain::context::Context;
use crate::domain::devices::session;
use crate::domain::error::DomainError;
use crate::http::error::ApiError;
use crate::model::{Channel, HolderCredential};
use crate::secrets::{CredentialHash, hash_credential};

fn bearer_text(parts: &Parts) -> Result<&str, ApiError> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 128)
        .ok_or(DomainError::Unauthorized.into())
}

fn bearer(parts: &Parts) -> Result<CredentialHash, ApiError> {
    bearer_text(parts).map(hash_credential)
}

/// An authenticated channel (rate-limited per channel).
#[derive(Debug)]
pub struct ChannelAuth(pub Channel);

impl FromRequestParts<Context> for ChannelAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Context) -> Result<Self, ApiError> {
        let hash = bearer(parts)?;
        let channel = state
            .store
            .channel_by_key(&hash)
            .await?
            .filter(|c| !c.disabled)
            .ok_or(DomainError::Unauthorized)?;
        state.limits.channel(&channel.id).await?;
        Ok(Self(channel))
    }
}

/// The channel relaying a holder's request, when it signs in with its own key in
/// `X-Channel-Key` (besides the holder's `Authorization`): only then do its attestations
/// count. Absent header: `None`; a wrong key is refused, never silently ignored.
#[derive(Debug)]
pub struct AttestingChannel(pub Option<Channel>);

/// The header that carries a relaying channel's API key.
pub const CHANNEL_KEY_HEADER: &str = "x-channel-key";

impl FromRequestParts<Context> for AttestingChannel {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Context) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(CHANNEL_KEY_HEADER) else {
            return Ok(Self(None));
        };
        let key = value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= 128)
            .ok_or(DomainError::Unauthorized)?;
        let channel = state
            .store
            .channel_by_key(&hash_credential(key))
            .await?
            .filter(|c| !c.disabled)
            .ok_or(DomainError::Unauthorized)?;
        state.limits.channel(&channel.id).await?;
        Ok(Self(Some(channel)))
    }
}

impl FromRequestParts<Context> for Holder {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Context) -> Result<Self, ApiError> {
        let text = bearer_text(parts)?;
        let hash = hash_credential(text);
        if text.starts_with(session::SESSION_PREFIX) {
            return by_session(state, text, hash).await;
        }
        // The quota is keyed by the credential's hash, known before the look-up, so the two
        // go out together (shared limits live in Redis). An unknown credential is counted
        // too: its key expires within a minute.
        let (records, admitted) = tokio::join!(
            state.store.holder_records(&hash),
            state.limits.holder(&hash)
        );
        let records = records?.ok_or(DomainError::Unauthorized)?;
        if records.credential.revoked {
            return Err(DomainError::CredentialRevoked.into());
        }
        admitted?;
        let credential = records.credential;
        let voucher = records
            .voucher
            .ok_or_else(|| DomainError::Internal("credential points to no voucher".into()))?;
        let person = records.person.ok_or_else(|| {
            DomainError::Internal("voucher of a person not in the registry".into())
        })?;
        Ok(Holder {
            credential,
            voucher,
            person,
            device: None,
        })
    }
}

/// A session opened with a device key: valid while its device is registered (a removed
/// device's session ends at its next request).
async fn by_session(state: &Context, text: &str, hash: CredentialHash) -> Result<Holder, ApiError> {
    let subject = session::subject(state, text).ok_or(DomainError::Unauthorized)?;
    let (device, voucher, admitted) = tokio::join!(
        state.store.device(subject.voucher, &subject.device_id),
        state.store.voucher(subject.voucher),
        state.limits.holder(&hash)
    );
    let device = device?.ok_or(DomainError::Unauthorized)?;
    admitted?;
    let voucher = voucher?.ok_or(DomainError::Unauthorized)?;
    let person =
        state.store.person(&voucher.id_key).await?.ok_or_else(|| {
            DomainError::Internal("voucher of a person not in the registry".into())
        })?;
    // What the rest of the issuer knows a caller by: the channel that registered the device
    // stands where the credential's channel would.
    let credential = HolderCredential {
        hash,
        voucher_id: voucher.voucher_id,
        id_key: voucher.id_key,
        channel: device.channel.clone(),
        issued_at: device.registered_at,
        revoked: false,
    };
    Ok(Holder {
        credential,
        voucher,
        person,
        device: Some(device.device_id),
    })
}

impl FromRequestParts<Context> for TerminalCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Context) -> Result<Self, ApiError> {
        let hash = bearer(parts)?;
        let terminal = state
            .store
            .terminal_by_key(&hash)
            .await?
            .filter(|t| !t.revoked)
            .ok_or(DomainError::Unauthorized)?;
        let institution = state
            .store
            .institution(&terminal.institution)
            .await?
            .ok_or_else(|| DomainError::Internal("terminal of an unknown institution".into()))?;
        // An institution that no longer accepts the voucher cannot settle with it.
        if !institution.accepts_voucher {
            return Err(DomainError::InstitutionNotDesignated.into());
        }
        Ok(Self {
            terminal,
            institution,
        })
    }
}

/// The operator, by the admin token.
#[derive(Debug)]
pub struct AdminAuth;

impl FromRequestParts<Context> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Context) -> Result<Self, ApiError> {
        // Comparing SHA-256 digests: timing reveals nothing usable about the token.
        if bearer(parts)? == state.admin_token {
            Ok(Self)
        } else {
            Err(DomainError::Unauthorized.into())
        }
    }
}
