//! Family accounts (亲情账户): a binder adds up to five members, shows their codes, sees
//! their expenses. Members under 16 are active at once on the guardian's word; from 16 on a
//! member must consent (approve from their own account, or the binder's channel attests the
//! member's real-person verification). Either side can unbind at once.
//!
//! [`may_act_for`] is the one place that decides whether a caller may act for a voucher.

use serde::{Deserialize, Serialize};
use yibao_shared::{FamilyProxy, Relation, UnixTime, VoucherId};

use crate::auth::HolderAuth;
use crate::error::ApiError;
use crate::id_number::BirthDate;
use crate::model::{Consent, FamilyLink, LinkEvent, LinkStatus, Person, Voucher, VoucherStatus};
use crate::secrets::random_bytes;
use crate::service::{Attestation, IssuedToken, issue_token, registry_person};
use crate::state::AppState;
use crate::store::LinkSave;

/// Most members (active or pending) one binder may have.
pub const MAX_MEMBERS: usize = 5;
/// A pending request lapses after this long.
pub const PENDING_SECS: u64 = 7 * 86_400;
/// From this age a member must consent.
pub const CONSENT_AGE: u16 = 16;

/// A request to add a family member.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindRequest {
    /// The member's full name as in the registry.
    pub name: String,
    /// The member's ID number.
    pub id_number: String,
    /// How the member relates to the binder (`parent`: the member is the binder's parent).
    #[schema(value_type = String, example = "parent")]
    pub relation: Relation,
    /// For a member under 16: the binder attests being the guardian.
    #[serde(default)]
    pub guardian_attestation: bool,
    /// For a member 16 or over: the channel attests the member's real-person verification
    /// at binding time (consent given in person), so the link is active at once.
    #[serde(default)]
    pub member_attestation: Option<Attestation>,
}

impl std::fmt::Debug for BindRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BindRequest(<redacted>)")
    }
}

/// A link as either side sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct LinkView {
    /// The binder's voucher.
    #[schema(value_type = String)]
    pub binder: VoucherId,
    /// The member's voucher.
    #[schema(value_type = String)]
    pub member: VoucherId,
    /// Masked name of the other side (the member for the binder, the binder for the member).
    pub masked_name: String,
    /// How the member relates to the binder.
    #[schema(value_type = String)]
    pub relation: Relation,
    /// Status now (a lapsed pending request shows `expired`).
    pub status: LinkStatus,
    /// How it became active.
    pub consent: Option<Consent>,
    /// Deadline of a pending request.
    #[schema(value_type = Option<u64>)]
    pub pending_until: Option<UnixTime>,
    /// Whether binding activated the member's voucher.
    pub member_activated_by_proxy: bool,
}

/// One audit entry with the link it belongs to.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// The binder.
    #[schema(value_type = String)]
    pub binder: VoucherId,
    /// The member.
    #[schema(value_type = String)]
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

/// The one authorisation check: may the holder of `caller` act for `target` at `now`?
///
/// # Errors
///
/// [`ApiError::NotBound`] unless it is the caller's own voucher or an active link (pending,
/// rejected, expired and unbound links grant nothing).
pub async fn may_act_for(
    state: &AppState,
    caller: VoucherId,
    target: VoucherId,
    now: UnixTime,
) -> Result<Access, ApiError> {
    if caller == target {
        return Ok(Access::Own);
    }
    match state.store.link(caller, target).await? {
        Some(link) if link.status_at(now) == LinkStatus::Active => Ok(Access::Proxy(FamilyProxy {
            binder: caller,
            relation: link.relation,
        })),
        _ => Err(ApiError::NotBound),
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
    }
}

/// Adds a family member for the calling holder (the binder).
///
/// # Errors
///
/// Identification errors, [`ApiError::CannotBindSelf`], [`ApiError::AlreadyBound`],
/// [`ApiError::GuardianAttestationRequired`], [`ApiError::FamilyLimitReached`].
pub async fn bind(
    state: &AppState,
    binder: &HolderAuth,
    request: &BindRequest,
) -> Result<LinkView, ApiError> {
    let binder_voucher = binder.active_voucher()?.voucher_id;
    let member = registry_person(state, &request.name, &request.id_number).await?;
    if member.id_key == binder.person.id_key {
        return Err(ApiError::CannotBindSelf);
    }
    let now = state.clock.now();
    let channel = binder.credential.channel.clone();
    let under_age = member.birth_date.age_on(today(now)) < CONSENT_AGE;
    let (status, consent, mut history) = if under_age {
        if !request.guardian_attestation {
            return Err(ApiError::GuardianAttestationRequired);
        }
        (
            LinkStatus::Active,
            Some(Consent::Guardian),
            vec![event(now, "bound", "binder", &channel)],
        )
    } else if let Some(a) = &request.member_attestation {
        if !(a.real_name && a.real_person) || a.method.trim().is_empty() {
            return Err(ApiError::AttestationIncomplete);
        }
        (
            LinkStatus::Active,
            Some(Consent::ChannelAttested),
            vec![event(now, "bound", &format!("channel:{channel}"), &channel)],
        )
    } else {
        (
            LinkStatus::Pending,
            None,
            vec![event(now, "requested", "binder", &channel)],
        )
    };

    let existing_voucher = state.store.voucher_of(&member.id_key).await?;
    let (member_voucher, by_proxy) = match existing_voucher {
        Some(v) => (v, false),
        None => {
            let candidate = Voucher {
                voucher_id: VoucherId(
                    random_bytes().map_err(|e| ApiError::Internal(e.to_string()))?,
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
    let previous = state
        .store
        .link(binder_voucher, member_voucher.voucher_id)
        .await?;
    if previous.as_ref().is_some_and(|l| l.occupies_a_place(now)) {
        return Err(ApiError::AlreadyBound);
    }
    if by_proxy {
        history.insert(
            0,
            event(now, "member-activated-by-proxy", "binder", &channel),
        );
    }
    let version = previous.as_ref().map_or(0, |l| l.version);
    let mut full_history = previous.map(|l| l.history).unwrap_or_default();
    full_history.append(&mut history);
    let link = FamilyLink {
        binder: binder_voucher,
        member: member_voucher.voucher_id,
        relation: request.relation,
        status,
        consent,
        pending_until: (status == LinkStatus::Pending).then(|| now.saturating_add(PENDING_SECS)),
        member_activated_by_proxy: by_proxy,
        version: version + 1,
        history: full_history,
    };
    match state
        .store
        .save_link(&link, version, Some((MAX_MEMBERS, now)))
        .await?
    {
        LinkSave::Saved => {}
        LinkSave::LimitReached => return Err(ApiError::FamilyLimitReached),
        LinkSave::Conflict => return Err(ApiError::Conflict),
    }
    tracing::info!(binder = %link.binder, member = %link.member, ?status, "family link saved");
    Ok(view(&link, &member, now))
}

fn view(link: &FamilyLink, other: &Person, now: UnixTime) -> LinkView {
    LinkView {
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

async fn person_of(state: &AppState, voucher: VoucherId) -> Result<Person, ApiError> {
    let voucher = state
        .store
        .voucher(voucher)
        .await?
        .ok_or_else(|| ApiError::Internal("link to a missing voucher".into()))?;
    state
        .store
        .person(&voucher.id_key)
        .await?
        .ok_or_else(|| ApiError::Internal("voucher of a person not in the registry".into()))
}

/// The binder's members, with their status now.
///
/// # Errors
///
/// Store failures.
pub async fn members(state: &AppState, binder: VoucherId) -> Result<Vec<LinkView>, ApiError> {
    let now = state.clock.now();
    let mut out = Vec::new();
    for link in state.store.links_of_binder(binder).await? {
        out.push(view(&link, &person_of(state, link.member).await?, now));
    }
    out.sort_by_key(|v| v.member);
    Ok(out)
}

/// Who may show the member's code (and who asked to).
///
/// # Errors
///
/// Store failures.
pub async fn binders(state: &AppState, member: VoucherId) -> Result<Vec<LinkView>, ApiError> {
    let now = state.clock.now();
    let mut out = Vec::new();
    for link in state.store.links_of_member(member).await? {
        out.push(view(&link, &person_of(state, link.binder).await?, now));
    }
    out.sort_by_key(|v| v.binder);
    Ok(out)
}

/// Changes one link with compare-and-set, retrying a few times on concurrent changes.
async fn change(
    state: &AppState,
    binder: VoucherId,
    member: VoucherId,
    apply: impl Fn(&mut FamilyLink, UnixTime) -> Result<(), ApiError>,
) -> Result<FamilyLink, ApiError> {
    for _ in 0..3 {
        let now = state.clock.now();
        let mut link = state
            .store
            .link(binder, member)
            .await?
            .ok_or(ApiError::NotBound)?;
        let version = link.version;
        apply(&mut link, now)?;
        link.version = version + 1;
        if state.store.save_link(&link, version, None).await? == LinkSave::Saved {
            return Ok(link);
        }
    }
    Err(ApiError::Conflict)
}

/// The member approves or rejects a pending request.
///
/// # Errors
///
/// [`ApiError::NotBound`] without a request, [`ApiError::NotPending`] if it is not pending.
pub async fn decide(
    state: &AppState,
    member: &HolderAuth,
    binder: VoucherId,
    approve: bool,
) -> Result<LinkView, ApiError> {
    let channel = member.credential.channel.clone();
    let link = change(state, binder, member.voucher.voucher_id, |link, now| {
        if link.status_at(now) != LinkStatus::Pending {
            return Err(ApiError::NotPending);
        }
        if approve {
            link.status = LinkStatus::Active;
            link.consent = Some(Consent::MemberApproved);
            link.history
                .push(event(now, "approved", "member", &channel));
        } else {
            link.status = LinkStatus::Rejected;
            link.history
                .push(event(now, "rejected", "member", &channel));
        }
        link.pending_until = None;
        Ok(())
    })
    .await?;
    view_for_member(state, &link).await
}

async fn view_for_member(state: &AppState, link: &FamilyLink) -> Result<LinkView, ApiError> {
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
/// [`ApiError::NotBound`] if there is no active or pending link.
pub async fn unbind(
    state: &AppState,
    actor: &HolderAuth,
    binder: VoucherId,
    member: VoucherId,
) -> Result<(), ApiError> {
    let role = if actor.voucher.voucher_id == binder {
        "binder"
    } else {
        "member"
    };
    let channel = actor.credential.channel.clone();
    change(state, binder, member, |link, now| {
        if !link.occupies_a_place(now) {
            return Err(ApiError::NotBound);
        }
        link.status = LinkStatus::Unbound;
        link.pending_until = None;
        link.history.push(event(now, "unbound", role, &channel));
        Ok(())
    })
    .await?;
    tracing::info!(%binder, %member, by = role, "family link unbound");
    Ok(())
}

/// A token for `target`, shown by the caller: their own, or a member's with the proxy part.
///
/// # Errors
///
/// [`ApiError::NotBound`], or the token errors (suspended voucher, not insured).
pub async fn token_for(
    state: &AppState,
    caller: &HolderAuth,
    target: VoucherId,
) -> Result<IssuedToken, ApiError> {
    let caller_voucher = caller.active_voucher()?.voucher_id;
    match may_act_for(state, caller_voucher, target, state.clock.now()).await? {
        Access::Own => issue_token(state, &caller.voucher, &caller.person, None),
        Access::Proxy(proxy) => {
            let voucher = state
                .store
                .voucher(target)
                .await?
                .ok_or(ApiError::NotBound)?;
            let person = person_of(state, target).await?;
            issue_token(state, &voucher, &person, Some(proxy))
        }
    }
}

/// Every event of every link the voucher is part of, oldest first.
///
/// # Errors
///
/// Store failures.
pub async fn audit(state: &AppState, voucher: VoucherId) -> Result<Vec<AuditEntry>, ApiError> {
    let mut links = state.store.links_of_binder(voucher).await?;
    links.extend(state.store.links_of_member(voucher).await?);
    let mut out: Vec<AuditEntry> = links
        .into_iter()
        .flat_map(|l| {
            l.history.into_iter().map(move |event| AuditEntry {
                binder: l.binder,
                member: l.member,
                event,
            })
        })
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
