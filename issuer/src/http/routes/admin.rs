//! Operator endpoints (admin token): channels, institutions, terminals, voucher suspension,
//! key reload.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use yibao_shared::{RegionCode, VoucherId};

use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::http::auth::AdminAuth;
use crate::http::error::{ApiError, AppJson, AppPath, ErrorBody};
use crate::model::{Channel, Institution, InstitutionKind, Terminal, VoucherStatus};
use crate::secrets::new_credential;
use crate::signing::KeyMaterial;

/// A new channel.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChannel {
    /// Short id (`[a-z0-9-]`, up to 32), e.g. `wechat`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Region prefixes it may serve (2, 4 or 6 digits); empty for all.
    #[serde(default)]
    pub regions: Vec<String>,
}

/// A credential, shown once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IssuedCredential {
    /// The id it belongs to.
    pub id: String,
    /// The credential (`Authorization: Bearer …`). Not shown again; registering the same
    /// id again replaces it.
    pub credential: String,
}

impl std::fmt::Debug for IssuedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IssuedCredential({}, <redacted>)", self.id)
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn fresh(prefix: &str) -> Result<crate::secrets::NewCredential, ApiError> {
    new_credential(prefix).map_err(|e| DomainError::Internal(e.to_string()).into())
}

/// Register (or re-key) a channel.
#[utoipa::path(post, path = "/v1/admin/channels", tag = "admin", request_body = NewChannel,
    security(("bearer" = [])),
    responses((status = 201, body = IssuedCredential), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register_channel(
    State(state): State<Context>,
    _: AdminAuth,
    AppJson(new): AppJson<NewChannel>,
) -> Result<(StatusCode, AppJson<IssuedCredential>), ApiError> {
    if !valid_id(&new.id) {
        return Err(DomainError::InvalidField("id").into());
    }
    if new.name.trim().is_empty() || new.name.len() > 100 {
        return Err(DomainError::InvalidField("name").into());
    }
    if !new
        .regions
        .iter()
        .all(|r| yibao_shared::trust_list::is_region_scope(r))
    {
        return Err(DomainError::InvalidField("regions").into());
    }
    let key = fresh("ybc")?;
    state
        .store
        .put_channel(&Channel {
            id: new.id.clone(),
            name: new.name,
            regions: new.regions,
            key_hash: key.hash,
            created_at: state.clock.now(),
        })
        .await?;
    tracing::info!(channel = %new.id, "channel registered");
    Ok((
        StatusCode::CREATED,
        AppJson(IssuedCredential {
            id: new.id,
            credential: key.secret.to_string(),
        }),
    ))
}

/// A designated institution.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInstitution {
    /// National code (letters and digits, up to 32).
    pub code: String,
    /// Name.
    pub name: String,
    /// Hospital or pharmacy.
    pub kind: InstitutionKind,
    /// 6-digit region.
    pub region: String,
    /// Accepts the voucher.
    pub accepts_voucher: bool,
}

/// Register or update an institution.
#[utoipa::path(post, path = "/v1/admin/institutions", tag = "admin", request_body = NewInstitution,
    security(("bearer" = [])),
    responses((status = 201, body = Institution), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register_institution(
    State(state): State<Context>,
    _: AdminAuth,
    AppJson(new): AppJson<NewInstitution>,
) -> Result<(StatusCode, AppJson<Institution>), ApiError> {
    if new.code.is_empty()
        || new.code.len() > 32
        || !new.code.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(DomainError::InvalidField("code").into());
    }
    if new.name.trim().is_empty() || new.name.len() > 200 {
        return Err(DomainError::InvalidField("name").into());
    }
    let institution = Institution {
        code: new.code,
        name: new.name,
        kind: new.kind,
        region: RegionCode::parse(&new.region).ok_or(DomainError::InvalidField("region"))?,
        accepts_voucher: new.accepts_voucher,
    };
    state.store.put_institution(&institution).await?;
    Ok((StatusCode::CREATED, AppJson(institution)))
}

/// A terminal of an institution.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTerminal {
    /// Terminal id (`[a-z0-9-]`, up to 32).
    pub id: String,
}

/// Register (or re-key) a terminal of an institution.
#[utoipa::path(post, path = "/v1/admin/institutions/{code}/terminals", tag = "admin",
    request_body = NewTerminal, params(("code" = String, Path)), security(("bearer" = [])),
    responses((status = 201, body = IssuedCredential), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register_terminal(
    State(state): State<Context>,
    _: AdminAuth,
    AppPath(code): AppPath<String>,
    AppJson(new): AppJson<NewTerminal>,
) -> Result<(StatusCode, AppJson<IssuedCredential>), ApiError> {
    if !valid_id(&new.id) {
        return Err(DomainError::InvalidField("id").into());
    }
    state
        .store
        .institution(&code)
        .await?
        .ok_or(DomainError::NotFound)?;
    let key = fresh("ybt")?;
    state
        .store
        .put_terminal(&Terminal {
            id: new.id.clone(),
            institution: code,
            key_hash: key.hash,
            created_at: state.clock.now(),
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        AppJson(IssuedCredential {
            id: new.id,
            credential: key.secret.to_string(),
        }),
    ))
}

async fn set_status(
    state: &Context,
    id: &str,
    status: VoucherStatus,
) -> Result<StatusCode, ApiError> {
    let id = VoucherId::parse(id).ok_or(DomainError::NotFound)?;
    if state.store.set_voucher_status(id, status).await? {
        if status == VoucherStatus::Suspended {
            // Offline codes stop at terminals' next sync, not when certificates expire.
            crate::domain::devices::revoke::voucher_stopped(&*state.store, state.clock.now(), id)
                .await?;
        }
        tracing::info!(voucher = %id, ?status, "voucher status set");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(DomainError::NotFound.into())
    }
}

/// Suspend a voucher: no more tokens until reinstated.
#[utoipa::path(post, path = "/v1/admin/vouchers/{id}/suspend", tag = "admin",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn suspend(
    State(state): State<Context>,
    _: AdminAuth,
    AppPath(id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    set_status(&state, &id, VoucherStatus::Suspended).await
}

/// Reinstate a suspended voucher.
#[utoipa::path(post, path = "/v1/admin/vouchers/{id}/reinstate", tag = "admin",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn reinstate(
    State(state): State<Context>,
    _: AdminAuth,
    AppPath(id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    set_status(&state, &id, VoucherStatus::Active).await
}

/// Which key now signs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeysReloaded {
    /// Signing key id.
    pub key_id: u16,
    /// Sequence of the served bundle.
    pub bundle_sequence: u64,
}

/// Re-read the key directory: the newest active key signs from now on and the new bundle is
/// served. On error the old keys stay in use.
#[utoipa::path(post, path = "/v1/admin/keys/reload", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = KeysReloaded), (status = 500, body = ErrorBody)))]
pub async fn reload_keys(
    State(state): State<Context>,
    _: AdminAuth,
) -> Result<AppJson<KeysReloaded>, ApiError> {
    let keys = KeyMaterial::load(&state.keys_dir, state.clock.now())
        .map_err(|e| DomainError::Internal(format!("key reload failed: {e}")))?;
    let reloaded = KeysReloaded {
        key_id: keys.key_id().0,
        bundle_sequence: keys.bundle().sequence,
    };
    state.set_keys(keys);
    tracing::info!(
        key_id = reloaded.key_id,
        sequence = reloaded.bundle_sequence,
        "keys reloaded"
    );
    Ok(AppJson(reloaded))
}
