//! The webhook events page: recent deliveries with their verification result and handling
//! state, updated live over server-sent events, and (with `read:creator`) the creator's
//! webhook subscriptions made through the API.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::{Nav, gate, render};
use crate::error::AppError;
use crate::fanvue::models::WebhookSubscription;
use crate::scopes::Scope;
use crate::state::AppState;
use crate::webhooks::events::PLATFORM_EVENTS;
use crate::webhooks::{Notice, subscriptions};

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
        // A failure here still shows the events.
        tokens.scopes.contains(Scope::ReadCreator).then_some(subscriptions::list(state, session).await.map_err(|e| e.classify().2));
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

/// `POST /events/subscriptions`: subscribes this app's shared URL to every platform event.
/// The signing secret Fanvue returns once is shown once, to be put in `FANVUE_WEBHOOK_SECRET`.
pub async fn subscribe(State(state): State<AppState>, session: Session) -> Result<Response, AppError> {
    gate(&state, &session, &[Scope::ReadCreator]).await?;
    let url = format!("{}{}", state.config.origin(), crate::webhooks::routes::PATH);
    let events: Vec<&str> = PLATFORM_EVENTS.iter().map(|(_, _, name, _)| *name).collect();
    let created = subscriptions::create(&state, &session, &url, &events).await?;
    // Shown to its owner once, on a no-store page, as Fanvue's Builder does; never logged.
    let secret = created.signing_secret.map(|s| secrecy::ExposeSecret::expose_secret(&s).to_owned());
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
    subscriptions::delete(&state, &session, &id).await?;
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
