//! The tokens of a signed-in session: sign-in, single-flight refresh, sign-out.
//!
//! Fanvue's refresh tokens are single-use with reuse detection: presenting a rotated refresh
//! token revokes the whole grant and the creator must reconnect. Two tabs, or a page and its
//! API calls, racing to refresh would do exactly that. So per session:
//! 1. a request that finds its access token close to expiry takes the session's lock;
//! 2. it reloads the tokens from the [`TokenVault`]: if another request already refreshed, it
//!    uses those and makes no call;
//! 3. otherwise it refreshes and **saves the new tokens to the vault** before releasing the
//!    lock and using them. Refresh and save run in their own task, so a request cancelled
//!    half-way (client gone, timeout) cannot lose a token Fanvue has already rotated.
//!
//! The lock is in-process (one instance). A refresh the provider refuses (`invalid_grant`,
//! `token_inactive`, `invalid_client`…) ends the session cleanly; a provider that is down or
//! slow keeps the session so the next request can try again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use oauth2::AccessToken;
use tower_sessions::session::Id;
use tower_sessions::{Expiry, Session};

use crate::auth::store::TokenVault;
use crate::infra::crypto;
use fanvue::oauth::tokens::{TokenSet, now_unix};
use fanvue::oauth::{OAuthClient, OAuthError};

/// Session key of the sign-in time: keeps the session record (and so the cookie) alive.
const SIGNED_IN_KEY: &str = "fanvue.signed_in_at";

/// One async lock per session id, dropped when no request holds it.
#[derive(Debug, Default)]
pub struct SessionLocks {
    locks: Mutex<HashMap<Id, Weak<tokio::sync::Mutex<()>>>>,
}

impl SessionLocks {
    /// The lock of session `id`.
    pub fn lock_for(&self, id: Id) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(lock) = map.get(&id).and_then(Weak::upgrade) {
            return lock;
        }
        if map.len() >= 1024 {
            map.retain(|_, weak| weak.strong_count() > 0);
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        map.insert(id, Arc::downgrade(&lock));
        lock
    }
}

/// Why no usable access token could be produced.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The session holds no tokens.
    #[error("not signed in")]
    NotSignedIn,
    /// Fanvue refused the refresh token; the session was ended.
    #[error("the Fanvue grant is no longer valid; sign in again")]
    ReauthRequired,
    /// The refresh could not be done now (network, 5xx); the session is kept.
    #[error("token refresh failed: {0}")]
    Refresh(OAuthError),
    /// The session record failed.
    #[error("session: {0}")]
    Session(#[from] tower_sessions::session::Error),
    /// The token vault failed.
    #[error("token store: {0}")]
    Store(#[from] tower_sessions::session_store::Error),
}

/// The outcome of waiting for the cross-instance refresh lock.
enum CrossLock {
    /// This caller holds it (the token releases it).
    Held(String),
    /// Another instance refreshed meanwhile: its tokens.
    RefreshedElsewhere(TokenSet),
}

/// Whether `tokens` can be used: good for the next 30 s, and not the access token Fanvue
/// just refused.
fn usable(tokens: &TokenSet, rejected: Option<&AccessToken>) -> bool {
    !tokens.needs_refresh(now_unix())
        && !rejected
            .is_some_and(|r| crypto::constant_time_eq(r.secret().as_bytes(), tokens.access_token.secret().as_bytes()))
}

/// Token lifecycle of sessions. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SessionTokens {
    oauth: OAuthClient,
    vault: TokenVault,
    locks: Arc<SessionLocks>,
    ttl: Duration,
}

impl SessionTokens {
    /// `ttl`: how long tokens are kept after their last save (`SESSION_TTL_HOURS`).
    pub fn new(oauth: OAuthClient, vault: TokenVault, ttl: Duration) -> Self {
        Self { oauth, vault, locks: Arc::default(), ttl }
    }

    /// The OAuth client.
    pub fn oauth(&self) -> &OAuthClient {
        &self.oauth
    }

    /// The Redis store, when sessions are shared across instances.
    pub fn vault_redis(&self) -> Option<&crate::infra::redis::RedisStore> {
        self.vault.redis()
    }

    /// The bucket of Fanvue's per-user budget this session's calls count against: the Fanvue
    /// user, else (no id_token) the session.
    pub fn budget_key(&self, session: &Session, tokens: &TokenSet) -> String {
        match (&tokens.user, session.id()) {
            (Some(user), _) => format!("user:{user}"),
            (None, Some(id)) => format!("session:{}", self.vault.lock_name(id)),
            (None, None) => "anonymous".to_owned(),
        }
    }

    /// A key naming the session in caches without revealing its id (`None`: no session).
    pub fn session_key(&self, session: &Session) -> Option<String> {
        session.id().map(|id| self.vault.lock_name(id))
    }

    /// The per-session locks (the callback also serialises on them).
    pub fn locks(&self) -> &SessionLocks {
        &self.locks
    }

    fn expires(&self) -> time::OffsetDateTime {
        let secs = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 4);
        time::OffsetDateTime::now_utc() + time::Duration::seconds(secs)
    }

    /// The session's tokens, if it is signed in (no refresh, one store read).
    pub async fn current(&self, session: &Session) -> Result<Option<TokenSet>, TokenError> {
        match session.id() {
            Some(id) => Ok(self.vault.load(id).await?),
            None => Ok(None),
        }
    }

    /// Signs the session in: a new session id (a planted id is worth nothing), then the tokens.
    pub async fn sign_in(&self, session: &Session, tokens: &TokenSet) -> Result<(), TokenError> {
        let previous = session.id();
        session.cycle_id().await?;
        session.insert(SIGNED_IN_KEY, now_unix()).await?;
        session.set_expiry(Some(Expiry::OnInactivity(time::Duration::seconds(
            i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 4),
        ))));
        // Save now: the new id exists only once the record is created.
        session.save().await?;
        let id = session.id().ok_or(TokenError::NotSignedIn)?;
        self.vault.save(id, tokens, self.expires()).await?;
        if let Some(previous) = previous {
            self.vault.delete(previous).await?;
        }
        crate::infra::metrics::metrics().session_created();
        Ok(())
    }

    /// Signs the session out: revokes the refresh token at Fanvue (best effort), forgets the
    /// tokens, ends the session. Waits for a refresh in flight, so it cannot resurrect them.
    pub async fn sign_out(&self, session: &Session) -> Result<(), TokenError> {
        if let Some(id) = session.id() {
            let lock = self.locks.lock_for(id);
            let _guard = lock.lock().await;
            if let Some(refresh_token) = self.vault.load(id).await?.and_then(|t| t.refresh_token)
                && let Err(err) = self.oauth.revoke(&refresh_token).await
            {
                tracing::warn!(error = %err, "revoking the refresh token failed; signing out anyway");
            }
            self.vault.delete(id).await?;
        }
        session.flush().await?;
        Ok(())
    }

    /// Returns tokens whose access token is good for at least 30 s, refreshing if needed.
    ///
    /// `rejected` is an access token Fanvue just answered 401 for: it is refreshed even if it
    /// looks fresh (revoked, or clocks disagree), unless another request already replaced it.
    pub async fn fresh(&self, session: &Session, rejected: Option<&AccessToken>) -> Result<TokenSet, TokenError> {
        let id = session.id().ok_or(TokenError::NotSignedIn)?;
        let tokens = self.vault.load(id).await?.ok_or(TokenError::NotSignedIn)?;
        let usable = |t: &TokenSet| usable(t, rejected);
        if usable(&tokens) {
            return Ok(tokens);
        }
        let guard = self.locks.lock_for(id).lock_owned().await;
        // Another request may have refreshed while we waited: the vault has the truth.
        let latest = self.vault.load(id).await?.ok_or(TokenError::NotSignedIn)?;
        if usable(&latest) {
            return Ok(latest);
        }
        // Several instances: the in-process lock only orders this instance's requests; the
        // Redis lock orders the instances.
        let cross = match self.vault.redis() {
            Some(redis) => match self.cross_instance_lock(redis, id, rejected).await? {
                CrossLock::Held(token) => Some((redis.clone(), self.vault.lock_name(id), token)),
                CrossLock::RefreshedElsewhere(tokens) => return Ok(tokens),
            },
            None => None,
        };
        let latest = match &cross {
            // Under the Redis lock: another instance may have refreshed just before.
            Some((redis, name, token)) => {
                let latest = self.vault.load(id).await?.ok_or(TokenError::NotSignedIn)?;
                if usable(&latest) {
                    redis.unlock(name, token).await?;
                    return Ok(latest);
                }
                latest
            }
            None => latest,
        };
        let this = self.clone();
        let refresh = tokio::spawn(async move {
            let _guard = guard;
            let result = this.refresh_and_save(id, &latest).await;
            if let Some((redis, name, token)) = cross
                && let Err(err) = redis.unlock(&name, &token).await
            {
                tracing::warn!(error = %err, "releasing the refresh lock failed; it expires by itself");
            }
            result
        });
        let result = refresh.await.unwrap_or_else(|e| Err(TokenError::Refresh(OAuthError::Transport(e.to_string()))));
        if matches!(result, Err(TokenError::ReauthRequired)) {
            session.flush().await?;
        }
        result
    }

    /// Takes the Redis lock for session `id`, or waits while another instance holds it and
    /// then uses the tokens it saved.
    async fn cross_instance_lock(
        &self,
        redis: &crate::infra::redis::RedisStore,
        id: Id,
        rejected: Option<&AccessToken>,
    ) -> Result<CrossLock, TokenError> {
        let name = self.vault.lock_name(id);
        let deadline = tokio::time::Instant::now() + crate::infra::redis::LOCK_TTL + std::time::Duration::from_secs(2);
        loop {
            if let Some(token) = redis.try_lock(&name).await? {
                return Ok(CrossLock::Held(token));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            if !redis.is_locked(&name).await? {
                let latest = self.vault.load(id).await?.ok_or(TokenError::NotSignedIn)?;
                if usable(&latest, rejected) {
                    return Ok(CrossLock::RefreshedElsewhere(latest));
                }
            }
            if tokio::time::Instant::now() > deadline {
                return Err(TokenError::Refresh(OAuthError::Transport(
                    "another instance held the refresh lock too long".into(),
                )));
            }
        }
    }

    async fn refresh_and_save(&self, id: Id, current: &TokenSet) -> Result<TokenSet, TokenError> {
        match self.oauth.refresh(current, now_unix()).await {
            Ok(renewed) => {
                crate::infra::metrics::metrics().refresh(true);
                // Persist before use: the old refresh token is already dead at Fanvue.
                self.vault.save(id, &renewed, self.expires()).await?;
                tracing::info!("access token refreshed");
                Ok(renewed)
            }
            Err(err) if err.grant_is_dead() => {
                crate::infra::metrics::metrics().refresh(false);
                tracing::warn!(error = %err, "refresh refused; ending the session");
                self.vault.delete(id).await?;
                Err(TokenError::ReauthRequired)
            }
            Err(err) => {
                crate::infra::metrics::metrics().refresh(false);
                Err(TokenError::Refresh(err))
            }
        }
    }
}

/// Middleware (inside the session layer): an error response of a signed-in session gets the
/// session's scopes ([`crate::web::middleware::SignedInScopes`]), so its page keeps the
/// navigation. Only error responses pay the lookup (a vault read, usually from memory).
pub async fn scopes_on_errors(
    axum::extract::State(tokens): axum::extract::State<SessionTokens>,
    session: Session,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    let status = response.status();
    if (status.is_client_error() || status.is_server_error())
        && let Ok(Some(granted)) = tokens.current(&session).await
    {
        response.extensions_mut().insert(crate::web::middleware::SignedInScopes(granted.scopes));
    }
    response
}

impl From<TokenError> for crate::web::error::AppError {
    fn from(err: TokenError) -> Self {
        match err {
            TokenError::NotSignedIn => crate::web::error::AppError::NotSignedIn,
            TokenError::ReauthRequired => crate::web::error::AppError::ReauthRequired,
            TokenError::Refresh(e) => crate::web::error::AppError::Refresh(e),
            TokenError::Session(e) => crate::web::error::AppError::Session(e.to_string()),
            TokenError::Store(e) => crate::web::error::AppError::Session(e.to_string()),
        }
    }
}
