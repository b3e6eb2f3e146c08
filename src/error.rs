//! [`AppError`]: the one error type of the request path, and its one mapping to HTTP.
//!
//! Domain errors (`OAuthError`, `FanvueError`, `TokenError`, session-store errors) convert
//! into `AppError` with `?`. [`AppError::classify`] is the single table from what happened to
//! a status, a stable machine-readable code and a message that tells the user what to do.
//! `IntoResponse` logs the internal detail (never shown to the user) and attaches an
//! [`ErrorReport`] to an empty response; `middleware::render_errors` then renders it as an
//! HTML page or as JSON (for `/api/*`), with the request id, in one place.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::fanvue::FanvueError;
use crate::oauth::OAuthError;
use crate::oauth::session_tokens::TokenError;
use crate::scopes::ScopeSet;

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
    /// A webhook delivery was not accepted.
    #[error("webhook: {0}")]
    Webhook(#[from] crate::webhooks::ReceiveError),
    /// The user has no active plan of this paid app (nor covers the creator asked for).
    #[error("no active subscription to this app")]
    NotSubscribed {
        /// Whether a checkout link is configured (the page then offers it).
        can_check_out: bool,
    },
    /// A feature needs configuration that is missing: the variable and how to set it.
    #[error("not configured: {0}")]
    NotConfigured(&'static str),
    /// The embedded (iframe) sign-in failed.
    #[error("embedded sign-in: {0}")]
    Embedded(#[from] crate::embedded::EmbedError),
    /// A media upload was refused (form too large, a slot already held, a stalled body).
    #[error("upload: {0}")]
    Upload(#[from] crate::pages::media::UploadError),
    /// A bug or an impossible state; details are logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
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
            AppError::Webhook(err) => {
                use crate::webhooks::ReceiveError as R;
                use crate::webhooks::signature::Rejection;
                match err {
                    R::Rejected(Rejection::NotConfigured) => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "webhooks_not_configured",
                        "Webhooks are not configured: set FANVUE_WEBHOOK_SECRET (Builder → your app → Events → View Signing Secret).".into(),
                    ),
                    R::Rejected(rejection) => (StatusCode::UNAUTHORIZED, rejection.code(), rejection.to_string()),
                    R::NotJson => (StatusCode::BAD_REQUEST, "invalid_json", "The body is not JSON.".into()),
                    R::Store(_) => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "event_store_unavailable",
                        "The event could not be stored; it was not accepted, so Fanvue will deliver it again.".into(),
                    ),
                }
            }
            AppError::NotSubscribed { .. } => (
                StatusCode::PAYMENT_REQUIRED,
                "subscription_required",
                "This part of the app needs an active plan of this app. Subscribe in the Fanvue App Store, then come back: the app checks again when you return.".into(),
            ),
            AppError::NotConfigured(how) => (StatusCode::SERVICE_UNAVAILABLE, "not_configured", (*how).to_owned()),
            AppError::Embedded(err) => err.classify(),
            AppError::Upload(err) => err.classify(),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "Something went wrong on our side.".into()),
        }
    }
}

impl From<TokenError> for AppError {
    fn from(err: TokenError) -> Self {
        match err {
            TokenError::NotSignedIn => AppError::NotSignedIn,
            TokenError::ReauthRequired => AppError::ReauthRequired,
            TokenError::Refresh(e) => AppError::Refresh(e),
            TokenError::Session(e) => AppError::Session(e.to_string()),
            TokenError::Store(e) => AppError::Session(e.to_string()),
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
            AppError::NotSubscribed { can_check_out } => {
                let mut actions = Vec::new();
                if can_check_out {
                    actions.push(ErrorAction {
                        href: crate::entitlements::CHECKOUT_PATH,
                        label: "Subscribe in the Fanvue App Store",
                        post: false,
                    });
                }
                actions.push(ErrorAction {
                    href: crate::entitlements::RECHECK_PATH,
                    label: "I've subscribed — check again",
                    post: true,
                });
                actions
            }
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
            AppError::NotSubscribed { can_check_out: false },
            AppError::NotConfigured("set X"),
            AppError::Embedded(crate::embedded::EmbedError::ConsentRequired),
            AppError::Embedded(crate::embedded::EmbedError::InvalidSessionToken),
            AppError::Upload(crate::pages::media::UploadError::Stalled(60)),
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
