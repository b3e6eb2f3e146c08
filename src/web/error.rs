//! [`AppError`]: the one error type of the request path, and its one mapping to HTTP.
//!
//! Domain errors (`OAuthError`, `FanvueError`, the session-store's, and `auth`'s `TokenError`) convert
//! into `AppError` with `?`. [`AppError::classify`] is the single table from what happened to
//! a status, a stable machine-readable code and a message that tells the user what to do.
//! `IntoResponse` logs the internal detail (never shown to the user) and attaches an
//! [`ErrorReport`] to an empty response; the middleware stack then renders it as an HTML page
//! or as JSON (API routes), with the request id, in one place.
//!
//! A feature with failures of its own (webhooks, uploads, embedded sign-in, paid plans) keeps
//! its own error type, classifies it itself, and converts it into [`AppError::Feature`]: this
//! module names no feature.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use fanvue::FanvueError;
use fanvue::oauth::OAuthError;
use fanvue::scopes::ScopeSet;

/// Everything that can fail while handling a request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No signed-in session.
    #[error("not signed in")]
    NotSignedIn,
    /// The Fanvue grant died (refresh token refused); the session was ended.
    #[error("the Fanvue grant is no longer valid")]
    ReauthRequired,
    /// The session's grant lacks scopes the endpoint needs; Fanvue was not called.
    #[error("missing scope(s): {0}")]
    MissingScope(ScopeSet),
    /// Not an endpoint of the Fanvue API.
    #[error("unknown Fanvue endpoint")]
    UnknownEndpoint,
    /// The endpoint exists, not with this method.
    #[error("method not allowed for this Fanvue endpoint")]
    MethodNotAllowed,
    /// Malformed input from the client.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A state-changing request from another site.
    #[error("cross-site request refused")]
    CrossSite,
    /// A Fanvue API call failed.
    #[error(transparent)]
    Fanvue(#[from] FanvueError),
    /// Refreshing the token failed for a reason other than a dead grant.
    #[error("token refresh failed: {0}")]
    Refresh(OAuthError),
    /// The session store failed.
    #[error("session store failure: {0}")]
    Session(String),
    /// The server is at a capacity limit it sets itself (e.g. concurrent uploads).
    #[error("busy: {0}")]
    Busy(&'static str),
    /// No such page or item.
    #[error("not found")]
    NotFound,
    /// A feature needs configuration that is missing: the variable and how to set it.
    #[error("not configured: {0}")]
    NotConfigured(&'static str),
    /// A feature's own failure, classified by the feature (see [`Classified`]).
    #[error("{}", .0.detail)]
    Feature(Box<Classified>),
    /// A bug or an impossible state; details are logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A failure a feature classified itself: what [`AppError::classify`] gives for the
/// generic variants, plus the detail to log and the buttons to offer.
#[derive(Debug)]
pub struct Classified {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable, machine-readable code.
    pub code: &'static str,
    /// For people.
    pub message: String,
    /// What resolves it.
    pub actions: Vec<ErrorAction>,
    /// For the log only.
    pub detail: String,
}

impl AppError {
    /// A feature's failure: `status`, `code` and `message` shown, `detail` logged.
    pub fn feature(status: StatusCode, code: &'static str, message: String, detail: impl ToString) -> Self {
        AppError::Feature(Box::new(Classified {
            status,
            code,
            message,
            actions: Vec::new(),
            detail: detail.to_string(),
        }))
    }

    /// The same error, offering `actions`.
    pub fn with_actions(self, actions: Vec<ErrorAction>) -> Self {
        match self {
            AppError::Feature(mut classified) => {
                classified.actions = actions;
                AppError::Feature(classified)
            }
            other => other,
        }
    }
}

/// What the renderer needs to turn an error into a page or a JSON body.
#[derive(Clone, Debug)]
pub struct ErrorReport {
    /// Stable, machine-readable code, e.g. `missing_scope`.
    pub code: &'static str,
    /// What happened and what to do, for people.
    pub message: String,
    /// Scopes to show (missing scopes).
    pub scopes: Vec<&'static str>,
    /// What resolves the error (e.g. the App Store checkout, "check again").
    pub actions: Vec<ErrorAction>,
}

/// A button on an error page. App-relative targets get the failed page as `return_to`.
#[derive(Clone, Debug)]
pub struct ErrorAction {
    /// Where it goes.
    pub href: &'static str,
    /// Its text.
    pub label: &'static str,
    /// A form POST (state-changing) rather than a link.
    pub post: bool,
}

impl AppError {
    /// The single table: status, code, public message.
    pub fn classify(&self) -> (StatusCode, &'static str, String) {
        use FanvueError as F;
        match self {
            AppError::NotSignedIn => (StatusCode::UNAUTHORIZED, "not_signed_in", "Sign in with Fanvue first.".into()),
            AppError::ReauthRequired => (
                StatusCode::UNAUTHORIZED,
                "reauth_required",
                "Your Fanvue connection has ended (it was revoked or expired). Please sign in again.".into(),
            ),
            AppError::MissingScope(missing) => (
                StatusCode::FORBIDDEN,
                "missing_scope",
                format!(
                    "This needs the scope(s) {missing}, which this session was not granted. Tick them for your app in Fanvue's Builder, add them to OAUTH_SCOPES, then sign in again."
                ),
            ),
            AppError::UnknownEndpoint => (StatusCode::NOT_FOUND, "unknown_endpoint", "That is not a Fanvue API endpoint this app knows.".into()),
            AppError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "That method is not allowed on this Fanvue endpoint.".into()),
            AppError::BadRequest(why) => (StatusCode::BAD_REQUEST, "bad_request", why.clone()),
            AppError::CrossSite => (
                StatusCode::FORBIDDEN,
                "cross_site_request",
                "This request came from another site and was refused.".into(),
            ),
            AppError::Fanvue(err) => match err {
                F::Unauthorized => (StatusCode::UNAUTHORIZED, "reauth_required", "Fanvue no longer accepts this session. Please sign in again.".into()),
                F::Forbidden { required } => (
                    StatusCode::FORBIDDEN,
                    "fanvue_forbidden",
                    format!("Fanvue refused access. This needs {required}; if it was added to your app recently, sign in again to grant it."),
                ),
                F::NotFound => (StatusCode::NOT_FOUND, "not_found", "Fanvue has no such item.".into()),
                F::Conflict => (StatusCode::CONFLICT, "conflict", "That already exists at Fanvue.".into()),
                F::Gone { .. } => (
                    StatusCode::BAD_GATEWAY,
                    "api_version_sunset",
                    "Fanvue no longer supports the configured API version. Update FANVUE_API_VERSION.".into(),
                ),
                F::RateLimited { retry_after } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    match retry_after {
                        Some(s) => format!("Fanvue's rate limit was reached. Try again in {s} seconds."),
                        None => "Fanvue's rate limit was reached. Try again in a minute.".into(),
                    },
                ),
                F::Rejected { status } => (*status, "fanvue_rejected", "Fanvue refused the request.".into()),
                F::Timeout => (StatusCode::GATEWAY_TIMEOUT, "fanvue_timeout", "Fanvue did not answer in time. Try again shortly.".into()),
                F::Upstream { .. } | F::Transport(_) | F::Decode(_) | F::TooLarge => (
                    StatusCode::BAD_GATEWAY,
                    "fanvue_unavailable",
                    "Fanvue could not be reached or answered badly. You are still signed in; try again shortly.".into(),
                ),
            },
            AppError::Refresh(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "fanvue_unavailable",
                "Fanvue's sign-in service could not renew your session right now. You are still signed in; try again shortly.".into(),
            ),
            AppError::Session(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "session_store_unavailable",
                "The session store is unavailable. Try again shortly.".into(),
            ),
            AppError::Busy(why) => (StatusCode::SERVICE_UNAVAILABLE, "busy", (*why).to_owned()),
            AppError::NotFound => (StatusCode::NOT_FOUND, "not_found", "There is nothing here.".into()),
            AppError::NotConfigured(how) => (StatusCode::SERVICE_UNAVAILABLE, "not_configured", (*how).to_owned()),
            AppError::Feature(classified) => (classified.status, classified.code, classified.message.clone()),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "Something went wrong on our side.".into()),
        }
    }
}

impl From<tower_sessions::session::Error> for AppError {
    fn from(err: tower_sessions::session::Error) -> Self {
        AppError::Session(err.to_string())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.classify();
        if status.is_server_error() {
            tracing::error!(error = %self, code, "request failed");
        } else {
            tracing::info!(error = %self, code, "request refused");
        }
        let scopes = match &self {
            AppError::MissingScope(set) => set.iter().map(|s| s.as_str()).collect(),
            _ => Vec::new(),
        };
        let mut response = status.into_response();
        if let AppError::Fanvue(FanvueError::RateLimited { retry_after: Some(secs) }) = &self
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        let actions = match self {
            AppError::Feature(classified) => classified.actions,
            _ => Vec::new(),
        };
        response.extensions_mut().insert(ErrorReport { code, message, scopes, actions });
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_a_status_code_and_message() {
        let all = [
            AppError::NotSignedIn,
            AppError::ReauthRequired,
            AppError::MissingScope(ScopeSet::parse_granted("read:chat")),
            AppError::UnknownEndpoint,
            AppError::MethodNotAllowed,
            AppError::BadRequest("x".into()),
            AppError::CrossSite,
            AppError::Fanvue(FanvueError::Timeout),
            AppError::Refresh(OAuthError::Transport("down".into())),
            AppError::Session("db".into()),
            AppError::Busy("try later"),
            AppError::NotFound,
            AppError::NotConfigured("set X"),
            AppError::feature(StatusCode::PAYMENT_REQUIRED, "subscription_required", "Subscribe.".into(), "bug"),
            AppError::Internal("bug".into()),
        ];
        for err in all {
            let (status, code, message) = err.classify();
            assert!(status.is_client_error() || status.is_server_error());
            assert!(!code.is_empty() && !message.is_empty());
            assert!(!message.contains("down") && !message.contains("bug"), "internal detail leaked: {message}");
        }
    }
}
