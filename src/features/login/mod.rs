//! HTTP handlers of the login flow: `GET /api/oauth/login`, `GET|POST /api/oauth/callback`
//! (also served at `/oauth/callback`, the path Fanvue's newer starter registers, and at the
//! path of `OAUTH_REDIRECT_URI`) and `POST /api/oauth/logout`. Each extracts, calls
//! [`super::OAuthClient`] or [`super::session_tokens::SessionTokens`], and redirects.
//!
//! Query strings and form bodies are parsed leniently by hand: a malformed or hostile
//! callback must end on the home page with a clear message, never in an extractor's
//! plain-text 400.

use std::future::Future;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tower_sessions::{Expiry, Session};

use crate::auth::ReturnTo;
use crate::auth::login_codes;
use crate::auth::tokens::SessionTokens;
use crate::web::error::AppError;
use crate::web::middleware::{ClientLimit, REQUEST_TIMEOUT, limited_per_client, same_origin_only, with_timeout};
use fanvue::oauth::tokens::now_unix;
use fanvue::oauth::{PENDING_LOGIN_TTL_SECS, PendingLogin};
use fanvue::scopes::ScopeSet;

/// Where Fanvue sends the browser back (the default `OAUTH_REDIRECT_URI` path).
pub const CALLBACK_PATH: &str = "/api/oauth/callback";
/// Alternative callback path (Fanvue's newer starter registers `/oauth/callback`).
pub const ALT_CALLBACK_PATH: &str = "/oauth/callback";
/// Session key of the logins in progress.
const PENDING_KEY: &str = "oauth.pending";
/// Logins in progress kept per session (several tabs may start one).
const MAX_PENDING: usize = 3;

/// What the login routes need: the console sessions' tokens (and through them the OAuth
/// client).
#[derive(Clone, Debug)]
pub struct Login {
    /// Sign-in, sign-out and the OAuth client.
    pub tokens: SessionTokens,
}

/// The login routes; `redirect_path` is the path of `OAUTH_REDIRECT_URI`, `origin` the app's.
/// Every route is under the per-client limit (each login starts a consent at Fanvue); logout
/// refuses cross-site posts, while the callback accepts them: the provider's `form_post` is
/// cross-site by design, and `state` protects it.
pub fn router<S: Clone + Send + Sync + 'static>(
    login: Login,
    redirect_path: &str,
    origin: &str,
    limit: ClientLimit,
) -> Router<S> {
    let mut callbacks = Router::new()
        .route(CALLBACK_PATH, get(callback_get).post(callback_post))
        .route(ALT_CALLBACK_PATH, get(callback_get).post(callback_post));
    if redirect_path != CALLBACK_PATH && redirect_path != ALT_CALLBACK_PATH {
        callbacks = callbacks.route(redirect_path, get(callback_get).post(callback_post));
    }
    let own_pages = same_origin_only(
        Router::new().route("/api/oauth/login", get(begin)).route("/api/oauth/logout", post(logout)),
        origin,
    );
    let routes = with_timeout(own_pages.merge(callbacks), REQUEST_TIMEOUT);
    limited_per_client(routes, limit).with_state(login)
}

/// What the provider sends back. No `Debug`: it holds the code and the state.
#[derive(Default)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Longest parameter value kept; Hydra's codes and states are far shorter.
const MAX_PARAM: usize = 4096;

impl CallbackParams {
    fn parse(raw: &[u8]) -> Self {
        let mut params = CallbackParams::default();
        for (key, value) in url::form_urlencoded::parse(raw) {
            if value.len() > MAX_PARAM {
                continue;
            }
            let slot = match key.as_ref() {
                "code" => &mut params.code,
                "state" => &mut params.state,
                "error" => &mut params.error,
                "error_description" => &mut params.error_description,
                _ => continue,
            };
            slot.get_or_insert_with(|| value.into_owned());
        }
        params
    }
}

/// Runs `change` on the session record under the session's lock, on a fresh copy from the
/// store, and saves it before the lock is released: two tabs logging in at once, or a
/// callback delivered twice, each see the other's change.
async fn locked_change<T, F>(state: &Login, session: &Session, change: impl FnOnce() -> F) -> Result<T, AppError>
where
    F: Future<Output = Result<T, AppError>>,
{
    let Some(id) = session.id() else {
        return change().await; // a brand-new session: no one else can know its id
    };
    let lock = state.tokens.locks().lock_for(id);
    let _guard = lock.lock().await;
    session.load().await?;
    let out = change().await?;
    session.save().await?;
    Ok(out)
}

/// Step 1: remember the login's secrets server-side, send the browser to Fanvue.
async fn begin(State(state): State<Login>, session: Session, RawQuery(query): RawQuery) -> Result<Response, AppError> {
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()).into_owned().collect();
    let return_to = params.iter().find(|(key, _)| key == "return_to").map(|(_, value)| value.as_str());
    // `scope=` asks for more than OAUTH_SCOPES for this login (the missing-scope page's
    // reconnect); only known scope names count.
    let extra: ScopeSet = params.iter().filter(|(key, _)| key == "scope").filter_map(|(_, v)| v.parse().ok()).collect();
    let (url, pending) = state.tokens.oauth().begin(ReturnTo::parse(return_to).as_str(), extra, now_unix());
    let signed_in = state.tokens.current(&session).await?.is_some();
    locked_change(&state, &session, || async {
        let mut pendings: Vec<PendingLogin> = session.get(PENDING_KEY).await?.unwrap_or_default();
        pendings.retain(|p| !p.is_expired(now_unix()));
        if pendings.len() >= MAX_PENDING {
            pendings.remove(0);
        }
        pendings.push(pending);
        session.insert(PENDING_KEY, &pendings).await?;
        if !signed_in {
            // An anonymous visitor's row lives only as long as the login may take.
            session.set_expiry(Some(Expiry::OnInactivity(time::Duration::seconds(PENDING_LOGIN_TTL_SECS))));
        }
        Ok(())
    })
    .await?;
    Ok(Redirect::to(url.as_str()).into_response())
}

async fn callback_get(
    State(state): State<Login>,
    session: Session,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let params = CallbackParams::parse(query.as_deref().unwrap_or("").as_bytes());
    finish_login(&state, &session, params).await
}

/// `response_mode=form_post`: Fanvue's page POSTs the form from its own origin. Browsers
/// withhold `SameSite=Lax` cookies on such cross-site POSTs, so when this request arrives
/// without our session, the parameters are bounced to the same path as a GET: a top-level
/// GET navigation does carry the Lax cookie.
async fn callback_post(
    State(state): State<Login>,
    session: Session,
    uri: Uri,
    body: Bytes,
) -> Result<Response, AppError> {
    let params = CallbackParams::parse(&body);
    let has_pending = session.get::<Vec<PendingLogin>>(PENDING_KEY).await?.is_some_and(|p| !p.is_empty());
    if has_pending {
        return finish_login(&state, &session, params).await;
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in [
        ("code", &params.code),
        ("state", &params.state),
        ("error", &params.error),
        ("error_description", &params.error_description),
    ] {
        if let Some(value) = value {
            query.append_pair(key, value);
        }
    }
    Ok(Redirect::to(&format!("{}?{}", uri.path(), query.finish())).into_response())
}

/// Steps 4 and 5: match `state` to a login in progress (once), exchange the code, sign the
/// session in (new id, sealed tokens).
async fn finish_login(state: &Login, session: &Session, params: CallbackParams) -> Result<Response, AppError> {
    let pending = match params.state.as_deref() {
        Some(value) => locked_change(state, session, || take_pending(session, value)).await?,
        None => None,
    };
    if let Some(error) = params.error {
        return Ok(provider_error(&error, params.error_description.as_deref()));
    }
    let Some(pending) = pending else {
        tracing::warn!("callback state matches no login in progress (forged, replayed or expired)");
        return Ok(home_with_error(login_codes::codes::STATE_MISMATCH));
    };
    let Some(code) = params.code else {
        return Ok(home_with_error(login_codes::codes::BAD_CALLBACK));
    };
    let return_to = ReturnTo::parse(Some(&pending.return_to));
    match state.tokens.oauth().exchange(code, pending, now_unix()).await {
        Ok(tokens) => {
            state.tokens.sign_in(session, &tokens).await?;
            tracing::info!(scopes = %tokens.scopes, "signed in");
            Ok(Redirect::to(return_to.as_str()).into_response())
        }
        Err(err) => {
            tracing::warn!(error = %err, "token exchange failed");
            Ok(home_with_error(login_codes::codes::TOKEN_EXCHANGE_FAILED))
        }
    }
}

/// Removes and returns the unexpired login whose `state` matches; others stay.
async fn take_pending(session: &Session, state: &str) -> Result<Option<PendingLogin>, AppError> {
    let mut pendings: Vec<PendingLogin> = session.get(PENDING_KEY).await?.unwrap_or_default();
    let Some(index) = pendings.iter().position(|p| p.state_matches(state)) else {
        return Ok(None);
    };
    let pending = pendings.remove(index);
    pendings.retain(|p| !p.is_expired(now_unix()));
    if pendings.is_empty() {
        session.remove_value(PENDING_KEY).await?;
    } else {
        session.insert(PENDING_KEY, &pendings).await?;
    }
    Ok((!pending.is_expired(now_unix())).then_some(pending))
}

/// Longest part of a provider's `error`/`error_description` that reaches the log.
const MAX_LOGGED: usize = 200;

/// The provider's error, as the home page shows it: one of our own messages for the code.
/// Anyone can send a browser to this callback with `?error=x&error_description=<any text>`,
/// so the text goes to the log (bounded, control characters dropped) and never to the page.
fn provider_error(error: &str, description: Option<&str>) -> Response {
    let bounded = |text: &str| text.chars().filter(|c| !c.is_control()).take(MAX_LOGGED).collect::<String>();
    tracing::warn!(
        error = ?bounded(error),
        description = ?description.map(bounded),
        "the provider answered the login with an error"
    );
    home_with_error(login_codes::known_code(error).unwrap_or(login_codes::codes::PROVIDER_ERROR))
}

/// The home page with our message for `code` (one of [`codes`] or a known OAuth error).
fn home_with_error(code: &str) -> Response {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("error", code);
    Redirect::to(&format!("/?{}", query.finish())).into_response()
}

/// `POST /api/oauth/logout`: revoke the grant at Fanvue (best effort), end the session.
async fn logout(State(state): State<Login>, session: Session) -> Result<Response, AppError> {
    state.tokens.sign_out(&session).await?;
    Ok(Redirect::to("/").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_params_are_parsed_leniently_first_value_wins() {
        let p = CallbackParams::parse(b"code=a&state=b&code=evil&x=%ZZ&error_description=%3Cb%3E");
        assert_eq!(p.code.as_deref(), Some("a"));
        assert_eq!(p.state.as_deref(), Some("b"));
        assert_eq!(p.error_description.as_deref(), Some("<b>"));
        let huge = format!("code={}", "a".repeat(10_000));
        assert!(CallbackParams::parse(huge.as_bytes()).code.is_none());
        assert!(CallbackParams::parse(&[0xff, 0xfe, b'=', 0]).code.is_none());
    }
}
