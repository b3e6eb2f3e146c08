//! Server-side sessions: the store (SQLite file or memory), sealed at rest, and the cookie.
//!
//! tower-sessions keeps the session record server-side and puts only a random 128-bit id in
//! the cookie. Its stores write records in clear, so [`SealedStore`] wraps whichever store is
//! configured and:
//! - seals each record's data with XChaCha20-Poly1305 under a key derived from
//!   `SESSION_SECRET`, bound to the record's storage key (a sealed blob copied to another
//!   row does not open);
//! - stores the record under a keyed hash of the session id, so a leaked database holds
//!   neither tokens nor usable cookie values;
//! - treats a record it cannot open (other `SESSION_SECRET`, tampering) as absent: the
//!   user is simply signed out.
//!
//! A signed-in session's tokens are not in its session record but in a [`TokenVault`]
//! record of their own (same store, same sealing, other keys). tower-sessions writes a whole
//! record back at the end of any request that changed it; if tokens lived there, a request
//! that started before a refresh could write the dead refresh token back over the new one,
//! and Fanvue would revoke the grant at the next refresh. Only the token code writes the
//! vault, always under the session's refresh lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, MemoryStore, SessionManagerLayer};
use tower_sessions_sqlx_store::SqliteStore;
use tower_sessions_sqlx_store::sqlx::sqlite::SqlitePool;

use crate::config::{SessionConfig, StoreKind};
use crate::infra::connections::Connections;
use crate::infra::crypto::{self, Key};
use fanvue::oauth::TokenSet;

/// The key under which the sealed blob sits in the stored record's data.
const SEALED_FIELD: &str = "sealed";

/// The two keys of one secret: sealing, and hashing ids into storage ids.
#[derive(Clone)]
struct Keys {
    seal: Key,
    id: Key,
}

impl Keys {
    fn derive(secret: &str, record_label: &str, id_label: &str) -> Self {
        Keys { seal: Key::derive(secret.as_bytes(), record_label), id: Key::derive(secret.as_bytes(), id_label) }
    }

    /// The id a record is stored under: HMAC of the cookie's id, truncated to 128 bits.
    fn storage_id(&self, id: &Id) -> Id {
        let mac = self.id.mac(&id.0.to_le_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&mac[..16]);
        Id(i128::from_le_bytes(bytes))
    }

    fn seal(&self, record: &Record) -> session_store::Result<Record> {
        let storage_id = self.storage_id(&record.id);
        let plain = serde_json::to_vec(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let sealed = self
            .seal
            .seal(&storage_id.0.to_le_bytes(), &plain)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let mut data = std::collections::HashMap::new();
        data.insert(SEALED_FIELD.to_owned(), Value::String(crypto::b64(&sealed)));
        Ok(Record { id: storage_id, data, expiry_date: record.expiry_date })
    }

    fn open(&self, id: Id, stored: &Record) -> Option<Record> {
        let blob = stored.data.get(SEALED_FIELD)?.as_str()?;
        let sealed = crypto::unb64(blob)?;
        let plain = self.seal.open(&stored.id.0.to_le_bytes(), &sealed).ok()?;
        let data = serde_json::from_slice(&plain).ok()?;
        Some(Record { id, data, expiry_date: stored.expiry_date })
    }
}

/// A session store wrapper that seals records at rest (see the module docs).
///
/// Key rotation: with `SESSION_SECRET_PREVIOUS` set, a record not found under the current
/// secret is looked up under the previous one, opened, re-sealed under the current secret
/// and its old row deleted, as it is used; nobody is signed out by a rotation.
#[derive(Clone)]
pub struct SealedStore<S> {
    inner: S,
    current: Keys,
    previous: Option<Keys>,
}

impl<S> std::fmt::Debug for SealedStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedStore { keys: [redacted] }")
    }
}

impl<S: SessionStore> SealedStore<S> {
    /// Wraps `inner` for session records, with keys from the master secret (and the previous
    /// one, during a rotation).
    pub fn new(inner: S, master_secret: &str, previous_secret: Option<&str>) -> Self {
        Self::with_labels(inner, master_secret, previous_secret, "session-record-v1", "session-id-v1")
    }

    /// Wraps `inner` with keys under other labels: records land in rows of their own.
    fn with_labels(inner: S, secret: &str, previous: Option<&str>, record_label: &str, id_label: &str) -> Self {
        Self {
            inner,
            current: Keys::derive(secret, record_label, id_label),
            previous: previous.map(|p| Keys::derive(p, record_label, id_label)),
        }
    }

    /// The id a record is stored under (with the current secret).
    pub fn storage_id(&self, id: &Id) -> Id {
        self.current.storage_id(id)
    }
}

#[async_trait]
impl<S: SessionStore + Clone> SessionStore for SealedStore<S> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A fresh random id colliding is a 2^-128 event, but handle it as the stores do.
        while self.inner.load(&self.current.storage_id(&record.id)).await?.is_some() {
            record.id = Id::default();
        }
        crate::infra::metrics::metrics().session_store(true);
        self.inner.save(&self.current.seal(record)?).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        crate::infra::metrics::metrics().session_store(true);
        self.inner.save(&self.current.seal(record)?).await
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        crate::infra::metrics::metrics().session_store(false);
        if let Some(stored) = self.inner.load(&self.current.storage_id(id)).await? {
            let opened = self.current.open(*id, &stored);
            if opened.is_none() {
                tracing::info!(
                    "a session record could not be opened (SESSION_SECRET changed?); treating it as signed out"
                );
            }
            return Ok(opened);
        }
        let Some(previous) = &self.previous else {
            return Ok(None);
        };
        let old_id = previous.storage_id(id);
        let Some(stored) = self.inner.load(&old_id).await? else {
            return Ok(None);
        };
        let Some(record) = previous.open(*id, &stored) else {
            return Ok(None);
        };
        // Rotation: move the record under the current secret as it is used.
        self.inner.save(&self.current.seal(&record)?).await?;
        self.inner.delete(&old_id).await?;
        Ok(Some(record))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.inner.delete(&self.current.storage_id(id)).await?;
        if let Some(previous) = &self.previous {
            self.inner.delete(&previous.storage_id(id)).await?;
        }
        Ok(())
    }
}

/// The configured store behind the sealing wrapper.
#[derive(Clone, Debug)]
pub enum AnyStore {
    /// A SQLite file.
    Sqlite(SqliteStore),
    /// Process memory.
    Memory(MemoryStore),
    /// Redis, shared by several instances.
    Redis(crate::infra::redis::RedisStore),
}

impl AnyStore {
    /// The Redis store, when sessions are shared across instances.
    pub fn redis(&self) -> Option<&crate::infra::redis::RedisStore> {
        match self {
            AnyStore::Redis(store) => Some(store),
            _ => None,
        }
    }
}

#[async_trait]
impl SessionStore for AnyStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            AnyStore::Sqlite(s) => s.create(record).await,
            AnyStore::Memory(s) => s.create(record).await,
            AnyStore::Redis(s) => s.create(record).await,
        }
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            AnyStore::Sqlite(s) => s.save(record).await,
            AnyStore::Memory(s) => s.save(record).await,
            AnyStore::Redis(s) => s.save(record).await,
        }
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            AnyStore::Sqlite(s) => s.load(id).await,
            AnyStore::Memory(s) => s.load(id).await,
            AnyStore::Redis(s) => s.load(id).await,
        }
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            AnyStore::Sqlite(s) => s.delete(id).await,
            AnyStore::Memory(s) => s.delete(id).await,
            AnyStore::Redis(s) => s.delete(id).await,
        }
    }
}

/// The tokens of signed-in sessions, one sealed record per session id, apart from the
/// session record (see the module docs for why).
///
/// With SQLite or memory sessions (one instance owns the store), the vault also keeps what
/// it wrote and read in process memory, written through: a signed-in request then reads no
/// row. With Redis it always reads Redis, since another instance may have refreshed or
/// signed the session out.
#[derive(Clone, Debug)]
pub struct TokenVault {
    store: SealedStore<AnyStore>,
    memory: Option<Arc<Mutex<VaultMemory>>>,
}

/// Tokens the vault wrote or read, with the record's expiry, and an epoch bumped around
/// every write: a read that began before a write never puts what it read into memory
/// (it may have seen the row the write replaced).
#[derive(Debug, Default)]
struct VaultMemory {
    epoch: u64,
    entries: HashMap<Id, (TokenSet, time::OffsetDateTime)>,
}

/// Sessions whose tokens the vault keeps in memory at most (then it starts over).
const VAULT_MEMORY_CAPACITY: usize = 10_000;

const TOKENS_FIELD: &str = "tokens";

impl TokenVault {
    /// A vault in the same store as the sessions, under keys of its own.
    pub fn new(inner: AnyStore, master_secret: &str, previous_secret: Option<&str>) -> Self {
        Self::with_labels(inner, master_secret, previous_secret, "token-record-v1", "token-id-v1")
    }

    /// The vault of embedded (iframe) sessions: other keys, so an embedded session's id signs
    /// nobody in to the console, and a console session's id is no embedded session.
    pub fn embedded(inner: AnyStore, master_secret: &str, previous_secret: Option<&str>) -> Self {
        Self::with_labels(inner, master_secret, previous_secret, "embedded-token-record-v1", "embedded-token-id-v1")
    }

    fn with_labels(inner: AnyStore, secret: &str, previous: Option<&str>, record: &str, id: &str) -> Self {
        let memory = inner.redis().is_none().then(Arc::default);
        Self { store: SealedStore::with_labels(inner, secret, previous, record, id), memory }
    }

    fn memory(&self) -> Option<std::sync::MutexGuard<'_, VaultMemory>> {
        self.memory.as_ref().map(|m| m.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Records `entry` (or forgets `id`), bumping the epoch: a write, or its end.
    fn remember(&self, id: Id, entry: Option<(TokenSet, time::OffsetDateTime)>) {
        if let Some(mut memory) = self.memory() {
            memory.epoch += 1;
            match entry {
                Some(entry) => {
                    if memory.entries.len() >= VAULT_MEMORY_CAPACITY {
                        memory.entries.clear();
                    }
                    memory.entries.insert(id, entry);
                }
                None => {
                    memory.entries.remove(&id);
                }
            }
        }
    }

    /// The tokens of session `id`, if it is signed in.
    pub async fn load(&self, id: Id) -> session_store::Result<Option<TokenSet>> {
        let epoch = match self.memory() {
            Some(memory) => {
                if let Some((tokens, expires)) = memory.entries.get(&id)
                    && *expires > time::OffsetDateTime::now_utc()
                {
                    return Ok(Some(tokens.clone()));
                }
                Some(memory.epoch)
            }
            None => None,
        };
        let Some(record) = self.store.load(&id).await? else {
            return Ok(None);
        };
        let tokens: Option<TokenSet> =
            record.data.get(TOKENS_FIELD).and_then(|v| serde_json::from_value(v.clone()).ok());
        if let (Some(tokens), Some(mut memory)) = (&tokens, self.memory())
            && Some(memory.epoch) == epoch
            && memory.entries.len() < VAULT_MEMORY_CAPACITY
        {
            memory.entries.insert(id, (tokens.clone(), record.expiry_date));
        }
        Ok(tokens)
    }

    /// Stores the tokens of session `id` until `expires`.
    pub async fn save(&self, id: Id, tokens: &TokenSet, expires: time::OffsetDateTime) -> session_store::Result<()> {
        let value = serde_json::to_value(tokens).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let record = Record {
            id,
            data: std::collections::HashMap::from([(TOKENS_FIELD.to_owned(), value)]),
            expiry_date: expires,
        };
        // Forget first: if the write fails, the next read goes to the store.
        self.remember(id, None);
        self.store.save(&record).await?;
        self.remember(id, Some((tokens.clone(), expires)));
        Ok(())
    }

    /// Forgets the tokens of session `id`.
    pub async fn delete(&self, id: Id) -> session_store::Result<()> {
        self.remember(id, None);
        let deleted = self.store.delete(&id).await;
        // And again once the row is gone: a read that overlapped the delete may have seen the
        // row, and must not put it back in memory (the session would stay signed in here).
        self.remember(id, None);
        deleted
    }

    /// The Redis store, when several instances share the sessions.
    pub fn redis(&self) -> Option<&crate::infra::redis::RedisStore> {
        self.store.inner.redis()
    }

    /// A name for session `id`'s cross-instance lock that does not reveal the id.
    pub fn lock_name(&self, id: Id) -> String {
        self.store.storage_id(&id).to_string()
    }
}

/// Opening the session store failed.
#[derive(Debug, thiserror::Error)]
#[error("SESSION_STORE: cannot open the session store at {path}: {reason}")]
pub struct StoreError {
    path: String,
    reason: String,
}

/// The opened session store: records, and the token vaults of console and embedded sessions.
#[derive(Debug)]
pub struct Stores {
    /// Behind the session layers.
    pub sessions: SealedStore<AnyStore>,
    /// Tokens of console sessions.
    pub vault: TokenVault,
    /// Tokens of embedded (iframe) sessions.
    pub embedded_vault: TokenVault,
}

/// Opens the configured store (creating the SQLite file, its folder and table when missing)
/// and starts the task that deletes expired records. Returns the store for session records
/// and the token vaults over the same backend, on `connections` (which the webhook events'
/// store shares when it names the same file or server).
pub async fn open_store(config: &SessionConfig, connections: &Connections) -> Result<Stores, StoreError> {
    let inner = match &config.store {
        StoreKind::Memory => AnyStore::Memory(MemoryStore::default()),
        StoreKind::Redis(url) => AnyStore::Redis(crate::infra::redis::RedisStore::new(
            connections.redis(url).await.map_err(|reason| StoreError { path: without_password(url), reason })?,
        )),
        StoreKind::Sqlite(path) => {
            let opened = match connections.sqlite(path).await {
                Ok(pool) => sqlite_store(pool).await,
                Err(reason) => Err(reason),
            };
            let store = opened.map_err(|reason| StoreError { path: path.display().to_string(), reason })?;
            spawn_expired_deletion(store.clone());
            AnyStore::Sqlite(store)
        }
    };
    let secret = secrecy::ExposeSecret::expose_secret(&config.secret);
    let previous = config.previous_secret.as_ref().map(secrecy::ExposeSecret::expose_secret);
    Ok(Stores {
        sessions: SealedStore::new(inner.clone(), secret, previous),
        vault: TokenVault::new(inner.clone(), secret, previous),
        embedded_vault: TokenVault::embedded(inner, secret, previous),
    })
}

/// A Redis URL fit for a log line: the password replaced.
fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "the configured Redis URL".to_owned(),
    }
}

/// The session store on the SQLite file's pool, its table created when missing.
async fn sqlite_store(pool: SqlitePool) -> Result<SqliteStore, String> {
    let store = SqliteStore::new(pool);
    store.migrate().await.map_err(|e| e.to_string())?;
    Ok(store)
}

fn spawn_expired_deletion(store: SqliteStore) {
    use tower_sessions::ExpiredDeletion;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            if let Err(err) = store.delete_expired().await {
                tracing::warn!(error = %err, "deleting expired sessions failed; will retry");
            }
        }
    });
}

/// The session layer: cookie `HttpOnly; Secure; SameSite=Lax; Path=/`, no `Domain`, named
/// `__Host-fanvue_oauth` by default: with those attributes the browser lets only this host set
/// it, so a sibling subdomain cannot plant a session (see `config::DEFAULT_SESSION_COOKIE_NAME`).
///
/// `Lax`, not `Strict`: the browser must send the cookie on the top-level redirect back from
/// Fanvue to the callback, or the pending login (state, PKCE verifier) is lost.
pub fn layer(store: SealedStore<AnyStore>, config: &SessionConfig) -> SessionManagerLayer<SealedStore<AnyStore>> {
    let ttl = time::Duration::seconds(i64::try_from(config.ttl.as_secs()).unwrap_or(i64::MAX / 2));
    SessionManagerLayer::new(store)
        .with_name(config.cookie_name.clone())
        .with_http_only(true)
        .with_secure(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(ttl))
}

/// The session layer of the embedded surface (inside Fanvue's iframe): its own cookie,
/// `HttpOnly; Secure; SameSite=None; Path=/` without `Domain` (a third-party iframe gets no
/// `Lax` cookie; the `__Host-` name by default, which CHIPS recommends), made `Partitioned` by
/// [`crate::features::embedded`] so it lives only under Fanvue's top-level site.
pub fn embedded_layer(
    store: SealedStore<AnyStore>,
    config: &SessionConfig,
    cookie_name: &str,
) -> SessionManagerLayer<SealedStore<AnyStore>> {
    let ttl = time::Duration::seconds(i64::try_from(config.ttl.as_secs()).unwrap_or(i64::MAX / 2));
    SessionManagerLayer::new(store)
        .with_name(cookie_name.to_owned())
        .with_http_only(true)
        .with_secure(true)
        .with_same_site(SameSite::None)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(ttl))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(value: &str) -> Record {
        let mut data = std::collections::HashMap::new();
        data.insert("tokens".to_owned(), Value::String(value.to_owned()));
        Record { id: Id::default(), data, expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1) }
    }

    /// A read racing a sign-out must not leave the deleted tokens in the vault's memory: every
    /// round signs in, then reads and deletes at once, then reads again, which must find none.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_overlapping_a_delete_never_brings_the_tokens_back() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Connections::default().sqlite(&dir.path().join("sessions.db")).await.unwrap();
        let store = AnyStore::Sqlite(sqlite_store(pool).await.unwrap());
        let vault = TokenVault::new(store, "0123456789abcdef0123456789abcdef", None);
        let tokens = TokenSet {
            access_token: oauth2::AccessToken::new("ory_at_race".into()),
            refresh_token: None,
            expires_at: i64::MAX / 4,
            scopes: fanvue::scopes::ScopeSet::empty(),
            user: None,
        };
        let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        for round in 0..300 {
            let id = Id::default();
            vault.save(id, &tokens, expires).await.unwrap();
            let (reader, deleter) = (vault.clone(), vault.clone());
            let read = tokio::spawn(async move { reader.load(id).await });
            let delete = tokio::spawn(async move { deleter.delete(id).await });
            let (read, delete) = (read.await.unwrap(), delete.await.unwrap());
            read.unwrap();
            delete.unwrap();
            assert!(vault.load(id).await.unwrap().is_none(), "round {round}: signed in again after the delete");
        }
    }

    #[tokio::test]
    async fn records_are_sealed_under_a_hashed_id_and_open_only_with_the_same_secret() {
        let inner = MemoryStore::default();
        let store = SealedStore::new(inner.clone(), "0123456789abcdef0123456789abcdef", None);
        let mut rec = record("ory_at_SECRET");
        store.create(&mut rec).await.ok();

        assert!(inner.load(&rec.id).await.ok().flatten().is_none(), "stored under the cookie id");
        let raw = inner.load(&store.storage_id(&rec.id)).await.ok().flatten();
        let raw_json = raw.map(|r| serde_json::to_string(&r.data).unwrap_or_default()).unwrap_or_default();
        assert!(raw_json.contains(SEALED_FIELD) && !raw_json.contains("ory_at_SECRET"));

        let loaded = store.load(&rec.id).await.ok().flatten();
        assert_eq!(loaded.map(|r| r.data), Some(rec.data.clone()));

        let other = SealedStore::new(inner.clone(), "another-secret-another-secret-xx", None);
        assert!(other.load(&rec.id).await.ok().flatten().is_none());
    }

    #[tokio::test]
    async fn rotation_reseals_records_under_the_new_secret_as_they_are_used() {
        let (old, new) = ("the-old-secret-the-old-secret-123", "the-new-secret-the-new-secret-456");
        let inner = MemoryStore::default();
        let mut rec = record("ory_at_ROTATE");
        SealedStore::new(inner.clone(), old, None).create(&mut rec).await.ok();

        let rotating = SealedStore::new(inner.clone(), new, Some(old));
        let loaded = rotating.load(&rec.id).await.ok().flatten();
        assert_eq!(loaded.map(|r| r.data), Some(rec.data.clone()), "readable during the rotation");
        let old_row = SealedStore::new(inner.clone(), old, None).storage_id(&rec.id);
        assert!(inner.load(&old_row).await.ok().flatten().is_none(), "the old row is gone");

        let rotated = SealedStore::new(inner, new, None);
        assert!(rotated.load(&rec.id).await.ok().flatten().is_some(), "readable after the previous secret is dropped");
    }
}
