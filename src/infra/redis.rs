//! Redis, for several instances behind a load balancer: the session store they share
//! (`SESSION_STORE=redis://…`), and the lock that keeps a session's token refresh
//! single-flight across all of them (Fanvue revokes the whole grant when a refresh token is
//! used twice).
//!
//! It also keeps the Fanvue budget every instance counts against ([`RedisStore::gcra`]).
//!
//! Records are stored sealed (see [`crate::auth::store::SealedStore`]) under
//! `fanvue-app-starter:session:<storage id>` with Redis' own expiry. Every command has a
//! short timeout, so a Redis outage gives quick 503s instead of hung requests, and the client
//! reconnects by itself when Redis is back.

use std::time::Duration;

use async_trait::async_trait;
use fred::clients::Pool;
use fred::interfaces::{KeysInterface, LuaInterface};
use fred::types::{Expiration, SetOptions};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

/// Key prefix of everything this app writes.
const PREFIX: &str = "fanvue-app-starter";
/// A refresh lock outlives the token endpoint's timeout, and expires if its holder crashed.
pub const LOCK_TTL: Duration = Duration::from_secs(20);

/// The Redis session store.
#[derive(Clone)]
pub struct RedisStore {
    pool: Pool,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisStore")
    }
}

fn backend(err: fred::error::Error) -> session_store::Error {
    session_store::Error::Backend(format!("redis: {err}"))
}

fn key(id: &Id) -> String {
    format!("{PREFIX}:session:{id}")
}

impl RedisStore {
    /// The session store on `pool` (from [`crate::infra::connections::Connections::redis`]).
    pub fn new(pool: Pool) -> Self {
        RedisStore { pool }
    }

    /// Takes the cross-instance refresh lock of `name` for [`LOCK_TTL`]; `Some(token)` when
    /// this caller holds it.
    pub async fn try_lock(&self, name: &str) -> session_store::Result<Option<String>> {
        let token = crate::infra::crypto::random_token(16);
        let key = format!("{PREFIX}:lock:{name}");
        let ttl = i64::try_from(LOCK_TTL.as_millis()).unwrap_or(20_000);
        let set: Option<String> = self
            .pool
            .set(key, token.as_str(), Some(Expiration::PX(ttl)), Some(SetOptions::NX), false)
            .await
            .map_err(backend)?;
        Ok(set.map(|_| token))
    }

    /// Counts one request against the GCRA limit `name` (`quota`: a burst, refilled one every
    /// interval), shared by every instance: `Ok(Ok(()))` when it conforms and was counted,
    /// `Ok(Err(time to wait))` when it does not (and was not counted).
    ///
    /// The same algorithm as [`governor`] in the app: Redis keeps the theoretical arrival time
    /// of the key's next request, in microseconds on Redis' clock (one clock for every instance),
    /// and lets it expire once the burst has refilled (then it is no different from a new key).
    pub async fn gcra(&self, name: &str, quota: governor::Quota) -> session_store::Result<Result<(), Duration>> {
        // KEYS[1]: the theoretical arrival time. ARGV[1]: the emission interval, ARGV[2]: the
        // burst tolerance (interval × (burst − 1)), both µs. Answers 0, or the µs to wait.
        const GCRA: &str = r"
            local time = redis.call('TIME')
            local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
            local interval = tonumber(ARGV[1])
            local tat = math.max(tonumber(redis.call('GET', KEYS[1])) or now, now)
            local wait = tat - tonumber(ARGV[2]) - now
            if wait > 0 then return wait end
            tat = tat + interval
            redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000))
            return 0";
        let interval = quota.replenish_interval().as_micros().max(1);
        let tolerance = interval.saturating_mul(u128::from(quota.burst_size().get() - 1));
        let wait: i64 = self
            .pool
            .eval(GCRA, vec![format!("{PREFIX}:gcra:{name}")], vec![interval.to_string(), tolerance.to_string()])
            .await
            .map_err(backend)?;
        Ok(match u64::try_from(wait) {
            Ok(wait) if wait > 0 => Err(Duration::from_micros(wait)),
            _ => Ok(()),
        })
    }

    /// Whether the lock of `name` is held by anyone.
    pub async fn is_locked(&self, name: &str) -> session_store::Result<bool> {
        let exists: i64 = self.pool.exists(format!("{PREFIX}:lock:{name}")).await.map_err(backend)?;
        Ok(exists > 0)
    }

    /// Releases the lock of `name` if `token` still holds it (compare-and-delete in one
    /// step: a lock that expired and was taken by another instance is left alone).
    pub async fn unlock(&self, name: &str, token: &str) -> session_store::Result<()> {
        const RELEASE: &str =
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
        let _: i64 = self
            .pool
            .eval(RELEASE, vec![format!("{PREFIX}:lock:{name}")], vec![token.to_owned()])
            .await
            .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let value = serde_json::to_string(&*record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
            let expiry = Some(Expiration::EXAT(record.expiry_date.unix_timestamp()));
            let set: Option<String> =
                self.pool.set(key(&record.id), value, expiry, Some(SetOptions::NX), false).await.map_err(backend)?;
            if set.is_some() {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let value = serde_json::to_string(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let expiry = Some(Expiration::EXAT(record.expiry_date.unix_timestamp()));
        // A plain SET (not XX): a record that expired meanwhile is written again.
        let _: Option<String> = self.pool.set(key(&record.id), value, expiry, None, false).await.map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let value: Option<String> = self.pool.get(key(id)).await.map_err(backend)?;
        match value {
            Some(json) => {
                serde_json::from_str(&json).map(Some).map_err(|e| session_store::Error::Decode(e.to_string()))
            }
            None => Ok(None),
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let _: i64 = self.pool.del(key(id)).await.map_err(backend)?;
        Ok(())
    }
}
