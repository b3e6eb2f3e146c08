//! Paid apps: whether the signed-in user has an active plan of this app in Fanvue's App
//! Store, and the [`Subscribed`] extractor that gates routes on it.
//!
//! The check is `GET /apps/{FANVUE_APP_UUID}/subscription/me` (scope `read:self`), cached per
//! session for `ENTITLEMENT_CACHE_SECS` (60 s by default) so a page view does not spend the
//! creator's Fanvue budget; an App Store webhook about the buyer drops the cached answer
//! ([`crate::webhooks::handler`]), so a purchase shows at once.
//!
//! Agency members: Fanvue lists the creators they manage in `managedCreators`. We read it as
//! "the plan covers these creators" ([`Entitlement::covers`]); see the README's decisions.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::cache::TtlCache;
use crate::error::AppError;
use crate::state::AppState;

/// `GET /apps/{appUuid}/subscription/me`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Entitlement {
    /// Whether the user has an active plan.
    pub has_active_subscription: bool,
    /// e.g. `active`; stays `active` after a cancellation until the period ends.
    pub status: Option<String>,
    /// The plan.
    pub plan_uuid: Option<String>,
    /// ISO 8601.
    pub current_period_end: Option<String>,
    /// Cancelled, running to the end of the period.
    pub cancel_at_period_end: bool,
    /// For agency members: the creators they manage.
    pub managed_creators: Vec<ManagedCreator>,
}

/// A creator an agency member manages.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ManagedCreator {
    /// The creator's UUID.
    pub uuid: String,
    /// `@handle`.
    pub handle: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
}

impl Entitlement {
    /// Whether the plan covers acting for `creator`: the user's own account, or a creator
    /// they manage.
    pub fn covers(&self, user: Option<&str>, creator: &str) -> bool {
        self.has_active_subscription
            && (user == Some(creator) || self.managed_creators.iter().any(|c| c.uuid.eq_ignore_ascii_case(creator)))
    }
}

/// Entitlements per session (with the user they belong to), kept briefly. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EntitlementCache(TtlCache<(Option<String>, Entitlement)>);

impl EntitlementCache {
    /// A cache keeping answers for `ttl` (zero: no caching).
    pub fn new(ttl: Duration) -> Self {
        Self(TtlCache::new(ttl))
    }

    fn get(&self, key: &str) -> Option<Entitlement> {
        self.0.get(key).map(|(_, value)| value)
    }

    fn put(&self, key: String, user: Option<String>, value: Entitlement) {
        self.0.put(key, (user, value));
    }

    /// Forgets every answer about `user` (their own, or as a managed creator).
    pub fn forget_user(&self, user: &str) {
        self.0.retain(|(owner, value)| {
            !owner.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(user))
                && !value.managed_creators.iter().any(|m| m.uuid.eq_ignore_ascii_case(user))
        });
    }
}

/// The signed-in user's entitlement (cached per session).
pub async fn check(state: &AppState, session: &Session) -> Result<Entitlement, AppError> {
    check_as(state, &state.tokens, session).await
}

/// [`check`] for another kind of session (`state.embedded_tokens`).
pub async fn check_as(
    state: &AppState,
    sessions: &crate::oauth::session_tokens::SessionTokens,
    session: &Session,
) -> Result<Entitlement, AppError> {
    let app = state.config.app_store.app_uuid.as_deref().ok_or(AppError::NotConfigured(
        "Paid features need FANVUE_APP_UUID: copy your app's UUID from Fanvue's Builder into .env and restart.",
    ))?;
    let key = sessions.session_key(session).ok_or(AppError::NotSignedIn)?;
    if let Some(cached) = state.entitlements.get(&key) {
        return Ok(cached);
    }
    let tokens = sessions.current(session).await?.ok_or(AppError::NotSignedIn)?;
    let path = format!("/apps/{app}/subscription/me");
    let value: Entitlement = crate::upstream::get_json_as(state, sessions, session, &path, &[]).await?;
    state.entitlements.put(key, tokens.user, value.clone());
    Ok(value)
}

/// Extractor: the request's user has an active plan; otherwise the request is answered with
/// 402 and a link to the App Store checkout.
#[derive(Clone, Debug)]
pub struct Subscribed(pub Entitlement);

impl FromRequestParts<AppState> for Subscribed {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::Internal("the session layer is missing".into()))?;
        let entitlement = check(state, &session).await?;
        if entitlement.has_active_subscription {
            Ok(Subscribed(entitlement))
        } else {
            Err(AppError::NotSubscribed { checkout_url: state.config.app_store.checkout_url().map(String::from) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entitlement(active: bool, managed: &[&str]) -> Entitlement {
        Entitlement {
            has_active_subscription: active,
            managed_creators: managed
                .iter()
                .map(|u| ManagedCreator { uuid: (*u).into(), ..Default::default() })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_plan_covers_the_user_and_the_creators_they_manage() {
        let agency = entitlement(true, &["c-1"]);
        assert!(agency.covers(Some("me"), "me"));
        assert!(agency.covers(Some("me"), "C-1"));
        assert!(!agency.covers(Some("me"), "c-2"));
        assert!(!entitlement(false, &["c-1"]).covers(Some("me"), "c-1"), "no plan, nothing covered");
    }

    #[test]
    fn the_cache_expires_and_forgets_a_buyer() {
        let cache = EntitlementCache::new(Duration::from_secs(60));
        cache.put("s1".into(), Some("u1".into()), entitlement(false, &[]));
        cache.put("s2".into(), Some("agent".into()), entitlement(true, &["u1"]));
        cache.put("s3".into(), Some("u3".into()), entitlement(true, &[]));
        assert!(cache.get("s1").is_some());
        cache.forget_user("u1");
        assert!(cache.get("s1").is_none() && cache.get("s2").is_none(), "the buyer and their agency");
        assert!(cache.get("s3").is_some());
        let none = EntitlementCache::new(Duration::ZERO);
        none.put("s".into(), None, entitlement(true, &[]));
        assert!(none.get("s").is_none());
    }
}
