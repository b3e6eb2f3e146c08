//! Upstream outcomes as types, so callers match on what happened instead of status codes.

use http::StatusCode;

use crate::scopes::ScopeSet;

/// A Fanvue API call that did not give the expected answer.
#[derive(Debug, thiserror::Error)]
pub enum FanvueError {
    /// 401: the access token is missing, expired or revoked.
    #[error("Fanvue rejected the access token (401)")]
    Unauthorized,
    /// 403: the grant lacks a scope, or the resource is not the user's.
    #[error("Fanvue refused access (403); the endpoint needs {required}")]
    Forbidden {
        /// Scopes the endpoint table lists for this call.
        required: ScopeSet,
    },
    /// 404.
    #[error("not found at Fanvue (404)")]
    NotFound,
    /// 409: e.g. a list or folder name already exists.
    #[error("conflict at Fanvue (409)")]
    Conflict,
    /// 410: the configured `FANVUE_API_VERSION` was sunset.
    #[error("Fanvue no longer supports this API version (410); next version: {next_version:?}")]
    Gone {
        /// The version Fanvue suggests, if it said.
        next_version: Option<String>,
    },
    /// 429: the user's budget (200 requests / 60 s) is spent.
    #[error("rate limited by Fanvue (429); retry after {retry_after:?} s")]
    RateLimited {
        /// Seconds to wait, from `Retry-After`.
        retry_after: Option<u64>,
    },
    /// Another 4xx, e.g. a validation error.
    #[error("Fanvue refused the request ({status})")]
    Rejected {
        /// The status.
        status: StatusCode,
    },
    /// 5xx from Fanvue.
    #[error("Fanvue failed ({status})")]
    Upstream {
        /// The status.
        status: StatusCode,
    },
    /// Fanvue did not answer in time.
    #[error("Fanvue did not answer in time")]
    Timeout,
    /// Connection failed.
    #[error("could not reach Fanvue: {0}")]
    Transport(String),
    /// The answer was not what the API documents.
    #[error("Fanvue's answer was not understood: {0}")]
    Decode(String),
    /// The answer was larger than the client accepts.
    #[error("Fanvue's answer was too large")]
    TooLarge,
}

impl FanvueError {
    /// The error for a non-success upstream status.
    pub fn from_status(status: StatusCode, required: ScopeSet, retry_after: Option<u64>, body: &[u8]) -> Self {
        match status.as_u16() {
            401 => FanvueError::Unauthorized,
            403 => FanvueError::Forbidden { required },
            404 => FanvueError::NotFound,
            409 => FanvueError::Conflict,
            410 => FanvueError::Gone {
                next_version: serde_json::from_slice::<serde_json::Value>(body)
                    .ok()
                    .and_then(|v| v.get("nextVersion")?.as_str().map(str::to_owned)),
            },
            429 => FanvueError::RateLimited { retry_after },
            500..=599 => FanvueError::Upstream { status },
            _ => FanvueError::Rejected { status },
        }
    }
}
