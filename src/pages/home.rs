//! The home page: the login button when signed out, the profile when signed in.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use tower_sessions::Session;

use super::{Nav, render};
use crate::error::AppError;
use crate::fanvue::models::User;
use crate::scopes::{Scope, ScopeSet};
use crate::state::AppState;
use crate::upstream;

/// `templates/pages/home.html`.
#[derive(Template)]
#[template(path = "pages/home.html")]
pub struct HomePage {
    nav: Nav,
    signed_in: Option<SignedInView>,
    login_error: Option<LoginError>,
    requested_scopes: String,
}

struct SignedInView {
    user: Option<User>,
    avatar: Option<String>,
    initial: String,
    scopes: Vec<&'static str>,
    not_granted: Vec<&'static str>,
    links: Vec<ApiLink>,
    problem: Option<String>,
}

struct ApiLink {
    label: &'static str,
    href: &'static str,
    scope: &'static str,
}

/// A login or session error shown on the home page. Every word of it is ours: the query
/// names an error code, and only a code from [`describe`]'s table is echoed; anything else
/// (and any `error_description`) is attacker-controllable text and is never shown, since
/// anyone can craft a `/?error=…` link to this origin.
struct LoginError {
    title: &'static str,
    message: &'static str,
    /// The code, when it is one we know (a fixed vocabulary, safe to show).
    code: Option<&'static str>,
}

/// Query of the home page, parsed leniently (first value wins, junk ignored). An
/// `error_description` is ignored: it is text from whoever made the link.
#[derive(Debug, Default)]
pub struct HomeQuery {
    error: Option<String>,
}

impl HomeQuery {
    fn parse(raw: &str) -> Self {
        let mut query = HomeQuery::default();
        for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
            if key == "error" {
                query.error.get_or_insert_with(|| value.into_owned());
            }
        }
        query
    }
}

/// Error codes the app itself puts in `/?error=`.
pub mod codes {
    /// The callback's `state` matched no login in progress (forged, replayed or expired).
    pub const STATE_MISMATCH: &str = "oauth_state_mismatch";
    /// The token endpoint refused the code or could not be reached.
    pub const TOKEN_EXCHANGE_FAILED: &str = "oauth_token_exchange_failed";
    /// The grant died; sign in again.
    pub const REAUTH_REQUIRED: &str = "reauth_required";
    /// The callback had neither `code` nor `error`.
    pub const BAD_CALLBACK: &str = "oauth_bad_callback";
    /// The provider sent an error code this app does not know.
    pub const PROVIDER_ERROR: &str = "oauth_provider_error";
}

/// What the home page says for each error code: ours, and the provider's from RFC 6749 §4.1.2.1
/// and OpenID Connect Core §3.1.2.6 (what Hydra sends). `(code, title, message)`.
const MESSAGES: [(&str, &str, &str); 16] = [
    (
        codes::STATE_MISMATCH,
        "Login could not be completed",
        "The login link was already used, expired, or was not started here. Start again with “Login with Fanvue”.",
    ),
    (
        codes::TOKEN_EXCHANGE_FAILED,
        "Fanvue did not accept the login",
        "The authorization code could not be exchanged for tokens. Check OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET and OAUTH_REDIRECT_URI, then try again.",
    ),
    (
        codes::REAUTH_REQUIRED,
        "Please sign in again",
        "Your Fanvue connection ended (it was revoked, or refreshed elsewhere). Sign in again to continue.",
    ),
    (
        codes::BAD_CALLBACK,
        "Login could not be completed",
        "Fanvue's answer was incomplete. Start again with “Login with Fanvue”.",
    ),
    (
        "access_denied",
        "Access was not granted",
        "You chose not to allow this app. You can try again whenever you like.",
    ),
    (
        "invalid_scope",
        "The app asked for scopes it may not use",
        "OAUTH_SCOPES must only list scopes ticked for this app in Fanvue's Builder.",
    ),
    (
        "invalid_request",
        "Fanvue refused the login request",
        "The login request was malformed or incomplete (for example a redirect URI Fanvue does not know). Check OAUTH_REDIRECT_URI against the Builder, then try again.",
    ),
    (
        "unauthorized_client",
        "This app may not sign you in this way",
        "Fanvue does not allow this app to use this kind of login. Check the app's settings in Fanvue's Builder.",
    ),
    (
        "unsupported_response_type",
        "Fanvue refused the login request",
        "Fanvue does not support the kind of login this app asked for. Check the app's settings in Fanvue's Builder.",
    ),
    ("login_required", "Fanvue needs you to sign in", "Start again with “Login with Fanvue”."),
    ("consent_required", "Fanvue needs your consent", "Start again with “Login with Fanvue” and allow the app."),
    ("interaction_required", "Fanvue needs you to sign in", "Start again with “Login with Fanvue”."),
    ("account_selection_required", "Fanvue needs you to choose an account", "Start again with “Login with Fanvue”."),
    (
        "temporarily_unavailable",
        "Fanvue is busy right now",
        "Fanvue's sign-in service is temporarily unavailable. Try again in a few minutes.",
    ),
    ("server_error", "Fanvue had a problem", "Fanvue's sign-in service failed. Try again in a few minutes."),
    (codes::PROVIDER_ERROR, "Login failed", "Fanvue reported an error during login. Try again in a few minutes."),
];

/// The known code `code` is, if any (its `'static` spelling, safe to echo).
pub fn known_code(code: &str) -> Option<&'static str> {
    MESSAGES.iter().find(|(known, ..)| *known == code).map(|(known, ..)| *known)
}

fn describe(code: &str) -> LoginError {
    match MESSAGES.iter().find(|(known, ..)| *known == code) {
        Some((code, title, message)) => LoginError { title, message, code: Some(code) },
        None => LoginError { title: "Login failed", message: "Fanvue reported an error during login.", code: None },
    }
}

/// `GET /`: signed out, the login button; signed in, the profile from `GET /users/me`.
pub async fn home(
    State(state): State<AppState>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let query = HomeQuery::parse(raw.as_deref().unwrap_or(""));
    let mut login_error = query.error.as_deref().map(describe);
    let requested_scopes = state.oauth().requested_scopes().to_wire();
    let signed_out = |login_error| HomePage {
        nav: Nav::signed_out(),
        signed_in: None,
        login_error,
        requested_scopes: requested_scopes.clone(),
    };
    let tokens = match state.tokens.current(&session).await? {
        None => return Ok(render(StatusCode::OK, &signed_out(login_error))),
        Some(tokens) => tokens,
    };
    let (user, status, problem) = if tokens.scopes.contains(Scope::ReadSelf) {
        match upstream::get_json::<User>(&state, &session, "/users/me", &[]).await {
            Ok(user) => (Some(user), StatusCode::OK, None),
            Err(AppError::NotSignedIn) => return Ok(render(StatusCode::OK, &signed_out(login_error))),
            Err(AppError::ReauthRequired | AppError::Refresh(crate::oauth::OAuthError::InvalidGrant(_))) => {
                login_error = Some(describe(codes::REAUTH_REQUIRED));
                return Ok(render(StatusCode::OK, &signed_out(login_error)));
            }
            Err(err) => {
                let (status, code, message) = err.classify();
                tracing::warn!(error = %err, code, "profile unavailable; keeping the session");
                (None, status, Some(message))
            }
        }
    } else {
        (
            None,
            StatusCode::OK,
            Some("This session was not granted read:self, so the profile cannot be shown.".to_owned()),
        )
    };
    let view = signed_in_view(user, tokens.scopes, state.oauth().requested_scopes(), problem);
    Ok(render(
        status,
        &HomePage { nav: Nav::for_scopes(tokens.scopes, "/"), signed_in: Some(view), login_error, requested_scopes },
    ))
}

fn signed_in_view(user: Option<User>, granted: ScopeSet, requested: ScopeSet, problem: Option<String>) -> SignedInView {
    // Upstream URLs become `img src` only over https: anything else is mixed content or
    // worse (`javascript:`).
    let avatar = user.as_ref().and_then(|u| u.avatar_url.clone()).filter(|url| url.starts_with("https://"));
    let initial = super::format::initial(user.as_ref().map_or("", |u| u.display_name.as_deref().unwrap_or(&u.handle)));
    SignedInView {
        user,
        avatar,
        initial,
        scopes: granted.iter().map(Scope::as_str).collect(),
        not_granted: granted.missing(requested).iter().map(Scope::as_str).collect(),
        links: API_LINKS
            .iter()
            .filter(|(scope, _, _)| granted.contains(*scope))
            .map(|(scope, label, href)| ApiLink { label, href, scope: scope.as_str() })
            .collect(),
        problem,
    }
}

/// One read endpoint per scope, to try from the home page.
const API_LINKS: [(Scope, &str, &str); 9] = [
    (Scope::ReadSelf, "Your profile", "/api/fanvue/users/me"),
    (Scope::ReadChat, "Chats", "/api/fanvue/chats"),
    (Scope::ReadFan, "Followers", "/api/fanvue/followers"),
    (Scope::ReadCreator, "Managed creators", "/api/fanvue/creators"),
    (Scope::ReadMedia, "Media", "/api/fanvue/media"),
    (Scope::ReadPost, "Posts", "/api/fanvue/posts"),
    (Scope::ReadInsights, "Earnings", "/api/fanvue/insights/earnings"),
    (Scope::ReadTrackingLinks, "Tracking links", "/api/fanvue/tracking-links"),
    (Scope::ReadAgency, "Agency team", "/api/fanvue/agencies/team-members"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_codes_are_echoed_and_descriptions_are_never_read() {
        assert_eq!(known_code("access_denied"), Some("access_denied"));
        assert_eq!(known_code("Call +1-555-0100"), None);
        let unknown = describe("<b>Call us</b>");
        assert_eq!((unknown.title, unknown.code), ("Login failed", None));
        let query = HomeQuery::parse("error=access_denied&error_description=phish&error=other");
        assert_eq!(query.error.as_deref(), Some("access_denied"));
        let codes: std::collections::HashSet<&str> = MESSAGES.iter().map(|(code, ..)| *code).collect();
        assert_eq!(codes.len(), MESSAGES.len(), "one message per code");
    }
}
