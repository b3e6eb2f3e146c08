//! The home page: the login button when signed out, the profile when signed in.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use tower_sessions::Session;

use super::Console;
use crate::auth::login_codes;
use crate::web::error::AppError;
use crate::web::page::{Nav, render};
use fanvue::models::User;
use fanvue::scopes::{Scope, ScopeSet};

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

fn describe(code: &str) -> LoginError {
    match login_codes::describe(code) {
        Some((code, title, message)) => LoginError { title, message, code: Some(code) },
        None => LoginError { title: "Login failed", message: "Fanvue reported an error during login.", code: None },
    }
}

/// `GET /`: signed out, the login button; signed in, the profile from `GET /users/me`.
pub async fn home(
    State(state): State<Console>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let query = HomeQuery::parse(raw.as_deref().unwrap_or(""));
    let mut login_error = query.error.as_deref().map(describe);
    let requested_scopes = state.api.tokens.oauth().requested_scopes().to_wire();
    let signed_out = |login_error| HomePage {
        nav: Nav::signed_out(),
        signed_in: None,
        login_error,
        requested_scopes: requested_scopes.clone(),
    };
    let tokens = match state.api.tokens.current(&session).await? {
        None => return Ok(render(StatusCode::OK, &signed_out(login_error))),
        Some(tokens) => tokens,
    };
    let (user, status, problem) = if tokens.scopes.contains(Scope::ReadSelf) {
        match state.api.get_json::<User>(&session, "/users/me", &[]).await {
            Ok(user) => (Some(user), StatusCode::OK, None),
            Err(AppError::NotSignedIn) => return Ok(render(StatusCode::OK, &signed_out(login_error))),
            Err(AppError::ReauthRequired | AppError::Refresh(fanvue::oauth::OAuthError::InvalidGrant(_))) => {
                login_error = Some(describe(login_codes::codes::REAUTH_REQUIRED));
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
    let view = signed_in_view(user, tokens.scopes, state.api.tokens.oauth().requested_scopes(), problem);
    Ok(render(
        status,
        &HomePage { nav: Nav::for_scopes(tokens.scopes, "/"), signed_in: Some(view), login_error, requested_scopes },
    ))
}

fn signed_in_view(user: Option<User>, granted: ScopeSet, requested: ScopeSet, problem: Option<String>) -> SignedInView {
    // Upstream URLs become `img src` only over https: anything else is mixed content or
    // worse (`javascript:`).
    let avatar = user.as_ref().and_then(|u| u.avatar_url.clone()).filter(|url| url.starts_with("https://"));
    let initial =
        crate::web::format::initial(user.as_ref().map_or("", |u| u.display_name.as_deref().unwrap_or(&u.handle)));
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
        assert_eq!(login_codes::known_code("access_denied"), Some("access_denied"));
        assert_eq!(login_codes::known_code("Call +1-555-0100"), None);
        let unknown = describe("<b>Call us</b>");
        assert_eq!((unknown.title, unknown.code), ("Login failed", None));
        let query = HomeQuery::parse("error=access_denied&error_description=phish&error=other");
        assert_eq!(query.error.as_deref(), Some("access_denied"));
    }
}
