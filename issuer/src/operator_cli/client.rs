//! The admin API as the command line reaches it: where the issuer is, the admin token (flag,
//! environment, or the data directory's `admin.token`), one JSON request, and the three ways
//! it ends (answered, refused with the API's `{code, message}`, or not reached).

use std::path::Path;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// How a command failed, and so its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The issuer answered with an error (exit 1).
    #[error("{code}: {message}")]
    Refused {
        /// The API's stable code.
        code: String,
        /// Its message.
        message: String,
    },
    /// Bad arguments, an unreadable file, or no admin token (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The issuer could not be reached or answered something that is not the API (exit 2).
    #[error("{0}")]
    Unreachable(String),
}

impl CliError {
    /// The process's exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Refused { .. } => 1,
            Self::Usage(_) | Self::Unreachable(_) => 2,
        }
    }
}

/// A client of one issuer's admin API.
#[derive(Debug)]
pub struct AdminClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl AdminClient {
    /// A client of the issuer at `url`, with `token` or else the one in `data_dir`.
    ///
    /// # Errors
    ///
    /// [`CliError::Usage`] when there is no token to use.
    pub fn new(url: &str, token: Option<&str>, data_dir: &Path) -> Result<Self, CliError> {
        let token = match token {
            Some(t) => t.trim().to_owned(),
            None => {
                let path = data_dir.join("admin.token");
                std::fs::read_to_string(&path)
                    .map(|t| t.trim().to_owned())
                    .map_err(|e| {
                        CliError::Usage(format!(
                            "no admin token: pass --token, set YIBAO_ADMIN_TOKEN, or point \
                             --data-dir at the issuer's data directory ({}: {e})",
                            path.display()
                        ))
                    })?
            }
        };
        if token.is_empty() {
            return Err(CliError::Usage("the admin token is empty".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| CliError::Unreachable(format!("cannot make an HTTP client: {e}")))?;
        Ok(Self {
            http,
            base: url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// `GET path`.
    ///
    /// # Errors
    ///
    /// As [`Self::send`].
    pub async fn get(&self, path: &str) -> Result<Value, CliError> {
        self.send(Method::GET, path, None).await
    }

    /// `POST path` with `body` (JSON) or none.
    ///
    /// # Errors
    ///
    /// As [`Self::send`].
    pub async fn post(&self, path: &str, body: Option<&Value>) -> Result<Value, CliError> {
        self.send(Method::POST, path, body).await
    }

    /// One request; the answer's JSON (`null` for an empty answer).
    ///
    /// # Errors
    ///
    /// [`CliError::Refused`] for an error answer, [`CliError::Unreachable`] when there is no
    /// answer or it is not the API's.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CliError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| CliError::Unreachable(format!("cannot reach {}: {e}", self.base)))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| {
            CliError::Unreachable(format!("answer from {} cut short: {e}", self.base))
        })?;
        let value: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|_| {
                CliError::Unreachable(format!(
                    "{} answered {status} with something that is not the yibao API",
                    self.base
                ))
            })?
        };
        if status.is_success() {
            return Ok(value);
        }
        Err(refusal(status, &value))
    }
}

fn refusal(status: StatusCode, body: &Value) -> CliError {
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    match (text("code"), text("message")) {
        (Some(code), Some(message)) => CliError::Refused { code, message },
        _ => CliError::Unreachable(format!("answered {status} without an error body")),
    }
}
