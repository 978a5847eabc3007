//! A holder signing in with a credential: the credential (is it live?), its voucher (is it
//! suspended?) and the owner's registry entry, read fresh on every request so a revocation or
//! suspension holds from the next one.
//!
//! Which voucher and person a credential belongs to never changes (the record is written
//! once; revocation is a separate key), so a node remembers that much for credentials it has
//! seen ([`KnownCredentials`]) and then reads all three at once: one store round trip per
//! token request instead of two, with nothing read from memory that could be stale.

use std::collections::HashMap;
use std::sync::Mutex;

use yibao_shared::VoucherId;

use crate::domain::caller::Holder;
use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::model::{HolderCredential, Person, Voucher};
use crate::secrets::{CredentialHash, IdKey};

/// Credentials remembered per node before the memory starts over (about 100 bytes each).
const REMEMBERED: usize = 200_000;

/// The voucher and owner of credentials this node has seen.
#[derive(Debug, Default)]
pub struct KnownCredentials {
    owners: Mutex<HashMap<CredentialHash, (VoucherId, IdKey)>>,
}

impl KnownCredentials {
    fn owner(&self, hash: &CredentialHash) -> Option<(VoucherId, IdKey)> {
        self.lock().get(hash).copied()
    }

    fn remember(&self, credential: &HolderCredential) {
        let mut owners = self.lock();
        if owners.len() >= REMEMBERED {
            // Starting over costs each active phone one two-round-trip request.
            owners.clear();
        }
        owners.insert(credential.hash, (credential.voucher_id, credential.id_key));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CredentialHash, (VoucherId, IdKey)>> {
        // Entries are written whole: a panic elsewhere cannot leave one half-made.
        self.owners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The holder whose credential hashes to `hash`, counted against its quota.
///
/// # Errors
///
/// [`DomainError::Unauthorized`] for an unknown credential, [`DomainError::CredentialRevoked`],
/// [`DomainError::RateLimited`], store failures.
pub async fn holder_by_credential(
    state: &Context,
    hash: CredentialHash,
) -> Result<Holder, DomainError> {
    // The quota is keyed by the credential's hash, known before any look-up, so it is
    // counted alongside (an unknown credential is counted too: its key expires by itself).
    let (credential, voucher, person) = match state.known_credentials.owner(&hash) {
        Some((voucher_id, id_key)) => {
            let (credential, voucher, person, admitted) = tokio::join!(
                state.store.credential(&hash),
                state.store.voucher(voucher_id),
                state.store.person(&id_key),
                state.limits.holder(&hash)
            );
            let credential = live(credential?)?;
            admitted?;
            (credential, voucher?, person?)
        }
        None => {
            let (credential, admitted) =
                tokio::join!(state.store.credential(&hash), state.limits.holder(&hash));
            let credential = live(credential?)?;
            admitted?;
            state.known_credentials.remember(&credential);
            let (voucher, person) = tokio::join!(
                state.store.voucher(credential.voucher_id),
                state.store.person(&credential.id_key)
            );
            (credential, voucher?, person?)
        }
    };
    Ok(Holder {
        voucher: found_voucher(voucher)?,
        person: found_person(person)?,
        credential,
        device: None,
    })
}

fn live(credential: Option<HolderCredential>) -> Result<HolderCredential, DomainError> {
    let credential = credential.ok_or(DomainError::Unauthorized)?;
    if credential.revoked {
        return Err(DomainError::CredentialRevoked);
    }
    Ok(credential)
}

fn found_voucher(voucher: Option<Voucher>) -> Result<Voucher, DomainError> {
    voucher.ok_or_else(|| DomainError::Internal("credential points to no voucher".into()))
}

fn found_person(person: Option<Person>) -> Result<Person, DomainError> {
    person.ok_or_else(|| DomainError::Internal("voucher of a person not in the registry".into()))
}
