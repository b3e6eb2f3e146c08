//! An example paid feature: reachable only with an active plan of this app
//! ([`crate::entitlements::Subscribed`]); without one, the user gets a page that sends them to
//! the App Store checkout. `?creator=UUID` shows it for a creator an agency member manages,
//! if the plan covers them.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use tower_sessions::Session;

use super::{Nav, Params, gate, render, require_uuid};
use crate::entitlements::{Entitlement, Subscribed};
use crate::error::AppError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "pages/premium.html")]
struct PremiumPage {
    nav: Nav,
    plan: Entitlement,
    acting_for: Option<String>,
}

/// `GET /premium[?creator=UUID]`.
pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Subscribed(plan): Subscribed,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let tokens = gate(&state, &session, &[]).await?;
    let params = Params::parse(raw.unwrap_or_default().as_bytes());
    let acting_for = match params.get("creator") {
        Some(creator) => {
            require_uuid(creator, "creator")?;
            if !plan.covers(tokens.user.as_deref(), creator) {
                return Err(AppError::NotSubscribed {
                    checkout_url: state.config.app_store.checkout_url().map(String::from),
                });
            }
            let name = plan.managed_creators.iter().find(|c| c.uuid.eq_ignore_ascii_case(creator));
            Some(name.and_then(|c| c.display_name.clone().or(c.handle.clone())).unwrap_or_else(|| creator.to_owned()))
        }
        None => None,
    };
    let page = PremiumPage { nav: Nav::for_scopes(tokens.scopes, "/premium"), plan, acting_for };
    Ok(render(StatusCode::OK, &page))
}
