//! Device-bound codes, the issuer's side: a holder registers a phone's P-256 key (proving
//! possession), gets certificates for their own voucher and each actively bound family member,
//! renews them while online, lists and removes devices. Revocation (`revoke`) and the signed
//! status list (`status`) live beside.

pub mod numbers;
pub mod revoke;
pub mod session;
pub mod status;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use yibao_shared::{CertificateId, DevicePublicKey, FamilyProxy, Relation, UnixTime, VoucherId};

use crate::domain::activation::claims_of;
use crate::domain::caller::Holder;
use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::domain::family::owner;
use crate::model::device::{Device, IssuedCertificate};
use crate::model::{LinkKind, LinkStatus, VoucherStatus};
use crate::secrets::random_bytes;

/// Devices one holder may register.
pub const MAX_DEVICES: usize = 5;
/// Tag in front of what a device signs to prove it holds its key (19 bytes).
pub const PROOF_DOMAIN: &[u8; 19] = b"yibao.device-pop.v1";
/// How far `signed_at` of a proof may be from the issuer's clock.
pub const PROOF_WINDOW_SECS: u64 = 300;
/// Default validity of a device certificate: covers a weekend outage (62 hours).
pub const DEFAULT_VALIDITY_HOURS: u8 = 72;

/// Registering a device: its key (SEC1, base64url), the proof that the caller holds it, and a
/// name for the device list.
#[derive(Clone, Copy, Debug)]
pub struct Registration<'a> {
    /// SEC1 public key, base64url.
    pub public_key: &'a str,
    /// When the proof was signed (unix seconds).
    pub signed_at: u64,
    /// The proof of possession (base64url), as [`proof_message`] says.
    pub proof: &'a str,
    /// A name for the device list (at most 40 characters).
    pub label: Option<&'a str>,
}

/// A fresh proof with a registered key (renewal).
#[derive(Clone, Copy, Debug)]
pub struct Proof<'a> {
    /// When it was signed (unix seconds).
    pub signed_at: u64,
    /// The signature (base64url).
    pub proof: &'a str,
}

/// A device's new certificates.
#[derive(Clone, Debug)]
pub struct Certified {
    /// The device.
    pub device_id: String,
    /// When to renew, whenever online.
    pub renew_after: UnixTime,
    /// One for the holder's own voucher, one per actively bound family member.
    pub certificates: Vec<Certificate>,
}

/// One certificate and what the phone shows next to it.
#[derive(Clone, Debug)]
pub struct Certificate {
    /// Whose voucher it certifies.
    pub voucher_id: VoucherId,
    /// The signed certificate (body and issuer signature).
    pub signed: Vec<u8>,
    /// Its id.
    pub certificate_id: CertificateId,
    /// Valid from.
    pub issued_at: UnixTime,
    /// Valid until.
    pub expires_at: UnixTime,
    /// The masked name shown beside it.
    pub masked_name: String,
    /// Set for a family member's certificate.
    pub relation: Option<Relation>,
}

/// Registers a device and certifies its key.
///
/// # Errors
///
/// [`DomainError::InvalidDeviceKey`], [`DomainError::DeviceProofInvalid`],
/// [`DomainError::DeviceLimitReached`], [`DomainError::InvalidField`] for a long label, the
/// voucher's own refusals (suspended, not insured).
pub async fn register(
    state: &Context,
    holder: &Holder,
    request: &Registration<'_>,
) -> Result<Certified, DomainError> {
    let raw = URL_SAFE_NO_PAD
        .decode(request.public_key)
        .map_err(|_| DomainError::InvalidDeviceKey)?;
    let key = DevicePublicKey::from_sec1(&raw).map_err(|_| DomainError::InvalidDeviceKey)?;
    let label = match request.label {
        Some(l) if l.chars().count() > 40 || l.chars().any(char::is_control) => {
            return Err(DomainError::InvalidField("label"));
        }
        other => other.map(str::to_owned),
    };
    let now = state.clock.now();
    check_proof(holder, &key, request.signed_at, request.proof, now)?;
    let voucher = holder.active_voucher()?.voucher_id;
    let public_key = URL_SAFE_NO_PAD.encode(key.to_compressed());
    let devices = state.store.devices_of(voucher).await?;
    let registered = devices.len();
    // The same key again (a retried registration): renew that device rather than add one.
    let device = match devices.into_iter().find(|d| d.public_key == public_key) {
        Some(existing) => existing,
        None => {
            // Checked before the write, not atomically with it: two registrations racing
            // from one holder's own phones can make six, which costs nothing but a device.
            if registered >= MAX_DEVICES {
                return Err(DomainError::DeviceLimitReached);
            }
            let id: [u8; 8] = random_bytes().map_err(|e| DomainError::Internal(e.to_string()))?;
            Device {
                device_id: id.iter().map(|b| format!("{b:02x}")).collect(),
                holder: voucher,
                public_key,
                label,
                channel: holder.credential.channel.clone(),
                registered_at: now,
                renewed_at: now,
                certificates: Vec::new(),
            }
        }
    };
    let answer = certify(state, holder, device, key, now).await?;
    tracing::info!(holder = %voucher, device = %answer.device_id, "device registered");
    Ok(answer)
}

/// Issues fresh certificates to a registered device (a new proof with its key).
///
/// # Errors
///
/// [`DomainError::NotFound`] for another holder's or an unknown device,
/// [`DomainError::DeviceProofInvalid`], the voucher's own refusals.
pub async fn renew(
    state: &Context,
    holder: &Holder,
    device_id: &str,
    request: &Proof<'_>,
) -> Result<Certified, DomainError> {
    let device = own_device(state, holder, device_id).await?;
    let raw = URL_SAFE_NO_PAD
        .decode(&device.public_key)
        .map_err(|_| DomainError::Internal("stored device key".into()))?;
    let key = DevicePublicKey::from_sec1(&raw)
        .map_err(|_| DomainError::Internal("stored device key".into()))?;
    let now = state.clock.now();
    check_proof(holder, &key, request.signed_at, request.proof, now)?;
    certify(state, holder, device, key, now).await
}

/// The holder's devices.
///
/// # Errors
///
/// Store failures.
pub async fn list(state: &Context, holder: &Holder) -> Result<Vec<Device>, DomainError> {
    let mut devices = state.store.devices_of(holder.voucher.voucher_id).await?;
    devices.sort_by_key(|d| d.registered_at);
    Ok(devices)
}

/// Removes a device and revokes its certificates at once (sign-out, a phone given away).
///
/// # Errors
///
/// [`DomainError::NotFound`] for another holder's or an unknown device; store failures.
pub async fn remove(state: &Context, holder: &Holder, device_id: &str) -> Result<(), DomainError> {
    let device = own_device(state, holder, device_id).await?;
    revoke::remove_devices(
        &*state.store,
        state.clock.now(),
        vec![device],
        "device removed by its holder",
    )
    .await?;
    Ok(())
}

async fn own_device(
    state: &Context,
    holder: &Holder,
    device_id: &str,
) -> Result<Device, DomainError> {
    // Another holder's device is as unknown as a made-up id.
    state
        .store
        .device(holder.voucher.voucher_id, device_id)
        .await?
        .ok_or(DomainError::NotFound)
}

/// The proof of possession: the device key signed the holder's voucher, the time and itself.
fn check_proof(
    holder: &Holder,
    key: &DevicePublicKey,
    signed_at: u64,
    proof: &str,
    now: UnixTime,
) -> Result<(), DomainError> {
    if signed_at.abs_diff(now.as_secs()) > PROOF_WINDOW_SECS {
        return Err(DomainError::DeviceProofInvalid);
    }
    let signature: [u8; 64] = URL_SAFE_NO_PAD
        .decode(proof)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or(DomainError::DeviceProofInvalid)?;
    key.verify(
        &proof_message(holder.voucher.voucher_id, signed_at, key),
        &signature,
    )
    .map_err(|_| DomainError::DeviceProofInvalid)
}

/// What a device signs to prove possession of its key.
pub fn proof_message(holder: VoucherId, signed_at: u64, key: &DevicePublicKey) -> Vec<u8> {
    let mut message = Vec::with_capacity(PROOF_DOMAIN.len() + 8 + 8 + 33);
    message.extend_from_slice(PROOF_DOMAIN);
    message.extend_from_slice(&holder.0);
    message.extend_from_slice(&signed_at.to_be_bytes());
    message.extend_from_slice(&key.to_compressed());
    message
}

/// Certifies `key` for the holder's voucher and each active family member, keeps the
/// certificates on the device record (expired ones dropped) and answers with them.
async fn certify(
    state: &Context,
    holder: &Holder,
    mut device: Device,
    key: DevicePublicKey,
    now: UnixTime,
) -> Result<Certified, DomainError> {
    let own = holder.active_voucher()?;
    let mut subjects = vec![(own.clone(), holder.person.clone(), None)];
    for link in state
        .store
        .links_of_binder(LinkKind::Proxy, own.voucher_id)
        .await?
    {
        if link.status_at(now) != LinkStatus::Active {
            continue;
        }
        let Some(voucher) = state.store.voucher(link.member).await? else {
            continue;
        };
        let Some(person) = owner(state, link.member).await? else {
            continue;
        };
        if voucher.status != VoucherStatus::Active {
            continue;
        }
        let proxy = FamilyProxy {
            binder: own.voucher_id,
            relation: link.relation,
        };
        subjects.push((voucher, person, Some(proxy)));
    }

    let keys = state.keys();
    let hours = state.device_validity_hours;
    let expires_at = now.saturating_add(u64::from(hours) * 3_600);
    let mut views = Vec::with_capacity(subjects.len());
    device.certificates.retain(|c| c.expires_at > now);
    for (voucher, person, proxy) in subjects {
        // A member no longer insured gets no certificate; the holder's own refusal is an error.
        let claims = match claims_of(&voucher, &person, proxy) {
            Ok(claims) => claims,
            Err(e) if proxy.is_none() => return Err(e),
            Err(_) => continue,
        };
        let certificate_id = state.certificate_numbers.next(state.store.as_ref()).await?;
        let signed = keys
            .certify(certificate_id, now, hours, claims, key)
            .map_err(|e| DomainError::Internal(e.to_string()))?;
        device.certificates.push(IssuedCertificate {
            certificate_id,
            voucher_id: voucher.voucher_id,
            binder: proxy.map(|p| p.binder),
            expires_at,
        });
        views.push(Certificate {
            voucher_id: voucher.voucher_id,
            signed,
            certificate_id,
            issued_at: now,
            expires_at,
            masked_name: person.masked_name.to_string(),
            relation: proxy.map(|p| p.relation),
        });
    }
    device.renewed_at = now;
    state.store.put_device(&device).await?;
    metrics::counter!("yibao_device_certificates_issued_total").increment(views.len() as u64);
    Ok(Certified {
        device_id: device.device_id,
        // A third of the validity: a phone online now and then always holds two days' worth.
        renew_after: now.saturating_add(u64::from(hours) * 3_600 / 3),
        certificates: views,
    })
}
