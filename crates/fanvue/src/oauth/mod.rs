//! Signing in with Fanvue: the OAuth 2.0 authorization code flow with PKCE against Fanvue's
//! provider (ORY Hydra), and the tokens it gives.
//!
//! The flow, end to end (the caller keeps the [`PendingLogin`] between steps 1 and 4, e.g.
//! in a server-side session):
//! 1. [`OAuthClient::begin`] makes a PKCE verifier (S256), a 256-bit `state` and a `nonce`,
//!    and the URL of `{issuer}/oauth2/auth` to send the browser to.
//! 2. The user signs in at Fanvue and allows (or denies) the app's scopes.
//! 3. Fanvue sends the browser back to the redirect URI with `code` and `state`, as a query
//!    string or as a cross-site form POST ([`ResponseMode::FormPost`]).
//! 4. The caller checks `state` ([`PendingLogin::state_matches`], constant time) and
//!    [`OAuthClient::exchange`]s the code with the verifier, using `client_secret_basic`.
//! 5. [`OAuthClient::refresh`] renews the access token; Fanvue rotates refresh tokens, so the
//!    new [`TokenSet`] must be saved before it is used.
//!
//! Embedded apps trade the session token Fanvue injects into their iframe with
//! [`OAuthClient::authorize_on_behalf`] (the documented flow) or [`OAuthClient::jwt_bearer`].
//! Nothing here knows about HTTP routing or sessions.

pub mod tokens;

use std::future::Future;
use std::pin::Pin;

use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AccessToken, AuthType, AuthUrl, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::crypto;
use crate::scopes::{Scope, ScopeSet};

pub use tokens::{TokenSet, now_unix};

/// Path of the embedded apps' authorize half under the provider's base URL: assumed (Fanvue's
/// appendix is not public); the starter's default for `FANVUE_EMBED_AUTHORIZE_URL`, and where
/// the sandbox serves it.
pub const AUTHORIZE_ON_BEHALF_PATH: &str = "/oauth2/authorize-on-behalf";

/// An app's OAuth client settings, as Fanvue's Builder shows them.
#[derive(Clone, Debug)]
pub struct OAuthConfig {
    /// The Client ID.
    pub client_id: String,
    /// The Client Secret (redacted in `Debug`).
    pub client_secret: secrecy::SecretString,
    /// The app's scopes; the system scopes (`openid offline_access offline`) are added at login.
    pub scopes: ScopeSet,
    /// The registered redirect URI, exactly as registered (Fanvue compares it character for
    /// character).
    pub redirect_uri: Url,
    /// The provider's base URL, e.g. `https://auth.fanvue.com`.
    pub issuer: Url,
    /// How the provider returns the authorization response.
    pub response_mode: ResponseMode,
    /// `prompt`, e.g. `login` to force a fresh Fanvue login.
    pub prompt: Option<String>,
}

/// How the provider returns the authorization response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMode {
    /// Redirect with `?code=…&state=…` (the default).
    Query,
    /// Cross-site POST of an HTML form to the redirect URI.
    FormPost,
}

/// A login that has been started but not completed: kept in the session between steps 1
/// and 4, consumed by the callback. Every secret field redacts itself in `Debug`.
#[derive(Debug, Serialize, Deserialize)]
pub struct PendingLogin {
    state: CsrfToken,
    verifier: PkceCodeVerifier,
    nonce: CsrfToken,
    /// Where to go after login, as the caller gave it to [`OAuthClient::begin`] (validate it
    /// before redirecting: it is whatever the login link carried).
    pub return_to: String,
    /// Unix time the login started; older than [`PENDING_LOGIN_TTL_SECS`] is refused.
    pub started_at: i64,
}

/// How long a started login stays valid (as the Next.js starter's 10-minute cookies).
pub const PENDING_LOGIN_TTL_SECS: i64 = 600;

impl PendingLogin {
    /// Whether `state` from the callback is this login's, compared in constant time.
    pub fn state_matches(&self, state: &str) -> bool {
        crypto::constant_time_eq(self.state.secret().as_bytes(), state.as_bytes())
    }

    /// Whether the login is too old to finish.
    pub fn is_expired(&self, now: i64) -> bool {
        now - self.started_at > PENDING_LOGIN_TTL_SECS
    }
}

/// `id_token` next to the standard token fields; only its `nonce` is checked.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IdTokenField {
    id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

type TokenResp = StandardTokenResponse<IdTokenField, BasicTokenType>;
type Oauth2Client = Client<
    BasicErrorResponse,
    TokenResp,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// What can go wrong talking to the provider.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The refresh token or code is dead: expired, used twice, or the grant was revoked.
    /// The user has to sign in again.
    #[error("the provider refused the grant (invalid_grant): {0}")]
    InvalidGrant(String),
    /// Any other OAuth error response from the token endpoint.
    #[error("the token endpoint answered `{code}`: {description}")]
    Rejected {
        /// The OAuth error code, e.g. `invalid_client`.
        code: String,
        /// The provider's description.
        description: String,
    },
    /// The provider could not be reached or timed out.
    #[error("the provider could not be reached: {0}")]
    Transport(String),
    /// The provider answered something that is not a valid token response.
    #[error("the provider's response was not understood: {0}")]
    BadResponse(String),
    /// The id_token's nonce is not the one this login sent.
    #[error("the id_token's nonce does not match this login")]
    NonceMismatch,
    /// A configured URL cannot be used.
    #[error("invalid OAuth configuration: {0}")]
    Config(String),
    /// Fanvue's authorize half (embedded apps' authorize-on-behalf) issued no code: an OAuth
    /// error such as `consent_required`, or an answer that is not one (wrong URL?).
    #[error("the authorize-on-behalf endpoint (FANVUE_EMBED_AUTHORIZE_URL) answered `{code}`: {description}")]
    AuthorizeRefused {
        /// The OAuth error code, or the HTTP status when the answer was not an OAuth error.
        code: String,
        /// The provider's description.
        description: String,
    },
    /// The authorization response carries another `state` than the request sent.
    #[error("the authorization response's state does not match the request")]
    StateMismatch,
}

impl OAuthError {
    /// Whether the provider refused the grant for good, so the session must end. Any OAuth
    /// error answer counts (Hydra answers a reused or revoked refresh token with
    /// `invalid_grant` or, in some versions, `token_inactive`; a regenerated client secret
    /// gives `invalid_client`), except the two that mean "try again later".
    pub fn grant_is_dead(&self) -> bool {
        match self {
            OAuthError::InvalidGrant(_) => true,
            OAuthError::Rejected { code, .. } => !matches!(code.as_str(), "server_error" | "temporarily_unavailable"),
            _ => false,
        }
    }
}

/// The OAuth client: builds authorize URLs and talks to the token and revocation endpoints.
#[derive(Clone, Debug)]
pub struct OAuthClient {
    client: Oauth2Client,
    http: OAuthHttp,
    token_url: Url,
    revoke_url: Url,
    client_id: String,
    client_secret: secrecy::SecretString,
    scopes: ScopeSet,
    response_mode: ResponseMode,
    prompt: Option<String>,
}

/// `{base}{path}` with exactly one slash between them.
pub fn endpoint_url(base: &Url, path: &str) -> Result<Url, OAuthError> {
    let joined = format!("{}{}", base.as_str().trim_end_matches('/'), path);
    Url::parse(&joined).map_err(|e| OAuthError::Config(format!("{joined}: {e}")))
}

impl OAuthClient {
    /// Builds the client from configuration and the shared HTTP client (no redirects).
    pub fn new(config: &OAuthConfig, http: reqwest::Client) -> Result<Self, OAuthError> {
        let url = |path: &str| endpoint_url(&config.issuer, path).map(|u| u.to_string());
        let bad = |e: url::ParseError| OAuthError::Config(e.to_string());
        let client = oauth2::Client::new(ClientId::new(config.client_id.clone()))
            .set_client_secret(ClientSecret::new(config.client_secret.expose_secret().to_owned()))
            // Fanvue accepts client_secret_basic only.
            .set_auth_type(AuthType::BasicAuth)
            .set_auth_uri(AuthUrl::new(url("/oauth2/auth")?).map_err(bad)?)
            .set_token_uri(TokenUrl::new(url("/oauth2/token")?).map_err(bad)?)
            .set_redirect_uri(RedirectUrl::new(config.redirect_uri.to_string()).map_err(bad)?);
        Ok(Self {
            client,
            http: OAuthHttp(http),
            token_url: endpoint_url(&config.issuer, "/oauth2/token")?,
            revoke_url: endpoint_url(&config.issuer, "/oauth2/revoke")?,
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            scopes: config.scopes,
            response_mode: config.response_mode,
            prompt: config.prompt.clone(),
        })
    }

    /// The scopes this app asks for (without the system scopes).
    pub fn requested_scopes(&self) -> ScopeSet {
        self.scopes
    }

    /// Step 1: the authorize URL and the secrets to keep until the callback. `extra` adds
    /// scopes to this login only (a "reconnect" for a page whose scope was not granted).
    pub fn begin(&self, return_to: &str, extra: ScopeSet, now: i64) -> (Url, PendingLogin) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = CsrfToken::new_random_len(16);
        let scopes = Scope::SYSTEM
            .iter()
            .copied()
            .chain(self.scopes.iter().chain(extra.missing_from(self.scopes).iter()).map(Scope::as_str))
            .map(|s| oauth2::Scope::new(s.to_owned()));
        let mut request = self
            .client
            .authorize_url(|| CsrfToken::new_random_len(32))
            .add_scopes(scopes)
            .set_pkce_challenge(challenge)
            .add_extra_param("nonce", nonce.secret().clone());
        if self.response_mode == ResponseMode::FormPost {
            request = request.add_extra_param("response_mode", "form_post");
        }
        if let Some(prompt) = &self.prompt {
            request = request.add_extra_param("prompt", prompt.clone());
        }
        let (url, state) = request.url();
        let pending = PendingLogin { state, verifier, nonce, return_to: return_to.to_owned(), started_at: now };
        (url, pending)
    }

    /// Step 4: trades the code (plus the PKCE verifier) for tokens.
    pub async fn exchange(&self, code: String, pending: PendingLogin, now: i64) -> Result<TokenSet, OAuthError> {
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(pending.verifier)
            // In the body as well as in Basic auth, as Fanvue's own starter sends it.
            .add_extra_param("client_id", self.client_id.clone())
            .request_async(&self.http)
            .await
            .map_err(map_token_error)?;
        let id_token = response.extra_fields().id_token.as_deref();
        check_nonce(id_token, pending.nonce.secret())?;
        let mut tokens = token_set(&response, None, self.scopes, now);
        tokens.user = id_token_claim(id_token, "sub");
        Ok(tokens)
    }

    /// Trades a refresh token for a new token set. Fanvue rotates refresh tokens: the old
    /// one is dead once this returns, so the caller must persist the result before use.
    pub async fn refresh(&self, current: &TokenSet, now: i64) -> Result<TokenSet, OAuthError> {
        let Some(refresh_token) = &current.refresh_token else {
            return Err(OAuthError::InvalidGrant("the session has no refresh token".into()));
        };
        let response = self
            .client
            .exchange_refresh_token(refresh_token)
            .add_extra_param("client_id", self.client_id.clone())
            .request_async(&self.http)
            .await
            .map_err(map_token_error)?;
        let mut tokens = token_set(&response, Some(refresh_token), current.scopes, now);
        tokens.user = current.user.clone();
        Ok(tokens)
    }

    /// RFC 7523: trades a signed assertion (the session token Fanvue injects into an
    /// embedded app) for tokens, with the app's scopes. Done by hand: the oauth2 crate has no
    /// jwt-bearer grant. `user` is the assertion's `sub` (the creator) unless an id_token says
    /// otherwise.
    pub async fn jwt_bearer(&self, assertion: &str, now: i64) -> Result<TokenSet, OAuthError> {
        let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let scope: Vec<&str> = self.scopes.iter().map(Scope::as_str).collect();
        let response = self
            .http
            .0
            .post(self.token_url.clone())
            .basic_auth(encode(&self.client_id), Some(encode(self.client_secret.expose_secret())))
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion),
                ("scope", &scope.join(" ")),
                ("client_id", &self.client_id),
            ])
            .send()
            .await
            .map_err(|e| OAuthError::Transport(e.without_url().to_string()))?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.map_err(|e| OAuthError::BadResponse(e.to_string()))?;
        let text = |k: &str| body.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        if !status.is_success() {
            let code = text("error");
            let description = text("error_description");
            return Err(match code.as_str() {
                "invalid_grant" => OAuthError::InvalidGrant(description),
                "" => OAuthError::Rejected { code: status.to_string(), description },
                _ => OAuthError::Rejected { code, description },
            });
        }
        let access_token = text("access_token");
        if access_token.is_empty() {
            return Err(OAuthError::BadResponse("no access_token in the jwt-bearer answer".into()));
        }
        let expires_in = body.get("expires_in").and_then(serde_json::Value::as_i64).unwrap_or(3600);
        let scopes = match body.get("scope").and_then(|v| v.as_str()) {
            Some(granted) => granted.split(' ').filter_map(|s| s.parse::<Scope>().ok()).collect(),
            None => self.scopes,
        };
        let id_token = body.get("id_token").and_then(|v| v.as_str());
        let user = id_token_claim(id_token, "sub").or_else(|| id_token_claim(Some(assertion), "sub"));
        Ok(TokenSet {
            access_token: AccessToken::new(access_token),
            // The online token of the spike comes without one; take one if the provider sends it.
            refresh_token: body.get("refresh_token").and_then(|v| v.as_str()).map(|t| RefreshToken::new(t.to_owned())),
            expires_at: now.saturating_add(expires_in),
            scopes,
            user,
        })
    }

    /// The authorize half of Fanvue's delegated authorize-on-behalf flow (embedded apps):
    /// presents the injected `session_token` at `endpoint` with a fresh PKCE challenge (S256),
    /// `state` (256 bits) and `nonce`, and gets back an authorization code bound to them, to
    /// the registered redirect URI and to the creator the token names. Redeem it with
    /// [`OAuthClient::exchange`] and the returned [`PendingLogin`], as the off-platform
    /// callback does.
    ///
    /// The wire is an assumption (Fanvue's appendix is not public): a back-channel form
    /// `POST` to `endpoint` answered with JSON
    /// `{code, state}` or an OAuth error. No client secret is sent: Fanvue "never sees your
    /// client secret, PKCE verifier, or the resulting tokens"; the code is worthless without
    /// both, which only the token endpoint sees.
    pub async fn authorize_on_behalf(
        &self,
        endpoint: &Url,
        session_token: &str,
        now: i64,
    ) -> Result<(String, PendingLogin), OAuthError> {
        #[derive(Deserialize)]
        struct Answer {
            code: Option<String>,
            state: Option<String>,
            error: Option<String>,
            error_description: Option<String>,
        }
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = CsrfToken::new_random_len(32);
        let nonce = CsrfToken::new_random_len(16);
        let scope: Vec<&str> = Scope::SYSTEM.iter().copied().chain(self.scopes.iter().map(Scope::as_str)).collect();
        let redirect_uri = self.client.redirect_uri().map(|r| r.as_str().to_owned()).unwrap_or_default();
        let response = self
            .http
            .0
            .post(endpoint.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[
                ("client_id", self.client_id.as_str()),
                ("session_token", session_token),
                ("response_type", "code"),
                ("redirect_uri", &redirect_uri),
                ("scope", &scope.join(" ")),
                ("state", state.secret()),
                ("nonce", nonce.secret()),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", challenge.method().as_str()),
            ])
            .send()
            .await
            .map_err(|e| OAuthError::Transport(e.without_url().to_string()))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| OAuthError::Transport(e.without_url().to_string()))?;
        let answer = serde_json::from_slice::<Answer>(&body).ok();
        let answer = match answer {
            Some(answer) if status.is_success() => answer,
            Some(Answer { error: Some(code), error_description, .. }) => {
                return Err(OAuthError::AuthorizeRefused { code, description: error_description.unwrap_or_default() });
            }
            _ => {
                return Err(OAuthError::AuthorizeRefused {
                    code: status.to_string(),
                    description: "not an OAuth answer; check FANVUE_EMBED_AUTHORIZE_URL".into(),
                });
            }
        };
        let code = answer.code.filter(|c| !c.is_empty() && c.len() <= 2048);
        let Some(code) = code else {
            return Err(OAuthError::BadResponse("no code in the authorize-on-behalf answer".into()));
        };
        // Over a back channel the answer cannot come from elsewhere; the check still catches
        // a proxy or stand-in that mixes answers up, and is what the flow promises.
        let answered = answer.state.unwrap_or_default();
        if !crypto::constant_time_eq(state.secret().as_bytes(), answered.as_bytes()) {
            return Err(OAuthError::StateMismatch);
        }
        let pending = PendingLogin { state, verifier, nonce, return_to: "/".to_owned(), started_at: now };
        Ok((code, pending))
    }

    /// Revokes a refresh token (RFC 7009) and with it the grant. Done by hand because the
    /// oauth2 crate refuses non-https revocation URLs, and loopback stand-ins are plain http.
    pub async fn revoke(&self, refresh_token: &RefreshToken) -> Result<(), OAuthError> {
        let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let response = self
            .http
            .0
            .post(self.revoke_url.clone())
            .basic_auth(encode(&self.client_id), Some(encode(self.client_secret.expose_secret())))
            .form(&[("token", refresh_token.secret().as_str()), ("token_type_hint", "refresh_token")])
            .send()
            .await
            .map_err(|e| OAuthError::Transport(e.without_url().to_string()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(OAuthError::Rejected { code: response.status().to_string(), description: "revocation refused".into() })
        }
    }
}

fn token_set(
    response: &TokenResp,
    previous_refresh: Option<&RefreshToken>,
    fallback_scopes: ScopeSet,
    now: i64,
) -> TokenSet {
    let expires_in = response.expires_in().map_or(3600, |d| i64::try_from(d.as_secs()).unwrap_or(3600));
    let scopes = response
        .scopes()
        .map_or(fallback_scopes, |granted| granted.iter().filter_map(|s| s.as_str().parse::<Scope>().ok()).collect());
    TokenSet {
        access_token: response.access_token().clone(),
        // Fanvue always rotates; keep the old one only if a provider returns none.
        refresh_token: response.refresh_token().cloned().or_else(|| previous_refresh.cloned()),
        expires_at: now.saturating_add(expires_in),
        scopes,
        user: None,
    }
}

/// One string claim of an id_token (read, not verified: see [`check_nonce`]).
fn id_token_claim(id_token: Option<&str>, name: &str) -> Option<String> {
    let payload = crypto::unb64(id_token?.split('.').nth(1)?)?;
    let claims: serde_json::Value = serde_json::from_slice(&payload).ok()?;
    claims.get(name)?.as_str().map(str::to_owned)
}

/// Checks the id_token's `nonce` claim against the one this login sent. The token came
/// straight from the token endpoint over TLS, which OIDC Core §3.1.3.7 accepts in place of
/// checking its signature. Hydra always echoes the nonce; an id_token without one (or not a
/// JWT, as some test stand-ins send) is not used for anything and is let through, since PKCE
/// and `state` already bind the code to this login. A different nonce is refused.
fn check_nonce(id_token: Option<&str>, expected: &str) -> Result<(), OAuthError> {
    #[derive(Deserialize)]
    struct Claims {
        nonce: Option<String>,
    }
    let nonce = id_token
        .and_then(|t| t.split('.').nth(1))
        .and_then(crypto::unb64)
        .and_then(|json| serde_json::from_slice::<Claims>(&json).ok())
        .and_then(|claims| claims.nonce);
    match nonce {
        Some(nonce) if !crypto::constant_time_eq(nonce.as_bytes(), expected.as_bytes()) => {
            Err(OAuthError::NonceMismatch)
        }
        _ => Ok(()),
    }
}

fn map_token_error(err: RequestTokenError<oauth2::HttpClientError<reqwest::Error>, BasicErrorResponse>) -> OAuthError {
    match err {
        RequestTokenError::ServerResponse(resp) => {
            let description = resp.error_description().cloned().unwrap_or_default();
            match resp.error() {
                BasicErrorResponseType::InvalidGrant => OAuthError::InvalidGrant(description),
                other => OAuthError::Rejected { code: other.as_ref().to_owned(), description },
            }
        }
        RequestTokenError::Request(e) => OAuthError::Transport(match e {
            oauth2::HttpClientError::Reqwest(e) => e.without_url().to_string(),
            other => other.to_string(),
        }),
        RequestTokenError::Parse(e, _) => OAuthError::BadResponse(e.to_string()),
        RequestTokenError::Other(e) => OAuthError::BadResponse(e),
    }
}

/// Runs oauth2's requests over the app's one reqwest client (oauth2 5's own reqwest
/// feature would pull a second, older reqwest).
#[derive(Clone, Debug)]
pub struct OAuthHttp(pub reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for OAuthHttp {
    type Error = oauth2::HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, Self::Error>> + Send + Sync + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(Box::new)?;
            let response = self.0.execute(request).await.map_err(Box::new)?;
            let mut builder = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response.bytes().await.map_err(Box::new)?;
            builder.body(body.to_vec()).map_err(oauth2::HttpClientError::Http)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> OAuthClient {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = OAuthConfig {
            client_id: "client-123".into(),
            client_secret: "s3cret".to_owned().into(),
            scopes: ScopeSet::parse_granted("read:self read:chat"),
            redirect_uri: Url::parse("https://my-fanvue-app.dev:3001/api/oauth/callback").unwrap(),
            issuer: Url::parse("https://auth.fanvue.com").unwrap(),
            response_mode: ResponseMode::Query,
            prompt: Some("login".into()),
        };
        OAuthClient::new(&config, reqwest::Client::new()).unwrap()
    }

    #[test]
    fn authorize_url_carries_pkce_state_nonce_and_all_scopes() {
        let (url, pending) = client().begin("/", ScopeSet::empty(), 0);
        assert!(url.as_str().starts_with("https://auth.fanvue.com/oauth2/auth?"));
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "client-123");
        assert_eq!(q["scope"], "openid offline_access offline read:self read:chat");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"].len(), 43);
        assert_eq!(q["prompt"], "login");
        assert!(q["state"].len() >= 43, "at least 128 bits of state");
        assert!(!q["nonce"].is_empty());
        assert_eq!(q["redirect_uri"], "https://my-fanvue-app.dev:3001/api/oauth/callback");
        assert!(pending.state_matches(&q["state"]));
        assert!(!pending.state_matches("forged"));
        assert_eq!(pending.verifier.secret().len(), 43);
        let debug = format!("{pending:?}");
        assert!(!debug.contains(&q["state"]) && !debug.contains(pending.verifier.secret()));
    }

    #[test]
    fn nonce_check_accepts_only_the_sent_nonce() {
        let jwt = |claims: &str| format!("e30.{}.sig", crypto::b64(claims.as_bytes()));
        assert!(check_nonce(None, "n").is_ok());
        assert!(check_nonce(Some(&jwt(r#"{"nonce":"n"}"#)), "n").is_ok());
        assert!(matches!(check_nonce(Some(&jwt(r#"{"nonce":"x"}"#)), "n"), Err(OAuthError::NonceMismatch)));
        assert!(check_nonce(Some(&jwt("{}")), "n").is_ok(), "no nonce claim: nothing to compare");
        assert!(check_nonce(Some("opaque"), "n").is_ok());
    }
}
