//! Paid apps: what the signed-in user's plan of this app covers
//! (`GET /apps/{FANVUE_APP_UUID}/subscription/me`, scope `read:self`), cached per session for
//! `ENTITLEMENT_CACHE_SECS` (15 s by default) so a page view does not spend the creator's
//! Fanvue budget. The paid feature gates routes on it; the embedded surface shows it.
//!
//! **Fanvue sends no webhook when an app subscription starts or ends** (its App Store webhooks
//! page lists only `app.payment.succeeded` and `app.payment.refunded`, for one-time
//! purchases). So a purchase is noticed by asking again: leaving for the checkout marks the
//! session ([`Entitlements::start_checkout`]), and until the plan shows up (at most
//! [`CHECKOUT_WINDOW_SECS`]) every check re-reads the entitlement instead of the cache, so the
//! user who comes back from Fanvue's checkout is let in on their first request. The payment
//! webhooks still drop the buyer's cached answer ([`Entitlements::forget_user`]).
//!
//! Agency members: their own `status` is `none`; `managedCreators` says, per creator they
//! manage, whether that creator's plan is active ([`Entitlement::covered_creators`],
//! [`Entitlement::covers`]).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use tower_sessions::Session;

use crate::auth::upstream::Api;
use crate::infra::cache::TtlCache;
use crate::web::error::AppError;

/// How long after leaving for the checkout every check asks Fanvue again.
pub const CHECKOUT_WINDOW_SECS: i64 = 30 * 60;
/// Session key of the checkout mark (Unix seconds).
const CHECKOUT_KEY: &str = "entitlements.checkout_started_at";

/// A plan's status (`active`, `pending`, `cancelled`, `none`); values Fanvue adds later are
/// kept as [`PlanStatus::Other`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum PlanStatus {
    /// Paid and running (also after a cancellation, until the period ends).
    Active,
    /// Being set up.
    Pending,
    /// Cancelled.
    Cancelled,
    /// No plan.
    #[default]
    None,
    /// A status this version does not know.
    Other(String),
}

impl PlanStatus {
    /// For people.
    pub fn label(&self) -> &str {
        match self {
            PlanStatus::Active => "active",
            PlanStatus::Pending => "pending",
            PlanStatus::Cancelled => "cancelled",
            PlanStatus::None => "none",
            PlanStatus::Other(other) => other,
        }
    }
}

impl From<PlanStatus> for String {
    fn from(status: PlanStatus) -> String {
        status.label().to_owned()
    }
}

impl<'de> Deserialize<'de> for PlanStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<String>::deserialize(deserializer)?.as_deref() {
            Some("active") => PlanStatus::Active,
            Some("pending") => PlanStatus::Pending,
            Some("cancelled") => PlanStatus::Cancelled,
            Some("none") | None => PlanStatus::None,
            Some(other) => PlanStatus::Other(other.to_owned()),
        })
    }
}

/// `GET /apps/{appUuid}/subscription/me` (App Store guide, "app subscriptions").
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Entitlement {
    /// The user the answer is about.
    pub user_uuid: Option<String>,
    /// Whether the user's own plan is active.
    pub has_active_subscription: bool,
    /// The user's own plan status (`none` for an agency member).
    pub status: PlanStatus,
    /// The plan.
    pub plan_uuid: Option<String>,
    /// The plan's name.
    pub plan_name: Option<String>,
    /// ISO 8601.
    pub current_period_end: Option<String>,
    /// Cancelled, running to the end of the period.
    pub cancel_at_period_end: bool,
    /// For agency members: per managed creator, that creator's plan.
    pub managed_creators: Vec<ManagedCreatorPlan>,
}

/// A managed creator's plan, as `managedCreators` lists it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ManagedCreatorPlan {
    /// The creator's UUID.
    pub user_uuid: String,
    /// Whether the creator's plan is active.
    pub has_active_subscription: bool,
    /// The creator's plan status.
    pub status: PlanStatus,
    /// The plan.
    pub plan_uuid: Option<String>,
    /// The plan's name.
    pub plan_name: Option<String>,
    /// ISO 8601.
    pub current_period_end: Option<String>,
    /// Cancelled, running to the end of the period.
    pub cancel_at_period_end: bool,
}

impl Entitlement {
    /// The managed creators whose plan is active.
    pub fn covered_creators(&self) -> impl Iterator<Item = &ManagedCreatorPlan> {
        self.managed_creators.iter().filter(|c| c.has_active_subscription)
    }

    /// Whether the plan lets the user in at all: their own plan, or a managed creator's.
    pub fn grants_access(&self) -> bool {
        self.has_active_subscription || self.covered_creators().next().is_some()
    }

    /// Whether acting for `creator` is covered: the user's own account with their own plan,
    /// or a managed creator whose plan is active.
    pub fn covers(&self, user: Option<&str>, creator: &str) -> bool {
        let own = user.is_some_and(|u| u.eq_ignore_ascii_case(creator)) && self.has_active_subscription;
        own || self.covered_creators().any(|c| c.user_uuid.eq_ignore_ascii_case(creator))
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

    fn forget(&self, key: &str) {
        self.0.remove(key);
    }

    /// Forgets every answer about `user` (their own, or as a managed creator): a payment
    /// webhook names the buyer.
    pub fn forget_user(&self, user: &str) {
        let user = user.to_owned();
        self.0.remove_if(move |(owner, value)| {
            owner.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(&user))
                || value.managed_creators.iter().any(|m| m.user_uuid.eq_ignore_ascii_case(&user))
        });
    }
}

/// The paid-plan check of `FANVUE_APP_UUID`, with its cache. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Entitlements {
    app_uuid: Option<String>,
    cache: EntitlementCache,
}

impl Entitlements {
    /// Checks plans of app `app_uuid` (unset: paid features say how to set it), keeping answers
    /// for `ttl`.
    pub fn new(app_uuid: Option<String>, ttl: Duration) -> Self {
        Entitlements { app_uuid, cache: EntitlementCache::new(ttl) }
    }

    /// Whether `FANVUE_APP_UUID` is set.
    pub fn configured(&self) -> bool {
        self.app_uuid.is_some()
    }

    /// The session's entitlement (cached per session, except right after a checkout), asked
    /// through `api` (whose vault says which kind of session it is).
    pub async fn check(&self, api: &Api, session: &Session) -> Result<Entitlement, AppError> {
        let app = self.app_uuid.as_deref().ok_or(AppError::NotConfigured(
            "Paid features need FANVUE_APP_UUID: copy your app's UUID from Fanvue's Builder into .env and restart.",
        ))?;
        let key = api.tokens.session_key(session).ok_or(AppError::NotSignedIn)?;
        let now = fanvue::oauth::tokens::now_unix();
        let checking_out = session
            .get::<i64>(CHECKOUT_KEY)
            .await
            .ok()
            .flatten()
            .is_some_and(|started| now.saturating_sub(started) < CHECKOUT_WINDOW_SECS);
        if !checking_out && let Some(cached) = self.cache.get(&key) {
            return Ok(cached);
        }
        let tokens = api.tokens.current(session).await?.ok_or(AppError::NotSignedIn)?;
        let path = format!("/apps/{app}/subscription/me");
        let value: Entitlement = api.get_json(session, &path, &[]).await?;
        if checking_out && value.grants_access() {
            // The purchase showed up: back to the cache.
            let _ = session.remove::<i64>(CHECKOUT_KEY).await;
        }
        self.cache.put(key, tokens.user, value.clone());
        Ok(value)
    }

    /// The user leaves for the checkout: until their plan shows up (or the window closes),
    /// checks ask Fanvue instead of the cache.
    pub async fn start_checkout(&self, api: &Api, session: &Session) -> Result<(), AppError> {
        let key = api.tokens.session_key(session).ok_or(AppError::NotSignedIn)?;
        session.insert(CHECKOUT_KEY, fanvue::oauth::tokens::now_unix()).await?;
        self.cache.forget(&key);
        Ok(())
    }

    /// "Check again": the next check asks Fanvue.
    pub fn forget_session(&self, api: &Api, session: &Session) {
        if let Some(key) = api.tokens.session_key(session) {
            self.cache.forget(&key);
        }
    }

    /// Forgets every answer about `user` (a payment webhook names the buyer).
    pub fn forget_user(&self, user: &str) {
        self.cache.forget_user(user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn managed(uuid: &str, active: bool) -> ManagedCreatorPlan {
        ManagedCreatorPlan {
            user_uuid: uuid.into(),
            has_active_subscription: active,
            status: if active { PlanStatus::Active } else { PlanStatus::None },
            ..Default::default()
        }
    }

    #[test]
    fn an_agency_members_coverage_is_per_managed_creator() {
        let agency = Entitlement {
            status: PlanStatus::None,
            managed_creators: vec![managed("c-1", true), managed("c-2", false)],
            ..Default::default()
        };
        assert!(agency.grants_access(), "one covered creator lets the member in");
        assert!(agency.covers(Some("me"), "C-1"));
        assert!(!agency.covers(Some("me"), "c-2"), "that creator's plan is not active");
        assert!(!agency.covers(Some("me"), "me"), "the member's own status is none");
        let nobody = Entitlement { managed_creators: vec![managed("c-2", false)], ..Default::default() };
        assert!(!nobody.grants_access());
        let own = Entitlement { has_active_subscription: true, status: PlanStatus::Active, ..Default::default() };
        assert!(own.covers(Some("me"), "me") && !own.covers(Some("me"), "c-1"));
    }

    #[test]
    fn the_documented_answer_is_read_with_unknown_statuses_kept() {
        let answer = serde_json::json!({
            "appUuid": "00000000-0000-4000-8000-000000000001", "userUuid": "00000000-0000-4000-8000-000000000003",
            "hasActiveSubscription": false, "status": "none", "planUuid": null, "planName": null,
            "currentPeriodEnd": null, "cancelAtPeriodEnd": false,
            "managedCreators": [{"userUuid": "00000000-0000-4000-8000-000000000004", "hasActiveSubscription": true,
                "status": "active", "planUuid": "00000000-0000-4000-8000-000000000002", "planName": "Pro Monthly",
                "currentPeriodEnd": "2026-05-01T00:00:00.000Z", "cancelAtPeriodEnd": false},
                {"userUuid": "00000000-0000-4000-8000-000000000005", "hasActiveSubscription": false, "status": "paused"}]
        });
        let plan: Entitlement = serde_json::from_value(answer).unwrap();
        assert_eq!(plan.status, PlanStatus::None);
        assert_eq!(plan.covered_creators().count(), 1);
        assert_eq!(plan.managed_creators[1].status, PlanStatus::Other("paused".into()));
    }

    #[test]
    fn the_cache_expires_and_forgets_a_buyer() {
        let cache = EntitlementCache::new(Duration::from_secs(60));
        let plain = Entitlement::default();
        let agency = Entitlement { managed_creators: vec![managed("u1", true)], ..Default::default() };
        cache.put("s1".into(), Some("u1".into()), plain.clone());
        cache.put("s2".into(), Some("agent".into()), agency);
        cache.put("s3".into(), Some("u3".into()), plain.clone());
        assert!(cache.get("s1").is_some());
        cache.forget_user("u1");
        assert!(cache.get("s1").is_none() && cache.get("s2").is_none(), "the buyer and their agency");
        assert!(cache.get("s3").is_some());
        cache.forget("s3");
        assert!(cache.get("s3").is_none());
        let none = EntitlementCache::new(Duration::ZERO);
        none.put("s".into(), None, plain);
        assert!(none.get("s").is_none());
    }
}
