//! Activation and deactivation through a channel, and the signing of codes (kind 1).

use yibao_shared::{Claims, FamilyProxy, TokenId, UnixTime, VoucherId};

use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::id_number::IdNumber;
use crate::model::{Channel, HolderCredential, InsuredStatus, Person, Voucher, VoucherStatus};
use crate::secrets::{new_credential, random_bytes, random_id};

/// A channel's statement about how it verified the person (实名 + 实人).
#[derive(Clone, Debug)]
pub struct Attestation {
    /// Real-name verification against the ID number passed.
    pub real_name: bool,
    /// Real-person (liveness, face) verification passed.
    pub real_person: bool,
    /// How, e.g. `face`.
    pub method: String,
    /// The channel's own reference for the check, for audit.
    pub reference: Option<String>,
}

/// A voucher activated: the holder credential is shown this once.
pub struct Activated {
    /// Pseudonymous voucher id.
    pub voucher_id: VoucherId,
    /// The phone's credential for this voucher.
    pub holder_credential: String,
    /// e.g. `张*三`.
    pub masked_name: String,
    /// Whether this call created the voucher (false: it existed, a new credential was added).
    pub created: bool,
}

impl std::fmt::Debug for Activated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Activated({}, created: {})",
            self.voucher_id, self.created
        )
    }
}

/// Identifies a person by name and ID number: the registry entry, or why not.
pub(crate) async fn registry_person(
    state: &Context,
    name: &str,
    id_number: &str,
) -> Result<Person, DomainError> {
    let id = IdNumber::parse(id_number).map_err(DomainError::InvalidIdNumber)?;
    let person = state
        .store
        .person(&state.index.id_key(&id))
        .await?
        .ok_or(DomainError::NotInRegistry)?;
    if person.name_key != state.index.name_key(name) {
        return Err(DomainError::NameMismatch);
    }
    Ok(person)
}

/// Activates (or re-activates) a voucher through a channel.
///
/// # Errors
///
/// Every refusal of DESIGN §6 with its own code.
pub async fn activate(
    state: &Context,
    channel: &Channel,
    name: &str,
    id_number: &str,
    a: &Attestation,
) -> Result<Activated, DomainError> {
    if !(a.real_name && a.real_person) || a.method.trim().is_empty() {
        return Err(DomainError::AttestationIncomplete);
    }
    let person = registry_person(state, name, id_number).await?;
    if person.status != InsuredStatus::Insured {
        return Err(DomainError::NotInsured);
    }
    if !channel.serves(person.region) {
        return Err(DomainError::RegionNotAllowed);
    }
    if let Some(existing) = state.store.voucher_of(&person.id_key).await? {
        if existing.status == VoucherStatus::Suspended {
            return Err(DomainError::VoucherSuspended);
        }
    }
    let now = state.clock.now();
    let credential = new_credential("ybh").map_err(|e| DomainError::Internal(e.to_string()))?;
    let candidate = Voucher {
        voucher_id: VoucherId(random_bytes().map_err(|e| DomainError::Internal(e.to_string()))?),
        id_key: person.id_key,
        status: VoucherStatus::Active,
        activated_at: now,
        activated_by: channel.id.clone(),
    };
    let record = HolderCredential {
        hash: credential.hash,
        voucher_id: candidate.voucher_id,
        id_key: person.id_key,
        channel: channel.id.clone(),
        issued_at: now,
        revoked: false,
    };
    let activation = state.store.activate(&candidate, &record).await?;
    metrics::counter!(
        "yibao_activations_total",
        "channel" => channel.id.clone(),
        "created" => activation.created.to_string()
    )
    .increment(1);
    tracing::info!(
        channel = %channel.id,
        voucher = %activation.voucher.voucher_id,
        created = activation.created,
        "voucher activated"
    );
    Ok(Activated {
        voucher_id: activation.voucher.voucher_id,
        holder_credential: credential.secret.to_string(),
        masked_name: person.masked_name.to_string(),
        created: activation.created,
    })
}

/// Revokes every holder credential of the person's voucher; returns how many were live.
///
/// # Errors
///
/// Identification failures, [`DomainError::NoVoucher`].
pub async fn deactivate(
    state: &Context,
    channel: &Channel,
    name: &str,
    id_number: &str,
) -> Result<usize, DomainError> {
    let person = registry_person(state, name, id_number).await?;
    if !channel.serves(person.region) {
        return Err(DomainError::RegionNotAllowed);
    }
    let voucher = state
        .store
        .voucher_of(&person.id_key)
        .await?
        .ok_or(DomainError::NoVoucher)?;
    let revoked = state
        .store
        .revoke_credentials_of(voucher.voucher_id)
        .await?;
    // A lost phone keeps showing offline codes until its certificates are revoked too.
    let certificates = crate::domain::devices::revoke::holder_deactivated(
        &*state.store,
        state.clock.now(),
        voucher.voucher_id,
    )
    .await?;
    tracing::info!(channel = %channel.id, voucher = %voucher.voucher_id, revoked, certificates, "credentials revoked");
    Ok(revoked)
}

/// What a code (kind 1) or a device certificate (kind 2) says about `voucher`'s owner.
///
/// # Errors
///
/// [`DomainError::VoucherSuspended`], [`DomainError::NotInsured`], internal faults.
pub fn claims_of(
    voucher: &Voucher,
    person: &Person,
    proxy: Option<FamilyProxy>,
) -> Result<Claims, DomainError> {
    if voucher.status == VoucherStatus::Suspended {
        return Err(DomainError::VoucherSuspended);
    }
    if person.id_key != voucher.id_key {
        return Err(DomainError::Internal("voucher and person disagree".into()));
    }
    if person.status != InsuredStatus::Insured {
        return Err(DomainError::NotInsured);
    }
    Ok(Claims {
        voucher_id: voucher.voucher_id,
        region: person.region,
        insurance: person.insurance,
        masked_name: person.masked_name.clone(),
        gender: person.gender,
        birth_year: person.birth_date.year,
        proxy,
    })
}

/// A freshly signed token (kind 1) and what the page shows beside it.
#[derive(Clone, Debug)]
pub struct SignedToken {
    /// The text to put in the QR code.
    pub code: String,
    /// Whose voucher (the holder's own, or the family member's).
    pub voucher_id: VoucherId,
    /// Signing key id.
    pub key_id: u16,
    /// Token id.
    pub token_id: TokenId,
    /// When it was signed.
    pub issued_at: UnixTime,
    /// When it expires.
    pub expires_at: UnixTime,
    /// e.g. `张*三`.
    pub masked_name: String,
}

/// Signs a token for `voucher`, owned by `person` (the holder's own; family accounts will pass
/// a proxy).
///
/// # Errors
///
/// [`DomainError::VoucherSuspended`], [`DomainError::NotInsured`], internal faults.
pub fn issue_token(
    state: &Context,
    voucher: &Voucher,
    person: &Person,
    proxy: Option<FamilyProxy>,
) -> Result<SignedToken, DomainError> {
    let claims = claims_of(voucher, person, proxy)?;
    let now = state.clock.now();
    let token_id = TokenId(random_id().map_err(|e| DomainError::Internal(e.to_string()))?);
    let keys = state.keys();
    let code = keys
        .sign(claims, token_id, now, state.token_lifetime_secs)
        .map_err(|e| DomainError::Internal(e.to_string()))?;
    metrics::counter!("yibao_tokens_issued_total").increment(1);
    Ok(SignedToken {
        code,
        voucher_id: voucher.voucher_id,
        key_id: keys.key_id().0,
        token_id,
        issued_at: now,
        expires_at: now.saturating_add(u64::from(state.token_lifetime_secs)),
        masked_name: person.masked_name.to_string(),
    })
}
