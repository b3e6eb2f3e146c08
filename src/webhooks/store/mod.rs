//! The event store: every verified delivery is written here **before** the 2xx, deduplicated
//! by its key, and worked off by [`super::worker`]. The same backend as the sessions: a
//! SQLite table ([`sqlite`], the session file by default, in memory with
//! `SESSION_STORE=memory`) or Redis ([`redis`], shared by every instance).
//!
//! Claiming moves an event's next attempt past a lease in one atomic step: a worker that
//! dies mid-handling (crash, kill -9, deploy) leaves the event to be claimed again when the
//! lease runs out, so nothing received is lost, and two workers (processes, instances) never
//! handle the same event at once.

pub mod redis;
pub mod sqlite;

use std::time::Duration;

/// Where events are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventStoreKind {
    /// A SQLite file.
    Sqlite(std::path::PathBuf),
    /// An in-memory SQLite database (lost at restart).
    Memory,
    /// Redis (`redis://…`), shared by every instance.
    Redis(String),
}

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
    /// The body, exactly as received.
    pub body: Vec<u8>,
    /// How many times Fanvue delivered it.
    pub deliveries: i64,
    /// Pending, handled or failed.
    pub state: State,
    /// Handler attempts so far.
    pub attempts: i64,
    /// The last handler error.
    pub last_error: Option<String>,
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
    /// See [`StoredEvent::body`].
    pub body: &'a [u8],
}

/// The event store. Cheap to clone.
#[derive(Clone, Debug)]
pub enum EventStore {
    /// SQLite (file or memory).
    Sqlite(sqlite::SqliteEvents),
    /// Redis.
    Redis(redis::RedisEvents),
}

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
        match $self {
            EventStore::Sqlite($store) => $call,
            EventStore::Redis($store) => $call,
        }
    };
}

impl EventStore {
    /// Opens the store (creating what is missing). `retention`: how long handled and failed
    /// events are kept.
    pub async fn open(kind: &EventStoreKind, retention: Duration) -> Result<Self, StoreError> {
        match kind {
            EventStoreKind::Redis(url) => Ok(EventStore::Redis(redis::RedisEvents::connect(url, retention).await?)),
            other => Ok(EventStore::Sqlite(sqlite::SqliteEvents::open(other).await?)),
        }
    }

    /// Stores a verified delivery unless its key was seen; counts the delivery either way.
    pub async fn insert(&self, event: NewEvent<'_>) -> Result<Inserted, StoreError> {
        each_backend!(self, s => s.insert(event).await)
    }

    /// Claims up to `limit` events due now, leasing them for `lease`; counts the attempt.
    pub async fn claim_due(&self, lease: Duration, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        each_backend!(self, s => s.claim_due(lease, limit).await)
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

    /// The most recent events, newest first.
    pub async fn recent(&self, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        each_backend!(self, s => s.recent(limit).await)
    }

    /// One event.
    pub async fn get(&self, id: i64) -> Result<Option<StoredEvent>, StoreError> {
        each_backend!(self, s => s.get(id).await)
    }

    /// Deletes handled and failed events received more than `age` ago (Redis expires them
    /// by itself).
    pub async fn prune(&self, age: Duration) -> Result<u64, StoreError> {
        match self {
            EventStore::Sqlite(s) => s.prune(age).await,
            EventStore::Redis(_) => Ok(0),
        }
    }
}
