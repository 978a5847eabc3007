//! Revoking device certificates when what they certify stops being true: a removed device,
//! a lost phone (deactivation), a suspended voucher, an ended family link. Each revocation is
//! appended to the status list first, then the device records are updated, so a failure in
//! between leaves a certificate revoked twice, never one unrevoked.

use yibao_shared::VoucherId;

use super::record::{Device, IssuedCertificate};
use crate::error::ApiError;
use crate::state::AppState;

/// Revokes every unexpired certificate of `devices` and deletes them. Returns how many
/// certificates were revoked.
///
/// # Errors
///
/// Store failures (what was revoked stays revoked).
pub async fn remove_devices(
    state: &AppState,
    devices: Vec<Device>,
    why: &str,
) -> Result<usize, ApiError> {
    let now = state.clock.now();
    let entries: Vec<_> = devices
        .iter()
        .flat_map(|d| d.certificates.iter())
        .filter(|c| c.expires_at > now)
        .map(|c| c.revoked_at(now))
        .collect();
    if !entries.is_empty() {
        state.store.append_revocations(&entries).await?;
    }
    for device in &devices {
        state.store.delete_device(device).await?;
        tracing::info!(holder = %device.holder, device = %device.device_id, why, "device removed");
    }
    Ok(entries.len())
}

/// Lost phone: every device the holder registered is removed and its certificates revoked.
///
/// # Errors
///
/// Store failures.
pub async fn holder_deactivated(state: &AppState, holder: VoucherId) -> Result<usize, ApiError> {
    let devices = state.store.devices_of(holder).await?;
    remove_devices(state, devices, "holder deactivated (lost phone)").await
}

/// A suspended voucher: its certificates on every device (the holder's own, and family
/// members' phones that show it), and the proxy certificates the holder's devices hold for
/// others (a suspended binder acts for nobody).
///
/// # Errors
///
/// Store failures.
pub async fn voucher_suspended(state: &AppState, voucher: VoucherId) -> Result<usize, ApiError> {
    let mut revoked = revoke_where(state, voucher, |_| true).await?;
    for link in state.store.links_of_member(voucher).await? {
        revoked += revoke_where(state, link.binder, |c| c.voucher_id == voucher).await?;
    }
    Ok(revoked)
}

/// A family link ended (unbound from either side): the binder's devices lose the member's
/// certificates.
///
/// # Errors
///
/// Store failures.
pub async fn link_ended(
    state: &AppState,
    binder: VoucherId,
    member: VoucherId,
) -> Result<usize, ApiError> {
    revoke_where(state, binder, |c| {
        c.voucher_id == member && c.binder == Some(binder)
    })
    .await
}

/// Revokes the certificates of `holder`'s devices that `matches` selects, and drops them
/// from the device records.
async fn revoke_where(
    state: &AppState,
    holder: VoucherId,
    matches: impl Fn(&IssuedCertificate) -> bool,
) -> Result<usize, ApiError> {
    let now = state.clock.now();
    let mut revoked = 0;
    for mut device in state.store.devices_of(holder).await? {
        let (gone, kept): (Vec<IssuedCertificate>, Vec<IssuedCertificate>) = device
            .certificates
            .iter()
            .partition(|c| matches(c) && c.expires_at > now);
        if gone.is_empty() {
            continue;
        }
        let entries: Vec<_> = gone.iter().map(|c| c.revoked_at(now)).collect();
        state.store.append_revocations(&entries).await?;
        device.certificates = kept;
        state.store.put_device(&device).await?;
        revoked += entries.len();
    }
    if revoked > 0 {
        metrics::counter!("yibao_device_certificates_revoked_total").increment(revoked as u64);
        tracing::info!(%holder, revoked, "device certificates revoked");
    }
    Ok(revoked)
}
