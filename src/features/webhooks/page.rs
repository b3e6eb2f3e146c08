//! The webhook events pages, one per audience:
//!
//! - `/events`: a signed-in creator's own events: those addressed to them and, with
//!   `read:creator`, to the creators they manage (`GET /creators`), updated live. Who they are
//!   is what Fanvue says (`GET /users/me`, so the page needs `read:self`), never the URL.
//! - `/operator/events`: the operator view, for the users in `OPERATOR_USER_UUIDS` only: every
//!   event, refused deliveries, where Fanvue should deliver, and the webhook subscriptions
//!   (create, delete). To anyone else it does not exist (404).
//!
//! Each page has its live feed (`…/stream`, server-sent events), filtered like the page, and
//! the feed ends when its session does: every [`LIVENESS_EVERY`] it checks that the session
//! still holds its tokens (sign-out, expiry, a grant found dead by any request), and every
//! [`RECHECK_EVERY`] it asks Fanvue who the session is, which also notices a grant revoked at
//! Fanvue while the tab sat idle. A feed starts with the page's recent list, then goes live, so
//! nothing that happened between the page's render and the connection is missed.

use std::collections::VecDeque;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tokio::sync::broadcast::error::RecvError;
use tower_sessions::Session;

use super::WebhookState;
use super::events::PLATFORM_EVENTS;
use super::store::Endpoint;
use super::{Notice, subscriptions};
use crate::web::error::AppError;
use crate::web::format::When;
use crate::web::page::{Nav, render};
use fanvue::models::{ManagedCreator, User, WebhookSubscription};
use fanvue::pagination::Page;
use fanvue::scopes::Scope;

/// A creator's events page.
pub const PAGE_PATH: &str = "/events";
/// A creator's live feed.
pub const STREAM_PATH: &str = "/events/stream";
/// The operator view.
pub const OPERATOR_PATH: &str = "/operator/events";
/// The operator's live feed.
pub const OPERATOR_STREAM_PATH: &str = "/operator/events/stream";

/// How often an open feed checks that its session still holds tokens.
pub const LIVENESS_EVERY: Duration = Duration::from_secs(2);
/// How often an open feed asks Fanvue who its session is (one `GET /users/me`, which may come
/// from the profile cache).
pub const RECHECK_EVERY: Duration = Duration::from_secs(60);
/// Events a page lists.
const LISTED: u32 = 50;
/// Pages of `GET /creators` read for an agency's managed creators (50 each).
const MANAGED_PAGES: u32 = 10;

/// The routes of both pages and the operator's subscription forms.
pub(super) fn router() -> Router<WebhookState> {
    Router::new()
        .route(PAGE_PATH, get(page))
        .route(OPERATOR_PATH, get(operator_page))
        .route("/operator/subscriptions", post(subscribe))
        .route("/operator/subscriptions/{id}/delete", post(unsubscribe))
}

/// The pages' live feeds (no time limit: they stay open as long as the page).
pub(super) fn feeds() -> Router<WebhookState> {
    Router::new().route(STREAM_PATH, get(stream)).route(OPERATOR_STREAM_PATH, get(operator_stream))
}

#[derive(Template)]
#[template(path = "pages/events.html")]
struct EventsPage {
    nav: Nav,
    /// The operator view (every event, refused deliveries, URLs, subscriptions).
    operator_view: bool,
    /// The viewer is an operator (the creator page links to the operator view).
    is_operator: bool,
    stream: &'static str,
    rows: Vec<Row>,
    /// Managed creators whose events the creator page includes.
    managed: usize,
    /// `GET /creators` failed: only the creator's own events are listed.
    managed_unavailable: bool,
    configured: bool,
    urls: Vec<(&'static str, String, &'static str)>,
    shared_url: String,
    subscriptions: Option<Result<Vec<SubscriptionRow>, String>>,
    notice: Option<&'static str>,
}

struct SubscriptionRow {
    id: String,
    url: String,
    events: String,
    /// How its deliveries are verified.
    check: &'static str,
}

impl SubscriptionRow {
    fn new(sub: WebhookSubscription, endpoints: &[Endpoint]) -> Self {
        use super::store::EndpointSecret;
        let check = match endpoints.iter().find(|e| e.subscription_id == sub.id).map(|e| &e.secret) {
            Some(EndpointSecret::Own(_)) => "verified with its own signing secret (kept sealed)",
            Some(EndpointSecret::App) => "verified with FANVUE_WEBHOOK_SECRET (Fanvue gave it no secret)",
            Some(EndpointSecret::Unreadable) => concat!(
                "its secret no longer opens (SESSION_SECRET changed): deliveries are not accepted; ",
                "delete it and subscribe again"
            ),
            None => concat!(
                "its secret is not held here (made elsewhere, or before secrets were kept): deliveries to the ",
                "app's shared URLs are checked with FANVUE_WEBHOOK_SECRET"
            ),
        };
        SubscriptionRow { id: sub.id, url: sub.url, events: sub.events.join(", "), check }
    }
}

struct Row {
    id: String,
    type_name: String,
    verification: &'static str,
    verification_label: &'static str,
    state: &'static str,
    state_label: &'static str,
    deliveries: i64,
    attempts: i64,
    detail: String,
    received: When,
}

impl From<Notice> for Row {
    fn from(n: Notice) -> Self {
        Row {
            id: n.id.map(|i| i.to_string()).unwrap_or_default(),
            type_name: n.type_name,
            verification: n.verification,
            verification_label: verification_label(n.verification),
            state: n.state,
            state_label: state_label(n.state),
            deliveries: n.deliveries,
            attempts: n.attempts,
            detail: n.detail.unwrap_or_default(),
            received: received(n.received_at),
        }
    }
}

/// An event's state as a person reads it. The live rows get the same words (see [`Live`]), so
/// this is the one table; the raw value stays in the row's `data-state` for styling and tests.
fn state_label(state: &str) -> &'static str {
    match state {
        "pending" => "Waiting",
        "handled" => "Handled",
        "failed" => "Failed",
        "duplicate" => "Repeat delivery",
        "rejected" => "Refused",
        _ => "Unknown",
    }
}

/// A delivery's signature check as a person reads it (the codes of
/// [`fanvue::webhooks::signature::Rejection::code`], and `verified`).
fn verification_label(code: &str) -> &'static str {
    match code {
        "verified" => "Verified",
        "missing_signature" => "No signature",
        "malformed_signature" => "Unreadable signature",
        "stale_timestamp" => "Too old",
        "future_timestamp" => "Dated in the future",
        "signature_mismatch" => "Wrong signature",
        "not_configured" => "No secret set",
        _ => "Unknown",
    }
}

/// When a notice's event arrived (Unix ms), as pages show moments.
fn received(at_ms: i64) -> When {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000)
        .ok()
        .map(|t| When::at(t, time::OffsetDateTime::now_utc()))
        .unwrap_or_default()
}

/// A notice as the live feed sends it: the notice and what the page shows for it, worded
/// here as in the server-rendered rows (the script only places the text).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Live<'a> {
    #[serde(flatten)]
    notice: &'a Notice,
    state_label: &'static str,
    verification_label: &'static str,
    /// RFC 3339, for `<time datetime>` (the script shows it as a local time in the tooltip).
    received_iso: String,
    /// "just now", "3 minutes ago".
    received_relative: String,
}

impl<'a> From<&'a Notice> for Live<'a> {
    fn from(notice: &'a Notice) -> Self {
        let When { iso, relative, .. } = received(notice.received_at);
        Live {
            notice,
            state_label: state_label(notice.state),
            verification_label: verification_label(notice.verification),
            received_iso: iso,
            received_relative: relative,
        }
    }
}

/// The stored events a page lists, newest first: those addressed to `audience`, or (`None`, the
/// operator's) all. The page renders them and its feed starts with them.
async fn recent(state: &WebhookState, audience: Option<&[String]>) -> Result<Vec<Notice>, super::store::StoreError> {
    let store = state.webhooks.store();
    let stored = match audience {
        Some(audience) => store.recent_for(audience, LISTED).await?,
        None => store.recent(LISTED).await?,
    };
    Ok(stored.iter().map(|e| Notice::stored(e, e.state, None)).collect())
}

/// What a creator is shown of a notice: the handler's errors are the operator's business.
fn for_creator(notice: Notice) -> Notice {
    Notice { detail: None, ..notice }
}

/// Who is looking, as Fanvue says: the session's tokens and `GET /users/me`.
struct Viewer {
    tokens: fanvue::oauth::TokenSet,
    /// Lower-case UUID.
    user: String,
    operator: bool,
}

async fn viewer(state: &WebhookState, session: &Session) -> Result<Viewer, AppError> {
    let tokens = state.api.gate(session, &[Scope::ReadSelf]).await?;
    let me: User = state.api.get_json(session, "/users/me", &[]).await?;
    let user = me.uuid.to_ascii_lowercase();
    let operator = state.config.operators.contains(&user);
    Ok(Viewer { tokens, user, operator })
}

/// The viewer, if they are an operator; for anyone else the operator view does not exist.
async fn operator(state: &WebhookState, session: &Session) -> Result<Viewer, AppError> {
    let viewer = viewer(state, session).await?;
    if viewer.operator {
        Ok(viewer)
    } else {
        tracing::info!("the operator view was asked for by a user who is not in OPERATOR_USER_UUIDS");
        Err(AppError::NotFound)
    }
}

/// The creators whose events `viewer` may see: themselves, and with `read:creator` the
/// creators they manage. The second value says the managed creators could not be listed
/// (Fanvue failed): the page then shows the viewer's own events and says so.
async fn audience(state: &WebhookState, session: &Session, viewer: &Viewer) -> Result<(Vec<String>, bool), AppError> {
    let mut audience = vec![viewer.user.clone()];
    if !viewer.tokens.scopes.contains(Scope::ReadCreator) {
        return Ok((audience, false));
    }
    // A page and its feed ask one after the other: reuse the list for PROFILE_CACHE_SECS.
    let cache_key = state.api.tokens.session_key(session).map(|key| format!("{key} events-audience {}", viewer.user));
    if let Some(cached) = cache_key.as_deref().and_then(|key| state.api.cached(key))
        && let Ok(audience) = serde_json::from_slice::<Vec<String>>(&cached)
    {
        return Ok((audience, false));
    }
    for page in 1..=MANAGED_PAGES {
        let page_number = page.to_string();
        let query = [("page", page_number.as_str()), ("size", "50")];
        match state.api.get_json::<Page<ManagedCreator>>(session, "/creators", &query).await {
            Ok(found) => {
                audience.extend(found.data.into_iter().map(|c| c.user.uuid.to_ascii_lowercase()));
                if !found.pagination.has_more {
                    break;
                }
            }
            Err(err @ (AppError::NotSignedIn | AppError::ReauthRequired)) => return Err(err),
            Err(err) => {
                tracing::warn!(error = %err, "listing the managed creators failed; showing the creator's own events");
                return Ok((audience, true));
            }
        }
    }
    audience.sort();
    audience.dedup();
    if let (Some(key), Ok(json)) = (cache_key, serde_json::to_vec(&audience)) {
        state.api.cache(key, json.into());
    }
    Ok((audience, false))
}

fn delivery_urls(state: &WebhookState) -> (Vec<(&'static str, String, &'static str)>, String) {
    let base = format!("{}{}", state.config.origin(), super::routes::PATH);
    let urls = PLATFORM_EVENTS.iter().map(|(_, slug, name, scope)| (*name, format!("{base}/{slug}"), scope.as_str()));
    (urls.collect(), base)
}

/// `GET /events`: the signed-in creator's events.
pub async fn page(State(state): State<WebhookState>, session: Session) -> Result<Response, AppError> {
    let viewer = viewer(&state, &session).await?;
    let (audience, managed_unavailable) = audience(&state, &session, &viewer).await?;
    let stored = recent(&state, Some(&audience)).await.map_err(|e| AppError::Internal(e.to_string()))?;
    let (urls, shared_url) = delivery_urls(&state);
    let page = EventsPage {
        nav: Nav::for_scopes(viewer.tokens.scopes, PAGE_PATH),
        operator_view: false,
        is_operator: viewer.operator,
        stream: STREAM_PATH,
        rows: stored.into_iter().map(|n| Row::from(for_creator(n))).collect(),
        managed: audience.len().saturating_sub(1),
        managed_unavailable,
        configured: state.webhooks.is_configured(),
        urls,
        shared_url,
        subscriptions: None,
        notice: None,
    };
    Ok(render(StatusCode::OK, &page))
}

/// `GET /operator/events`.
pub async fn operator_page(State(state): State<WebhookState>, session: Session) -> Result<Response, AppError> {
    let viewer = operator(&state, &session).await?;
    render_operator(&state, &session, &viewer, None).await
}

async fn render_operator(
    state: &WebhookState,
    session: &Session,
    viewer: &Viewer,
    notice: Option<&'static str>,
) -> Result<Response, AppError> {
    let mut notices = recent(state, None).await.map_err(|e| AppError::Internal(e.to_string()))?;
    notices.extend(state.webhooks.rejections());
    notices.sort_by_key(|n| std::cmp::Reverse(n.received_at));
    notices.truncate(LISTED as usize);
    // A failure here still shows the events.
    let subscriptions = match viewer.tokens.scopes.contains(Scope::ReadCreator) {
        true => {
            let endpoints = state.webhooks.store().endpoints().await.map_err(|e| AppError::Internal(e.to_string()))?;
            Some(
                subscriptions::list(state, session)
                    .await
                    .map(|list| list.into_iter().map(|sub| SubscriptionRow::new(sub, &endpoints)).collect())
                    .map_err(|e| e.classify().2),
            )
        }
        false => None,
    };
    let (urls, shared_url) = delivery_urls(state);
    let page = EventsPage {
        nav: Nav::for_scopes(viewer.tokens.scopes, PAGE_PATH),
        operator_view: true,
        is_operator: true,
        stream: OPERATOR_STREAM_PATH,
        rows: notices.into_iter().map(Row::from).collect(),
        managed: 0,
        managed_unavailable: false,
        configured: state.webhooks.is_configured(),
        urls,
        shared_url,
        subscriptions,
        notice,
    };
    Ok(render(StatusCode::OK, &page))
}

/// `POST /operator/subscriptions`: subscribes a new endpoint of this app to every platform
/// event, for the operator's own account (Fanvue's subscriptions belong to the token's
/// creator). Its signing secret is kept sealed, never shown.
pub async fn subscribe(State(state): State<WebhookState>, session: Session) -> Result<Response, AppError> {
    let viewer = operator(&state, &session).await?;
    state.api.gate(&session, &[Scope::ReadCreator]).await?;
    let events: Vec<&str> = PLATFORM_EVENTS.iter().map(|(_, _, name, _)| *name).collect();
    subscriptions::create(&state, &session, &viewer.user, &events).await?;
    render_operator(&state, &session, &viewer, Some("Subscribed.")).await
}

/// `POST /operator/subscriptions/{id}/delete`.
pub async fn unsubscribe(
    State(state): State<WebhookState>,
    session: Session,
    Path(id): Path<String>,
    _body: Bytes,
) -> Result<Response, AppError> {
    operator(&state, &session).await?;
    state.api.gate(&session, &[Scope::ReadCreator]).await?;
    subscriptions::delete(&state, &session, &id).await?;
    Ok(Redirect::to(OPERATOR_PATH).into_response())
}

/// `GET /events/stream`: the creator's new notices, as `webhook` server-sent events.
pub async fn stream(State(state): State<WebhookState>, session: Session) -> Result<Response, AppError> {
    let viewer = viewer(&state, &session).await?;
    let (audience, _) = audience(&state, &session, &viewer).await?;
    Ok(feed(state, session, Some(audience)))
}

/// `GET /operator/events/stream`: every notice, refused deliveries included.
pub async fn operator_stream(State(state): State<WebhookState>, session: Session) -> Result<Response, AppError> {
    operator(&state, &session).await?;
    Ok(feed(state, session, None))
}

/// One open feed.
struct Feed {
    state: WebhookState,
    session: Session,
    notices: tokio::sync::broadcast::Receiver<Notice>,
    /// Whose events it carries; `None`: all (the operator's).
    audience: Option<Vec<String>>,
    liveness: tokio::time::Interval,
    last_recheck: tokio::time::Instant,
    /// Stored events to send before live ones, oldest first: the page's recent list, read once
    /// the feed is subscribed (`None` until then). Whatever happened between the page's render
    /// and this connection (a delivery, a state change), during a reconnect, or while this feed
    /// lagged behind the broadcast is so sent too, instead of being lost until a reload; rows
    /// the page already has are updated in place (by id).
    backlog: Option<VecDeque<Notice>>,
}

impl Feed {
    /// Why the feed must end now, if it must: the session holds no tokens any more.
    async fn ended(&mut self) -> Option<&'static str> {
        if self.last_recheck.elapsed() >= RECHECK_EVERY {
            self.last_recheck = tokio::time::Instant::now();
            // A grant Fanvue revoked shows up here: the call gets 401, the refresh is refused,
            // and the session's tokens are deleted (checked just below).
            if let Err(err) = self.state.api.get_json::<User>(&self.session, "/users/me", &[]).await {
                tracing::debug!(error = %err, "an events feed's periodic check failed");
            }
        }
        match self.state.api.tokens.current(&self.session).await {
            Ok(Some(_)) => None,
            Ok(None) => Some("signed_out"),
            Err(err) => {
                // Fail closed: the browser reconnects, and is let in again once the store answers.
                tracing::warn!(error = %err, "an events feed could not check its session; ending it");
                Some("session_unavailable")
            }
        }
    }

    fn shows(&self, notice: &Notice) -> bool {
        self.audience.as_ref().is_none_or(|audience| notice.is_for(audience))
    }

    /// The recent stored events this feed shows, oldest first (refused deliveries are not
    /// stored, so an operator's feed sends those live only).
    async fn recent(&self) -> VecDeque<Notice> {
        match recent(&self.state, self.audience.as_deref()).await {
            Ok(notices) => notices.into_iter().rev().collect(),
            Err(err) => {
                tracing::warn!(error = %err, "an events feed could not read the recent events; sending live ones only");
                VecDeque::new()
            }
        }
    }

    /// `notice` as this feed's page receives it.
    fn event(&self, notice: Notice) -> Result<SseEvent, axum::Error> {
        let notice = if self.audience.is_some() { for_creator(notice) } else { notice };
        SseEvent::default().event("webhook").json_data(Live::from(&notice))
    }
}

/// The server-sent events of `audience`'s notices (`None`: all), until the session ends; the
/// last event is `end` with the reason, and the page's script then stops reconnecting.
fn feed(state: WebhookState, session: Session, audience: Option<Vec<String>>) -> Response {
    let mut liveness = tokio::time::interval(LIVENESS_EVERY);
    liveness.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let feed = Feed {
        notices: state.webhooks.subscribe(),
        state,
        session,
        audience,
        liveness,
        last_recheck: tokio::time::Instant::now(),
        backlog: None,
    };
    let events = futures_util::stream::unfold(Some(feed), move |feed| async move {
        let mut feed = feed?;
        loop {
            if feed.backlog.is_none() {
                feed.backlog = Some(feed.recent().await);
            }
            if let Some(notice) = feed.backlog.as_mut().and_then(VecDeque::pop_front) {
                let event = feed.event(notice);
                return Some((event, Some(feed)));
            }
            tokio::select! {
                received = feed.notices.recv() => match received {
                    Ok(notice) if feed.shows(&notice) => {
                        let event = feed.event(notice);
                        return Some((event, Some(feed)));
                    }
                    Ok(_) => {}
                    // A slow page missed some: it gets the recent list again, then the next ones.
                    Err(RecvError::Lagged(_)) => feed.backlog = None,
                    Err(RecvError::Closed) => return None,
                },
                _ = feed.liveness.tick() => {
                    if let Some(reason) = feed.ended().await {
                        tracing::info!(reason, "an events feed ended with its session");
                        return Some((Ok(SseEvent::default().event("end").data(reason)), None));
                    }
                }
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default()).into_response()
}
