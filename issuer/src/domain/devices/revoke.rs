//! Revoking device certificates when what they certify stops being true: a removed device,
//! a lost phone (deactivation), a suspended voucher, a person the registry no longer lists as
//! insured, an ended family link. Each revocation is appended to the status list first, then
//! the device records are updated, so a failure in between leaves a certificate revoked
//! twice, never one unrevoked; and every function here is idempotent (a second call finds
//! nothing left to revoke), so a failed caller simply runs again.
//!
//! Over the store and a time only: the HTTP handlers and the registry import both call them.

use yibao_shared::{UnixTime, VoucherId};

use crate::model::LinkKind;
use crate::model::device::{Device, IssuedCertificate};
use crate::store::{Store, StoreError};

/// Revokes every unexpired certificate of `devices` and deletes them. Returns how many
/// certificates were revoked.
///
/// # Errors
///
/// Store failures (what was revoked stays revoked).
pub async fn remove_devices(
    store: &dyn Store,
    now: UnixTime,
    devices: Vec<Device>,
    why: &str,
) -> Result<usize, StoreError> {
    let entries: Vec<_> = devices
        .iter()
        .flat_map(|d| d.certificates.iter())
        .filter(|c| c.expires_at > now)
        .map(|c| c.revoked_at(now))
        .collect();
    if !entries.is_empty() {
        store.append_revocations(&entries).await?;
    }
    for device in &devices {
        store.delete_device(device).await?;
        tracing::info!(holder = %device.holder, device = %device.device_id, why, "device removed");
    }
    Ok(entries.len())
}

/// Lost phone: every device the holder registered is removed and its certificates revoked.
///
/// # Errors
///
/// Store failures.
pub async fn holder_deactivated(
    store: &dyn Store,
    now: UnixTime,
    holder: VoucherId,
) -> Result<usize, StoreError> {
    let devices = store.devices_of(holder).await?;
    remove_devices(store, now, devices, "holder deactivated (lost phone)").await
}

/// A suspended voucher, or one whose person the registry no longer lists as insured: its
/// certificates on every device (the holder's own, and family members' phones that show
/// it), and the proxy certificates the holder's devices hold for others (a suspended binder
/// acts for nobody). The devices stay registered: once the voucher may be used again, their
/// next renewal certifies them afresh.
///
/// # Errors
///
/// Store failures.
pub async fn voucher_stopped(
    store: &dyn Store,
    now: UnixTime,
    voucher: VoucherId,
) -> Result<usize, StoreError> {
    let mut revoked = revoke_where(store, now, voucher, |_| true).await?;
    for link in store.links_of_member(LinkKind::Proxy, voucher).await? {
        revoked += revoke_where(store, now, link.binder, |c| c.voucher_id == voucher).await?;
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
    store: &dyn Store,
    now: UnixTime,
    binder: VoucherId,
    member: VoucherId,
) -> Result<usize, StoreError> {
    revoke_where(store, now, binder, |c| {
        c.voucher_id == member && c.binder == Some(binder)
    })
    .await
}

/// Revokes the certificates of `holder`'s devices that `matches` selects, and drops them
/// from the device records.
async fn revoke_where(
    store: &dyn Store,
    now: UnixTime,
    holder: VoucherId,
    matches: impl Fn(&IssuedCertificate) -> bool,
) -> Result<usize, StoreError> {
    let mut revoked = 0;
    for mut device in store.devices_of(holder).await? {
        let (gone, kept): (Vec<IssuedCertificate>, Vec<IssuedCertificate>) = device
            .certificates
            .iter()
            .partition(|c| matches(c) && c.expires_at > now);
        if gone.is_empty() {
            continue;
        }
        let entries: Vec<_> = gone.iter().map(|c| c.revoked_at(now)).collect();
        store.append_revocations(&entries).await?;
        device.certificates = kept;
        store.put_device(&device).await?;
        revoked += entries.len();
    }
    if revoked > 0 {
        metrics::counter!("yibao_device_certificates_revoked_total").increment(revoked as u64);
        tracing::info!(%holder, revoked, "device certificates revoked");
    }
    Ok(revoked)
}
