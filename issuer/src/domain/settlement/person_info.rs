//! Person information for 实名就医 (national 1101): the settling institution reads who the
//! patient of one settled visit is, so the medical record carries the real name and ID number.
//!
//! The code itself stays pseudonymous. The identity is answered only to a terminal of the
//! institution whose handoff or decode made the settlement, within
//! [`PERSON_INFO_WINDOW_SECS`] of it, for a voucher that is not suspended; every read is
//! appended to the settlement (what the holder's 谁查看了我的身份信息 lists) before the
//! answer leaves, and reads are rate-limited per terminal and capped per visit.

use yibao_shared::{UnixTime, VoucherId};

use crate::domain::caller::{Holder, TerminalCaller};
use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::domain::family::shares::{Payer, payers_of};
use crate::domain::family::{self, owner};
use crate::domain::settlement::{institution_names, of_institution};
use crate::model::settlement::{IdentityRead, parse_reference};
use crate::model::{Person, VoucherStatus};
use crate::sealed::{IdentityDetails, open};

/// How long after the handoff (or decode) its institution may read the patient's identity:
/// registration, the visit and settlement happen the same day; a visit handed off after an
/// outage is read when it arrives.
pub const PERSON_INFO_WINDOW_SECS: u64 = 24 * 3_600;

/// The most identity reads of one visit: an HIS re-registering a patient reads again, a loop
/// reading forever is stopped.
pub const MAX_IDENTITY_READS: usize = 20;

/// What the settling institution learns about its patient.
#[derive(Debug)]
pub struct PersonInfo {
    /// The registry entry (person number, gender, birth date, region, insurance, status).
    pub person: Person,
    /// The sealed part, opened: ID number, full name, 1101 fields.
    pub details: IdentityDetails,
    /// Accounts that may pay for this visit (家庭共济).
    pub payers: Vec<Payer>,
}

/// Reads the identity of the patient of settlement `reference` for its institution, and
/// records the read.
///
/// # Errors
///
/// [`DomainError::RateLimited`]; [`DomainError::SettlementNotFound`] for a malformed
/// reference and for another institution's (never telling them apart);
/// [`DomainError::PersonInfoWindowClosed`]; [`DomainError::VoucherSuspended`];
/// [`DomainError::IdentityNotOnRecord`] for a person imported before identities were sealed;
/// [`DomainError::IdentityReadsExhausted`]; [`DomainError::Conflict`] after lost races;
/// store failures.
pub async fn read(
    state: &Context,
    by: &TerminalCaller,
    reference: &str,
    now: UnixTime,
) -> Result<PersonInfo, DomainError> {
    state.limits.person_info(&by.terminal.id).await?;
    let key = parse_reference(reference).ok_or(DomainError::SettlementNotFound)?;
    for _ in 0..3 {
        let current = of_institution(state, by, key).await?;
        if now.as_secs() > current.received_at.as_secs() + PERSON_INFO_WINDOW_SECS {
            return Err(DomainError::PersonInfoWindowClosed);
        }
        let (person, details) = identity(state, current.voucher_id).await?;
        if current.identity_reads.len() >= MAX_IDENTITY_READS {
            return Err(DomainError::IdentityReadsExhausted);
        }
        let mut read = current.clone();
        read.identity_reads.push(IdentityRead {
            at: now,
            terminal: by.terminal.id.clone(),
        });
        // Recorded (durably, on every backend) before anything is answered: a read the
        // holder cannot see never happened.
        if state.store.replace_settlement(&current, &read).await? {
            metrics::counter!("yibao_identity_reads_total").increment(1);
            tracing::info!(reference = %read.reference, terminal = %by.terminal.id, "identity read");
            let payers = payers_of(state, read.voucher_id, read.verified_at).await?;
            return Ok(PersonInfo {
                person,
                details,
                payers,
            });
        }
    }
    Err(DomainError::Conflict)
}

/// The registry entry and opened identity of `voucher`'s owner, if the voucher may be used.
async fn identity(
    state: &Context,
    voucher: VoucherId,
) -> Result<(Person, IdentityDetails), DomainError> {
    let record = state
        .store
        .voucher(voucher)
        .await?
        .ok_or_else(|| DomainError::Internal("settlement of a voucher not on record".into()))?;
    if record.status == VoucherStatus::Suspended {
        return Err(DomainError::VoucherSuspended);
    }
    let person = owner(state, voucher)
        .await?
        .ok_or_else(|| DomainError::Internal("settlement of a voucher not on record".into()))?;
    let sealed = person
        .identity
        .as_ref()
        .ok_or(DomainError::IdentityNotOnRecord)?;
    // A sealed value that does not open was sealed under another index secret or altered:
    // a fault for the operator, never an answer with someone else's identity.
    let details = open(&state.index, &person.id_key, sealed)
        .ok_or_else(|| DomainError::Internal("a sealed identity did not open".into()))?;
    Ok((person, details))
}

/// One identity read, for the holder: which institution, when, for which visit.
#[derive(Clone, Debug)]
pub struct ReadSeen {
    /// When it was read.
    pub at: UnixTime,
    /// The institution code.
    pub institution: String,
    /// Its name, while it is registered.
    pub institution_name: Option<String>,
    /// The visit's settlement reference.
    pub reference: String,
    /// When the visit's code was verified.
    pub visit_at: UnixTime,
}

/// Who read `target`'s identity (谁查看了我的身份信息), newest first: the caller's own, or an
/// actively bound family member's.
///
/// # Errors
///
/// [`DomainError::NotBound`] as for expenses; store failures.
pub async fn reads_of(
    state: &Context,
    caller: &Holder,
    target: VoucherId,
    now: UnixTime,
) -> Result<Vec<ReadSeen>, DomainError> {
    family::may_act_for(state, caller, target, now).await?;
    let names = institution_names(state).await?;
    let mut out: Vec<ReadSeen> = state
        .store
        .settlements_of(target)
        .await?
        .into_iter()
        .flat_map(|s| {
            let name = names.get(&s.institution).cloned();
            s.identity_reads
                .iter()
                .map(|r| ReadSeen {
                    at: r.at,
                    institution: s.institution.clone(),
                    institution_name: name.clone(),
                    reference: s.reference.clone(),
                    visit_at: s.verified_at,
                })
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort_by_key(|r| std::cmp::Reverse(r.at));
    Ok(out)
}
