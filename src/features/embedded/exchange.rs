//! Trading the session token Fanvue injects into the iframe for OAuth tokens.
//!
//! [`SessionTokenExchange`] is the seam; `EMBEDDED_EXCHANGE` picks the implementation in
//! [`crate::app::state::AppState::new`]:
//!
//! - [`AuthorizeOnBehalf`] (`authorize-on-behalf`, the default): Fanvue's documented
//!   "delegated authorize-on-behalf" flow (`fanvue-platform.md` §1.8 b). Fanvue owns the
//!   authorize half (the creator's identity and consent), the app owns the exchange half (its
//!   client secret and PKCE verifier). The app gets an authorization code, redeems it at
//!   `/oauth2/token` exactly as the off-platform callback does, and keeps the refresh token,
//!   so the embedded session refreshes like a console session.
//! - [`JwtBearer`] (`jwt-bearer`): the RFC 7523 grant of Fanvue's engineers' spike (§1.8 a);
//!   the session token is the assertion, the answer an "online" token without refresh token.
//!
//! # The authorize half's wire (assumed)
//!
//! Fanvue's guide puts the wire details in an appendix that is not public, so the request
//! below is this starter's design, kept to OAuth's own vocabulary so that adapting it to the
//! real one is a change in [`fanvue::oauth::OAuthClient::authorize_on_behalf`] only. The URL is
//! `FANVUE_EMBED_AUTHORIZE_URL`, default `{OAUTH_ISSUER_BASE_URL}/oauth2/authorize-on-behalf`
//! (also assumed); `--sandbox` serves it.
//!
//! ```text
//! POST {FANVUE_EMBED_AUTHORIZE_URL}                    back channel, from the app's server
//! Content-Type: application/x-www-form-urlencoded
//! Accept: application/json
//!
//! client_id=…&session_token=<the injected token>&response_type=code
//! &redirect_uri=<OAUTH_REDIRECT_URI>&scope=openid offline_access offline <OAUTH_SCOPES>
//! &state=<256 bits>&nonce=<128 bits>&code_challenge=<S256 of the verifier>&code_challenge_method=S256
//!
//! 200 {"code": "…", "state": "<the same state>"}       Cache-Control: no-store
//! 4xx {"error": "…", "error_description": "…"}
//! ```
//!
//! - No client secret: the guide says Fanvue "never sees your client secret, PKCE verifier,
//!   or the resulting tokens". The session token (60 s, single use, minted for this app)
//!   authenticates the request; the code it yields is worthless without the secret and the
//!   verifier, which only the token endpoint sees.
//! - `redirect_uri` is the app's registered `OAUTH_REDIRECT_URI`, shared with the off-platform
//!   flow. No browser visits it here; it binds the code and must be sent again, identical, to
//!   the token endpoint.
//! - Errors, and what the creator is told ([`super::EmbedError`]): `invalid_session_token`,
//!   `login_required` (expired, used, forged, or the Fanvue session behind it ended: reopen the
//!   app) → `invalid_session_token`; `consent_required`, `access_denied` (the creator has not
//!   approved the app, or not these scopes) → `consent_required`; anything else, an answer
//!   that is not an OAuth error (a wrong URL answers 404) or no answer → `fanvue_unavailable`,
//!   logged with the code and the variable to check.
//!
//! The code is then redeemed with `client_secret_basic`: `grant_type=authorization_code`,
//! `code`, `code_verifier`, `redirect_uri` (one-time; the id_token's `nonce` is checked).

use async_trait::async_trait;
use url::Url;

use super::EmbedError;
use fanvue::oauth::tokens::now_unix;
use fanvue::oauth::{OAuthClient, OAuthError, TokenSet};

pub use fanvue::oauth::AUTHORIZE_ON_BEHALF_PATH;

/// Turns an injected session token into tokens for the creator it names.
#[async_trait]
pub trait SessionTokenExchange: Send + Sync + std::fmt::Debug + 'static {
    /// Exchanges `session_token`, once. Errors say whether reopening the app
    /// ([`EmbedError::InvalidSessionToken`]) or approving it ([`EmbedError::ConsentRequired`])
    /// fixes it.
    async fn exchange(&self, session_token: &str) -> Result<TokenSet, EmbedError>;
}

/// A session token worth sending: a compact JWS (three base64url parts), of a sane size.
/// Anything else is refused without a call to the provider.
pub fn looks_like_session_token(token: &str) -> bool {
    (16..=4096).contains(&token.len())
        && token.split('.').count() == 3
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Fanvue's delegated authorize-on-behalf flow: a code from Fanvue's authorize half, redeemed
/// with the app's secret and PKCE verifier (see the module docs for the wire).
#[derive(Clone, Debug)]
pub struct AuthorizeOnBehalf {
    oauth: OAuthClient,
    authorize_url: Url,
}

impl AuthorizeOnBehalf {
    /// Uses the app's OAuth client (client id, redirect URI, scopes; its secret only at the
    /// token endpoint) and Fanvue's authorize half at `authorize_url`.
    pub fn new(oauth: OAuthClient, authorize_url: Url) -> Self {
        Self { oauth, authorize_url }
    }
}

#[async_trait]
impl SessionTokenExchange for AuthorizeOnBehalf {
    async fn exchange(&self, session_token: &str) -> Result<TokenSet, EmbedError> {
        if !looks_like_session_token(session_token) {
            return Err(EmbedError::InvalidSessionToken);
        }
        let now = now_unix();
        let (code, pending) =
            self.oauth.authorize_on_behalf(&self.authorize_url, session_token, now).await.map_err(authorize_error)?;
        let tokens = self.oauth.exchange(code, pending, now).await.map_err(EmbedError::Provider)?;
        if tokens.refresh_token.is_none() {
            // The app asked for offline access; without it the session ends with the access token.
            tracing::warn!("the embedded exchange returned no refresh token (offline access not granted)");
        }
        Ok(tokens)
    }
}

/// What the authorize half's refusal means for the creator.
fn authorize_error(err: OAuthError) -> EmbedError {
    match &err {
        OAuthError::AuthorizeRefused { code, .. } => match code.as_str() {
            "invalid_session_token" | "login_required" => EmbedError::InvalidSessionToken,
            "consent_required" | "access_denied" => EmbedError::ConsentRequired,
            _ => EmbedError::Provider(err),
        },
        _ => EmbedError::Provider(err),
    }
}

/// The jwt-bearer grant (RFC 7523) at the provider's token endpoint.
#[derive(Clone, Debug)]
pub struct JwtBearer {
    oauth: OAuthClient,
}

impl JwtBearer {
    /// Uses the app's OAuth client (its credentials authenticate the exchange).
    pub fn new(oauth: OAuthClient) -> Self {
        Self { oauth }
    }
}

#[async_trait]
impl SessionTokenExchange for JwtBearer {
    async fn exchange(&self, session_token: &str) -> Result<TokenSet, EmbedError> {
        if !looks_like_session_token(session_token) {
            return Err(EmbedError::InvalidSessionToken);
        }
        match self.oauth.jwt_bearer(session_token, now_unix()).await {
            Ok(tokens) => Ok(tokens),
            Err(OAuthError::InvalidGrant(_)) => Err(EmbedError::InvalidSessionToken),
            Err(OAuthError::Rejected { code, .. }) if matches!(code.as_str(), "consent_required" | "access_denied") => {
                Err(EmbedError::ConsentRequired)
            }
            Err(OAuthError::Rejected { code, .. }) if matches!(code.as_str(), "invalid_request" | "token_inactive") => {
                Err(EmbedError::InvalidSessionToken)
            }
            Err(other) => Err(EmbedError::Provider(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Bytes;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::post;

    use super::*;

    const TOKEN: &str = "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl";

    #[test]
    fn only_compact_jws_shaped_tokens_are_sent() {
        assert!(looks_like_session_token(TOKEN));
        assert!(!looks_like_session_token(""));
        assert!(!looks_like_session_token("not-a-jwt-at-all-here"));
        assert!(!looks_like_session_token("a.b.c<script>alert(1)</script>"));
        assert!(!looks_like_session_token(&format!("a.b.{}", "c".repeat(5000))));
    }

    type Form = std::collections::HashMap<String, String>;
    type Reply = Arc<dyn Fn(&Form) -> (StatusCode, String) + Send + Sync>;
    type Seen = Arc<Mutex<Vec<(Option<String>, Form)>>>;

    /// A stand-in for Fanvue's authorize half on loopback: answers `reply(form)` and keeps
    /// the requests it received (their `Authorization` header and form).
    async fn stand_in(reply: Reply) -> (AuthorizeOnBehalf, Seen) {
        crate::infra::tls::install_crypto_provider();
        let seen: Seen = Arc::default();
        let log = seen.clone();
        let app = Router::new().route(
            AUTHORIZE_ON_BEHALF_PATH,
            post(move |headers: axum::http::HeaderMap, body: Bytes| async move {
                let form: Form = url::form_urlencoded::parse(&body).into_owned().collect();
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
                let (status, body) = reply(&form);
                log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((auth, form));
                (status, [("content-type", "application/json")], body).into_response()
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let issuer = format!("http://{addr}");
        let config = crate::config::Config::from_lookup(&|k| match k {
            "OAUTH_CLIENT_ID" => Some("client-123".into()),
            "OAUTH_CLIENT_SECRET" => Some("s3cret-never-sent".into()),
            "SESSION_SECRET" => Some("x".repeat(32)),
            "OAUTH_SCOPES" => Some("read:self read:chat".into()),
            "OAUTH_ISSUER_BASE_URL" => Some(issuer.clone()),
            _ => None,
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let crate::config::EmbedExchange::AuthorizeOnBehalf { authorize_url } = config.embed.exchange.clone() else {
            panic!("authorize-on-behalf is the default");
        };
        assert_eq!(authorize_url.as_str(), format!("{issuer}{AUTHORIZE_ON_BEHALF_PATH}"));
        let oauth = OAuthClient::new(&config.oauth, reqwest::Client::new()).unwrap_or_else(|e| panic!("{e}"));
        (AuthorizeOnBehalf::new(oauth, authorize_url), seen)
    }

    fn echo_state() -> Reply {
        Arc::new(|form: &Form| {
            let state = form.get("state").cloned().unwrap_or_default();
            (StatusCode::OK, serde_json::json!({"code": "the-code", "state": state}).to_string())
        })
    }

    fn answer(status: StatusCode, body: impl Into<String>) -> Reply {
        let body = body.into();
        Arc::new(move |_: &Form| (status, body.clone()))
    }

    #[tokio::test]
    async fn the_authorize_half_gets_pkce_state_nonce_scopes_and_the_redirect_uri_but_no_secret() {
        let (exchange, seen) = stand_in(echo_state()).await;
        let (code, pending) = exchange
            .oauth
            .authorize_on_behalf(&exchange.authorize_url, TOKEN, 0)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(code, "the-code");
        let seen = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let (auth, form) = &seen[0];
        assert_eq!(auth, &None, "no client authentication at Fanvue's half");
        assert!(!form.values().any(|v| v.contains("s3cret")), "{form:?}");
        assert_eq!(form["client_id"], "client-123");
        assert_eq!(form["session_token"], TOKEN);
        assert_eq!(form["response_type"], "code");
        assert_eq!(form["redirect_uri"], "https://my-fanvue-app.dev:3001/api/oauth/callback");
        assert_eq!(form["scope"], "openid offline_access offline read:self read:chat");
        assert_eq!(form["code_challenge_method"], "S256");
        assert_eq!(form["code_challenge"].len(), 43);
        assert!(form["state"].len() >= 43, "256 bits of state");
        assert!(form["nonce"].len() >= 16);
        assert!(pending.state_matches(&form["state"]));
        assert!(!format!("{pending:?}").contains(&form["state"]), "Debug redacts the state");
    }

    #[tokio::test]
    async fn a_different_state_or_no_code_is_refused() {
        let (exchange, _) = stand_in(answer(StatusCode::OK, r#"{"code":"c","state":"someone-elses-state"}"#)).await;
        let err = exchange.oauth.authorize_on_behalf(&exchange.authorize_url, TOKEN, 0).await.err();
        assert!(matches!(err, Some(OAuthError::StateMismatch)), "{err:?}");
        let (exchange, _) = stand_in(answer(StatusCode::OK, r#"{"state":"x"}"#)).await;
        let err = exchange.oauth.authorize_on_behalf(&exchange.authorize_url, TOKEN, 0).await.err();
        assert!(matches!(err, Some(OAuthError::BadResponse(_))), "{err:?}");
    }

    #[tokio::test]
    async fn refusals_become_the_sdks_errors() {
        let refusal = |error: &str| format!(r#"{{"error":"{error}","error_description":"d"}}"#);
        for (reply, expected) in [
            (answer(StatusCode::FORBIDDEN, refusal("consent_required")), "consent_required"),
            (answer(StatusCode::FORBIDDEN, refusal("access_denied")), "consent_required"),
            (answer(StatusCode::BAD_REQUEST, refusal("invalid_session_token")), "invalid_session_token"),
            (answer(StatusCode::BAD_REQUEST, refusal("login_required")), "invalid_session_token"),
            (answer(StatusCode::UNAUTHORIZED, refusal("invalid_client")), "fanvue_unavailable"),
            (answer(StatusCode::NOT_FOUND, "<html>not found</html>"), "fanvue_unavailable"),
            (answer(StatusCode::OK, "{}"), "fanvue_unavailable"),
        ] {
            let (exchange, _) = stand_in(reply).await;
            let err = exchange.exchange(TOKEN).await.err().unwrap_or_else(|| panic!("{expected}: no error"));
            assert_eq!(err.classify().1, expected);
        }
        let (exchange, seen) = stand_in(echo_state()).await;
        let err = exchange.exchange("not-a-token").await.err().map(|e| e.classify().1);
        assert_eq!(err, Some("invalid_session_token"));
        assert!(seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_empty(), "never sent");
    }

    #[test]
    fn a_wrong_url_is_named_in_the_log_line() {
        let err = OAuthError::AuthorizeRefused { code: "404 Not Found".into(), description: "x".into() };
        assert!(err.to_string().contains("FANVUE_EMBED_AUTHORIZE_URL"));
    }
}
