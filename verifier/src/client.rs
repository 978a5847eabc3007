//! The terminal's blocking HTTP client for the issuer: fetch the trust bundle, hand off
//! presentations. Blocking on purpose (`ureq`): a terminal forwards from one thread, and the
//! library stays free of an async runtime.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use yibao_shared::{BusinessType, UnixTime, VisitContext};

use crate::presentation::{Outcome, Presentation};

/// Largest batch the issuer takes in one handoff request.
pub const MAX_BATCH: usize = 500;

/// Why talking to the issuer failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Not reachable, timed out, or answered "try later" (429, 5xx): retry with backoff.
    #[error("issuer unreachable: {0}")]
    Unreachable(String),
    /// The issuer refused this terminal's credential: retrying will not help until an
    /// operator fixes the configuration.
    #[error("issuer refused the terminal credential ({0}): check the terminal configuration")]
    Unauthorized(String),
    /// The issuer answered something this terminal does not understand.
    #[error("unexpected answer from the issuer: {0}")]
    Protocol(String),
}

impl ClientError {
    /// Whether a later retry may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unreachable(_))
    }
}

/// One presentation as handed to settlement (`POST /v1/handoffs`).
#[derive(Debug, Serialize)]
struct HandoffItem<'a> {
    code: &'a str,
    institution: &'a str,
    operator: &'a str,
    business_type: BusinessType,
    #[serde(flatten)]
    context: &'a VisitContext,
    verified_at: UnixTime,
    offline: bool,
}

#[derive(Debug, Serialize)]
struct HandoffRequest<'a> {
    handoffs: Vec<HandoffItem<'a>>,
}

/// Settlement's answer for one handed-off presentation.
#[derive(Debug, Deserialize)]
struct HandoffResult {
    status: String,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct HandoffResponse {
    results: Vec<HandoffResult>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    code: String,
}

/// The issuer as a terminal sees it.
pub struct IssuerClient {
    agent: ureq::Agent,
    base: String,
    authorization: String,
}

impl std::fmt::Debug for IssuerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The credential stays out of logs.
        f.debug_struct("IssuerClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl IssuerClient {
    /// A client for the issuer at `base_url` (e.g. `http://127.0.0.1:8080`), authenticating
    /// with the terminal credential; every call gives up after `timeout`.
    pub fn new(base_url: &str, credential: &str, timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            agent,
            base: base_url.trim_end_matches('/').to_owned(),
            authorization: format!("Bearer {credential}"),
        }
    }

    /// The issuer's signed trust bundle document (verify it before use).
    ///
    /// # Errors
    ///
    /// A [`ClientError`].
    pub fn trust_bundle(&self) -> Result<String, ClientError> {
        let mut response = self
            .agent
            .get(format!("{}/v1/trust-bundle", self.base))
            .call()
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        check_status(&mut response)?;
        response
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_string()
            .map_err(|e| ClientError::Unreachable(e.to_string()))
    }

    /// Fetches the status list after `since` (0: the complete list). Bounded at
    /// [`yibao_shared::status_list::MAX_STATUS_BYTES`].
    ///
    /// # Errors
    ///
    /// A [`ClientError`].
    pub fn status_list(&self, since: u64) -> Result<Vec<u8>, ClientError> {
        let mut response = self
            .agent
            .get(format!("{}/v1/status-list", self.base))
            .header("accept", yibao_shared::status_list::STATUS_MEDIA_TYPE)
            .query("since", since.to_string())
            .call()
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        check_status(&mut response)?;
        response
            .body_mut()
            .with_config()
            .limit(yibao_shared::status_list::MAX_STATUS_BYTES as u64)
            .read_to_vec()
            .map_err(|e| ClientError::Unreachable(e.to_string()))
    }

    /// Hands `batch` (at most [`MAX_BATCH`]) to settlement and returns each presentation's
    /// final answer, by sequence number. Safe to repeat: settlement answers a repeat from
    /// this terminal as it answered the first time.
    ///
    /// # Errors
    ///
    /// A [`ClientError`]; then no answer is known and the batch stays queued.
    pub fn hand_off(
        &self,
        batch: &[Presentation],
        now: UnixTime,
    ) -> Result<Vec<(u64, Outcome)>, ClientError> {
        let request = HandoffRequest {
            handoffs: batch
                .iter()
                .map(|p| HandoffItem {
                    code: &p.code,
                    institution: &p.visit.institution,
                    operator: &p.visit.operator,
                    business_type: p.visit.business_type,
                    context: &p.visit.context,
                    verified_at: p.verified_at,
                    offline: p.offline,
                })
                .collect(),
        };
        let mut response = self
            .agent
            .post(format!("{}/v1/handoffs", self.base))
            .header("Authorization", &self.authorization)
            .send_json(&request)
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        check_status(&mut response)?;
        let answer: HandoffResponse = response
            .body_mut()
            .with_config()
            .limit(16 << 20)
            .read_json()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        if answer.results.len() != batch.len() {
            return Err(ClientError::Protocol(format!(
                "{} answers for {} handoffs",
                answer.results.len(),
                batch.len()
            )));
        }
        batch
            .iter()
            .zip(answer.results)
            .map(|(p, r)| outcome(r, now).map(|o| (p.seq, o)))
            .collect()
    }
}

fn outcome(result: HandoffResult, at: UnixTime) -> Result<Outcome, ClientError> {
    match (result.status.as_str(), result.reference) {
        ("settled", Some(reference)) => Ok(Outcome::Settled { reference, at }),
        ("settled", None) => Err(ClientError::Protocol("settled without a reference".into())),
        _ => Ok(Outcome::Refused {
            code: result.code.unwrap_or(result.status),
            message: result.message.unwrap_or_default(),
            at,
        }),
    }
}

fn check_status(response: &mut ureq::http::Response<ureq::Body>) -> Result<(), ClientError> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let code = response
        .body_mut()
        .with_config()
        .limit(64 << 10)
        .read_json::<ErrorBody>()
        .map(|b| b.code)
        .unwrap_or_else(|_| status.to_string());
    Err(match status.as_u16() {
        401 | 403 => ClientError::Unauthorized(code),
        408 | 429 | 500..=599 => ClientError::Unreachable(format!("{status} {code}")),
        _ => ClientError::Protocol(format!("{status} {code}")),
    })
}
