//! Fanvue's side of embedded and paid apps, emulated: the creator surface that frames the
//! app's `/embedded` with an injected session token (after an in-shell consent when the
//! creator has not approved the app), the App Store listing with its checkout, and the
//! entitlement endpoint `GET /apps/{appUuid}/subscription/me`.

use askama::Template;
use axum::Form;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::resources::Call;
use super::users::{self, Account};
use crate::state::SandboxState;

/// The seeded agency's first creators hold an active plan of the app; the others none (so
/// an agency member sees coverage per creator).
const COVERED_CREATORS: usize = 2;

/// How long the injected session token lives (Fanvue: about 60 s).
pub const SESSION_TOKEN_TTL_SECS: i64 = 60;

#[derive(Template)]
#[template(path = "surface.html")]
struct SurfacePage<'a> {
    account: &'a Account,
    accounts: &'a [Account],
    app_uuid: &'a str,
    /// The iframe's URL, once the surface is `ready`.
    frame_src: Option<String>,
    /// The scopes the in-shell consent asks for, when the creator has not approved the app.
    consent_scopes: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "app_store.html")]
struct ListingPage<'a> {
    app_uuid: &'a str,
    plan_uuid: &'a str,
    checkout: bool,
    accounts: &'a [Account],
    /// Who is signed in on the sandbox: the checkout pays as them.
    payer: Option<&'a Account>,
    done: Option<&'a Account>,
    app_origin: &'a str,
}

/// `None` for the sandbox's app, else the 404 Fanvue gives for an unknown app.
fn unknown_app(app_uuid: &str) -> Option<Response> {
    (app_uuid != crate::settings::APP_UUID).then(|| (StatusCode::NOT_FOUND, "not_found: no such app").into_response())
}

fn query(raw: Option<String>) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect()
}

/// `GET /app-store/{appUuid}/creator-surface?as=HANDLE[&force=1][&stale=1]`: Fanvue's shell
/// with the app framed. `force` frames it without the creator's consent (to see
/// `consent_required`), `stale` injects an expired token (to see `invalid_session_token`).
pub async fn creator_surface(
    State(sb): State<SandboxState>,
    Path(app_uuid): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(missing) = unknown_app(&app_uuid) {
        return missing;
    }
    let q = query(raw);
    let account = q.get("as").and_then(|a| users::find(a)).unwrap_or(users::default_account());
    let consented = sb.store.has_consented(account.uuid);
    let ready = consented || q.contains_key("force");
    let frame_src = ready.then(|| {
        let lifetime = if q.contains_key("stale") { -5 } else { SESSION_TOKEN_TTL_SECS };
        let token = sb.store.mint_session_token(&sb.issuer, account.uuid, lifetime);
        format!("{}/embedded?token={token}", sb.app.origin)
    });
    let page = SurfacePage {
        account,
        accounts: &users::ACCOUNTS,
        app_uuid: &app_uuid,
        frame_src,
        consent_scopes: sb.app.scopes.iter().map(fanvue::scopes::Scope::as_str).collect(),
    };
    crate::html::render(&page)
}

/// A form naming a sandbox account (the in-shell consent, the checkout).
#[derive(Deserialize)]
pub struct AccountForm {
    user: String,
}

fn unknown_account() -> Response {
    (StatusCode::BAD_REQUEST, "unknown account").into_response()
}

/// `POST /app-store/{appUuid}/creator-surface/consent`: the creator approves the app's scopes.
pub async fn surface_consent(
    State(sb): State<SandboxState>,
    Path(app_uuid): Path<String>,
    Form(form): Form<AccountForm>,
) -> Response {
    let Some(account) = users::find(&form.user) else { return unknown_account() };
    sb.store.consent(account.uuid, sb.app.scopes);
    let mut response =
        Redirect::to(&format!("/app-store/{app_uuid}/creator-surface?as={}", account.handle)).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&users::signed_in_cookie(account)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// `GET /app-store/{appUuid}[?plan=…&action=checkout]`: the listing, and the checkout the
/// app's deeplink opens.
pub async fn listing(
    State(sb): State<SandboxState>,
    Path(app_uuid): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Some(missing) = unknown_app(&app_uuid) {
        return missing;
    }
    let q = query(raw);
    let page = ListingPage {
        app_uuid: &app_uuid,
        plan_uuid: crate::settings::PLAN_UUID,
        checkout: q.get("action").is_some_and(|a| a == "checkout"),
        accounts: &users::ACCOUNTS,
        payer: users::signed_in(&headers),
        done: q.get("subscribed").and_then(|u| users::find(u)),
        app_origin: &sb.app.origin,
    };
    crate::html::render(&page)
}

/// `POST /app-store/{appUuid}/checkout`: starts the monthly plan. As at Fanvue, an app
/// subscription sends the app **no webhook** (the App Store webhooks are
/// `app.payment.succeeded` and `app.payment.refunded`, for one-time purchases only): the app
/// learns of it by asking `GET /apps/{appUuid}/subscription/me` when the user comes back.
pub async fn checkout(
    State(sb): State<SandboxState>,
    Path(app_uuid): Path<String>,
    Form(form): Form<AccountForm>,
) -> Response {
    let Some(account) = users::find(&form.user) else { return unknown_account() };
    sb.store.subscribe(account.uuid);
    Redirect::to(&format!("/app-store/{app_uuid}?subscribed={}", account.handle)).into_response()
}

/// `GET /apps/{appUuid}/subscription/me` for the token's account.
pub fn entitlement(sb: &SandboxState, call: &Call<'_>, user: &str) -> Response {
    if call.params.first().map(String::as_str) != Some(crate::settings::APP_UUID) {
        return (StatusCode::NOT_FOUND, axum::Json(json!({"message": "App not found"}))).into_response();
    }
    let account = users::find(user).unwrap_or(users::default_account());
    // An agency member holds no plan of their own (`status: none`); each creator they manage
    // has theirs, reported per creator.
    let mut answer = plan_json(account.uuid, !account.agency && sb.store.is_subscribed(account.uuid));
    let managed: Vec<serde_json::Value> = if account.agency {
        let world = sb.world.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        world
            .creators
            .iter()
            .enumerate()
            .map(|(i, c)| plan_json(&c.uuid, i < COVERED_CREATORS || sb.store.is_subscribed(&c.uuid)))
            .collect()
    } else {
        Vec::new()
    };
    answer["appUuid"] = json!(crate::settings::APP_UUID);
    answer["managedCreators"] = json!(managed);
    axum::Json(answer).into_response()
}

/// One plan as `subscription/me` reports it (the user's own, or a managed creator's row).
fn plan_json(user: &str, active: bool) -> serde_json::Value {
    let period_end = super::seed::iso(time::OffsetDateTime::now_utc() + time::Duration::days(30));
    json!({
        "userUuid": user,
        "hasActiveSubscription": active,
        "status": if active { "active" } else { "none" },
        "planUuid": active.then_some(crate::settings::PLAN_UUID),
        "planName": active.then_some("Pro Monthly"),
        "currentPeriodEnd": active.then_some(period_end),
        "cancelAtPeriodEnd": false,
    })
}
