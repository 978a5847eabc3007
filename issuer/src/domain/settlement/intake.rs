//! Handoffs from terminals and online decode: re-verify, then settle each token once.

use yibao_shared::{
    BusinessType, InvalidVisitField, TokenId, UnixTime, UntrustedToken, VisitContext, VisitFields,
};
use yibao_verifier::{Rejection, VerifiedToken};

use crate::domain::caller::TerminalCaller;
use crate::domain::context::Context;
use crate::domain::devices::status::KnownStatus;
use crate::domain::error::DomainError;
use crate::domain::family::shares::{Payer, payers_of};
use crate::model::settlement::{DoubleUse, Settlement, reference};
use crate::signing::KeyMaterial;

/// One presentation a terminal verified and queued, as it handed it off.
#[derive(Clone, Debug)]
pub struct Handoff {
    /// The code as scanned.
    pub code: String,
    /// The institution code (must be the terminal's).
    pub institution: String,
    /// Cashier or operator id.
    pub operator: String,
    /// National business-type code.
    pub business_type: String,
    /// Operator's name, office, device, as the hospital system gave them.
    pub context: VisitContext,
    /// When the terminal verified it.
    pub verified_at: u64,
    /// Verified by the terminal against its trust bundle.
    pub offline: bool,
}

/// What became of one handoff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandoffOutcome {
    /// Settled by this terminal (now or on an earlier try).
    Settled {
        /// The token.
        token_id: TokenId,
        /// The settlement reference.
        reference: String,
    },
    /// Another terminal settled this token first; recorded for audit.
    DoubleUse {
        /// The token.
        token_id: TokenId,
    },
    /// Refused.
    Rejected {
        /// The token, when the code could be read.
        token_id: Option<TokenId>,
        /// A verifier rejection code, `handoff-too-late`, …
        code: &'static str,
        /// Why.
        message: String,
    },
}

fn rejected(token_id: Option<TokenId>, code: &'static str, message: String) -> HandoffOutcome {
    HandoffOutcome::Rejected {
        token_id,
        code,
        message,
    }
}

/// What settling one verified token did.
#[derive(Debug)]
pub enum Settled {
    /// This call settled it.
    New(Settlement),
    /// This terminal had settled it already (a retry).
    Repeat(Settlement),
    /// Another terminal had settled it: refused, recorded.
    DoubleUse(Settlement),
}

/// Where and why a verified token is being settled.
#[derive(Debug)]
pub struct Presented<'a> {
    /// The calling terminal.
    pub by: &'a TerminalCaller,
    /// Operator id.
    pub operator: &'a str,
    /// Business type.
    pub business_type: BusinessType,
    /// Operator's name, office, device.
    pub context: &'a VisitContext,
    /// When it was verified.
    pub verified_at: UnixTime,
    /// Verified by the terminal itself.
    pub offline: bool,
}

/// The settlement `token` would get if this presentation is the first.
fn candidate(token: &VerifiedToken, presented: &Presented<'_>, now: UnixTime) -> Settlement {
    let (voucher, token_id) = (token.voucher_id(), token.token_id());
    Settlement {
        reference: reference(voucher, token_id),
        voucher_id: voucher,
        token_id,
        shown_by: token.proxy().map(|p| p.binder),
        terminal: presented.by.terminal.id.clone(),
        institution: presented.by.institution.code.clone(),
        institution_kind: presented.by.institution.kind,
        operator: presented.operator.to_owned(),
        business_type: presented.business_type,
        context: presented.context.clone(),
        verified_at: presented.verified_at,
        offline: presented.offline,
        received_at: now,
        amounts: None,
        completed_at: None,
        identity_reads: Vec::new(),
    }
}

/// What the insert-if-absent of `candidate` found, as a verdict; records a double use.
async fn resolve(
    state: &Context,
    candidate: Settlement,
    existing: Option<Settlement>,
    now: UnixTime,
) -> Result<Settled, DomainError> {
    let Some(existing) = existing else {
        metrics::counter!("yibao_settlements_total", "outcome" => "settled").increment(1);
        return Ok(Settled::New(candidate));
    };
    if existing.terminal == candidate.terminal {
        metrics::counter!("yibao_settlements_total", "outcome" => "repeat").increment(1);
        return Ok(Settled::Repeat(existing));
    }
    metrics::counter!("yibao_settlements_total", "outcome" => "double-use").increment(1);
    tracing::warn!(
        reference = %existing.reference,
        settled_by = %existing.terminal,
        terminal = %candidate.terminal,
        "double use refused"
    );
    state
        .store
        .record_double_use(&DoubleUse {
            reference: existing.reference.clone(),
            voucher_id: candidate.voucher_id,
            token_id: candidate.token_id,
            settled_by: existing.terminal.clone(),
            terminal: candidate.terminal,
            institution: candidate.institution,
            operator: candidate.operator,
            verified_at: candidate.verified_at,
            received_at: now,
        })
        .await?;
    Ok(Settled::DoubleUse(existing))
}

/// Settles `token` once across all terminals.
///
/// # Errors
///
/// Store failures only.
pub async fn settle(
    state: &Context,
    token: &VerifiedToken,
    presented: &Presented<'_>,
    now: UnixTime,
) -> Result<Settled, DomainError> {
    let candidate = candidate(token, presented, now);
    let existing = state.store.insert_settlement(&candidate).await?;
    resolve(state, candidate, existing, now).await
}

/// A business type, operator and visit context a terminal sent, checked.
///
/// # Errors
///
/// [`DomainError::InvalidBusinessType`], [`DomainError::InvalidField`] for the operator and
/// the context's fields, [`DomainError::InstitutionMismatch`].
pub fn check_visit(
    by: &TerminalCaller,
    institution: &str,
    operator: &str,
    business_type: &str,
    context: &VisitContext,
) -> Result<BusinessType, DomainError> {
    if institution != by.institution.code {
        return Err(DomainError::InstitutionMismatch);
    }
    // The terminal checked these same rules before it recorded the visit (one function in
    // yibao-shared), so a visit it accepted is never refused here for its fields.
    let checked = VisitFields::check(institution, operator, business_type)
        .and_then(|fields| context.check().map(|()| fields.business_type()));
    match checked {
        Ok(business_type) => Ok(business_type),
        Err(InvalidVisitField::BusinessType) => Err(DomainError::InvalidBusinessType),
        Err(invalid) => Err(DomainError::InvalidField(invalid.field())),
    }
}

/// Handles a batch of handoffs: each visit checked, each code re-verified as of when the
/// terminal verified it, lateness bounded, then all settled once in one store round trip.
///
/// The window: `verified_at` may not lie in the future (beyond the clock-skew leeway), the
/// code must have been valid at `verified_at` (the verifier's own checks, revoked keys
/// refused), and the handoff must arrive within `handoff_window_secs` of the code's expiry.
///
/// # Errors
///
/// Store failures only; every verdict is a [`HandoffOutcome`], in request order.
pub async fn hand_off(
    state: &Context,
    by: &TerminalCaller,
    items: Vec<Handoff>,
    now: UnixTime,
) -> Result<Vec<HandoffOutcome>, DomainError> {
    let capacity = items.len();
    // Device-bound codes: what the store says about their certificates, looked up first.
    let mut statuses = Vec::with_capacity(capacity);
    for item in &items {
        statuses.push(KnownStatus::of_code(state, &item.code).await?);
    }
    // Up to 500 signature checks (about 15 ms of CPU): on the blocking pool, so the
    // runtime's workers keep answering other requests meanwhile.
    let prepared: Vec<Result<Settlement, HandoffOutcome>> = {
        let (state, by) = (state.clone(), by.clone());
        tokio::task::spawn_blocking(move || {
            let keys = state.keys();
            items
                .iter()
                .zip(&statuses)
                .map(|(item, status)| prepare(&state, &keys, &by, item, status, now))
                .collect()
        })
        .await
        .map_err(|e| DomainError::Internal(format!("handoff verification: {e}")))?
    };
    let candidates: Vec<Settlement> = prepared.iter().flatten().cloned().collect();
    let mut existing = state
        .store
        .insert_settlements(&candidates)
        .await?
        .into_iter();
    let mut results = Vec::with_capacity(capacity);
    for prepared in prepared {
        let candidate = match prepared {
            Ok(candidate) => candidate,
            Err(rejected) => {
                results.push(rejected);
                continue;
            }
        };
        let found = existing
            .next()
            .ok_or_else(|| DomainError::Internal("store answered fewer settlements".into()))?;
        results.push(match resolve(state, candidate, found, now).await? {
            Settled::New(s) | Settled::Repeat(s) => HandoffOutcome::Settled {
                token_id: s.token_id,
                reference: s.reference,
            },
            Settled::DoubleUse(s) => HandoffOutcome::DoubleUse {
                token_id: s.token_id,
            },
        });
    }
    // No 家庭共济 payers here: a handoff answers a terminal's outbox, which keeps only the
    // reference; the hospital system reads the payers from person information (or decode).
    // Looking them up per item cost a quarter of intake on Redis (docs/PERFORMANCE.md).
    Ok(results)
}

/// One handoff checked and re-verified: the settlement it would create, or its refusal.
fn prepare(
    state: &Context,
    keys: &KeyMaterial,
    by: &TerminalCaller,
    item: &Handoff,
    status: &KnownStatus,
    now: UnixTime,
) -> Result<Settlement, HandoffOutcome> {
    let business_type = check_visit(
        by,
        &item.institution,
        &item.operator,
        &item.business_type,
        &item.context,
    )
    .map_err(|e| rejected(None, e.code(), e.to_string()))?;
    let verified_at = UnixTime::from_secs(item.verified_at);
    let verifier = keys.verifier();
    let leeway = verifier.policy().leeway_secs;
    // Before the code is verified at `verified_at`: a time in the future would otherwise be
    // reported as the code having expired by then.
    if verified_at > now.saturating_add(leeway) {
        return Err(rejected(
            None,
            "verified-in-future",
            format!("verified_at {verified_at} is ahead of the issuer's clock ({now})"),
        ));
    }
    let token = UntrustedToken::parse(&item.code)
        .map_err(Rejection::from)
        .and_then(|token| verifier.verify_with(&token, verified_at, status))
        .map_err(|r| rejected(None, r.code(), r.to_string()))?;
    let last_day = token
        .expires_at()
        .saturating_add(leeway)
        .saturating_add(state.handoff_window_secs);
    if now > last_day {
        return Err(rejected(
            Some(token.token_id()),
            "handoff-too-late",
            format!("handed off after the settlement window closed at {last_day}"),
        ));
    }
    let presented = Presented {
        by,
        operator: &item.operator,
        business_type,
        context: &item.context,
        verified_at,
        offline: item.offline,
    };
    Ok(candidate(&token, &presented, now))
}

/// A code a terminal asks the issuer to check online, and the visit it is for.
#[derive(Clone, Copy, Debug)]
pub struct Visit<'a> {
    /// Operator's name, office, device.
    pub context: &'a VisitContext,
    /// The code as scanned.
    pub code: &'a str,
    /// The institution code (must be the terminal's).
    pub institution: &'a str,
    /// Cashier or operator id.
    pub operator: &'a str,
    /// National business-type code.
    pub business_type: &'a str,
}

/// The verdict of an online decode.
#[derive(Debug)]
pub enum Decoded {
    /// The verifier's refusal.
    Refused(Rejection),
    /// Accepted and settled by this call.
    Accepted {
        /// What the code says.
        token: VerifiedToken,
        /// The settlement reference.
        reference: String,
        /// Accounts that may pay for the visit (家庭共济).
        payers: Vec<Payer>,
    },
    /// This terminal settled it already (a retry after a lost answer): the offline
    /// verifier's `replayed`, with the terminal's own settlement.
    Repeat(Settlement),
    /// Another terminal settled it first.
    DoubleUse(Settlement),
}

/// Online decode: verify now, with the offline verifier's rules, and settle once.
///
/// # Errors
///
/// Bad visit fields and store failures; verdicts are a [`Decoded`].
pub async fn decode(
    state: &Context,
    by: &TerminalCaller,
    visit: &Visit<'_>,
    now: UnixTime,
) -> Result<Decoded, DomainError> {
    let business_type = check_visit(
        by,
        visit.institution,
        visit.operator,
        visit.business_type,
        visit.context,
    )?;
    let keys = state.keys();
    let status = KnownStatus::of_code(state, visit.code).await?;
    let verdict = UntrustedToken::parse(visit.code)
        .map_err(Rejection::from)
        .and_then(|token| keys.verifier().verify_with(&token, now, &status));
    let token = match verdict {
        Ok(token) => token,
        Err(rejection) => return Ok(Decoded::Refused(rejection)),
    };
    let presented = Presented {
        by,
        operator: visit.operator,
        business_type,
        context: visit.context,
        verified_at: now,
        offline: false,
    };
    Ok(match settle(state, &token, &presented, now).await? {
        Settled::New(s) => Decoded::Accepted {
            payers: payers_of(state, s.voucher_id, s.verified_at).await?,
            token,
            reference: s.reference,
        },
        Settled::Repeat(s) => Decoded::Repeat(s),
        Settled::DoubleUse(s) => Decoded::DoubleUse(s),
    })
}
