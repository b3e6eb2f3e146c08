//! The sandbox's memory: the registered client, consent requests, one-time codes, grants,
//! rotating refresh tokens, self-contained access tokens, and counters tests can read.
//!
//! Access tokens are HMAC-signed (like Fanvue's JWTs, they validate without a lookup) under a
//! key from the sandbox's certificate, so they survive a restart of the app and its
//! in-process sandbox; refresh tokens, codes and grants live in memory only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::crypto::{self, Key};
use fanvue::oauth::now_unix;
use fanvue::scopes::ScopeSet;

/// How long an authorization code is valid (Hydra's default).
pub const CODE_TTL_SECS: i64 = 600;
/// How long a consent screen stays answerable.
pub const CONSENT_TTL_SECS: i64 = 600;
/// Fanvue's per-user budget: requests per window (`SANDBOX_RATE_LIMIT` changes it, e.g.
/// for load tests).
pub const RATE_LIMIT: u32 = 200;
/// Fanvue's budget window.
pub const RATE_WINDOW_SECS: i64 = 60;

/// The one OAuth client the sandbox knows: the app. `Debug` leaves the secret out.
#[derive(Clone)]
pub struct RegisteredClient {
    /// `client_id`.
    pub id: String,
    /// `client_secret`.
    pub secret: String,
    /// Exact redirect URIs accepted.
    pub redirect_uris: Vec<String>,
}

impl std::fmt::Debug for RegisteredClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredClient").field("id", &self.id).field("redirect_uris", &self.redirect_uris).finish()
    }
}

/// An authorize request waiting for Allow/Deny.
#[derive(Clone, Debug)]
pub struct ConsentRequest {
    /// Where to send the answer.
    pub redirect_uri: String,
    /// App scopes asked for.
    pub scopes: ScopeSet,
    /// Whether `offline`/`offline_access` was asked for (refresh token issued).
    pub offline: bool,
    /// Whether `openid` was asked for (id_token issued).
    pub openid: bool,
    /// Client's `state`.
    pub state: String,
    /// Client's `nonce`.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// `query` or `form_post`.
    pub form_post: bool,
    /// Creation time.
    pub created_at: i64,
    /// The account that answers the consent (chosen on the consent page).
    pub user: String,
}

/// A code issued after consent.
#[derive(Clone, Debug)]
pub struct IssuedCode {
    /// The consent it answers.
    pub request: ConsentRequest,
    /// Grant created from it.
    pub grant_id: String,
    /// Set when redeemed; a second redemption revokes the grant.
    pub used: bool,
}

/// A consented grant: the chain of tokens one login created.
#[derive(Clone, Debug)]
pub struct Grant {
    /// The account the grant acts for.
    pub user: String,
    /// Granted app scopes.
    pub scopes: ScopeSet,
    /// Whether refresh tokens are issued.
    pub offline: bool,
    /// Revoked by reuse detection, code replay or revocation.
    pub revoked: bool,
    /// Bumped at each refresh: older access tokens of the grant stop working, as at Hydra.
    pub generation: u32,
}

/// Counters for tests and the curious (`GET /_sandbox/stats`).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// `GET /oauth2/auth` answered with a consent page.
    pub authorize_requests: u64,
    /// Requests to the authorize-on-behalf endpoint (embedded apps), any outcome.
    pub on_behalf_requests: u64,
    /// Requests to `/oauth2/token`, any outcome.
    pub token_requests: u64,
    /// Codes exchanged successfully.
    pub code_exchanges: u64,
    /// Refreshes that succeeded.
    pub refreshes: u64,
    /// Refresh-token reuses detected (each revoked a grant).
    pub reuse_detected: u64,
    /// Revocation requests.
    pub revocations: u64,
    /// API requests, any outcome.
    pub api_calls: u64,
    /// Departures from Fanvue's published reference seen so far (`GET /_sandbox/contract`);
    /// written `contract_violations`, the name the contract issue and its tests use.
    #[serde(rename = "contract_violations")]
    pub contract_violations: u64,
}

/// How many contract violations the store keeps (the count goes on).
pub const VIOLATIONS_KEPT: usize = 500;

/// Which side of a call departed from the reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// What a client sent (an undocumented query parameter or body).
    Request,
    /// What the sandbox answered (a status or body the reference does not document).
    Response,
}

/// One departure from Fanvue's published reference.
#[derive(Clone, Debug, Serialize)]
pub struct Violation {
    /// HTTP method.
    pub method: String,
    /// The endpoint's pattern as the reference writes it.
    pub path: String,
    /// Request or response.
    pub kind: Side,
    /// What is wrong.
    pub message: String,
}

/// Claims inside a sandbox access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Grant id.
    pub grant: String,
    /// User UUID.
    pub sub: String,
    /// Granted scopes.
    pub scp: ScopeSet,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// The grant's generation when minted.
    pub generation: u32,
    /// Unique id, so two tokens minted in the same second differ.
    pub jti: String,
}

/// One webhook delivery the sandbox made (its Events → History).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// When (Unix s).
    pub at: i64,
    /// Event name.
    pub event: String,
    /// Target URL.
    pub url: String,
    /// HTTP status, 0 when no answer.
    pub status: u16,
    /// Attempt number.
    pub attempt: u32,
}

impl Delivery {
    /// `at` for the history page: RFC 3339 for `<time datetime>`, and as people read it
    /// ("26 Nov 2026, 16:53:10 UTC"); the JSON keeps the Unix seconds.
    pub fn at_text(&self) -> (String, String) {
        let Ok(at) = time::OffsetDateTime::from_unix_timestamp(self.at) else {
            return (String::new(), self.at.to_string());
        };
        let iso = at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        let month = &format!("{:?}", at.month())[..3];
        let human =
            format!("{} {month} {}, {:02}:{:02}:{:02} UTC", at.day(), at.year(), at.hour(), at.minute(), at.second());
        (iso, human)
    }
}

/// A subscription made through `POST /webhooks/subscriptions`.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookSubscription {
    /// Id.
    pub id: String,
    /// Target.
    pub url: String,
    /// Event type names.
    pub events: Vec<String>,
    /// ISO 8601.
    pub created_at: String,
    /// The account whose token made it (Fanvue: it acts for the token's creator).
    #[serde(skip)]
    pub owner: String,
    /// Its own signing secret, returned once at creation and used for its deliveries.
    #[serde(skip)]
    pub signing_secret: String,
}

impl std::fmt::Debug for HookSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookSubscription")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Data {
    /// account → scopes it approved for the app (Fanvue's consent record).
    consented: HashMap<String, ScopeSet>,
    /// Session-token ids already exchanged (they are single-use).
    used_session_tokens: HashMap<String, i64>,
    /// Accounts with an active plan of the app.
    subscribed: std::collections::HashSet<String>,
    hooks: Vec<HookSubscription>,
    deliveries: std::collections::VecDeque<Delivery>,
    consents: HashMap<String, ConsentRequest>,
    codes: HashMap<String, IssuedCode>,
    grants: HashMap<String, Grant>,
    /// refresh token → (grant id, used)
    refresh_tokens: HashMap<String, (String, bool)>,
    /// user → (window start, count)
    rate: HashMap<String, (i64, u32)>,
    stats: Stats,
    /// The latest contract violations, newest last.
    violations: std::collections::VecDeque<Violation>,
}

/// Shared sandbox state.
#[derive(Clone)]
pub struct SandboxStore {
    inner: Arc<Inner>,
}

struct Inner {
    session_token_key: Key,
    client: RegisteredClient,
    token_key: Key,
    access_ttl: Duration,
    rate_limit: u32,
    data: Mutex<Data>,
}

/// What a token request produced.
pub struct Issued {
    /// Access token.
    pub access_token: String,
    /// Refresh token, when offline access was granted.
    pub refresh_token: Option<String>,
    /// Lifetime of the access token.
    pub expires_in: i64,
    /// Granted scopes.
    pub scopes: ScopeSet,
    /// Grant id (for the id_token's `sid`).
    pub grant_id: String,
}

/// Why a grant request failed: OAuth error code and description.
pub type GrantError = (&'static str, String);

impl SandboxStore {
    /// A store for `client`; `secret` keys the access tokens.
    pub fn new(client: RegisteredClient, secret: &str, access_ttl: Duration, rate_limit: u32) -> Self {
        let mut data = Data::default();
        data.subscribed.extend(super::users::ACCOUNTS.iter().filter(|a| a.subscribed).map(|a| a.uuid.to_owned()));
        Self {
            inner: Arc::new(Inner {
                client,
                token_key: crypto::derive(secret.as_bytes(), "sandbox-access-token-v1"),
                session_token_key: crypto::derive(secret.as_bytes(), "sandbox-session-token-v1"),
                access_ttl,
                rate_limit,
                data: Mutex::new(data),
            }),
        }
    }

    fn data(&self) -> MutexGuard<'_, Data> {
        self.inner.data.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Requests per user per minute.
    pub fn rate_limit(&self) -> u32 {
        self.inner.rate_limit
    }

    /// The registered client.
    pub fn client(&self) -> &RegisteredClient {
        &self.inner.client
    }

    /// A copy of the counters.
    pub fn stats(&self) -> Stats {
        self.data().stats.clone()
    }

    /// Updates the counters.
    pub fn count(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut self.data().stats);
    }

    /// Records a departure from the reference (and logs it: a client or the sandbox is wrong).
    pub fn record_violation(&self, violation: Violation) {
        tracing::warn!(
            method = %violation.method,
            path = %violation.path,
            kind = ?violation.kind,
            message = %violation.message,
            "sandbox: contract violation"
        );
        let mut data = self.data();
        data.stats.contract_violations += 1;
        if data.violations.len() == VIOLATIONS_KEPT {
            data.violations.pop_front();
        }
        data.violations.push_back(violation);
    }

    /// The number of violations seen and the latest ones, oldest first.
    pub fn violations(&self) -> (u64, Vec<Violation>) {
        let data = self.data();
        (data.stats.contract_violations, data.violations.iter().cloned().collect())
    }

    /// Parks a consent request; returns its challenge id.
    pub fn park_consent(&self, request: ConsentRequest) -> String {
        let challenge = crypto::random_token(24);
        let mut data = self.data();
        let now = now_unix();
        data.consents.retain(|_, c| now - c.created_at < CONSENT_TTL_SECS);
        data.consents.insert(challenge.clone(), request);
        data.stats.authorize_requests += 1;
        challenge
    }

    /// Takes a consent request (once).
    pub fn take_consent(&self, challenge: &str) -> Option<ConsentRequest> {
        let request = self.data().consents.remove(challenge)?;
        (now_unix() - request.created_at < CONSENT_TTL_SECS).then_some(request)
    }

    /// Issues a one-time code for an allowed consent, and records the consent.
    pub fn issue_code(&self, request: ConsentRequest) -> String {
        let code = format!("sbx_ac_{}", crypto::random_token(32));
        let grant_id = crypto::random_token(16);
        let mut data = self.data();
        let approved = data.consented.entry(request.user.clone()).or_insert_with(ScopeSet::empty);
        *approved = approved.union(request.scopes);
        data.codes.insert(code.clone(), IssuedCode { request, grant_id, used: false });
        code
    }

    /// Records that `user` approved the app's scopes (the in-shell consent of an embedded app).
    pub fn consent(&self, user: &str, scopes: ScopeSet) {
        let mut data = self.data();
        let approved = data.consented.entry(user.to_owned()).or_insert_with(ScopeSet::empty);
        *approved = approved.union(scopes);
    }

    /// Whether `user` approved the app.
    pub fn has_consented(&self, user: &str) -> bool {
        self.data().consented.contains_key(user)
    }

    /// Mints the short-lived session token Fanvue injects into an embedded app's iframe: a
    /// compact JWS (HS256 here; Fanvue signs with ES256, and the app never reads it), 60 s,
    /// single-use, minted for this app (`client_id`). Its audience names both places that
    /// accept it, the authorize-on-behalf endpoint and (for the jwt-bearer alternative) the
    /// token endpoint: the surface does not know which exchange the app uses. `lifetime` may
    /// be negative to mint an already-expired one.
    pub fn mint_session_token(&self, issuer: &str, user: &str, lifetime: i64) -> String {
        let header = crypto::b64(br#"{"alg":"HS256","typ":"JWT"}"#);
        let now = now_unix();
        let claims = serde_json::json!({
            "iss": format!("{issuer}/app-integration"),
            "sub": user,
            "aud": [
                format!("{issuer}{}", fanvue::oauth::AUTHORIZE_ON_BEHALF_PATH),
                format!("{issuer}/oauth2/token"),
            ],
            "client_id": self.inner.client.id,
            "scope": "openid",
            "iat": now,
            "exp": now + lifetime,
            "jti": crypto::random_token(12),
        });
        let payload = crypto::b64(claims.to_string().as_bytes());
        let mac = crypto::b64(&self.inner.session_token_key.mac(format!("{header}.{payload}").as_bytes()));
        format!("{header}.{payload}.{mac}")
    }

    /// Checks a session token (signature, expiry, `audience`) and spends it: a second
    /// presentation fails, wherever the first one went. Returns its claims; `Err` says why
    /// it is refused.
    fn spend_session_token(
        &self,
        data: &mut Data,
        token: &str,
        audience: &str,
    ) -> Result<serde_json::Value, &'static str> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(mac), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("it is not a compact JWS");
        };
        let expected = crypto::b64(&self.inner.session_token_key.mac(format!("{header}.{payload}").as_bytes()));
        if !crypto::constant_time_eq(expected.as_bytes(), mac.as_bytes()) {
            return Err("the signature does not verify against a trusted issuer's key");
        }
        let claims: serde_json::Value =
            crypto::unb64(payload).and_then(|p| serde_json::from_slice(&p).ok()).unwrap_or_default();
        let now = now_unix();
        if claims.get("exp").and_then(serde_json::Value::as_i64).is_none_or(|exp| exp <= now) {
            return Err("it has expired");
        }
        let aud = claims.get("aud");
        let audiences: Vec<&str> = match aud {
            Some(serde_json::Value::Array(list)) => list.iter().filter_map(serde_json::Value::as_str).collect(),
            Some(serde_json::Value::String(one)) => vec![one.as_str()],
            _ => Vec::new(),
        };
        if !audiences.contains(&audience) {
            return Err("its audience is not this endpoint");
        }
        let jti = claims.get("jti").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
        data.used_session_tokens.retain(|_, exp| *exp > now);
        if jti.is_empty() || data.used_session_tokens.insert(jti, now + 120).is_some() {
            return Err("it has been used already");
        }
        Ok(claims)
    }

    /// The authorize half of Fanvue's delegated authorize-on-behalf flow: spends the session
    /// token (signature, expiry, audience, minted for this client, single use), checks that
    /// the creator it names approved the app for the scopes asked, and issues a one-time code
    /// bound to `request` (PKCE challenge, redirect URI, scopes, nonce) and the creator. The
    /// token endpoint redeems it like any code.
    pub fn authorize_on_behalf(
        &self,
        issuer: &str,
        session_token: &str,
        mut request: ConsentRequest,
    ) -> Result<String, GrantError> {
        let audience = format!("{issuer}{}", fanvue::oauth::AUTHORIZE_ON_BEHALF_PATH);
        let invalid = |why: &str| ("invalid_session_token", format!("The session token is not valid: {why}."));
        let mut data = self.data();
        let claims = self.spend_session_token(&mut data, session_token, &audience).map_err(invalid)?;
        let text = |k: &str| claims.get(k).and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
        if text("client_id") != self.inner.client.id {
            return Err(invalid("it was minted for another app"));
        }
        let user = text("sub");
        if super::users::find(&user).is_none() {
            return Err(("login_required", "The Fanvue session behind the token has ended.".into()));
        }
        let Some(approved) = data.consented.get(&user).copied() else {
            return Err(("consent_required", "The creator has not approved this app.".into()));
        };
        if !approved.missing(request.scopes).is_empty() {
            return Err(("consent_required", "The app asks for scopes the creator has not approved.".into()));
        }
        request.user = user;
        let code = format!("sbx_ac_{}", crypto::random_token(32));
        let grant_id = crypto::random_token(16);
        data.codes.insert(code.clone(), IssuedCode { request, grant_id, used: false });
        Ok(code)
    }

    /// The jwt-bearer grant (RFC 7523) with a session token: checks signature, audience,
    /// expiry and single use, then the creator's consent; issues an online token (no
    /// refresh token) for the scopes asked, which must all be approved.
    pub fn jwt_bearer(&self, issuer: &str, assertion: &str, scope: Option<&str>) -> Result<Issued, GrantError> {
        let invalid = |why: &str| ("invalid_grant", format!("The JWT assertion is not valid: {why}."));
        let mut data = self.data();
        let claims =
            self.spend_session_token(&mut data, assertion, &format!("{issuer}/oauth2/token")).map_err(invalid)?;
        let user = claims.get("sub").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
        let Some(approved) = data.consented.get(&user).copied() else {
            return Err(("consent_required", "The creator has not approved this app.".into()));
        };
        let asked = scope.map_or(approved, ScopeSet::parse_granted);
        if !approved.missing(asked).is_empty() {
            return Err(("consent_required", "The app asks for scopes the creator has not approved.".into()));
        }
        let grant_id = crypto::random_token(16);
        data.grants.insert(
            grant_id.clone(),
            Grant { user: user.clone(), scopes: asked, offline: false, revoked: false, generation: 0 },
        );
        Ok(self.mint(&mut data, &grant_id, &user, asked, false, 0))
    }

    /// Whether `user` has an active plan of the app.
    pub fn is_subscribed(&self, user: &str) -> bool {
        self.data().subscribed.contains(user)
    }

    /// Starts `user`'s plan (the sandbox's checkout).
    pub fn subscribe(&self, user: &str) {
        self.data().subscribed.insert(user.to_owned());
    }

    /// Records a webhook delivery (the last 50 are kept).
    pub fn record_delivery(&self, delivery: Delivery) {
        let mut data = self.data();
        if data.deliveries.len() == 50 {
            data.deliveries.pop_back();
        }
        data.deliveries.push_front(delivery);
    }

    /// Recent webhook deliveries, newest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.data().deliveries.iter().cloned().collect()
    }

    /// Adds a webhook subscription of `owner`, with a signing secret of its own.
    pub fn add_hook(&self, owner: &str, url: String, events: Vec<String>) -> HookSubscription {
        let hook = HookSubscription {
            id: format!("whsub_{}", crypto::random_token(9)),
            url,
            events,
            created_at: super::seed::iso(time::OffsetDateTime::now_utc()),
            owner: owner.to_owned(),
            signing_secret: format!("whsec_{}", crypto::random_token(24)),
        };
        self.data().hooks.push(hook.clone());
        hook
    }

    /// The webhook subscriptions.
    pub fn hooks(&self) -> Vec<HookSubscription> {
        self.data().hooks.clone()
    }

    /// Deletes `owner`'s webhook subscription `id`; whether it existed.
    pub fn remove_hook(&self, owner: &str, id: &str) -> bool {
        let mut data = self.data();
        let before = data.hooks.len();
        data.hooks.retain(|h| h.id != id || h.owner != owner);
        data.hooks.len() != before
    }

    /// Redeems a code: checks it is unused, fresh, for this redirect URI and PKCE verifier.
    /// A second redemption revokes everything the first one issued (RFC 6749 §10.5).
    pub fn redeem_code(
        &self,
        code: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<(Issued, ConsentRequest), GrantError> {
        let mut data = self.data();
        let Some(issued) = data.codes.get_mut(code) else {
            return Err(("invalid_grant", "The authorization code is invalid.".into()));
        };
        if issued.used {
            let grant_id = issued.grant_id.clone();
            if let Some(grant) = data.grants.get_mut(&grant_id) {
                grant.revoked = true;
            }
            return Err((
                "invalid_grant",
                "The authorization code has already been used; the tokens issued for it were revoked.".into(),
            ));
        }
        issued.used = true;
        let request = issued.request.clone();
        let grant_id = issued.grant_id.clone();
        if now_unix() - request.created_at > CODE_TTL_SECS {
            return Err(("invalid_grant", "The authorization code has expired.".into()));
        }
        if redirect_uri != Some(request.redirect_uri.as_str()) {
            return Err((
                "invalid_grant",
                "The redirect_uri does not match the one of the authorization request.".into(),
            ));
        }
        let Some(verifier) = verifier.filter(|v| (43..=128).contains(&v.len())) else {
            return Err(("invalid_grant", "The PKCE code_verifier is missing or malformed.".into()));
        };
        let challenge = crypto::b64(&sha256(verifier.as_bytes()));
        if !crypto::constant_time_eq(challenge.as_bytes(), request.code_challenge.as_bytes()) {
            return Err(("invalid_grant", "The PKCE code_verifier does not match the code_challenge.".into()));
        }
        data.grants.insert(
            grant_id.clone(),
            Grant {
                user: request.user.clone(),
                scopes: request.scopes,
                offline: request.offline,
                revoked: false,
                generation: 0,
            },
        );
        data.stats.code_exchanges += 1;
        let issued = self.mint(&mut data, &grant_id, &request.user, request.scopes, request.offline, 0);
        Ok((issued, request))
    }

    /// Rotates a refresh token. Reusing one revokes the whole grant.
    pub fn refresh(&self, refresh_token: &str, scope: Option<&str>) -> Result<Issued, GrantError> {
        let mut data = self.data();
        let Some((grant_id, used)) = data.refresh_tokens.get(refresh_token).cloned() else {
            return Err(("invalid_grant", "The refresh token is malformed or not valid.".into()));
        };
        let Some(grant) = data.grants.get(&grant_id).cloned() else {
            return Err(("invalid_grant", "The refresh token is not valid.".into()));
        };
        if used {
            if let Some(g) = data.grants.get_mut(&grant_id) {
                g.revoked = true;
            }
            data.stats.reuse_detected += 1;
            return Err((
                "invalid_grant",
                "The refresh token has already been used; reuse was detected and the whole grant was revoked.".into(),
            ));
        }
        if grant.revoked {
            // Hydra answers a refresh token of a revoked chain as inactive (401).
            return Err((
                "token_inactive",
                "Token is inactive because it is malformed, expired or otherwise invalid.".into(),
            ));
        }
        if let Some(asked) = scope {
            let asked = ScopeSet::parse_granted(asked);
            if !grant.scopes.missing(asked).is_empty() {
                return Err(("invalid_scope", "The requested scope exceeds the original grant.".into()));
            }
        }
        if let Some(entry) = data.refresh_tokens.get_mut(refresh_token) {
            entry.1 = true;
        }
        let generation = grant.generation + 1;
        if let Some(g) = data.grants.get_mut(&grant_id) {
            g.generation = generation;
        }
        data.stats.refreshes += 1;
        Ok(self.mint(&mut data, &grant_id, &grant.user, grant.scopes, grant.offline, generation))
    }

    /// Revokes the grant a refresh or access token belongs to (RFC 7009: unknown is fine).
    pub fn revoke(&self, token: &str) {
        let grant_id = self
            .verify_access(token)
            .map(|claims| claims.grant)
            .or_else(|| self.data().refresh_tokens.get(token).map(|(g, _)| g.clone()));
        let mut data = self.data();
        data.stats.revocations += 1;
        if let Some(grant) = grant_id.and_then(|g| data.grants.get_mut(&g)) {
            grant.revoked = true;
        }
    }

    /// Revokes every grant and consent, as a creator does under Settings → Third Party Apps
    /// → Revoke.
    pub fn revoke_all(&self) {
        let mut data = self.data();
        data.consented.clear();
        for grant in data.grants.values_mut() {
            grant.revoked = true;
        }
    }

    fn mint(
        &self,
        data: &mut Data,
        grant_id: &str,
        user: &str,
        scopes: ScopeSet,
        offline: bool,
        generation: u32,
    ) -> Issued {
        let expires_in = i64::try_from(self.inner.access_ttl.as_secs()).unwrap_or(3600);
        let claims = AccessClaims {
            grant: grant_id.to_owned(),
            sub: user.to_owned(),
            scp: scopes,
            exp: now_unix() + expires_in,
            generation,
            jti: crypto::random_token(9),
        };
        let payload = crypto::b64(&serde_json::to_vec(&claims).unwrap_or_default());
        let mac = crypto::b64(&self.inner.token_key.mac(payload.as_bytes()));
        let refresh_token = offline.then(|| {
            let token = format!("sbx_rt_{}", crypto::random_token(32));
            data.refresh_tokens.insert(token.clone(), (grant_id.to_owned(), false));
            token
        });
        Issued {
            access_token: format!("sbx_at.{payload}.{mac}"),
            refresh_token,
            expires_in,
            scopes,
            grant_id: grant_id.to_owned(),
        }
    }

    /// Checks an access token: signature, expiry, grant not revoked.
    pub fn verify_access(&self, token: &str) -> Option<AccessClaims> {
        let rest = token.strip_prefix("sbx_at.")?;
        let (payload, mac) = rest.split_once('.')?;
        let expected = crypto::b64(&self.inner.token_key.mac(payload.as_bytes()));
        if !crypto::constant_time_eq(expected.as_bytes(), mac.as_bytes()) {
            return None;
        }
        let claims: AccessClaims = serde_json::from_slice(&crypto::unb64(payload)?).ok()?;
        if claims.exp <= now_unix() {
            return None;
        }
        // A grant unknown here was issued before a restart: the signature vouches for it.
        let dead =
            self.data().grants.get(&claims.grant).is_some_and(|g| g.revoked || g.generation != claims.generation);
        (!dead).then_some(claims)
    }

    /// Counts one API call against the user's budget. `Err(retry_after)` when spent.
    pub fn take_budget(&self, user: &str) -> Result<(u32, i64), i64> {
        let now = now_unix();
        let mut data = self.data();
        let window = data.rate.entry(user.to_owned()).or_insert((now, 0));
        if now - window.0 >= RATE_WINDOW_SECS {
            *window = (now, 0);
        }
        let reset = window.0 + RATE_WINDOW_SECS;
        if window.1 >= self.inner.rate_limit {
            return Err((reset - now).max(1));
        }
        window.1 += 1;
        Ok((self.inner.rate_limit - window.1, reset))
    }

    /// The signature of a presigned storage URL for one upload part.
    pub fn sign_part(&self, upload_id: &str, part: u32) -> String {
        crypto::b64(&self.inner.token_key.mac(format!("part:{upload_id}:{part}").as_bytes()))
    }

    /// Signs an id_token (HS256 under the sandbox key; the app checks only the nonce).
    pub fn id_token(&self, issuer: &str, grant_id: &str, user: &str, nonce: Option<&str>) -> String {
        let header = crypto::b64(br#"{"alg":"HS256","typ":"JWT"}"#);
        let now = now_unix();
        let claims = serde_json::json!({
            "iss": issuer,
            "sub": user,
            "aud": [self.inner.client.id],
            "iat": now,
            "exp": now + 3600,
            "sid": grant_id,
            "nonce": nonce,
        });
        let payload = crypto::b64(claims.to_string().as_bytes());
        let mac = crypto::b64(&self.inner.token_key.mac(format!("{header}.{payload}").as_bytes()));
        format!("{header}.{payload}.{mac}")
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::Delivery;

    #[test]
    fn a_delivery_says_when_in_words_not_unix_seconds() {
        let delivery = Delivery {
            at: 1_767_225_605,
            event: "new-follower".into(),
            url: "https://x".into(),
            status: 200,
            attempt: 1,
        };
        let (iso, human) = delivery.at_text();
        assert_eq!(iso, "2026-01-01T00:00:05Z");
        assert_eq!(human, "1 Jan 2026, 00:00:05 UTC");
    }
}
