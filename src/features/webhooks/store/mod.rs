//! The event store: every verified delivery is written here **before** the 2xx, deduplicated
//! by its key, and worked off by [`super::worker`]. The same backend as the sessions: a
//! SQLite table ([`sqlite`], the session file by default, in memory with
//! `SESSION_STORE=memory`) or Redis ([`redis`], shared by every instance).
//!
//! Claiming moves an event's next attempt past a lease in one atomic step: a worker that
//! dies mid-handling (crash, kill -9, deploy) leaves the event to be claimed again when the
//! lease runs out, so nothing received is lost, and two workers (processes, instances) never
//! handle the same event at once.
//!
//! Bodies are sealed at rest ([`super::at_rest`]): [`EventStore`] seals them on the way in
//! and opens them on the way out, so the backends only ever see sealed bytes. Rows written
//! before sealing existed are read as they are. Each event also keeps its addressee
//! ([`StoredEvent::audience`]) in clear, so a creator's page lists only their events.
//!
//! It also keeps the [`Endpoint`]s: the delivery URLs the app registered for subscriptions made
//! through Fanvue's API, each with that subscription's signing secret, sealed.

pub mod redis;
pub mod sqlite;

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::at_rest::{AtRest, Purpose};
use crate::infra::connections::Connections;

/// Where events are kept: the configuration's store URL type ([`StoreKind::Memory`] is an
/// in-memory SQLite database here).
pub use crate::config::StoreKind as EventStoreKind;

/// The store failed.
#[derive(Debug, thiserror::Error)]
#[error("webhook event store: {0}")]
pub struct StoreError(String);

impl StoreError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        StoreError(message.into())
    }
}

/// Where an event is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for (another attempt at) the handler.
    Pending,
    /// The handler succeeded.
    Handled,
    /// The handler failed every attempt.
    Failed,
}

impl State {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Handled => "handled",
            State::Failed => "failed",
        }
    }

    /// From its stored name.
    pub fn parse(s: &str) -> State {
        match s {
            "handled" => State::Handled,
            "failed" => State::Failed,
            _ => State::Pending,
        }
    }
}

/// One stored event.
#[derive(Clone, Debug)]
pub struct StoredEvent {
    /// Row id.
    pub id: i64,
    /// What retried deliveries share.
    pub dedupe_key: String,
    /// The type shown (`message-received`, `app.payment.succeeded`…).
    pub type_name: String,
    /// The URL slug it arrived at (`""` for the shared URL).
    pub route: String,
    /// When it was first received (Unix ms).
    pub received_at: i64,
    /// The signature's timestamp (Unix s).
    pub signed_at: i64,
    /// The body, exactly as received (opened from its sealed form). Empty when it could not
    /// be opened: `SESSION_SECRET` changed without `SESSION_SECRET_PREVIOUS`.
    pub body: Vec<u8>,
    /// The creator it is addressed to (lower-case UUID; see [`super::events::audience`]), or
    /// `None`: operators only.
    pub audience: Option<String>,
    /// How many times Fanvue delivered it.
    pub deliveries: i64,
    /// Pending, handled or failed.
    pub state: State,
    /// Handler attempts so far.
    pub attempts: i64,
    /// The last handler error.
    pub last_error: Option<String>,
    /// Whether `body` is still sealed (only between a backend and [`EventStore`]).
    sealed: bool,
}

/// The outcome of [`EventStore::insert`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// A new event, with its id.
    New(i64),
    /// Seen before: the id of the first delivery.
    Duplicate(i64),
}

/// A new verified delivery.
#[derive(Clone, Debug)]
pub struct NewEvent<'a> {
    /// See [`StoredEvent::dedupe_key`].
    pub dedupe_key: &'a str,
    /// See [`StoredEvent::type_name`].
    pub type_name: &'a str,
    /// See [`StoredEvent::route`].
    pub route: &'a str,
    /// See [`StoredEvent::signed_at`].
    pub signed_at: i64,
    /// See [`StoredEvent::body`]: given in clear, sealed by [`EventStore::insert`].
    pub body: &'a [u8],
    /// See [`StoredEvent::audience`].
    pub audience: Option<&'a str>,
}

/// A delivery URL the app registered with Fanvue for one subscription
/// (`/api/webhooks/fanvue/s/{id}`), and how its deliveries are verified.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The random id in the URL (not a secret: the signing secret is).
    pub id: String,
    /// Fanvue's id of the subscription.
    pub subscription_id: String,
    /// The Fanvue user whose token made it (lower-case UUID): subscriptions are theirs.
    pub owner: String,
    /// Event type names it lists (`message.received`…).
    pub events: Vec<String>,
    /// When it was made (Unix ms).
    pub created_at: i64,
    /// The signing secret its deliveries are checked with.
    pub secret: EndpointSecret,
}

/// Which secret checks an endpoint's deliveries. `Debug` never prints a secret.
#[derive(Clone, Debug)]
pub enum EndpointSecret {
    /// The subscription's own, as Fanvue returned it once, at creation.
    Own(SecretString),
    /// Fanvue returned none: the app's `FANVUE_WEBHOOK_SECRET`.
    App,
    /// Sealed under a `SESSION_SECRET` this process does not have: deliveries are not accepted
    /// (503, so Fanvue retries) until it opens again.
    Unreadable,
}

/// An [`Endpoint`] as a backend keeps it: the secret sealed (`None`: Fanvue gave none).
#[derive(Clone, Debug)]
pub struct SealedEndpoint {
    /// See [`Endpoint::id`].
    pub id: String,
    /// See [`Endpoint::subscription_id`].
    pub subscription_id: String,
    /// See [`Endpoint::owner`].
    pub owner: String,
    /// See [`Endpoint::events`].
    pub events: Vec<String>,
    /// See [`Endpoint::created_at`].
    pub created_at: i64,
    /// The sealed secret.
    pub secret: Option<Vec<u8>>,
}

/// The event store: a backend, and the keys its bodies are sealed with. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EventStore {
    backend: Backend,
    at_rest: AtRest,
}

#[derive(Clone, Debug)]
enum Backend {
    /// SQLite (file or memory).
    Sqlite(sqlite::SqliteEvents),
    /// Redis.
    Redis(redis::RedisEvents),
}

/// Longest list of addressees [`EventStore::recent_for`] takes (an agency with more managed
/// creators sees the most recent events of the first ones).
pub const MAX_AUDIENCE: usize = 500;

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A duration in milliseconds, saturating.
pub fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Forwards each operation to the configured backend.
macro_rules! each_backend {
    ($self:ident, $store:ident => $call:expr) => {
        match &$self.backend {
            Backend::Sqlite($store) => $call,
            Backend::Redis($store) => $call,
        }
    };
}

impl EventStore {
    /// Opens the store (creating what is missing) on connections of its own. `retention`: how
    /// long handled and failed events are kept; `at_rest`: the keys bodies are sealed with.
    pub async fn open(kind: &EventStoreKind, retention: Duration, at_rest: AtRest) -> Result<Self, StoreError> {
        Self::open_on(kind, retention, at_rest, &Connections::default()).await
    }

    /// [`EventStore::open`] on `connections`, shared with whatever else uses the same store.
    pub async fn open_on(
        kind: &EventStoreKind,
        retention: Duration,
        at_rest: AtRest,
        connections: &Connections,
    ) -> Result<Self, StoreError> {
        let backend = match kind {
            EventStoreKind::Redis(url) => {
                let pool = connections.redis(url).await.map_err(|e| StoreError::new(format!("Redis: {e}")))?;
                Backend::Redis(redis::RedisEvents::new(pool, retention))
            }
            other => Backend::Sqlite(sqlite::SqliteEvents::open(other, connections).await?),
        };
        Ok(Self { backend, at_rest })
    }

    /// Stores a verified delivery unless its key was seen; counts the delivery either way.
    /// The body is sealed first: the backend never sees it in clear.
    pub async fn insert(&self, event: NewEvent<'_>) -> Result<Inserted, StoreError> {
        let sealed = self
            .at_rest
            .seal(Purpose::Body, event.dedupe_key, event.body)
            .map_err(|e| StoreError::new(e.to_string()))?;
        let event = NewEvent { body: &sealed, ..event };
        each_backend!(self, s => s.insert(event).await)
    }

    /// Opens a fetched event's body (see [`StoredEvent::body`]).
    fn opened(&self, mut event: StoredEvent) -> StoredEvent {
        if event.sealed {
            event.body = self.at_rest.open(Purpose::Body, &event.dedupe_key, &event.body).unwrap_or_else(|| {
                tracing::warn!(event = event.id, "a stored webhook body could not be opened (SESSION_SECRET changed?)");
                Vec::new()
            });
            event.sealed = false;
        }
        event
    }

    fn all_opened(&self, events: Vec<StoredEvent>) -> Vec<StoredEvent> {
        events.into_iter().map(|e| self.opened(e)).collect()
    }

    /// Claims up to `limit` events due now, leasing them for `lease`; counts the attempt.
    pub async fn claim_due(&self, lease: Duration, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        each_backend!(self, s => s.claim_due(lease, limit).await).map(|e| self.all_opened(e))
    }

    /// Marks an event handled, if attempt `attempt` (from the claim) is still the latest: a
    /// worker whose lease ran out cannot overwrite a newer attempt's outcome.
    pub async fn handled(&self, id: i64, attempt: i64) -> Result<(), StoreError> {
        each_backend!(self, s => s.finish(id, attempt, State::Handled, None, None).await)
    }

    /// Records failed attempt `attempt`: tried again after `retry_in`, or given up (`None`).
    pub async fn attempt_failed(
        &self,
        id: i64,
        attempt: i64,
        error: &str,
        retry_in: Option<Duration>,
    ) -> Result<(), StoreError> {
        let state = if retry_in.is_some() { State::Pending } else { State::Failed };
        each_backend!(self, s => s.finish(id, attempt, state, Some(error), retry_in).await)
    }

    /// When the next pending event is due (Unix ms).
    pub async fn next_due(&self) -> Result<Option<i64>, StoreError> {
        each_backend!(self, s => s.next_due().await)
    }

    /// The most recent events, newest first: every creator's (the operator's view).
    pub async fn recent(&self, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        each_backend!(self, s => s.recent(limit).await).map(|e| self.all_opened(e))
    }

    /// The most recent events addressed to any of `audience` (lower-case UUIDs, at most
    /// [`MAX_AUDIENCE`] are used), newest first: what one creator (and the creators they
    /// manage) may see.
    pub async fn recent_for(&self, audience: &[String], limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        let audience = &audience[..audience.len().min(MAX_AUDIENCE)];
        if audience.is_empty() {
            return Ok(Vec::new());
        }
        each_backend!(self, s => s.recent_for(audience, limit).await).map(|e| self.all_opened(e))
    }

    /// One event.
    pub async fn get(&self, id: i64) -> Result<Option<StoredEvent>, StoreError> {
        each_backend!(self, s => s.get(id).await).map(|e| e.map(|e| self.opened(e)))
    }

    /// Keeps `endpoint`, its secret sealed (bound to its id).
    pub async fn put_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        let secret = match &endpoint.secret {
            EndpointSecret::Own(secret) => Some(
                self.at_rest
                    .seal(Purpose::Secret, &endpoint.id, secret.expose_secret().as_bytes())
                    .map_err(|e| StoreError::new(e.to_string()))?,
            ),
            EndpointSecret::App => None,
            EndpointSecret::Unreadable => return Err(StoreError::new("an unreadable secret cannot be stored")),
        };
        let sealed = SealedEndpoint {
            id: endpoint.id.clone(),
            subscription_id: endpoint.subscription_id.clone(),
            owner: endpoint.owner.clone(),
            events: endpoint.events.clone(),
            created_at: endpoint.created_at,
            secret,
        };
        each_backend!(self, s => s.put_endpoint(&sealed).await)
    }

    fn opened_endpoint(&self, sealed: SealedEndpoint) -> Endpoint {
        let secret = match &sealed.secret {
            None => EndpointSecret::App,
            Some(blob) => match self.at_rest.open(Purpose::Secret, &sealed.id, blob) {
                Some(plain) => match String::from_utf8(plain) {
                    Ok(text) => EndpointSecret::Own(SecretString::from(text)),
                    Err(_) => EndpointSecret::Unreadable,
                },
                None => EndpointSecret::Unreadable,
            },
        };
        Endpoint {
            id: sealed.id,
            subscription_id: sealed.subscription_id,
            owner: sealed.owner,
            events: sealed.events,
            created_at: sealed.created_at,
            secret,
        }
    }

    /// The endpoint with this id.
    pub async fn endpoint(&self, id: &str) -> Result<Option<Endpoint>, StoreError> {
        each_backend!(self, s => s.endpoint(id).await).map(|e| e.map(|e| self.opened_endpoint(e)))
    }

    /// Every endpoint, oldest first.
    pub async fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        each_backend!(self, s => s.endpoints().await)
            .map(|all| all.into_iter().map(|e| self.opened_endpoint(e)).collect())
    }

    /// Forgets the endpoints of Fanvue's subscription `subscription_id` (and their secrets).
    pub async fn delete_endpoints_of(&self, subscription_id: &str) -> Result<(), StoreError> {
        each_backend!(self, s => s.delete_endpoints_of(subscription_id).await)
    }

    /// Deletes handled and failed events received more than `age` ago (Redis expires them
    /// by itself).
    pub async fn prune(&self, age: Duration) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.prune(age).await,
            Backend::Redis(_) => Ok(0),
        }
    }
}
