//! The webhook events page: recent deliveries with their verification result and handling
//! state, updated live over server-sent events, and (with `read:creator`) the creator's
//! webhook subscriptions made through the API.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::{Nav, gate, render};
use crate::error::AppError;
use crate::fanvue::models::WebhookSubscription;
use crate::scopes::Scope;
use crate::state::AppState;
use crate::upstream;
use crate::webhooks::Notice;
use crate::webhooks::events::PLATFORM_EVENTS;

/// The live feed.
pub const STREAM_PATH: &str = "/events/stream";

#[derive(Template)]
#[template(path = "pages/events.html")]
struct EventsPage {
    nav: Nav,
    rows: Vec<Row>,
    configured: bool,
    urls: Vec<(&'static str, String, &'static str)>,
    shared_url: String,
    subscriptions: Option<Result<Vec<WebhookSubscription>, String>>,
    created_secret: Option<String>,
    notice: Option<&'static str>,
}

struct Row {
    id: String,
    type_name: String,
    verification: &'static str,
    state: &'static str,
    deliveries: i64,
    attempts: i64,
    detail: String,
    received: String,
}

impl From<Notice> for Row {
    fn from(n: Notice) -> Self {
        Row {
            id: n.id.map(|i| i.to_string()).unwrap_or_default(),
            type_name: n.type_name,
            verification: n.verification,
            state: n.state,
            deliveries: n.deliveries,
            attempts: n.attempts,
            detail: n.detail.unwrap_or_default(),
            received: time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(n.received_at) * 1_000_000)
                .ok()
                .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                .map(|s| crate::pages::short_time(&s))
                .unwrap_or_default(),
        }
    }
}

/// `GET /events`.
pub async fn page(State(state): State<AppState>, session: Session) -> Result<Response, AppError> {
    render_page(&state, &session, None, None).await
}

async fn render_page(
    state: &AppState,
    session: &Session,
    created_secret: Option<String>,
    notice: Option<&'static str>,
) -> Result<Response, AppError> {
    let tokens = gate(state, session, &[]).await?;
    let stored = state.webhooks.store().recent(50).await.map_err(|e| AppError::Internal(e.to_string()))?;
    let mut notices: Vec<Notice> = stored.iter().map(|e| Notice::stored(e, e.state, None)).collect();
    notices.extend(state.webhooks.rejections());
    notices.sort_by_key(|n| std::cmp::Reverse(n.received_at));
    notices.truncate(50);
    let base = format!("{}{}", state.config.origin(), crate::webhooks::routes::PATH);
    let subscriptions =
        if tokens.scopes.contains(Scope::ReadCreator) { Some(list_subscriptions(state, session).await) } else { None };
    let page = EventsPage {
        nav: Nav::for_scopes(tokens.scopes, "/events"),
        rows: notices.into_iter().map(Row::from).collect(),
        configured: state.webhooks.is_configured(),
        urls: PLATFORM_EVENTS
            .iter()
            .map(|(_, slug, name, scope)| (*name, format!("{base}/{slug}"), scope.as_str()))
            .collect(),
        shared_url: base,
        subscriptions,
        created_secret,
        notice,
    };
    Ok(render(StatusCode::OK, &page))
}

/// The subscriptions, or why they could not be listed (the page still shows the events).
async fn list_subscriptions(state: &AppState, session: &Session) -> Result<Vec<WebhookSubscription>, String> {
    let value: serde_json::Value =
        upstream::get_json(state, session, "/webhooks/subscriptions", &[]).await.map_err(|e| e.classify().2)?;
    // Fanvue's list answers are `{data: [...]}`; accept a bare array too.
    let list = value.get("data").cloned().unwrap_or(value);
    serde_json::from_value(list).map_err(|e| format!("Fanvue's answer was not understood: {e}"))
}

/// `POST /events/subscriptions`: subscribes this app's shared URL to every platform event.
/// The signing secret Fanvue returns once is shown once, to be put in `FANVUE_WEBHOOK_SECRET`.
pub async fn subscribe(State(state): State<AppState>, session: Session) -> Result<Response, AppError> {
    gate(&state, &session, &[Scope::ReadCreator]).await?;
    let url = format!("{}{}", state.config.origin(), crate::webhooks::routes::PATH);
    let events: Vec<&str> = PLATFORM_EVENTS.iter().map(|(_, _, name, _)| *name).collect();
    let body = serde_json::json!({"url": url, "events": events});
    let response = upstream::send_json(&state, &session, Method::POST, "/webhooks/subscriptions", Some(&body)).await?;
    let response = response.error_for_status()?;
    let created: serde_json::Value = response.json()?;
    let secret = created.get("signingSecret").and_then(|s| s.as_str()).map(str::to_owned);
    render_page(&state, &session, secret, Some("Subscribed.")).await
}

/// `POST /events/subscriptions/{id}/delete`.
pub async fn unsubscribe(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    _body: Bytes,
) -> Result<Response, AppError> {
    gate(&state, &session, &[Scope::ReadCreator]).await?;
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(AppError::BadRequest("That is not a subscription id.".into()));
    }
    let path = format!("/webhooks/subscriptions/{id}");
    upstream::send_json(&state, &session, Method::DELETE, &path, None).await?.error_for_status()?;
    Ok(Redirect::to("/events").into_response())
}

/// `GET /events/stream`: every new notice as a `webhook` server-sent event.
pub async fn stream(State(state): State<AppState>, session: Session) -> Result<Response, AppError> {
    gate(&state, &session, &[]).await?;
    let notices = state.webhooks.subscribe();
    let events = futures_util::stream::unfold(notices, |mut notices| async move {
        loop {
            match notices.recv().await {
                Ok(notice) => {
                    let event = SseEvent::default().event("webhook").json_data(&notice);
                    return Some((event, notices));
                }
                // A slow page missed some: it still gets the next ones.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}
