//! Events in a SQLite table: one `INSERT … ON CONFLICT` dedupes, one `UPDATE … RETURNING`
//! claims (atomic across processes sharing the file). Bodies arrive sealed (`sealed = 1`);
//! rows from before sealing (`sealed = 0`) are read as they are.

use std::str::FromStr;
use std::time::Duration;

use tower_sessions_sqlx_store::sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use tower_sessions_sqlx_store::sqlx::{self, Row};

use super::{EventStoreKind, Inserted, NewEvent, SealedEndpoint, State, StoreError, StoredEvent, ms, now_ms};
use crate::infra::connections::Connections;

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        StoreError::new(err.to_string())
    }
}

/// Events in a SQLite table. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SqliteEvents {
    pool: SqlitePool,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS webhook_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key TEXT NOT NULL UNIQUE,
    type_name TEXT NOT NULL,
    route TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    signed_at INTEGER NOT NULL,
    body BLOB NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 1,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    audience TEXT,
    sealed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS webhook_events_due ON webhook_events (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    events TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    secret BLOB
);
";

/// Columns added since the first schema, with their definitions: added to an older file at
/// open (its rows keep no audience, so only operators see them, and stay unsealed).
const ADDED_COLUMNS: [(&str, &str); 2] = [("audience", "TEXT"), ("sealed", "INTEGER NOT NULL DEFAULT 0")];

const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS webhook_events_audience ON webhook_events (audience, id);
";

const COLUMNS: &str = "id, dedupe_key, type_name, route, received_at, signed_at, body, deliveries, state, attempts, \
                       last_error, audience, sealed";

impl SqliteEvents {
    /// Opens (creating file, folder and table when missing) the store. `Redis` is not a
    /// SQLite kind: it opens an in-memory database.
    pub async fn open(kind: &EventStoreKind, connections: &Connections) -> Result<Self, StoreError> {
        let pool = match kind {
            // The file's one pool, shared with the sessions when they are in the same file.
            EventStoreKind::Sqlite(path) => connections.sqlite(path).await.map_err(StoreError::new)?,
            EventStoreKind::Memory | EventStoreKind::Redis(_) => {
                // One connection that never closes: an in-memory database lives as long as it.
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(SqliteConnectOptions::from_str("sqlite::memory:")?)
                    .await?
            }
        };
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        let existing: Vec<String> = sqlx::query("SELECT name FROM pragma_table_info('webhook_events')")
            .fetch_all(&pool)
            .await?
            .iter()
            .map(|row| row.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?;
        for (column, definition) in ADDED_COLUMNS {
            if !existing.iter().any(|c| c == column) {
                sqlx::raw_sql(&format!("ALTER TABLE webhook_events ADD COLUMN {column} {definition}"))
                    .execute(&pool)
                    .await?;
            }
        }
        sqlx::raw_sql(INDEXES).execute(&pool).await?;
        Ok(Self { pool })
    }

    /// Stores a verified delivery unless its key was seen; counts the delivery either way.
    pub async fn insert(&self, event: NewEvent<'_>) -> Result<Inserted, StoreError> {
        let now = now_ms();
        let row = sqlx::query(
            "INSERT INTO webhook_events
                 (dedupe_key, type_name, route, received_at, signed_at, body, next_attempt_at, audience, sealed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?4, ?7, 1)
             ON CONFLICT (dedupe_key) DO UPDATE SET deliveries = deliveries + 1
             RETURNING id, deliveries",
        )
        .bind(event.dedupe_key)
        .bind(event.type_name)
        .bind(event.route)
        .bind(now)
        .bind(event.signed_at)
        .bind(event.body)
        .bind(event.audience)
        .fetch_one(&self.pool)
        .await?;
        let (id, deliveries): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        Ok(if deliveries > 1 { Inserted::Duplicate(id) } else { Inserted::New(id) })
    }

    /// Claims up to `limit` events due now, leasing them for `lease`; counts the attempt.
    pub async fn claim_due(&self, lease: Duration, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        let now = now_ms();
        let rows = sqlx::query(&format!(
            "UPDATE webhook_events SET next_attempt_at = ?1, attempts = attempts + 1
             WHERE id IN (SELECT id FROM webhook_events WHERE state = 'pending' AND next_attempt_at <= ?2
                          ORDER BY next_attempt_at, id LIMIT ?3)
             RETURNING {COLUMNS}"
        ))
        .bind(now.saturating_add(ms(lease)))
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut events: Vec<StoredEvent> = rows.iter().map(from_row).collect::<Result<_, _>>()?;
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    /// Ends an attempt: `state` (pending again after `retry_in`, handled or failed) and
    /// the attempt's error.
    pub async fn finish(
        &self,
        id: i64,
        attempt: i64,
        state: State,
        error: Option<&str>,
        retry_in: Option<Duration>,
    ) -> Result<(), StoreError> {
        let next = now_ms().saturating_add(retry_in.map_or(0, ms));
        sqlx::query(
            "UPDATE webhook_events SET state = ?1, next_attempt_at = ?2, last_error = ?3 WHERE id = ?4 AND attempts = ?5",
        )
        .bind(state.as_str())
        .bind(next)
        .bind(error)
        .bind(id)
        .bind(attempt)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// When the next pending event is due (Unix ms).
    pub async fn next_due(&self) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT MIN(next_attempt_at) FROM webhook_events WHERE state = 'pending'")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?)
    }

    /// The most recent events, newest first.
    pub async fn recent(&self, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM webhook_events ORDER BY id DESC LIMIT ?1"))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect::<Result<_, _>>().map_err(Into::into)
    }

    /// The most recent events addressed to any of `audience`, newest first.
    pub async fn recent_for(&self, audience: &[String], limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        let placeholders = vec!["?"; audience.len()].join(", ");
        let sql =
            format!("SELECT {COLUMNS} FROM webhook_events WHERE audience IN ({placeholders}) ORDER BY id DESC LIMIT ?");
        let mut query = sqlx::query(&sql);
        for uuid in audience {
            query = query.bind(uuid);
        }
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(from_row).collect::<Result<_, _>>().map_err(Into::into)
    }

    /// One event.
    pub async fn get(&self, id: i64) -> Result<Option<StoredEvent>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM webhook_events WHERE id = ?1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose().map_err(Into::into)
    }

    /// See [`super::EventStore::put_endpoint`].
    pub async fn put_endpoint(&self, endpoint: &SealedEndpoint) -> Result<(), StoreError> {
        let events = serde_json::to_string(&endpoint.events).map_err(|e| StoreError::new(e.to_string()))?;
        sqlx::query(
            "INSERT OR REPLACE INTO webhook_endpoints (id, subscription_id, owner, events, created_at, secret)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&endpoint.id)
        .bind(&endpoint.subscription_id)
        .bind(&endpoint.owner)
        .bind(events)
        .bind(endpoint.created_at)
        .bind(endpoint.secret.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// See [`super::EventStore::endpoint`].
    pub async fn endpoint(&self, id: &str) -> Result<Option<SealedEndpoint>, StoreError> {
        let row = sqlx::query(&format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(endpoint_from_row).transpose()
    }

    /// See [`super::EventStore::endpoints`].
    pub async fn endpoints(&self) -> Result<Vec<SealedEndpoint>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY created_at, id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(endpoint_from_row).collect()
    }

    /// See [`super::EventStore::delete_endpoints_of`].
    pub async fn delete_endpoints_of(&self, subscription_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM webhook_endpoints WHERE subscription_id = ?1")
            .bind(subscription_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes handled and failed events received more than `age` ago. Pending ones stay.
    pub async fn prune(&self, age: Duration) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM webhook_events WHERE state != 'pending' AND received_at < ?1")
            .bind(now_ms().saturating_sub(ms(age)))
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }
}

const ENDPOINT_COLUMNS: &str = "id, subscription_id, owner, events, created_at, secret";

fn endpoint_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<SealedEndpoint, StoreError> {
    let events: String = row.try_get("events")?;
    Ok(SealedEndpoint {
        id: row.try_get("id")?,
        subscription_id: row.try_get("subscription_id")?,
        owner: row.try_get("owner")?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        created_at: row.try_get("created_at")?,
        secret: row.try_get("secret")?,
    })
}

fn from_row(row: &sqlx::sqlite::SqliteRow) -> Result<StoredEvent, sqlx::Error> {
    Ok(StoredEvent {
        id: row.try_get("id")?,
        dedupe_key: row.try_get("dedupe_key")?,
        type_name: row.try_get("type_name")?,
        route: row.try_get("route")?,
        received_at: row.try_get("received_at")?,
        signed_at: row.try_get("signed_at")?,
        body: row.try_get("body")?,
        deliveries: row.try_get("deliveries")?,
        state: State::parse(row.try_get::<&str, _>("state")?),
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        audience: row.try_get("audience")?,
        sealed: row.try_get::<i64, _>("sealed")? != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event<'a>(key: &'a str, body: &'a [u8]) -> NewEvent<'a> {
        NewEvent {
            dedupe_key: key,
            type_name: "message-received",
            route: "message-received",
            signed_at: 1,
            body,
            audience: None,
        }
    }

    fn keys() -> crate::features::webhooks::at_rest::AtRest {
        crate::features::webhooks::at_rest::AtRest::new("0123456789abcdef0123456789abcdef", None)
    }

    async fn memory() -> Result<super::super::EventStore, StoreError> {
        super::super::EventStore::open(&EventStoreKind::Memory, Duration::from_secs(60), keys()).await
    }

    #[tokio::test]
    async fn duplicates_are_counted_not_stored_twice_and_claims_are_exclusive() -> Result<(), StoreError> {
        let store = memory().await?;
        let first = store.insert(event("k1", b"{}")).await?;
        let again = store.insert(event("k1", b"{}")).await?;
        let Inserted::New(id) = first else { return Err(StoreError::new("first insert was a duplicate")) };
        assert_eq!(again, Inserted::Duplicate(id));
        assert_eq!(store.get(id).await?.map(|e| e.deliveries), Some(2));

        let claimed = store.claim_due(Duration::from_secs(60), 10).await?;
        assert_eq!(claimed.len(), 1);
        assert!(store.claim_due(Duration::from_secs(60), 10).await?.is_empty(), "leased: not claimable again");

        store.attempt_failed(id, 1, "boom", Some(Duration::ZERO)).await?;
        let retried = store.claim_due(Duration::from_secs(60), 10).await?;
        assert_eq!(retried.first().map(|e| e.attempts), Some(2));
        // The first attempt's worker, late, cannot overwrite the second attempt's outcome.
        store.attempt_failed(id, 1, "late", None).await?;
        assert_eq!(store.get(id).await?.map(|e| e.state), Some(State::Pending));
        store.handled(id, 2).await?;
        assert_eq!(store.get(id).await?.map(|e| e.state), Some(State::Handled));
        assert_eq!(store.next_due().await?, None);
        Ok(())
    }

    #[tokio::test]
    async fn a_lapsed_lease_makes_the_event_claimable_again() -> Result<(), StoreError> {
        let store = memory().await?;
        store.insert(event("k2", b"{}")).await?;
        assert_eq!(store.claim_due(Duration::ZERO, 10).await?.len(), 1);
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(store.claim_due(Duration::from_secs(60), 10).await?.len(), 1, "the worker died; claim again");
        Ok(())
    }

    #[tokio::test]
    async fn bodies_are_sealed_in_the_file_and_listed_per_addressee() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::new(e.to_string()))?;
        let path = dir.path().join("events.db");
        let store =
            super::super::EventStore::open(&EventStoreKind::Sqlite(path.clone()), Duration::from_secs(60), keys())
                .await?;
        let (ava, bo) = ("a3c1e6f2-5b7d-4e8a-9c0f-1d2e3f4a5b6c", "b0b0b0b0-1c2d-4e3f-8a9b-0c1d2e3f4a5b");
        store.insert(NewEvent { audience: Some(ava), ..event("k1", b"{\"text\":\"for Ava only\"}") }).await?;
        store.insert(NewEvent { audience: Some(bo), ..event("k2", b"{\"text\":\"for Bo only\"}") }).await?;
        store.insert(event("k3", b"{\"text\":\"for nobody\"}")).await?;
        let for_ava = store.recent_for(&[ava.to_owned()], 10).await?;
        assert_eq!(
            for_ava.iter().map(|e| e.body.as_slice()).collect::<Vec<_>>(),
            [&b"{\"text\":\"for Ava only\"}"[..]]
        );
        assert_eq!(store.recent_for(&[ava.to_owned(), bo.to_owned()], 10).await?.len(), 2);
        assert!(store.recent_for(&[], 10).await?.is_empty());
        assert_eq!(store.recent(10).await?.len(), 3, "the operator's view");
        let file = std::fs::read(&path).unwrap_or_default();
        let wal = std::fs::read(dir.path().join("events.db-wal")).unwrap_or_default();
        assert!(![file, wal].iter().any(|f| f.windows(8).any(|w| w == b"for Ava ")), "a body in clear on disk");
        // Another SESSION_SECRET: the rows are there, the bodies do not open.
        let other = super::super::EventStore::open(
            &EventStoreKind::Sqlite(path),
            Duration::from_secs(60),
            crate::features::webhooks::at_rest::AtRest::new("another-secret-another-secret-xx", None),
        )
        .await?;
        assert!(other.recent(10).await?.iter().all(|e| e.body.is_empty()));
        Ok(())
    }

    #[tokio::test]
    async fn a_file_from_before_sealing_is_migrated_and_its_rows_still_read() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::new(e.to_string()))?;
        let path = dir.path().join("old.db");
        let old = Connections::default().sqlite(&path).await.map_err(StoreError::new)?;
        let first_schema = SCHEMA.replace(",\n    audience TEXT,\n    sealed INTEGER NOT NULL DEFAULT 0", "");
        assert!(!first_schema.contains("sealed"), "{first_schema}");
        sqlx::raw_sql(&first_schema).execute(&old).await?;
        sqlx::query(
            "INSERT INTO webhook_events (dedupe_key, type_name, route, received_at, signed_at, body, next_attempt_at)
             VALUES ('old', 'new-follower', 'new-follower', 1, 1, X'7B7D', 1)",
        )
        .execute(&old)
        .await?;
        old.close().await;
        let store =
            super::super::EventStore::open(&EventStoreKind::Sqlite(path), Duration::from_secs(60), keys()).await?;
        let rows = store.recent(10).await?;
        assert_eq!(
            rows.iter().map(|e| (e.body.as_slice(), e.audience.as_deref())).collect::<Vec<_>>(),
            [(&b"{}"[..], None)]
        );
        store.insert(event("new", b"{\"a\":1}")).await?;
        assert_eq!(store.recent(10).await?.first().map(|e| e.body.clone()), Some(b"{\"a\":1}".to_vec()));
        Ok(())
    }
}
