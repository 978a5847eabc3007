//! Adding a family member.
//!
//! A holder on their own learns nothing about the registry from a bind: whether the ID
//! number is insured, whether the name matches, whether the request reached a real person,
//! whether that person rejected an earlier request, every answer is the same `requested`.
//! Only an established relation (registered guardian of a minor, or what an authenticated
//! channel attests it verified) binds at once, and only such a bind may activate the member's
//! voucher by proxy.

use yibao_shared::{Relation, UnixTime, VoucherId};

use super::{
    CONSENT_AGE, LinkSummary, PENDING_SECS, event, limit_reached, max_members, today, view,
};
use crate::domain::activation::Attestation;
use crate::domain::caller::Holder;
use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::id_number::IdNumber;
use crate::model::{
    Channel, Consent, FamilyLink, InsuredStatus, LinkEvent, LinkKind, LinkStatus, Person, Voucher,
    VoucherStatus,
};
use crate::secrets::random_bytes;
use crate::store::LinkSave;

/// After a rejection, the same binder's requests to the same person are dropped for this
/// long (30 days), silently: the binder is not told that the person exists or refused.
pub const COOLING_OFF_SECS: u64 = 30 * 86_400;

/// A request to add a family member: to show their code (亲情账户), or to let one's personal
/// account pay for them (个账家庭共济). Both follow the same consent rules.
pub struct Bind {
    /// What the link grants.
    pub kind: LinkKind,
    /// The member's full name as in the registry.
    pub name: String,
    /// The member's ID number.
    pub id_number: String,
    /// How the member relates to the binder.
    pub relation: Relation,
    /// For a member under 16: the guardianship the calling channel verified from a document.
    pub guardianship: Option<Guardianship>,
    /// For a member 16 or over: the member's real-person verification the channel attests.
    pub member_attestation: Option<Attestation>,
}

impl std::fmt::Debug for Bind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bind(<redacted>)")
    }
}

/// A channel's statement that it verified a guardianship from a document.
#[derive(Clone, Debug)]
pub struct Guardianship {
    /// Which document the channel checked.
    pub document: GuardianshipDocument,
    /// The channel's own reference for the check, for audit.
    pub reference: Option<String>,
}

/// A document that proves a guardianship.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardianshipDocument {
    /// 户口簿: the household register lists the child and the guardian.
    HouseholdRegister,
    /// 出生医学证明: the birth certificate names the parents.
    BirthCertificate,
}

impl GuardianshipDocument {
    fn as_str(self) -> &'static str {
        match self {
            Self::HouseholdRegister => "household-register",
            Self::BirthCertificate => "birth-certificate",
        }
    }
}

/// What a bind did.
#[derive(Debug)]
pub enum BindAnswer {
    /// Established: the link is active (201).
    Bound(LinkSummary),
    /// Sent for consent, or silently dropped; the caller cannot tell which (202).
    Requested(Requested),
}

/// A bind that needs someone's consent, or was silently dropped: the caller cannot tell.
#[derive(Clone, Copy, Debug)]
pub struct Requested {
    /// Until when the person (or a registered guardian) may approve.
    pub pending_until: UnixTime,
}

/// Adds a family member for the calling holder (the binder). `attesting` is the channel that
/// authenticated itself on the request (`X-Channel-Key`); only its attestations count.
///
/// # Errors
///
/// [`DomainError::AttestationNotAuthenticated`], [`DomainError::AttestationIncomplete`], an
/// invalid ID number, [`DomainError::CannotBindSelf`], [`DomainError::RateLimited`],
/// [`DomainError::FamilyLimitReached`], [`DomainError::AlreadyBound`]; for an attesting channel
/// only, the registry refusals (not in registry, name mismatch, not insured, region).
pub async fn bind(
    state: &Context,
    binder: &Holder,
    attesting: Option<&Channel>,
    request: &Bind,
) -> Result<BindAnswer, DomainError> {
    let binder_voucher = binder.active_voucher()?.voucher_id;
    let kind = request.kind;
    if kind == LinkKind::AccountShare
        && binder.person.insurance != yibao_shared::InsuranceType::Employee
    {
        // About the caller only: residents' insurance has no personal account.
        return Err(DomainError::AccountShareNeedsEmployee);
    }
    check_attestations(attesting, request)?;
    let id = IdNumber::parse(&request.id_number).map_err(DomainError::InvalidIdNumber)?;
    let id_key = state.index.id_key(&id);
    if id_key == binder.person.id_key {
        return Err(DomainError::CannotBindSelf);
    }
    state.limits.bind(binder_voucher).await?;
    let now = state.clock.now();
    // Checked before the registry is read, so a full family tells nothing about the member.
    let active = state
        .store
        .links_of_binder(kind, binder_voucher)
        .await?
        .iter()
        .filter(|l| l.counts_against_limit())
        .count();
    if active >= max_members(kind) {
        return Err(limit_reached(kind));
    }

    let requested = BindAnswer::Requested(Requested {
        pending_until: now.saturating_add(PENDING_SECS),
    });
    // One registry read and one name hash on every path, whoever the member is.
    let found = insured_person(state, &id_key, &request.name).await?;
    let Some(channel) = attesting else {
        // Without a channel's attestation only a registered guardian binds at once (they
        // enrolled the child: nothing is revealed to them). Everything else is delivered
        // after the answer, so neither the answer nor its timing depends on whether the
        // member exists, matches, has a voucher or rejected this binder before.
        let Ok(member) = found else {
            return Ok(requested);
        };
        if let Some((consent, bound)) = establishment(binder, None, request, &member, now) {
            let view = bind_established(state, binder, request, &member, consent, bound).await?;
            return Ok(BindAnswer::Bound(view));
        }
        let delivery = Delivery::new(binder, request, member, now);
        let state = state.clone();
        state.deliveries.clone().spawn(async move {
            if let Err(e) = delivery.send(&state).await {
                // Dropped, as a request to nobody is: the binder was told `requested`.
                tracing::warn!(binder = %delivery.binder, error = %e, "family request not delivered");
            }
        });
        return Ok(requested);
    };
    // A channel that checked the member or the documents itself is told precisely.
    let member = found?;
    if !channel.serves(member.region) {
        return Err(DomainError::RegionNotAllowed);
    }
    match establishment(binder, attesting, request, &member, now) {
        Some((consent, bound)) => {
            let view = bind_established(state, binder, request, &member, consent, bound).await?;
            Ok(BindAnswer::Bound(view))
        }
        None => {
            let delivery = Delivery::new(binder, request, member, now);
            match delivery.send(state).await {
                Err(DomainError::AlreadyBound) => Err(DomainError::AlreadyBound),
                other => other.map(|()| requested),
            }
        }
    }
}

fn check_attestations(attesting: Option<&Channel>, request: &Bind) -> Result<(), DomainError> {
    let claims_something = request.guardianship.is_some() || request.member_attestation.is_some();
    if claims_something && attesting.is_none() {
        return Err(DomainError::AttestationNotAuthenticated);
    }
    if let Some(a) = &request.member_attestation {
        if !(a.real_name && a.real_person) || a.method.trim().is_empty() {
            return Err(DomainError::AttestationIncomplete);
        }
    }
    if let Some(reference) = request
        .guardianship
        .as_ref()
        .and_then(|g| g.reference.as_deref())
    {
        if reference.chars().count() > 64 || reference.chars().any(char::is_control) {
            return Err(DomainError::InvalidField("guardianship.reference"));
        }
    }
    Ok(())
}

/// The registry entry, if it exists, matches the name and is insured; otherwise the
/// refusal (for a channel's eyes only).
async fn insured_person(
    state: &Context,
    id_key: &crate::secrets::IdKey,
    name: &str,
) -> Result<Result<Person, DomainError>, DomainError> {
    let Some(person) = state.store.person(id_key).await? else {
        return Ok(Err(DomainError::NotInRegistry));
    };
    if person.name_key != state.index.name_key(name) {
        return Ok(Err(DomainError::NameMismatch));
    }
    if person.status != InsuredStatus::Insured {
        return Ok(Err(DomainError::NotInsured));
    }
    Ok(Ok(person))
}

/// How the link is established at once, with its audit event, or `None`: it needs consent.
fn establishment(
    binder: &Holder,
    attesting: Option<&Channel>,
    request: &Bind,
    member: &Person,
    now: UnixTime,
) -> Option<(Consent, LinkEvent)> {
    let holder_channel = &binder.credential.channel;
    let minor = member.birth_date.age_on(today(now)) < CONSENT_AGE;
    if minor {
        if member.guardians.contains(&binder.person.id_key) {
            return Some((
                Consent::RegisteredGuardian,
                event(now, "bound", "binder", holder_channel),
            ));
        }
        let (guardianship, channel) = (request.guardianship.as_ref()?, attesting?);
        let mut bound = event(
            now,
            "bound",
            &format!("channel:{}", channel.id),
            holder_channel,
        );
        bound.evidence = Some(match &guardianship.reference {
            Some(r) => format!("{} {r}", guardianship.document.as_str()),
            None => guardianship.document.as_str().to_owned(),
        });
        return Some((Consent::GuardianshipAttested, bound));
    }
    let (attestation, channel) = (request.member_attestation.as_ref()?, attesting?);
    let mut bound = event(
        now,
        "bound",
        &format!("channel:{}", channel.id),
        holder_channel,
    );
    bound.evidence = Some(format!("real-person {}", attestation.method.trim()));
    Some((Consent::ChannelAttested, bound))
}

/// Saves an active link, activating the member's voucher by proxy if they have none. The
/// voucher is created only here, right before the link; if the link then cannot be saved
/// (a concurrent bind took the last place), the unused voucher is discarded again.
async fn bind_established(
    state: &Context,
    binder: &Holder,
    request: &Bind,
    member: &Person,
    consent: Consent,
    bound: LinkEvent,
) -> Result<LinkSummary, DomainError> {
    let binder_voucher = binder.voucher.voucher_id;
    let now = bound.at;
    let channel = binder.credential.channel.clone();
    let (member_voucher, by_proxy) = match state.store.voucher_of(&member.id_key).await? {
        Some(v) => (v, false),
        None => {
            let candidate = Voucher {
                voucher_id: VoucherId(
                    random_bytes().map_err(|e| DomainError::Internal(e.to_string()))?,
                ),
                id_key: member.id_key,
                status: VoucherStatus::Active,
                activated_at: now,
                activated_by: format!("family-proxy:{binder_voucher}:{channel}"),
            };
            let activation = state.store.ensure_voucher(&candidate).await?;
            (activation.voucher, activation.created)
        }
    };
    let saved = save_active(
        state,
        request.kind,
        binder_voucher,
        member_voucher.voucher_id,
        request.relation,
        consent,
        by_proxy,
        bound,
    )
    .await;
    if by_proxy && !matches!(saved, Ok(LinkSave::Saved)) {
        // Repair: a proxy activation exists only as part of a bind that succeeded.
        let discarded = state
            .store
            .discard_unused_voucher(&member_voucher, binder_voucher)
            .await
            .unwrap_or(false);
        tracing::info!(voucher = %member_voucher.voucher_id, discarded, "bind failed after proxy activation");
    }
    let link = match saved? {
        LinkSave::Saved => state
            .store
            .link(request.kind, binder_voucher, member_voucher.voucher_id)
            .await?
            .ok_or(DomainError::Conflict)?,
        LinkSave::LimitReached => return Err(limit_reached(request.kind)),
        LinkSave::Conflict => return Err(DomainError::Conflict),
    };
    tracing::info!(binder = %link.binder, member = %link.member, ?consent, kind = ?request.kind, "family link bound");
    Ok(view(&link, member, now))
}

#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
async fn save_active(
    state: &Context,
    kind: LinkKind,
    binder: VoucherId,
    member: VoucherId,
    relation: Relation,
    consent: Consent,
    by_proxy: bool,
    bound: LinkEvent,
) -> Result<LinkSave, DomainError> {
    let now = bound.at;
    let previous = state.store.link(kind, binder, member).await?;
    if previous
        .as_ref()
        .is_some_and(|l| l.status_at(now) == LinkStatus::Active)
    {
        return Err(DomainError::AlreadyBound);
    }
    let version = previous.as_ref().map_or(0, |l| l.version);
    let mut history = previous.map(|l| l.history).unwrap_or_default();
    if by_proxy {
        history.push(event(
            now,
            "member-activated-by-proxy",
            "binder",
            &bound.channel,
        ));
    }
    history.push(bound);
    let link = FamilyLink {
        kind,
        binder,
        member,
        relation,
        status: LinkStatus::Active,
        consent: Some(consent),
        pending_until: None,
        member_activated_by_proxy: by_proxy,
        version: version + 1,
        history,
    };
    Ok(state
        .store
        .save_link(&link, version, Some(max_members(kind)))
        .await?)
}

/// A pending request on its way to the member (or a registered guardian of a minor).
struct Delivery {
    kind: LinkKind,
    binder: VoucherId,
    /// The binder's channel, for the audit event.
    channel: String,
    relation: Relation,
    member: Person,
    now: UnixTime,
}

impl Delivery {
    fn new(binder: &Holder, request: &Bind, member: Person, now: UnixTime) -> Self {
        Self {
            kind: request.kind,
            binder: binder.voucher.voucher_id,
            channel: binder.credential.channel.clone(),
            relation: request.relation,
            member,
            now,
        }
    }

    /// Records the request where the member can see and decide it. Dropped silently when
    /// nobody could see it (the member has no voucher), when one is already pending, or within
    /// the cooling-off time after a rejection.
    ///
    /// # Errors
    ///
    /// [`DomainError::AlreadyBound`] (told to an attesting channel only), store failures.
    async fn send(&self, state: &Context) -> Result<(), DomainError> {
        let now = self.now;
        let Some(member_voucher) = state.store.voucher_of(&self.member.id_key).await? else {
            return Ok(());
        };
        let previous = state
            .store
            .link(self.kind, self.binder, member_voucher.voucher_id)
            .await?;
        if let Some(previous) = &previous {
            match previous.status_at(now) {
                LinkStatus::Active => return Err(DomainError::AlreadyBound),
                LinkStatus::Pending => return Ok(()),
                _ => {}
            }
            if previous
                .rejected_at()
                .is_some_and(|at| now.as_secs() < at.as_secs().saturating_add(COOLING_OFF_SECS))
            {
                return Ok(());
            }
        }
        let version = previous.as_ref().map_or(0, |l| l.version);
        let mut history = previous.map(|l| l.history).unwrap_or_default();
        history.push(event(now, "requested", "binder", &self.channel));
        let link = FamilyLink {
            kind: self.kind,
            binder: self.binder,
            member: member_voucher.voucher_id,
            relation: self.relation,
            status: LinkStatus::Pending,
            consent: None,
            pending_until: Some(now.saturating_add(PENDING_SECS)),
            member_activated_by_proxy: false,
            version: version + 1,
            history,
        };
        // A concurrent change of the same request wins; the caller's answer is the same.
        state.store.save_link(&link, version, None).await?;
        Ok(())
    }
}
