//! A terminal: its identity, its verifier, its outbox and its link to the issuer, wired
//! together. This is what a cashier program embeds.
//!
//! One terminal serves several threads (`&self` everywhere), and **no lock is held across a
//! network call**: a flush takes the queue, sends it with no lock held, then records the
//! answers; a sync fetches with no lock held, then swaps the new bundle in. A check only
//! clones the current verifier (an `Arc`) and writes its own outbox transaction, so a
//! cashier never waits behind an issuer that does not answer.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use yibao_shared::{BusinessType, PublicKey, UnixTime, VisitContext, VisitFields};

use crate::client::{ClientError, IssuerClient, MAX_BATCH};
use crate::outbox::{ForwardAttempt, Outbox, OutboxError, OutboxHealth, OutboxStatus};
use crate::presentation::{Presentation, Visit};
use crate::status::{HeldStatus, StatusUpdate};
use crate::verifier::{BundleUpdate, VerifiedToken, Verifier};
use crate::{CheckError, Policy, Rejection};

/// Who this terminal is and where its issuer is.
#[derive(Clone)]
pub struct TerminalConfig {
    /// The issuer's base URL, e.g. `https://yibao.example.org`.
    pub issuer_url: String,
    /// The terminal credential the operator registered (`ybt_…`).
    pub credential: String,
    /// The institution the terminal belongs to.
    pub institution: String,
    /// The operator's root public key, pinned at installation.
    pub root_key: PublicKey,
    /// Where the outbox lives.
    pub data_dir: PathBuf,
    /// Verification policy.
    pub policy: Policy,
    /// How long one call to the issuer may take.
    pub timeout: Duration,
}

impl std::fmt::Debug for TerminalConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalConfig")
            .field("issuer_url", &self.issuer_url)
            .field("credential", &"<redacted>")
            .field("institution", &self.institution)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// What [`Terminal::create_outbox`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutboxCreated {
    /// A new, empty outbox.
    New,
    /// There was one; it is kept as it was.
    Kept,
    /// The old one (if any) was moved aside to `aside`; a new, empty one replaces it.
    Reset {
        /// Where the old file went.
        aside: Option<PathBuf>,
    },
}

/// A code accepted and durably queued.
#[derive(Clone, Debug)]
pub struct Accepted {
    /// The verified token.
    pub token: VerifiedToken,
    /// Its place in the outbox.
    pub seq: u64,
}

/// Why a bundle sync did not install a bundle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The issuer could not be asked.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The bundle offered was refused (bad signature, rollback, stale).
    #[error("trust bundle refused: {0}")]
    Refused(#[from] Rejection),
    /// The bundle could not be kept.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// Why a forward stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForwardError {
    /// Talking to the issuer failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The outbox failed.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

impl ForwardError {
    /// Whether retrying later may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Client(e) if e.is_transient())
    }
}

/// What one call to [`Terminal::flush`] achieved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Presentations settlement answered (settled or refused).
    pub answered: u64,
    /// Requests that failed and were retried.
    pub retries: u32,
    /// Still queued when the flush ended.
    pub remaining: u64,
}

/// A terminal with its verifier, outbox and issuer link.
#[derive(Debug)]
pub struct Terminal {
    institution: String,
    /// The current verifier; a sync swaps in a new one, a check clones the `Arc`.
    verifier: RwLock<Arc<Verifier>>,
    outbox: Outbox,
    client: IssuerClient,
    /// Serialises installs (bundle, status list), never held across the network.
    installing: Mutex<()>,
    /// One flush at a time: two would hand the same visits off twice.
    flushing: Mutex<()>,
    /// Why the bundle kept in the outbox could not be restored at open, if it could not.
    restore_problem: Option<Rejection>,
}

impl Terminal {
    /// Opens the terminal's outbox (made by [`Terminal::create_outbox`] at installation;
    /// never made here) and restores the bundle and status list it holds.
    ///
    /// A held bundle that has since expired is restored anyway, so checks say
    /// [`Rejection::StaleBundle`] ("sync the bundle") rather than "no bundle". One that no
    /// longer verifies is reported by [`Self::restore_problem`].
    ///
    /// # Errors
    ///
    /// The outbox cannot be opened: missing, empty, damaged, busy.
    pub fn open(config: &TerminalConfig) -> Result<Self, OutboxError> {
        let outbox = Outbox::open(&config.data_dir)?;
        let (document, min_sequence) = outbox.bundle()?;
        let mut verifier =
            Verifier::new(config.root_key, config.policy).with_min_sequence(min_sequence);
        let restore_problem =
            document.and_then(|document| verifier.restore_bundle(&document, min_sequence).err());
        // A stored list that no longer decodes is dropped, not fatal: it is the issuer's
        // data, and the next sync fetches the complete list again.
        if let Ok(Some(status)) = outbox.status_list() {
            verifier = verifier.with_status(status);
        }
        Ok(Self {
            institution: config.institution.clone(),
            verifier: RwLock::new(Arc::new(verifier)),
            outbox,
            client: IssuerClient::new(&config.issuer_url, &config.credential, config.timeout),
            installing: Mutex::new(()),
            flushing: Mutex::new(()),
            restore_problem,
        })
    }

    /// Why the bundle kept in the outbox could not be restored when the terminal opened
    /// (checks then answer "no bundle" until a sync).
    pub fn restore_problem(&self) -> Option<&Rejection> {
        self.restore_problem.as_ref()
    }

    /// Makes the terminal's outbox at installation. An outbox already there is kept (and
    /// `false` returned) unless `reset`, which moves it aside as `outbox.redb.lost-<time>`
    /// and starts an empty one: its queue and replay memory are then lost to this terminal.
    ///
    /// # Errors
    ///
    /// Storage errors; an outbox that is there but cannot be opened (empty, damaged) is
    /// reported as such (start over with `reset`).
    pub fn create_outbox(
        config: &TerminalConfig,
        reset: bool,
        now: UnixTime,
    ) -> Result<OutboxCreated, OutboxError> {
        if reset {
            let (_, aside) = Outbox::reset(&config.data_dir, now)?;
            return Ok(OutboxCreated::Reset { aside });
        }
        match Outbox::create(&config.data_dir) {
            Ok(_) => Ok(OutboxCreated::New),
            // Kept only if it opens: an emptied or damaged one is reported, not blessed.
            Err(OutboxError::Exists(_)) => {
                Outbox::open(&config.data_dir).map(|_| OutboxCreated::Kept)
            }
            Err(e) => Err(e),
        }
    }

    /// The verifier in force (bundle, status list, policy): a snapshot, replaced by a sync.
    pub fn verifier(&self) -> Arc<Verifier> {
        Arc::clone(&self.verifier.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The outbox.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Whether the outbox can record (see [`OutboxHealth`]).
    pub fn health(&self) -> OutboxHealth {
        self.outbox.health()
    }

    /// The institution this terminal belongs to.
    pub fn institution(&self) -> &str {
        &self.institution
    }

    /// Verifies `text` offline and, if it is accepted, queues the presentation durably
    /// before returning: the cashier may say "accepted" once this returns `Ok`.
    ///
    /// The visit's fields are checked first with the rules settlement applies
    /// ([`VisitFields`]): a visit settlement would refuse is never recorded.
    ///
    /// # Errors
    ///
    /// [`CheckError::Rejected`] with the reason (a replay at this terminal, also one
    /// accepted before a restart, is [`Rejection::Replayed`]); [`CheckError::InvalidVisit`]
    /// for a field settlement would refuse; [`CheckError::Guard`] when the outbox could not
    /// record (damaged, disk full, a failed write), in which case the code must not be
    /// accepted.
    pub fn check(
        &self,
        text: &str,
        operator: &str,
        business_type: BusinessType,
        now: UnixTime,
    ) -> Result<Accepted, CheckError<OutboxError>> {
        self.check_with(text, operator, business_type, VisitContext::default(), now)
    }

    /// [`Self::check`] with what the hospital system says about the counter (operator's
    /// name, office, device), checked by the same rules and kept with the visit.
    ///
    /// # Errors
    ///
    /// As [`Self::check`].
    pub fn check_with(
        &self,
        text: &str,
        operator: &str,
        business_type: BusinessType,
        context: VisitContext,
        now: UnixTime,
    ) -> Result<Accepted, CheckError<OutboxError>> {
        VisitFields::with_business_type(&self.institution, operator, business_type)
            .map_err(CheckError::InvalidVisit)?;
        context.check().map_err(CheckError::InvalidVisit)?;
        let visit = Visit {
            institution: self.institution.clone(),
            operator: operator.to_owned(),
            business_type,
            context,
        };
        let verifier = self.verifier();
        let mut recorder = self.outbox.recorder(&visit, true);
        let token = verifier.check_once(text, now, &mut recorder)?;
        let seq = recorder
            .recorded()
            .ok_or_else(|| CheckError::Guard(OutboxError::Storage("nothing recorded".into())))?;
        Ok(Accepted { token, seq })
    }

    /// Fetches the issuer's trust bundle, verifies it against the pinned root key, refuses
    /// rollback (also across restarts) and keeps it; then brings the status list of revoked
    /// device certificates up to date ([`Self::sync_status`]).
    ///
    /// # Errors
    ///
    /// A [`SyncError`]; what was held stays.
    pub fn sync(&self, now: UnixTime) -> Result<(BundleUpdate, StatusUpdate), SyncError> {
        let document = self.fetch_bundle()?;
        let bundle = self.install_bundle(&document, now)?;
        let status = self.sync_status(now)?;
        Ok((bundle, status))
    }

    /// Fetches the status list delta after the sequence held (the complete list the first
    /// time), verifies it with the bundle's issuer keys, merges and keeps it.
    ///
    /// # Errors
    ///
    /// A [`SyncError`]; the held list stays.
    pub fn sync_status(&self, now: UnixTime) -> Result<StatusUpdate, SyncError> {
        let document = self.fetch_status()?;
        self.install_status(&document, now)
    }

    /// Fetches the status list delta after the sequence held, without installing it.
    ///
    /// # Errors
    ///
    /// The issuer could not be asked.
    pub fn fetch_status(&self) -> Result<Vec<u8>, ClientError> {
        let since = self.verifier().status().map_or(0, HeldStatus::sequence);
        self.client.status_list(since)
    }

    /// Verifies a status list document, merges it into the held list and keeps the result.
    ///
    /// # Errors
    ///
    /// A [`SyncError`]; the held list stays.
    pub fn install_status(
        &self,
        document: &[u8],
        now: UnixTime,
    ) -> Result<StatusUpdate, SyncError> {
        let _installing = self
            .installing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut candidate = Verifier::clone(&self.verifier());
        let update = candidate.install_status(document, now)?;
        if let Some(status) = candidate.status() {
            self.outbox.save_status_list(status)?;
        }
        self.swap(candidate);
        Ok(update)
    }

    fn swap(&self, verifier: Verifier) {
        *self
            .verifier
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(verifier);
    }

    /// Fetches the issuer's bundle document without installing it (so a caller sharing the
    /// terminal can do the slow network part without holding a write lock).
    ///
    /// # Errors
    ///
    /// The issuer could not be asked.
    pub fn fetch_bundle(&self) -> Result<String, ClientError> {
        self.client.trust_bundle()
    }

    /// Verifies `document` against the pinned root key, refuses rollback, keeps it.
    ///
    /// # Errors
    ///
    /// A [`SyncError`]; the held bundle stays.
    pub fn install_bundle(&self, document: &str, now: UnixTime) -> Result<BundleUpdate, SyncError> {
        let _installing = self
            .installing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut candidate = Verifier::clone(&self.verifier());
        let update = candidate.install_bundle(document, now)?;
        if let BundleUpdate::Installed { sequence } = update {
            self.outbox.save_bundle(document, sequence)?;
            self.swap(candidate);
        }
        Ok(update)
    }

    /// Hands one batch of queued presentations to settlement and records the answers.
    /// Returns how many were answered (0: the queue is empty).
    ///
    /// # Errors
    ///
    /// A [`ForwardError`]; the batch stays queued and a retry is harmless.
    pub fn forward_batch(&self, batch_size: usize, now: UnixTime) -> Result<u64, ForwardError> {
        let _flushing = self.flushing.lock().unwrap_or_else(PoisonError::into_inner);
        self.forward_one(batch_size, now)
    }

    fn forward_one(&self, batch_size: usize, now: UnixTime) -> Result<u64, ForwardError> {
        // Read, send with no lock but the flush's own held, then record: checks go on
        // meanwhile (they only add to the queue; the answers name sequence numbers).
        let batch = self.outbox.queued(batch_size.clamp(1, MAX_BATCH))?;
        if batch.is_empty() {
            return Ok(0);
        }
        let outcomes = self.client.hand_off(&batch, now)?;
        let answered = outcomes.len() as u64;
        self.outbox.record_outcomes(outcomes, now)?;
        Ok(answered)
    }

    /// Forwards until the queue is empty, retrying transient failures with exponential
    /// backoff (0.5 s doubling to 30 s) until `deadline` has passed. `now` is read before
    /// each batch.
    ///
    /// # Errors
    ///
    /// A non-transient [`ForwardError`] at once, or the last transient one when the deadline
    /// passes with presentations still queued.
    pub fn flush(
        &self,
        batch_size: usize,
        deadline: std::time::Instant,
        mut now: impl FnMut() -> UnixTime,
    ) -> Result<FlushReport, ForwardError> {
        let _flushing = self.flushing.lock().unwrap_or_else(PoisonError::into_inner);
        let mut report = FlushReport::default();
        let mut backoff = Duration::from_millis(500);
        loop {
            let at = now();
            let result = self.forward_one(batch_size, at);
            let error = match result {
                Ok(0) => break,
                Ok(answered) => {
                    report.answered += answered;
                    backoff = Duration::from_millis(500);
                    continue;
                }
                Err(error) => error,
            };
            let attempt = ForwardAttempt {
                at,
                answered: report.answered,
                error: Some(error.to_string()),
            };
            // Best effort: when the disk is full this write fails too, and its error would
            // hide the one that matters.
            let _ = self.outbox.record_forward(&attempt);
            let wait = backoff.min(deadline.saturating_duration_since(std::time::Instant::now()));
            if !error.is_transient() || wait.is_zero() {
                return Err(error);
            }
            report.retries += 1;
            std::thread::sleep(wait);
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
        let _ = self.outbox.record_forward(&ForwardAttempt {
            at: now(),
            answered: report.answered,
            error: None,
        });
        report.remaining = self.outbox.status()?.queued;
        Ok(report)
    }

    /// Outbox counts and the last forward.
    ///
    /// # Errors
    ///
    /// The outbox failed.
    pub fn status(&self) -> Result<OutboxStatus, OutboxError> {
        self.outbox.status()
    }

    /// The newest `limit` visits settlement refused, newest first (see
    /// [`Outbox::recent_refusals`](crate::outbox::Outbox::recent_refusals)).
    ///
    /// # Errors
    ///
    /// The outbox failed.
    pub fn recent_refusals(&self, limit: usize) -> Result<Vec<Presentation>, OutboxError> {
        self.outbox.recent_refusals(limit)
    }
}
