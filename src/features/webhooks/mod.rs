//! Receiving Fanvue's webhooks: verify, persist, acknowledge, then handle.
//!
//! ```text
//! POST /api/webhooks/fanvue[/{event}] ─► signature::Verifier (401 before anything is parsed):
//!        FANVUE_WEBHOOK_SECRET; at /api/webhooks/fanvue/s/{endpoint}, only the secret of the
//!        subscription that endpoint was registered for
//!        ─► events::Event::parse (typed by URL or shape) ─► store::EventStore::insert (dedupe on
//!           events::identify: the signed content, whatever URL it came to)
//!        ─► 200 ─► worker (async, retries) ─► handler::AppEvents (your code)
//!                          └─► Notice broadcast ─► the events pages (server-sent events): a creator's
//!                              own events, and every event for the operator
//! ```
//!
//! - [`signature`]: `X-Fanvue-Signature` verification;
//! - [`events`]: the typed events of all three families;
//! - [`store`]: the event table (SQLite or Redis), deduplication and leases; bodies sealed
//!   with the keys of [`at_rest`];
//! - [`worker`]: runs the [`Handler`] with retries;
//! - [`handler`]: **the file to edit**: what the app does with each event;
//! - [`samples`]: sample payloads (CLI, sandbox, tests); [`send`]: the `webhook send` CLI;
//! - [`subscriptions`]: Fanvue's subscriptions API, typed;
//! - [`routes`]: the receiving endpoints; [`page`]: the events pages and their live feeds.

pub mod at_rest;
pub mod handler;
pub mod page;
pub mod routes;
pub mod send;
pub use fanvue::webhooks::{events, samples, signature};
pub mod store;
pub mod subscriptions;
pub mod worker;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::Router;
use axum::http::StatusCode;
use serde::Serialize;

use crate::auth::Api;
use crate::config::{Config, StoreKind};
use crate::web::error::AppError;
use crate::web::middleware::{REQUEST_TIMEOUT, json_errors, same_origin_only, with_timeout};

use events::{Event, Kind};
use signature::{Rejection, Verifier};
use store::{Endpoint, EndpointSecret, EventStore, Inserted, NewEvent, State, StoredEvent};

/// What the app does with an event, after it was stored and acknowledged. Implement it in
/// [`handler`]; an `Err` (or a panic, or a timeout) is retried with back-off.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Handles one event. `stored` carries its id (stable across retries), attempt count and
    /// raw body.
    async fn handle(&self, event: &Event, stored: &StoredEvent) -> Result<(), String>;
}

/// One line of the events page, pushed live to it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    /// The stored event's id (none for a refused delivery).
    pub id: Option<i64>,
    /// Its type, or the URL it was sent to for a refused delivery.
    pub type_name: String,
    /// `verified`, or the rejection code.
    pub verification: &'static str,
    /// pending, handled, failed, duplicate, or rejected.
    pub state: &'static str,
    /// Deliveries of this event so far.
    pub deliveries: i64,
    /// Handler attempts so far.
    pub attempts: i64,
    /// The handler's last error, or why the delivery was refused.
    pub detail: Option<String>,
    /// When it arrived (Unix ms).
    pub received_at: i64,
    /// Whom it is about (see [`StoredEvent::audience`]); never sent to a page, only used to
    /// pick the pages that may see it.
    #[serde(skip)]
    pub audience: Option<String>,
}

impl Notice {
    /// The notice of a stored event.
    pub fn stored(event: &StoredEvent, state: State, detail: Option<String>) -> Self {
        Notice {
            id: Some(event.id),
            type_name: event.type_name.clone(),
            verification: "verified",
            state: state.as_str(),
            deliveries: event.deliveries,
            attempts: event.attempts,
            detail: detail.or_else(|| event.last_error.clone()),
            received_at: event.received_at,
            audience: event.audience.clone(),
        }
    }

    /// Whether a creator page showing the events of `audience` may see this notice: only
    /// stored events addressed to one of them (refused deliveries are for operators).
    pub fn is_for(&self, audience: &[String]) -> bool {
        self.audience.as_ref().is_some_and(|a| audience.contains(a))
    }
}

/// Settings read from the environment by [`crate::config`].
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// `FANVUE_WEBHOOK_SECRET` (and `FANVUE_WEBHOOK_SECRET_PREVIOUS`), tolerance
    /// `FANVUE_WEBHOOK_TOLERANCE_SECS`.
    pub verifier: Verifier,
    /// `WEBHOOK_STORE`, by default the session store's SQLite file.
    pub store: StoreKind,
    /// `WEBHOOK_HANDLER_TIMEOUT_SECS`, `WEBHOOK_MAX_ATTEMPTS`, `WEBHOOK_RETENTION_DAYS`.
    pub worker: worker::Settings,
    /// The keys bodies are sealed with, from `SESSION_SECRET` (and `SESSION_SECRET_PREVIOUS`).
    pub at_rest: at_rest::AtRest,
}

/// Refused deliveries kept for the events page (they are not stored: unauthenticated input
/// never reaches the database).
const REJECTIONS_KEPT: usize = 50;

/// The webhook receiver's state. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Webhooks {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: WebhookConfig,
    store: EventStore,
    wake: tokio::sync::Notify,
    notices: tokio::sync::broadcast::Sender<Notice>,
    rejections: Mutex<VecDeque<Notice>>,
}

/// Why a delivery was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// Signature, timestamp or header refused (401), or no secret configured.
    #[error("{0}")]
    Rejected(Rejection),
    /// Signed, but not JSON.
    #[error("the body is not JSON")]
    NotJson,
    /// The event could not be stored: not acknowledged, so Fanvue retries.
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

impl From<ReceiveError> for AppError {
    fn from(err: ReceiveError) -> Self {
        let (status, code, message) = match &err {
            ReceiveError::Rejected(Rejection::NotConfigured) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "webhooks_not_configured",
                "Webhooks are not configured: set FANVUE_WEBHOOK_SECRET (Builder → your app → Events → View Signing Secret).".into(),
            ),
            ReceiveError::Rejected(rejection) => (StatusCode::UNAUTHORIZED, rejection.code(), rejection.to_string()),
            ReceiveError::NotJson => (StatusCode::BAD_REQUEST, "invalid_json", "The body is not JSON.".to_owned()),
            ReceiveError::Store(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "event_store_unavailable",
                "The event could not be stored; it was not accepted, so Fanvue will deliver it again.".into(),
            ),
        };
        AppError::feature(status, code, message, format!("webhook: {err}"))
    }
}

/// What the webhook routes (receiver, pages, feeds, subscriptions) need. Cheap to clone.
#[derive(Clone, Debug)]
pub struct WebhookState {
    /// The receiver and its event store.
    pub webhooks: Webhooks,
    /// Fanvue for console sessions (who is viewing, their managed creators, subscriptions).
    pub api: Api,
    /// The configuration (`OPERATOR_USER_UUIDS`, `BASE_URL`).
    pub config: Arc<Config>,
}

impl axum::extract::FromRef<WebhookState> for Api {
    fn from_ref(state: &WebhookState) -> Api {
        state.api.clone()
    }
}

/// Every webhook route: the receiver (server to server: no cookies, no cross-site check, the
/// signature protects it; JSON errors) and the pages (cross-site posts refused; the live feeds
/// without a time limit, since they stay open as long as the page does).
pub fn router<S: Clone + Send + Sync + 'static>(state: WebhookState) -> Router<S> {
    let origin = state.config.origin();
    let receiver = json_errors(with_timeout(routes::router(), REQUEST_TIMEOUT));
    let pages = same_origin_only(with_timeout(page::router(), REQUEST_TIMEOUT).merge(page::feeds()), &origin);
    receiver.merge(pages).with_state(state)
}

impl WebhookConfig {
    /// The receiver's settings from the configuration: the verifier from the webhook secrets,
    /// and the keys event bodies are sealed with from the session secrets.
    pub fn from_config(webhooks: &crate::config::WebhooksConfig, session: &crate::config::SessionConfig) -> Self {
        use secrecy::ExposeSecret;
        WebhookConfig {
            verifier: Verifier::new(webhooks.secrets.clone(), webhooks.tolerance),
            store: webhooks.store.clone(),
            worker: worker::Settings {
                handler_timeout: webhooks.handler_timeout,
                max_attempts: webhooks.max_attempts,
                retention: webhooks.retention,
            },
            at_rest: at_rest::AtRest::new(
                session.secret.expose_secret(),
                session.previous_secret.as_ref().map(|s| s.expose_secret()),
            ),
        }
    }
}

/// The answer to an accepted delivery.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Receipt {
    /// The stored event's id.
    pub id: i64,
    /// Whether it had been received before (not handled again).
    pub duplicate: bool,
}

impl Webhooks {
    /// Opens the event store.
    pub async fn open(config: WebhookConfig) -> Result<Self, store::StoreError> {
        Self::open_on(config, &crate::infra::connections::Connections::default()).await
    }

    /// [`Webhooks::open`] on `connections`, shared with the sessions when they use the same store.
    pub async fn open_on(
        config: WebhookConfig,
        connections: &crate::infra::connections::Connections,
    ) -> Result<Self, store::StoreError> {
        let store =
            EventStore::open_on(&config.store, config.worker.retention, config.at_rest.clone(), connections).await?;
        let (notices, _) = tokio::sync::broadcast::channel(256);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                store,
                wake: tokio::sync::Notify::new(),
                notices,
                rejections: Mutex::new(VecDeque::new()),
            }),
        })
    }

    /// Starts the worker that runs `handler` on stored events.
    pub fn start_worker(&self, handler: Arc<dyn Handler>) -> tokio::task::JoinHandle<()> {
        worker::spawn(self.clone(), handler)
    }

    /// The event store.
    pub fn store(&self) -> &EventStore {
        &self.inner.store
    }

    /// The worker's settings.
    pub fn settings(&self) -> worker::Settings {
        self.inner.config.worker
    }

    /// Whether a signing secret is configured.
    pub fn is_configured(&self) -> bool {
        self.inner.config.verifier.is_configured()
    }

    /// Verifies, types and stores one delivery to `route` (a platform event's URL slug, or
    /// `None` for the shared URL), signed with the app's secret. Nothing is parsed before the
    /// signature is checked.
    pub async fn receive(
        &self,
        route: Option<Kind>,
        signature: Option<&[u8]>,
        body: &[u8],
    ) -> Result<Receipt, ReceiveError> {
        let route_name = route.and_then(Kind::slug).unwrap_or("");
        let label = if route_name.is_empty() { "(shared URL)" } else { route_name };
        self.accept(route, route_name, label, &self.inner.config.verifier, signature, body).await
    }

    /// The endpoint registered for a subscription at `/api/webhooks/fanvue/s/{id}`, if any.
    pub async fn endpoint(&self, id: &str) -> Result<Option<Endpoint>, store::StoreError> {
        self.inner.store.endpoint(id).await
    }

    /// Like [`Webhooks::receive`], for a delivery to `endpoint`'s URL: verified with that
    /// subscription's own secret only (the app's, if Fanvue gave it none), typed by shape.
    pub async fn receive_at(
        &self,
        endpoint: &Endpoint,
        signature: Option<&[u8]>,
        body: &[u8],
    ) -> Result<Receipt, ReceiveError> {
        let verifier = match &endpoint.secret {
            EndpointSecret::Own(secret) => self.inner.config.verifier.with_secret(secret.clone()),
            EndpointSecret::App => self.inner.config.verifier.clone(),
            EndpointSecret::Unreadable => {
                // Not a 401: the delivery may be genuine. A 503 has Fanvue retry it, in case the
                // old SESSION_SECRET comes back as SESSION_SECRET_PREVIOUS.
                tracing::warn!(
                    subscription = %endpoint.subscription_id,
                    "a subscription's signing secret could not be opened (SESSION_SECRET changed?)"
                );
                return Err(ReceiveError::Store(store::StoreError::new(
                    "the subscription's signing secret is unreadable",
                )));
            }
        };
        let label = format!("subscription {}", endpoint.subscription_id);
        self.accept(None, "", &label, &verifier, signature, body).await
    }

    async fn accept(
        &self,
        route: Option<Kind>,
        route_name: &str,
        label: &str,
        verifier: &Verifier,
        signature: Option<&[u8]>,
        body: &[u8],
    ) -> Result<Receipt, ReceiveError> {
        let now = fanvue::oauth::tokens::now_unix();
        let signed_at = match verifier.verify(signature, body, now) {
            Ok(t) => t,
            Err(rejection) => {
                tracing::warn!(reason = rejection.code(), route = label, "webhook delivery refused");
                crate::infra::metrics::metrics().webhook(rejection.code());
                self.record_rejection(label, rejection);
                return Err(ReceiveError::Rejected(rejection));
            }
        };
        let event = Event::parse(route, body).map_err(|_| ReceiveError::NotJson)?;
        let type_name = event.type_name();
        // From the signed bytes only: the URL is not signed, so a body replayed to another
        // event's URL is the same event (a duplicate), not a new one of another type.
        let identity = events::identify(body).map_err(|_| ReceiveError::NotJson)?;
        let inserted = self
            .inner
            .store
            .insert(NewEvent {
                dedupe_key: &identity.dedupe_key,
                type_name: &type_name,
                route: route_name,
                signed_at,
                body,
                audience: identity.audience.as_deref(),
            })
            .await?;
        let (id, duplicate) = match inserted {
            Inserted::New(id) => (id, false),
            Inserted::Duplicate(id) => (id, true),
        };
        crate::infra::metrics::metrics().webhook(if duplicate { "duplicate" } else { "accepted" });
        tracing::info!(event = id, r#type = %type_name, duplicate, "webhook stored");
        if !duplicate {
            self.inner.wake.notify_one();
        }
        // The live notice needs the stored row (deliveries so far): read it only when an
        // events page is listening.
        if self.inner.notices.receiver_count() > 0
            && let Ok(Some(stored)) = self.inner.store.get(id).await
        {
            let state = if duplicate { "duplicate" } else { stored.state.as_str() };
            self.publish(Notice { state, ..Notice::stored(&stored, stored.state, None) });
        }
        Ok(Receipt { id, duplicate })
    }

    fn record_rejection(&self, label: &str, rejection: Rejection) {
        let notice = Notice {
            id: None,
            type_name: label.to_owned(),
            verification: rejection.code(),
            state: "rejected",
            deliveries: 1,
            attempts: 0,
            detail: Some(rejection.to_string()),
            received_at: store::now_ms(),
            audience: None,
        };
        let mut kept = self.inner.rejections.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.len() == REJECTIONS_KEPT {
            kept.pop_back();
        }
        kept.push_front(notice.clone());
        drop(kept);
        self.publish(notice);
    }

    /// The refused deliveries this instance saw, newest first.
    pub fn rejections(&self) -> Vec<Notice> {
        self.inner.rejections.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().cloned().collect()
    }

    /// Pushes a notice to every open events page.
    pub fn publish(&self, notice: Notice) {
        // No receiver (no page open) is fine.
        let _ = self.inner.notices.send(notice);
    }

    /// Resolves when a new event was stored (the worker waits on it).
    pub async fn stored(&self) {
        self.inner.wake.notified().await;
    }

    /// A live feed of notices.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Notice> {
        self.inner.notices.subscribe()
    }
}
