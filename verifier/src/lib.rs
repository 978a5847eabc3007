//! # yibao-verifier
//!
//! Offline verification of yibao voucher codes for hospital and pharmacy terminals.
//!
//! A terminal pins the operator's **root public key**, installs a **trust bundle** the root
//! signed (the issuer keys, their status and validity), and then verifies scanned codes with
//! no network: strict Ed25519 signature, key status and scope, validity window with a
//! clock-skew leeway, and refusal of a code already accepted here.
//!
//! The flow is typed: [`UntrustedToken::parse`](yibao_shared::UntrustedToken::parse) →
//! [`Verifier::verify`] → [`VerifiedToken`], whose fields are private so only verification
//! constructs one; then a [`ReplayGuard`] admits it once. [`Verifier::check_once`] does all
//! of it. Time is always an argument (a [`Clock`] in binaries), never read inside.
//!
//! A terminal adds the durable side: [`Terminal`] keeps every accepted presentation in an
//! [`Outbox`] (an embedded redb file, committed with fsync before "accepted") together with
//! the replay memory, and forwards it to settlement with a blocking client when online.
//!
//! The library pulls in no async runtime, web server or Redis client, so a terminal vendor
//! can embed it (`default-features = false` drops the CLI's dependencies too).
//!
//! ```
//! use yibao_shared::*;
//! use yibao_verifier::{MemoryReplayGuard, Policy, Verifier};
//!
//! let root = SecretKey::from_seed(&[1; 32]);
//! let issuer = SecretKey::from_seed(&[2; 32]);
//! let now = UnixTime::from_secs(1_767_225_600);
//! let bundle = TrustBundle {
//!     sequence: 1,
//!     issued_at: now,
//!     expires_at: now.saturating_add(7 * 86_400),
//!     keys: vec![IssuerKey {
//!         key_id: KeyId(1),
//!         public_key: issuer.public_key(),
//!         regions: vec![],
//!         not_before: now.saturating_sub(3_600),
//!         not_after: now.saturating_add(86_400),
//!         status: KeyStatus::Active,
//!     }],
//! }
//! .sign(&root);
//!
//! let mut verifier = Verifier::new(root.public_key(), Policy::default());
//! verifier.install_bundle(&bundle, now)?;
//!
//! let code = TokenBody {
//!     kind: TokenKind::IssuerSigned,
//!     key_id: KeyId(1),
//!     token_id: TokenId([9; 8]),
//!     issued_at: now,
//!     lifetime_secs: 60,
//!     claims: Claims {
//!         voucher_id: VoucherId([3; 8]),
//!         region: RegionCode::parse("310101").unwrap(),
//!         insurance: InsuranceType::Resident,
//!         masked_name: MaskedName::mask("测试乙").unwrap(),
//!         gender: Gender::Male,
//!         birth_year: 1990,
//!         proxy: None,
//!     },
//! }
//! .sign(&issuer)?;
//!
//! let mut guard = MemoryReplayGuard::new();
//! let token = verifier.check_once(&code, now, &mut guard).expect("accepted");
//! assert_eq!(token.claims().masked_name.as_str(), "测*乙");
//! assert!(verifier.check_once(&code, now, &mut guard).is_err()); // replayed
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod clock;
mod error;
pub mod outbox;
mod policy;
mod presentation;
mod replay;
mod status;
mod terminal;
#[cfg(feature = "terminal-dir")]
pub mod terminal_dir;
mod verifier;

pub use client::{ClientError, IssuerClient, MAX_BATCH};
pub use clock::{Clock, FixedClock, SystemClock};
pub use error::Rejection;
pub use outbox::{
    ForwardAttempt, Outbox, OutboxError, OutboxHealth, OutboxStatus, Recorder, SalvageReport,
};
pub use policy::Policy;
pub use presentation::{Outcome, Presentation, Visit};
pub use replay::{Admission, MemoryReplayGuard, ReplayGuard};
pub use status::{CertificateStatus, HeldStatus, StatusUpdate};
pub use terminal::{
    Accepted, FlushReport, ForwardError, OutboxCreated, SyncError, Terminal, TerminalConfig,
};
pub use verifier::{BundleUpdate, MAX_SEQUENCE_STEP, VerifiedToken, Verifier};
pub use yibao_shared;

use yibao_shared::UnixTime;

/// Why [`Verifier::check_once`] did not accept a code.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckError<E> {
    /// The code was refused; this is a verdict.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The replay guard could not record the code; no verdict was reached.
    #[error("replay guard failed")]
    Guard(#[source] E),
    /// A field of the visit is one settlement would refuse (an empty or over-long operator,
    /// a control character…): nothing was recorded; no verdict on the code.
    #[error("invalid visit field: {0}")]
    InvalidVisit(yibao_shared::InvalidVisitField),
}

impl Verifier {
    /// Parses, verifies and admits a code once through `guard`: the whole terminal-side check.
    ///
    /// # Errors
    ///
    /// [`CheckError::Rejected`] with the reason (including [`Rejection::Replayed`]), or
    /// [`CheckError::Guard`] when the guard failed to record.
    pub fn check_once<G: ReplayGuard>(
        &self,
        text: &str,
        now: UnixTime,
        guard: &mut G,
    ) -> Result<VerifiedToken, CheckError<G::Error>>
    where
        G::Error: std::error::Error + 'static,
    {
        let token = self.verify_text(text, now)?;
        let forget_after = token.expires_at().saturating_add(self.policy().leeway_secs);
        match guard
            .admit(&token, forget_after, now)
            .map_err(CheckError::Guard)?
        {
            Admission::First => Ok(token),
            Admission::Replayed { .. } => Err(Rejection::Replayed {
                token_id: token.token_id(),
            }
            .into()),
            Admission::ClockBehind { high_water } => {
                Err(Rejection::ClockBehind { now, high_water }.into())
            }
        }
    }
}
