//! The embedded surface: the app inside Fanvue's iframe.
//!
//! ```text
//! Fanvue (creator surface) ── <iframe src="{BASE_URL}/embedded?token=<session token>">
//!   GET  /embedded                shell page; its script drops the token from the URL and
//!   POST /api/embedded/session    trades it (exchange::SessionTokenExchange) for tokens,
//!                                 signed in to a session of its own: cookie
//!                                 `SameSite=None; Secure; Partitioned` + the id in the answer
//!   GET  /embedded/view           the server-rendered app, asked for with the cookie and,
//!                                 for browsers that block even partitioned cookies, with
//!                                 `Authorization: Bearer <session id>`
//! ```
//!
//! The trade, by default (`EMBEDDED_EXCHANGE=authorize-on-behalf`, see [`exchange`]):
//!
//! ```text
//! app server ── POST FANVUE_EMBED_AUTHORIZE_URL  session token + PKCE challenge, state, nonce,
//!                                                 scopes, OAUTH_REDIRECT_URI (never visited)
//!            ◀─ {code, state}                     Fanvue checked the token and the consent
//! app server ── POST {issuer}/oauth2/token        client_secret_basic + code + code_verifier
//!            ◀─ access, refresh and id tokens     + redirect_uri, as the off-platform callback
//! ```
//!
//! The tokens go to the embedded sessions' own vault ([`Embedded::api`]), where
//! they are refreshed like a console session's.
//!
//! Only these routes may be framed, and only by `FANVUE_PLATFORM_URL`
//! (`Content-Security-Policy: frame-ancestors …`, no `X-Frame-Options`); every other route
//! still refuses framing. The iframe needs `allow-scripts allow-same-origin` (the page calls
//! its own origin); see docs/webhooks-embedded-paid.md.

pub mod exchange;

use std::sync::Arc;

use askama::Template;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use tower_sessions::Session;

use crate::auth::Api;
use crate::auth::entitlement::{Entitlement, Entitlements};
use crate::auth::store::{AnyStore, SealedStore};
use crate::config::Config;
use crate::web::error::AppError;
use crate::web::middleware::{
    ClientLimit, Frameable, REQUEST_TIMEOUT, json_errors, limited_per_client, same_origin_only, with_timeout,
};
use fanvue::models::User;
use fanvue::oauth::OAuthError;

/// What the embedded surface needs. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Embedded {
    /// Fanvue for embedded sessions (their own token vault).
    pub api: Api,
    /// How the injected session token becomes tokens (`EMBEDDED_EXCHANGE`).
    pub exchange: Arc<dyn exchange::SessionTokenExchange>,
    /// The paid-plan check, shown on the view.
    pub entitlements: Entitlements,
    /// The configuration (`FANVUE_PLATFORM_URL`, the embedded cookie, the checkout link).
    pub config: Arc<Config>,
    /// The store the embedded sessions live in.
    pub session_store: SealedStore<AnyStore>,
}

/// Why the embedded sign-in failed. The codes are those of Fanvue's SDK.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The page was opened without a session token (not from Fanvue).
    #[error("no session token")]
    NoSessionToken,
    /// The token expired (it lives ~60 s), was used already, or is not a token.
    #[error("the session token is invalid or expired")]
    InvalidSessionToken,
    /// The creator has not approved the app (or revoked it).
    #[error("the creator has not approved the app")]
    ConsentRequired,
    /// The provider failed otherwise.
    #[error("the provider failed: {0}")]
    Provider(OAuthError),
}

impl From<EmbedError> for AppError {
    fn from(err: EmbedError) -> Self {
        let (status, code, message) = err.classify();
        AppError::feature(status, code, message, format!("embedded sign-in: {err}"))
    }
}

impl EmbedError {
    /// Status, code and message (the SDK's wording).
    pub fn classify(&self) -> (StatusCode, &'static str, String) {
        match self {
            EmbedError::NoSessionToken => {
                (StatusCode::BAD_REQUEST, "no_session_token", "Open this app from the Fanvue App Store.".into())
            }
            EmbedError::InvalidSessionToken => (
                StatusCode::UNAUTHORIZED,
                "invalid_session_token",
                "The session token expired (it lasts about 60 seconds) or was already used. Reopen the app from Fanvue."
                    .into(),
            ),
            EmbedError::ConsentRequired => (
                StatusCode::FORBIDDEN,
                "consent_required",
                "Approve the app on the Fanvue consent screen, then reopen it.".into(),
            ),
            EmbedError::Provider(err) if err.grant_is_dead() => (
                StatusCode::UNAUTHORIZED,
                "invalid_session_token",
                "Fanvue refused the session token. Reopen the app from Fanvue.".into(),
            ),
            EmbedError::Provider(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "fanvue_unavailable",
                "Fanvue's sign-in service could not be reached. Reopen the app in a moment.".into(),
            ),
        }
    }
}

/// Which credential carried the embedded session on a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Carrier {
    /// The partitioned cookie.
    Cookie,
    /// The `Authorization: Bearer` fallback.
    Header,
    /// Neither.
    None,
}

impl Carrier {
    /// For the page.
    pub fn label(self) -> &'static str {
        match self {
            Carrier::Cookie => "a partitioned cookie",
            Carrier::Header => "the Authorization header (cookies are blocked here)",
            Carrier::None => "nothing",
        }
    }
}

/// Paths of the embedded surface.
pub const SHELL_PATH: &str = "/embedded";
/// The exchange endpoint.
pub const SESSION_PATH: &str = "/api/embedded/session";

/// The embedded routes, with their own session layer and framing headers; the exchange under
/// the per-client limit (it spends the app's credentials at Fanvue) with JSON errors.
pub fn router<S: Clone + Send + Sync + 'static>(state: Embedded, limit: ClientLimit) -> Router<S> {
    let config = state.config.clone();
    let csp = format!(
        "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; connect-src 'self'; \
         form-action 'self'; frame-ancestors {}; base-uri 'none'; object-src 'none'",
        config.embed.platform_origins.join(" ")
    );
    let csp = HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static("frame-ancestors 'none'"));
    let cookie: Arc<str> = Arc::from(config.embed.cookie_name.as_str());
    let pages = Router::new().route(SHELL_PATH, get(shell)).route("/embedded/view", get(view));
    let api = json_errors(limited_per_client(Router::new().route(SESSION_PATH, post(exchange)), limit));
    let routes = same_origin_only(with_timeout(pages.merge(api), REQUEST_TIMEOUT), &config.origin());
    routes
        .layer(crate::auth::store::embedded_layer(
            state.session_store.clone(),
            &config.session,
            &config.embed.cookie_name,
        ))
        .layer(middleware::from_fn_with_state(cookie, carry_session))
        .layer(middleware::from_fn_with_state(csp, frameable))
        .with_state(state)
}

async fn frameable(State(csp): State<HeaderValue>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    // The session token rides in the first URL: never send it on as a Referer.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response.extensions_mut().insert(Frameable);
    response
}

/// Lets the bearer header stand in for the cookie (it names the same session), records which
/// one carried the session, and makes the session cookie `Partitioned` (CHIPS), which
/// tower-sessions cannot set itself.
async fn carry_session(State(name): State<Arc<str>>, mut request: Request, next: Next) -> Response {
    let prefix = format!("{name}=");
    // Every `name=value` pair of the request's Cookie headers, read once.
    let cookies: Vec<String> = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    let cookie_value = cookies.iter().find_map(|c| c.strip_prefix(prefix.as_str()));
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| {
            !t.is_empty() && t.len() <= 64 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        })
        .map(str::to_owned);
    let carrier = match (cookie_value, &bearer) {
        (Some(c), Some(b)) if c == b => Carrier::Cookie,
        (_, Some(b)) => {
            // The header names the session this page just created; a cookie left over from
            // an earlier one must not win.
            let others: Vec<String> = cookies
                .iter()
                .filter(|c| !c.starts_with(prefix.as_str()))
                .cloned()
                .chain(std::iter::once(format!("{prefix}{b}")))
                .collect();
            request.headers_mut().remove(header::COOKIE);
            if let Ok(value) = HeaderValue::from_str(&others.join("; ")) {
                request.headers_mut().insert(header::COOKIE, value);
            }
            Carrier::Header
        }
        (Some(_), None) => Carrier::Cookie,
        (None, None) => Carrier::None,
    };
    request.extensions_mut().insert(carrier);
    let mut response = next.run(request).await;
    let cookies: Vec<HeaderValue> = response.headers().get_all(header::SET_COOKIE).iter().cloned().collect();
    if cookies.iter().any(|c| c.as_bytes().starts_with(prefix.as_bytes())) {
        response.headers_mut().remove(header::SET_COOKIE);
        for cookie in cookies {
            let text = cookie.to_str().unwrap_or_default();
            let value = if text.starts_with(prefix.as_str()) && !text.contains("Partitioned") {
                HeaderValue::from_str(&format!("{text}; Partitioned")).unwrap_or(cookie)
            } else {
                cookie
            };
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// `templates/embedded/shell.html`.
#[derive(Template)]
#[template(path = "embedded/shell.html")]
struct Shell;

async fn shell() -> Response {
    crate::web::page::render(StatusCode::OK, &Shell)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExchangeBody {
    session_token: String,
}

/// `POST /api/embedded/session`: the injected token for a session of this app.
async fn exchange(
    State(state): State<Embedded>,
    session: Session,
    Json(body): Json<ExchangeBody>,
) -> Result<Response, AppError> {
    if body.session_token.is_empty() {
        return Err(EmbedError::NoSessionToken.into());
    }
    let tokens = state.exchange.exchange(&body.session_token).await?;
    state.api.tokens.sign_in(&session, &tokens).await?;
    let id = session.id().ok_or_else(|| AppError::Internal("the signed-in session has no id".into()))?;
    tracing::info!("embedded session started");
    Ok(Json(serde_json::json!({"session": id.to_string(), "expiresAt": tokens.expires_at})).into_response())
}

/// `templates/embedded/view.html`: the app as the creator sees it inside Fanvue.
#[derive(Template)]
#[template(path = "embedded/view.html")]
struct View {
    user: User,
    carrier: &'static str,
    plan: Option<Entitlement>,
    checkout_url: Option<String>,
    console_url: String,
}

/// `GET /embedded/view`.
async fn view(
    State(state): State<Embedded>,
    Extension(carrier): Extension<Carrier>,
    session: Session,
) -> Result<Response, AppError> {
    // The embedded vault: a console session's id is no embedded session, and vice versa.
    let user: User = state.api.get_json(&session, "/users/me", &[]).await?;
    let plan = match state.entitlements.configured() {
        true => Some(state.entitlements.check(&state.api, &session).await?),
        false => None,
    };
    let page = View {
        user,
        carrier: carrier.label(),
        plan,
        checkout_url: state.config.app_store.checkout_url().map(String::from),
        console_url: state.config.origin(),
    };
    Ok(crate::web::page::render(StatusCode::OK, &page))
}
