//! Paid apps: routes reachable only with a plan of this app that covers something. The
//! [`Subscribed`] extractor gates them (the check itself is [`crate::auth::entitlement`]);
//! without a plan the user gets a 402 page with the App Store checkout ([`CHECKOUT_PATH`],
//! which marks the session so the plan is read again on return) and "I've subscribed — check
//! again" ([`RECHECK_PATH`]). [`page`] is the example paid page.
//!
//! Agency members: the [`Subscribed`] gate lets them in when at least one managed creator is
//! covered and carries which ones; acting for a creator checks that creator.

mod page;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post};
use tower_sessions::Session;

use crate::auth::Api;
use crate::auth::entitlement::{Entitlement, Entitlements};
use crate::config::Config;
use crate::web::error::{AppError, ErrorAction};
use crate::web::middleware::{REQUEST_TIMEOUT, same_origin_only, with_timeout};

/// Where the "Subscribe" button goes: marks the session, then redirects to the checkout.
pub const CHECKOUT_PATH: &str = "/premium/checkout";
/// "I've subscribed — check again" (POST).
pub const RECHECK_PATH: &str = "/premium/recheck";

/// What the paid routes need.
#[derive(Clone, Debug)]
pub struct Paid {
    /// Fanvue for console sessions.
    pub api: Api,
    /// The plan check.
    pub entitlements: Entitlements,
    /// `FANVUE_APP_UUID`, `FANVUE_APP_PLAN_UUID` (the checkout link).
    pub config: Arc<Config>,
}

impl axum::extract::FromRef<Paid> for Api {
    fn from_ref(state: &Paid) -> Api {
        state.api.clone()
    }
}

/// `/premium`, its checkout link and "check again".
pub fn router<S: Clone + Send + Sync + 'static>(paid: Paid) -> Router<S> {
    let origin = paid.config.origin();
    let routes = Router::new()
        .route("/premium", get(page::page))
        .route(CHECKOUT_PATH, get(page::checkout))
        .route(RECHECK_PATH, post(page::recheck));
    same_origin_only(with_timeout(routes, REQUEST_TIMEOUT), &origin).with_state(paid)
}

/// Extractor: the request's user has a plan that covers something (their own account or a
/// managed creator); otherwise the request is answered with 402, a link to the App Store
/// checkout and "check again".
#[derive(Clone, Debug)]
pub struct Subscribed(pub Entitlement);

impl FromRequestParts<Paid> for Subscribed {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &Paid) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::Internal("the session layer is missing".into()))?;
        let entitlement = state.entitlements.check(&state.api, &session).await?;
        if entitlement.grants_access() { Ok(Subscribed(entitlement)) } else { Err(not_subscribed(state)) }
    }
}

/// The 402 for a user without a plan: the checkout (when one is configured) and "check again".
pub fn not_subscribed(state: &Paid) -> AppError {
    let mut actions = Vec::new();
    if state.config.app_store.checkout_url().is_some() {
        actions.push(ErrorAction { href: CHECKOUT_PATH, label: "Subscribe in the Fanvue App Store", post: false });
    }
    actions.push(ErrorAction { href: RECHECK_PATH, label: "I've subscribed — check again", post: true });
    AppError::feature(
        StatusCode::PAYMENT_REQUIRED,
        "subscription_required",
        "This part of the app needs an active plan of this app. Subscribe in the Fanvue App Store, then come back: the app checks again when you return.".into(),
        "no active subscription to this app",
    )
    .with_actions(actions)
}
