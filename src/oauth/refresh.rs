//! Single-flight token refresh for one session.
//!
//! Fanvue's refresh tokens are single-use with reuse detection: presenting a rotated refresh
//! token revokes the whole grant and the creator must reconnect. Two tabs, or a page and its
//! API calls, racing to refresh would do exactly that. So per session:
//! 1. a request that finds its access token close to expiry takes the session's lock;
//! 2. it reloads the session from the store: if another request already refreshed, it uses
//!    those tokens and makes no call;
//! 3. otherwise it refreshes, **saves the new tokens to the store**, and only then releases
//!    the lock and uses them.
//!
//! The lock is in-process (one instance). `invalid_grant` ends the session cleanly; any other
//! failure (Fanvue down, timeout) keeps the session so the next request can try again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use oauth2::AccessToken;
use tower_sessions::Session;
use tower_sessions::session::Id;

use super::tokens::{TokenSet, now_unix};
use super::{OAuthClient, OAuthError};
use crate::crypto;

/// Session key of the sealed [`TokenSet`].
pub const TOKENS_KEY: &str = "fanvue.tokens";

/// One async lock per session id, dropped when no request holds it.
#[derive(Debug, Default)]
pub struct RefreshLocks {
    locks: Mutex<HashMap<Id, Weak<tokio::sync::Mutex<()>>>>,
}

impl RefreshLocks {
    fn lock_for(&self, id: Id) -> Arc<tokio::sync::Mutex<()>> {
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
    /// The session store failed.
    #[error("session store: {0}")]
    Session(#[from] tower_sessions::session::Error),
}

/// The session's tokens, if it has any (no refresh).
pub async fn current(session: &Session) -> Result<Option<TokenSet>, TokenError> {
    Ok(session.get::<TokenSet>(TOKENS_KEY).await?)
}

/// Stores a new session's tokens (after login).
pub async fn store(session: &Session, tokens: &TokenSet) -> Result<(), TokenError> {
    session.insert(TOKENS_KEY, tokens).await?;
    Ok(())
}

/// Returns tokens whose access token is good for at least 30 s, refreshing if needed.
///
/// `rejected` is an access token Fanvue just answered 401 for: it is refreshed even if it
/// looks fresh (revoked, or clocks disagree), unless another request already replaced it.
pub async fn fresh(
    session: &Session,
    oauth: &OAuthClient,
    locks: &RefreshLocks,
    rejected: Option<&AccessToken>,
) -> Result<TokenSet, TokenError> {
    let tokens = current(session).await?.ok_or(TokenError::NotSignedIn)?;
    let is_rejected = |t: &TokenSet| {
        rejected.is_some_and(|r| crypto::constant_time_eq(r.secret().as_bytes(), t.access_token.secret().as_bytes()))
    };
    if !tokens.needs_refresh(now_unix()) && !is_rejected(&tokens) {
        return Ok(tokens);
    }
    let id = session.id().ok_or(TokenError::NotSignedIn)?;
    let lock = locks.lock_for(id);
    let _guard = lock.lock().await;

    // Another request may have refreshed while we waited: the store has the truth.
    session.load().await?;
    let latest = current(session).await?.ok_or(TokenError::NotSignedIn)?;
    if !latest.needs_refresh(now_unix()) && !is_rejected(&latest) {
        return Ok(latest);
    }
    match oauth.refresh(&latest, now_unix()).await {
        Ok(renewed) => {
            session.insert(TOKENS_KEY, &renewed).await?;
            // Persist before use: the old refresh token is already dead at Fanvue.
            session.save().await?;
            tracing::info!("access token refreshed");
            Ok(renewed)
        }
        Err(OAuthError::InvalidGrant(reason)) => {
            tracing::warn!(%reason, "refresh token refused; ending the session");
            session.flush().await?;
            Err(TokenError::ReauthRequired)
        }
        Err(err) => Err(TokenError::Refresh(err)),
    }
}
