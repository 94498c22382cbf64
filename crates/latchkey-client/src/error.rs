use serde::{Deserialize, Serialize};

/// The body of an API error (`schemas/error.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// The kind of error, e.g. `Validation`, `Unauthorized`, `NotFound`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// What went wrong, for a person.
    #[serde(default)]
    pub message: String,
}

/// Everything a call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error status; its `{type, message}` is kept.
    #[error("{status} {}: {}", body.kind, body.message)]
    Api {
        /// The HTTP status code.
        status: u16,
        /// The server's error body (empty fields when it sent none).
        body: ApiErrorBody,
    },
    /// The request never got an answer: connection refused, timeout, TLS…
    #[error("transport error: {0}")]
    Transport(#[from] reqwest::Error),
    /// The server answered success with a body this client cannot read.
    #[error("unexpected response body (status {status}): {source}")]
    Decode {
        /// The HTTP status code.
        status: u16,
        /// Why decoding failed.
        source: serde_json::Error,
    },
    /// The client was configured wrongly (a base URL that is not a URL, say).
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl Error {
    /// The HTTP status of an API error, `None` for other errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The `type` of an API error (`Validation`, `NotFound`, …), `None` for other errors.
    pub fn kind(&self) -> Option<&str> {
        match self {
            Error::Api { body, .. } => Some(&body.kind),
            _ => None,
        }
    }
}
