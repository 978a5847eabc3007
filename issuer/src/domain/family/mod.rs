//! Family accounts (亲情账户): a binder adds up to five members, shows their codes, sees
//! their expenses. A member under 16 is active at once only for an *established* guardian
//! (the registry names the binder as the child's guardian, or a channel attests the
//! guardianship it verified from a document); anyone else waits for a registered guardian's
//! approval. From 16 on a member must consent (approve from their own account, or a channel
//! attests the member's real-person verification). Either side can unbind at once.
//!
//! [`may_act_for`] is the one place that decides whether a caller may act for a voucher;
//! [`bind`](bind::bind) never tells a holder whether someone is in the registry.

pub mod bind;
pub mod shares;

pub use self::bind::{Bind, BindAnswer, Guardianship, GuardianshipDocument, Requested};

use yibao_shared::{FamilyProxy, Relation, UnixTime, VoucherId};

use crate::domain::activation::{SignedToken, issue_token};
use crate::domain::caller::Holder;
use crate::domain::context::Context;
use crate::domain::error::DomainError;
use crate::id_number::BirthDate;
use crate::model::{Consent, FamilyLink, LinkEvent, LinkKind, LinkStatus, Person};
use crate::store::LinkSave;

/// Most members (active or pending) one binder may have.
pub const MAX_MEMBERS: usize = 5;
/// Most members one owner's personal account may pay for (个账家庭共济): spouse, both
/// parents, children and near relatives of a large family fit; provinces that set a lower
/// number refuse more at settlement.
pub const MAX_SHARE_MEMBERS: usize = 8;

/// The most active links of `kind` one binder may have.
pub fn max_members(kind: LinkKind) -> usize {
    match kind {
        LinkKind::Proxy => MAX_MEMBERS,
        LinkKind::AccountShare => MAX_SHARE_MEMBERS,
    }
}

/// The refusal when a binder has [`max_members`] already.
pub(crate) fn limit_reached(kind: LinkKind) -> DomainError {
    match kind {
        LinkKind::Proxy => DomainError::FamilyLimitReached,
        LinkKind::AccountShare => DomainError::AccountShareLimitReached,
    }
}
/// A pending request lapses after this long.
pub const PENDING_SECS: u64 = 7 * 86_400;
/// From this age a member must consent.
pub const CONSENT_AGE: u16 = 16;

/// A link as either side sees it.
#[derive(Clone, Debug)]
pub struct LinkSummary {
    /// The binder's voucher.
    pub binder: VoucherId,
    /// The member's voucher.
    pub member: VoucherId,
    /// Masked name of the other side (the member for the binder, the binder for the member).
    pub masked_name: String,
    /// How the member relates to the binder.
    pub relation: Relation,
    /// Status now (a lapsed pending request shows `expired`).
    pub status: LinkStatus,
    /// How it became active.
    pub consent: Option<Consent>,
    /// Deadline of a pending request.
    pub pending_until: Option<UnixTime>,
    /// Whether binding activated the member's voucher.
    pub member_activated_by_proxy: bool,
}

/// One audit event with the link it belongs to.
#[derive(Clone, Debug)]
pub struct LinkAudit {
    /// The binder.
    pub binder: VoucherId,
    /// The member.
    pub member: VoucherId,
    /// What happened.
    pub event: LinkEvent,
}

/// What a caller may do for a voucher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// It is the caller's own voucher.
    Own,
    /// An active family link: act as a proxy.
    Proxy(FamilyProxy),
}

/// The one authorisation check, for codes and expenses alike: may `caller` act for `target`
/// at `now`?
///
/// # Errors
///
/// [`DomainError::NotBound`] unless it is the caller's own voucher or an active link (pending,
/// rejected, expired and unbound links grant nothing); [`DomainError::VoucherSuspended`] when a
/// suspended holder tries to act for someone else.
pub async fn may_act_for(
    state: &Context,
    caller: &Holder,
    target: VoucherId,
    now: UnixTime,
) -> Result<Access, DomainError> {
    if caller.voucher.voucher_id == target {
        return Ok(Access::Own);
    }
    let binder = caller.active_voucher()?.voucher_id;
    match state.store.link(LinkKind::Proxy, binder, target).await? {
        Some(link) if link.status_at(now) == LinkStatus::Active => Ok(Access::Proxy(FamilyProxy {
            binder,
            relation: link.relation,
        })),
        _ => Err(DomainError::NotBound),
    }
}

/// The civil date in China Standard Time (UTC+8) at `now`.
pub(crate) fn today(now: UnixTime) -> BirthDate {
    // Civil date from Unix days (Howard Hinnant's algorithm), UTC+8 (China Standard Time).
    let days = (now.as_secs() + 8 * 3_600) / 86_400;
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
    BirthDate { year, month, day }
}

fn event(now: UnixTime, action: &str, actor: &str, channel: &str) -> LinkEvent {
    LinkEvent {
        at: now,
        action: action.to_owned(),
        actor: actor.to_owned(),
        channel: channel.to_owned(),
        evidence: None,
    }
}

fn view(link: &FamilyLink, other: &Person, now: UnixTime) -> LinkSummary {
    LinkSummary {
        binder: link.binder,
        member: link.member,
        masked_name: other.masked_name.to_string(),
        relation: link.relation,
        status: link.status_at(now),
        consent: link.consent,
        pending_until: link.pending_until,
        member_activated_by_proxy: link.member_activated_by_proxy,
    }
}

/// The owner of `voucher`. A voucher that does not exist (a caller's made-up id, or a link
/// left by a proxy activation that was undone) is [`DomainError::NotBound`]: it grants nothing.
async fn person_of(state: &Context, voucher: VoucherId) -> Result<Person, DomainError> {
    owner(state, voucher).await?.ok_or(DomainError::NotBound)
}

/// The owner of `voucher`, or `None` if there is no such voucher (lists skip such links).
pub(crate) async fn owner(
    state: &Context,
    voucher: VoucherId,
) -> Result<Option<Person>, DomainError> {
    let Some(voucher) = state.store.voucher(voucher).await? else {
        return Ok(None);
    };
    state
        .store
        .person(&voucher.id_key)
        .await?
        .map(Some)
        .ok_or_else(|| DomainError::Internal("voucher of a person not in the registry".into()))
}

/// The binder's members, with their status now: links that are or were active. Requests
/// still waiting, rejected or lapsed are not shown to the binder (that would tell whether a
/// request reached a real person).
///
/// # Errors
///
/// Store failures.
pub async fn members(
    state: &Context,
    kind: LinkKind,
    binder: VoucherId,
) -> Result<Vec<LinkSummary>, DomainError> {
    let now = state.clock.now();
    let mut out = Vec::new();
    for link in state.store.links_of_binder(kind, binder).await? {
        if !matches!(link.status, LinkStatus::Active | LinkStatus::Unbound) {
            continue;
        }
        if let Some(member) = owner(state, link.member).await? {
            out.push(view(&link, &member, now));
        }
    }
    out.sort_by_key(|v| v.member);
    Ok(out)
}

/// Who may show the member's code (and who asked to).
///
/// # Errors
///
/// Store failures.
pub async fn binders(
    state: &Context,
    kind: LinkKind,
    member: VoucherId,
) -> Result<Vec<LinkSummary>, DomainError> {
    let now = state.clock.now();
    let mut out = Vec::new();
    for link in state.store.links_of_member(kind, member).await? {
        if let Some(binder) = owner(state, link.binder).await? {
            out.push(view(&link, &binder, now));
        }
    }
    out.sort_by_key(|v| v.binder);
    Ok(out)
}

/// Changes one link with compare-and-set, retrying a few times on concurrent changes. With
/// `limit`, the change is refused when it would give the binder more than [`max_members`]
/// active members.
async fn change(
    state: &Context,
    kind: LinkKind,
    binder: VoucherId,
    member: VoucherId,
    limit: bool,
    apply: impl Fn(&mut FamilyLink, UnixTime) -> Result<(), DomainError>,
) -> Result<FamilyLink, DomainError> {
    for _ in 0..3 {
        let now = state.clock.now();
        let mut link = state
            .store
            .link(kind, binder, member)
            .await?
            .ok_or(DomainError::NotBound)?;
        let version = link.version;
        apply(&mut link, now)?;
        link.version = version + 1;
        let limit = limit.then_some(max_members(kind));
        match state.store.save_link(&link, version, limit).await? {
            LinkSave::Saved => return Ok(link),
            LinkSave::LimitReached => return Err(limit_reached(kind)),
            LinkSave::Conflict => {}
        }
    }
    Err(DomainError::Conflict)
}

/// Whether `decider` may decide requests to show `member`'s code: the member themselves
/// (from 16; a child may only reject), or a guardian the registry names for a minor member.
/// Returns the decider's role for the audit trail.
async fn decider_role(
    state: &Context,
    decider: &Holder,
    member: VoucherId,
    approve: bool,
    now: UnixTime,
) -> Result<&'static str, DomainError> {
    let minor = |p: &Person| p.birth_date.age_on(today(now)) < CONSENT_AGE;
    if decider.voucher.voucher_id == member {
        if approve && minor(&decider.person) {
            return Err(DomainError::GuardianApprovalRequired);
        }
        return Ok("member");
    }
    decider.active_voucher()?;
    let person = person_of(state, member).await?;
    if minor(&person) && person.guardians.contains(&decider.person.id_key) {
        Ok("guardian")
    } else {
        Err(DomainError::NotBound)
    }
}

/// The member, or a registered guardian of a minor member, approves or rejects a pending
/// request. Approval is refused if the binder already has [`MAX_MEMBERS`] active members.
///
/// # Errors
///
/// [`DomainError::NotBound`] without a request or right to decide, [`DomainError::NotPending`] if
/// it is not pending, [`DomainError::GuardianApprovalRequired`] for a child approving,
/// [`DomainError::FamilyLimitReached`].
pub async fn decide(
    state: &Context,
    kind: LinkKind,
    decider: &Holder,
    binder: VoucherId,
    member: VoucherId,
    approve: bool,
) -> Result<LinkSummary, DomainError> {
    let role = decider_role(state, decider, member, approve, state.clock.now()).await?;
    let channel = decider.credential.channel.clone();
    let link = change(state, kind, binder, member, approve, |link, now| {
        if link.status_at(now) != LinkStatus::Pending {
            return Err(DomainError::NotPending);
        }
        if approve {
            link.status = LinkStatus::Active;
            link.consent = Some(if role == "guardian" {
                Consent::RegisteredGuardian
            } else {
                Consent::MemberApproved
            });
            link.history.push(event(now, "approved", role, &channel));
        } else {
            link.status = LinkStatus::Rejected;
            link.history.push(event(now, "rejected", role, &channel));
        }
        link.pending_until = None;
        Ok(())
    })
    .await?;
    view_for_member(state, &link).await
}

/// Requests the caller may decide: to show the caller's own code, and, for a registered
/// guardian, to show the code of a minor the guardian has bound.
///
/// # Errors
///
/// Store failures.
pub async fn requests(
    state: &Context,
    kind: LinkKind,
    caller: &Holder,
) -> Result<Vec<LinkSummary>, DomainError> {
    let now = state.clock.now();
    let me = caller.voucher.voucher_id;
    let mut members = vec![me];
    // The wards are the children the caller shows (亲情账户), whatever kind is asked about.
    for link in state.store.links_of_binder(LinkKind::Proxy, me).await? {
        if link.status_at(now) != LinkStatus::Active {
            continue;
        }
        let Some(ward) = owner(state, link.member).await? else {
            continue;
        };
        if ward.birth_date.age_on(today(now)) < CONSENT_AGE
            && ward.guardians.contains(&caller.person.id_key)
        {
            members.push(link.member);
        }
    }
    let mut out = Vec::new();
    for member in members {
        for link in state.store.links_of_member(kind, member).await? {
            if link.status_at(now) == LinkStatus::Pending && link.binder != me {
                if let Some(binder) = owner(state, link.binder).await? {
                    out.push(view(&link, &binder, now));
                }
            }
        }
    }
    out.sort_by_key(|v| (v.member, v.binder));
    Ok(out)
}

async fn view_for_member(state: &Context, link: &FamilyLink) -> Result<LinkSummary, DomainError> {
    Ok(view(
        link,
        &person_of(state, link.binder).await?,
        state.clock.now(),
    ))
}

/// Ends a link from either side; effective at once.
///
/// # Errors
///
/// [`DomainError::NotBound`] if there is no active or pending link.
pub async fn unbind(
    state: &Context,
    kind: LinkKind,
    actor: &Holder,
    binder: VoucherId,
    member: VoucherId,
) -> Result<(), DomainError> {
    let role = if actor.voucher.voucher_id == binder {
        "binder"
    } else {
        "member"
    };
    let channel = actor.credential.channel.clone();
    change(state, kind, binder, member, false, |link, now| {
        if !link.occupies_a_place(now) {
            return Err(DomainError::NotBound);
        }
        link.status = LinkStatus::Unbound;
        link.pending_until = None;
        link.history.push(event(now, "unbound", role, &channel));
        Ok(())
    })
    .await?;
    if kind == LinkKind::Proxy {
        // The binder's phones lose the member's offline codes at terminals' next sync.
        crate::domain::devices::revoke::link_ended(
            &*state.store,
            state.clock.now(),
            binder,
            member,
        )
        .await?;
    }
    tracing::info!(%binder, %member, by = role, ?kind, "family link unbound");
    Ok(())
}

/// A token for `target`, shown by the caller: their own, or a member's with the proxy part.
///
/// # Errors
///
/// [`DomainError::NotBound`], or the token errors (suspended voucher, not insured).
pub async fn token_for(
    state: &Context,
    caller: &Holder,
    target: VoucherId,
) -> Result<SignedToken, DomainError> {
    match may_act_for(state, caller, target, state.clock.now()).await? {
        Access::Own => issue_token(state, caller.active_voucher()?, &caller.person, None),
        Access::Proxy(proxy) => {
            let voucher = state
                .store
                .voucher(target)
                .await?
                .ok_or(DomainError::NotBound)?;
            let person = person_of(state, target).await?;
            issue_token(state, &voucher, &person, Some(proxy))
        }
    }
}

/// What of a link's history its binder sees: the link becoming active and ending. Never a
/// request's fate (`requested` appears only when the member exists and has a voucher,
/// `rejected` is the member's decision): what a binder's own views show of a request must
/// not depend on who the member is, whether they exist, or what they decided.
const SEEN_BY_THE_BINDER: [&str; 4] = ["bound", "approved", "member-activated-by-proxy", "unbound"];

/// Every event of every link the voucher is part of, oldest first: all of them on the links
/// where it is the member, the [`SEEN_BY_THE_BINDER`] ones where it is the binder.
///
/// # Errors
///
/// Store failures.
pub async fn audit(
    state: &Context,
    kind: LinkKind,
    voucher: VoucherId,
) -> Result<Vec<LinkAudit>, DomainError> {
    let as_binder = state.store.links_of_binder(kind, voucher).await?;
    let as_member = state.store.links_of_member(kind, voucher).await?;
    let entries = |links: Vec<FamilyLink>, shown: fn(&LinkEvent) -> bool| {
        links.into_iter().flat_map(move |l| {
            l.history
                .into_iter()
                .filter(shown)
                .map(move |event| LinkAudit {
                    binder: l.binder,
                    member: l.member,
                    event,
                })
        })
    };
    let mut out: Vec<LinkAudit> = entries(as_binder, |e| {
        SEEN_BY_THE_BINDER.contains(&e.action.as_str())
    })
    .chain(entries(as_member, |_| true))
    .collect();
    out.sort_by_key(|e| e.event.at);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_from_unix_time_in_china_standard_time() {
        // 2026-01-01T00:00:00Z is 08:00 on 1 January in Beijing.
        let d = today(UnixTime::from_secs(1_767_225_600));
        assert_eq!((d.year, d.month, d.day), (2026, 1, 1));
        // 2025-12-31T16:00:00Z is already 1 January in Beijing.
        let d = today(UnixTime::from_secs(1_767_225_600 - 8 * 3_600));
        assert_eq!((d.year, d.month, d.day), (2026, 1, 1));
        let d = today(UnixTime::from_secs(1_767_225_600 - 8 * 3_600 - 1));
        assert_eq!((d.year, d.month, d.day), (2025, 12, 31));
        let d = today(UnixTime::from_secs(951_782_400)); // 2000-02-29T00:00Z
        assert_eq!((d.year, d.month, d.day), (2000, 2, 29));
    }
}
