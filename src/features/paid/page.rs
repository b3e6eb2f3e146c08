//! An example paid feature: reachable only with a plan of this app that covers something
//! ([`super::Subscribed`]); without one, the user gets a 402 page with the App
//! Store checkout and "I've subscribed — check again".
//!
//! An agency member's own plan is `none`; their access comes from the creators they manage
//! whose plan is active. The page lists those creators, and `?creator=UUID` opens the tools
//! for one of them, if that creator is covered.
//!
//! Fanvue sends no webhook for app subscriptions, so [`checkout`] marks the session before
//! sending the user to Fanvue, and the entitlement is read again when they come back.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::{Paid, Subscribed, not_subscribed};
use crate::auth::ReturnTo;
use crate::auth::Signed;
use crate::auth::entitlement::Entitlement;
use crate::web::error::AppError;
use crate::web::page::{Nav, Params, render, require_uuid};
use fanvue::models::ManagedCreator;
use fanvue::pagination::Page;
use fanvue::scopes::Scope;

#[derive(Template)]
#[template(path = "pages/premium.html")]
struct PremiumPage {
    nav: Nav,
    plan: Entitlement,
    /// Creators the plan covers through the agency: (UUID, name).
    covered: Vec<(String, String)>,
    acting_for: Option<String>,
    /// When the current period ends, as people read it.
    period_end: crate::web::format::When,
}

/// `GET /premium[?creator=UUID]`.
pub(super) async fn page(
    State(state): State<Paid>,
    signed: Signed,
    Subscribed(plan): Subscribed,
    params: Params,
) -> Result<Response, AppError> {
    let (session, tokens) = signed.require(&[])?;
    let covered = covered_creators(&state, &session, &plan, tokens.scopes.contains(Scope::ReadCreator)).await;
    let acting_for = match params.get("creator") {
        Some(creator) => {
            require_uuid(creator, "creator")?;
            if !plan.covers(tokens.user.as_deref(), creator) {
                return Err(not_subscribed(&state));
            }
            let name = covered.iter().find(|(uuid, _)| uuid.eq_ignore_ascii_case(creator)).map(|(_, n)| n.clone());
            Some(name.unwrap_or_else(|| creator.to_owned()))
        }
        None => None,
    };
    let period_end = crate::web::format::When::parse_opt(plan.current_period_end.as_deref());
    let page = PremiumPage { nav: Nav::for_scopes(tokens.scopes, "/premium"), plan, covered, acting_for, period_end };
    Ok(render(StatusCode::OK, &page))
}

/// The managed creators the plan covers, named from `GET /creators` when the grant can read
/// it (`read:creator`); otherwise by UUID. A failed name lookup costs only the names.
async fn covered_creators(
    state: &Paid,
    session: &Session,
    plan: &Entitlement,
    can_read_creators: bool,
) -> Vec<(String, String)> {
    let covered: Vec<&str> = plan.covered_creators().map(|c| c.user_uuid.as_str()).collect();
    if covered.is_empty() {
        return Vec::new();
    }
    let names: Vec<ManagedCreator> = if can_read_creators {
        state
            .api
            .get_json::<Page<ManagedCreator>>(session, "/creators", &[("size", "50")])
            .await
            .map(|page| page.data)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    covered
        .into_iter()
        .map(|uuid| {
            let name = names.iter().find(|c| c.user.uuid.eq_ignore_ascii_case(uuid)).map(|c| c.user.name().to_owned());
            (uuid.to_owned(), name.unwrap_or_else(|| uuid.to_owned()))
        })
        .collect()
}

/// `GET /premium/checkout?return_to=…`: marks the session (the entitlement is read again
/// when the user comes back) and sends them to the App Store checkout.
pub(super) async fn checkout(State(state): State<Paid>, session: Session) -> Result<Response, AppError> {
    state.api.gate(&session, &[]).await?;
    let url = state.config.app_store.checkout_url().ok_or(AppError::NotConfigured(
        "The checkout needs FANVUE_APP_UUID (and FANVUE_APP_PLAN_UUID to preselect a plan) from Fanvue's Builder.",
    ))?;
    state.entitlements.start_checkout(&state.api, &session).await?;
    Ok(Redirect::to(url.as_str()).into_response())
}

/// `POST /premium/recheck` (form: `return_to`): "I've subscribed — check again".
pub(super) async fn recheck(State(state): State<Paid>, signed: Signed, body: Bytes) -> Result<Response, AppError> {
    let (session, _) = signed.require(&[])?;
    state.entitlements.forget_session(&state.api, &session);
    let params = Params::parse(&body);
    let back = ReturnTo::parse(params.get("return_to").or(Some("/premium")));
    Ok(Redirect::to(back.as_str()).into_response())
}
