//! Events in Redis, shared by every instance behind the load balancer (`SESSION_STORE=redis://…`
//! or `WEBHOOK_STORE=redis://…`): a retried delivery that lands on another instance is still
//! a duplicate, and whichever instance's worker claims an event first handles it.
//!
//! Keys (prefix `fanvue-app-starter:webhook:`): `seq` (ids), `key:<dedupe key>` → id,
//! `event:<id>` (a hash; its `body` sealed, base64url, with `sealed` = 1), `due` (sorted set of
//! pending ids by next attempt, in ms), `recent` (the newest ids), `recent:<creator uuid>` (the
//! newest ids addressed to that creator). Every step that must be atomic is one Lua script.
//! Handled and failed events expire after `WEBHOOK_RETENTION_DAYS`; dedupe keys and the
//! per-creator lists live as long. Subscriptions' endpoints: `endpoint:<id>` (a hash, its
//! `secret` sealed, base64url) and `endpoints` (the set of their ids); they do not expire.

use std::collections::HashMap;
use std::time::Duration;

use fred::clients::Pool;
use fred::interfaces::LuaInterface;
use fred::types::Value;

use super::{Inserted, NewEvent, SealedEndpoint, State, StoreError, StoredEvent, ms, now_ms};

const PREFIX: &str = "fanvue-app-starter:webhook:";
/// How many ids the events page can go back.
const RECENT_KEPT: u32 = 500;

const INSERT: &str = r"
local existing = redis.call('GET', KEYS[2])
if existing then
  local deliveries = redis.call('HINCRBY', ARGV[1] .. existing, 'deliveries', 1)
  return {tonumber(existing), deliveries}
end
local id = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], id, 'EX', ARGV[8])
redis.call('HSET', ARGV[1] .. id, 'id', id, 'dedupe_key', ARGV[2], 'type_name', ARGV[3], 'route', ARGV[4],
  'received_at', ARGV[5], 'signed_at', ARGV[6], 'body', ARGV[7], 'deliveries', 1, 'state', 'pending',
  'attempts', 0, 'last_error', '', 'audience', ARGV[10], 'sealed', 1)
redis.call('ZADD', KEYS[4], ARGV[5], id)
redis.call('LPUSH', KEYS[3], id)
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[9]) - 1)
if ARGV[10] ~= '' then
  local mine = KEYS[3] .. ':' .. ARGV[10]
  redis.call('LPUSH', mine, id)
  redis.call('LTRIM', mine, 0, tonumber(ARGV[9]) - 1)
  redis.call('EXPIRE', mine, ARGV[8])
end
return {id, 1}
";

const CLAIM: &str = r"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
local out = {}
for _, id in ipairs(ids) do
  if redis.call('EXISTS', ARGV[4] .. id) == 1 then
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    redis.call('HINCRBY', ARGV[4] .. id, 'attempts', 1)
    table.insert(out, redis.call('HGETALL', ARGV[4] .. id))
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
";

const FINISH: &str = r"
if redis.call('HGET', KEYS[2], 'attempts') ~= ARGV[6] then return 0 end
if ARGV[1] == 'pending' then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[5])
else
  redis.call('ZREM', KEYS[1], ARGV[5])
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
redis.call('HSET', KEYS[2], 'state', ARGV[1], 'last_error', ARGV[3])
return 1
";

const NEXT_DUE: &str = r"
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[2] then return tonumber(first[2]) end
return false
";

const FETCH: &str = r"
local ids = ARGV[2] == 'recent' and redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1) or {ARGV[3]}
local out = {}
for _, id in ipairs(ids) do
  local fields = redis.call('HGETALL', ARGV[1] .. id)
  if #fields > 0 then table.insert(out, fields) end
end
return out
";

/// The newest events of several creators: their lists merged, newest first (ids grow).
/// ARGV: event key prefix, limit, then the creators' list keys.
const FETCH_FOR: &str = r"
local limit = tonumber(ARGV[2])
local seen, ids = {}, {}
for i = 3, #ARGV do
  for _, id in ipairs(redis.call('LRANGE', ARGV[i], 0, limit - 1)) do
    if not seen[id] then
      seen[id] = true
      table.insert(ids, tonumber(id))
    end
  end
end
table.sort(ids, function(a, b) return a > b end)
local out = {}
for _, id in ipairs(ids) do
  if #out >= limit then break end
  local fields = redis.call('HGETALL', ARGV[1] .. id)
  if #fields > 0 then table.insert(out, fields) end
end
return out
";

/// KEYS: the endpoint's hash, the set of endpoint ids. ARGV: its id, then field/value pairs.
const PUT_ENDPOINT: &str = r"
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], ARGV[1])
return 1
";

/// Every endpoint (ARGV: the hash prefix), or only the one whose id is ARGV[2].
const FETCH_ENDPOINTS: &str = r"
local ids = ARGV[2] and {ARGV[2]} or redis.call('SMEMBERS', KEYS[1])
local out = {}
for _, id in ipairs(ids) do
  local fields = redis.call('HGETALL', ARGV[1] .. id)
  if #fields > 0 then table.insert(out, fields) end
end
return out
";

/// Deletes the endpoints of subscription ARGV[2] (ARGV[1]: the hash prefix).
const DELETE_ENDPOINTS_OF: &str = r"
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('HGET', ARGV[1] .. id, 'subscription_id') == ARGV[2] then
    redis.call('DEL', ARGV[1] .. id)
    redis.call('SREM', KEYS[1], id)
  end
end
return 1
";

/// Events in Redis. Cheap to clone.
#[derive(Clone)]
pub struct RedisEvents {
    pool: Pool,
    retention: Duration,
}

impl std::fmt::Debug for RedisEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisEvents")
    }
}

fn backend(err: fred::error::Error) -> StoreError {
    StoreError::new(format!("redis: {err}"))
}

fn key(name: &str) -> String {
    format!("{PREFIX}{name}")
}

impl RedisEvents {
    /// Events on `pool` (shared with the sessions when they are in the same Redis).
    pub fn new(pool: Pool, retention: Duration) -> Self {
        Self { pool, retention }
    }

    fn retention_secs(&self) -> String {
        self.retention.as_secs().max(1).to_string()
    }

    /// See [`super::EventStore::insert`].
    pub async fn insert(&self, event: NewEvent<'_>) -> Result<Inserted, StoreError> {
        // Sealed bytes are not text: stored as base64url, like session records.
        let body = crate::infra::crypto::b64(event.body);
        let keys = vec![key("seq"), key(&format!("key:{}", event.dedupe_key)), key("recent"), key("due")];
        let args = vec![
            key("event:"),
            event.dedupe_key.to_owned(),
            event.type_name.to_owned(),
            event.route.to_owned(),
            now_ms().to_string(),
            event.signed_at.to_string(),
            body,
            self.retention_secs(),
            RECENT_KEPT.to_string(),
            event.audience.unwrap_or_default().to_owned(),
        ];
        let answer: Vec<i64> = self.pool.eval(INSERT, keys, args).await.map_err(backend)?;
        match answer.as_slice() {
            [id, 1] => Ok(Inserted::New(*id)),
            [id, _] => Ok(Inserted::Duplicate(*id)),
            _ => Err(StoreError::new("unexpected answer from the insert script")),
        }
    }

    /// See [`super::EventStore::claim_due`].
    pub async fn claim_due(&self, lease: Duration, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        let now = now_ms();
        let args = vec![now.to_string(), now.saturating_add(ms(lease)).to_string(), limit.to_string(), key("event:")];
        let answer: Value = self.pool.eval(CLAIM, vec![key("due")], args).await.map_err(backend)?;
        let mut events = parse_all(answer)?;
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    /// See [`super::EventStore::handled`] and [`super::EventStore::attempt_failed`].
    pub async fn finish(
        &self,
        id: i64,
        attempt: i64,
        state: State,
        error: Option<&str>,
        retry_in: Option<Duration>,
    ) -> Result<(), StoreError> {
        let next = now_ms().saturating_add(retry_in.map_or(0, ms));
        let keys = vec![key("due"), key(&format!("event:{id}"))];
        let args = vec![
            state.as_str().to_owned(),
            next.to_string(),
            error.unwrap_or_default().to_owned(),
            self.retention_secs(),
            id.to_string(),
            attempt.to_string(),
        ];
        let _: i64 = self.pool.eval(FINISH, keys, args).await.map_err(backend)?;
        Ok(())
    }

    /// See [`super::EventStore::next_due`].
    pub async fn next_due(&self) -> Result<Option<i64>, StoreError> {
        let answer: Option<i64> =
            self.pool.eval(NEXT_DUE, vec![key("due")], Vec::<String>::new()).await.map_err(backend)?;
        Ok(answer)
    }

    /// See [`super::EventStore::recent`].
    pub async fn recent(&self, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        let args = vec![key("event:"), "recent".to_owned(), limit.to_string()];
        let answer: Value = self.pool.eval(FETCH, vec![key("recent")], args).await.map_err(backend)?;
        parse_all(answer)
    }

    /// See [`super::EventStore::recent_for`].
    pub async fn recent_for(&self, audience: &[String], limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        let mut args = vec![key("event:"), limit.to_string()];
        args.extend(audience.iter().map(|uuid| key(&format!("recent:{uuid}"))));
        let answer: Value = self.pool.eval(FETCH_FOR, Vec::<String>::new(), args).await.map_err(backend)?;
        parse_all(answer)
    }

    /// See [`super::EventStore::put_endpoint`].
    pub async fn put_endpoint(&self, endpoint: &SealedEndpoint) -> Result<(), StoreError> {
        let events = serde_json::to_string(&endpoint.events).map_err(|e| StoreError::new(e.to_string()))?;
        let keys = vec![key(&format!("endpoint:{}", endpoint.id)), key("endpoints")];
        let args = vec![
            endpoint.id.clone(),
            "id".to_owned(),
            endpoint.id.clone(),
            "subscription_id".to_owned(),
            endpoint.subscription_id.clone(),
            "owner".to_owned(),
            endpoint.owner.clone(),
            "events".to_owned(),
            events,
            "created_at".to_owned(),
            endpoint.created_at.to_string(),
            "secret".to_owned(),
            endpoint.secret.as_deref().map(crate::infra::crypto::b64).unwrap_or_default(),
        ];
        let _: i64 = self.pool.eval(PUT_ENDPOINT, keys, args).await.map_err(backend)?;
        Ok(())
    }

    /// See [`super::EventStore::endpoint`].
    pub async fn endpoint(&self, id: &str) -> Result<Option<SealedEndpoint>, StoreError> {
        let args = vec![key("endpoint:"), id.to_owned()];
        let answer: Value = self.pool.eval(FETCH_ENDPOINTS, vec![key("endpoints")], args).await.map_err(backend)?;
        Ok(answer.into_array().into_iter().filter_map(|fields| endpoint_from(fields.into_array())).next())
    }

    /// See [`super::EventStore::endpoints`].
    pub async fn endpoints(&self) -> Result<Vec<SealedEndpoint>, StoreError> {
        let answer: Value =
            self.pool.eval(FETCH_ENDPOINTS, vec![key("endpoints")], vec![key("endpoint:")]).await.map_err(backend)?;
        let mut all: Vec<SealedEndpoint> =
            answer.into_array().into_iter().filter_map(|fields| endpoint_from(fields.into_array())).collect();
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(all)
    }

    /// See [`super::EventStore::delete_endpoints_of`].
    pub async fn delete_endpoints_of(&self, subscription_id: &str) -> Result<(), StoreError> {
        let args = vec![key("endpoint:"), subscription_id.to_owned()];
        let _: i64 = self.pool.eval(DELETE_ENDPOINTS_OF, vec![key("endpoints")], args).await.map_err(backend)?;
        Ok(())
    }

    /// See [`super::EventStore::get`].
    pub async fn get(&self, id: i64) -> Result<Option<StoredEvent>, StoreError> {
        let args = vec![key("event:"), "one".to_owned(), id.to_string()];
        let answer: Value = self.pool.eval(FETCH, vec![key("recent")], args).await.map_err(backend)?;
        Ok(parse_all(answer)?.into_iter().next())
    }
}

/// An endpoint's `HGETALL` answer (a flat field/value list) as an endpoint.
fn endpoint_from(flat: Vec<Value>) -> Option<SealedEndpoint> {
    let mut fields: HashMap<String, String> = HashMap::new();
    let mut iter = flat.into_iter();
    while let (Some(name), Some(value)) = (iter.next(), iter.next()) {
        if let (Some(name), Some(value)) = (name.as_string(), value.as_string()) {
            fields.insert(name, value);
        }
    }
    let text = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let id = fields.get("id")?.clone();
    let secret = text("secret");
    Some(SealedEndpoint {
        id,
        subscription_id: text("subscription_id"),
        owner: text("owner"),
        events: serde_json::from_str(&text("events")).unwrap_or_default(),
        created_at: text("created_at").parse().unwrap_or_default(),
        // An undecodable secret stays `Some`, and will not open: deliveries are refused.
        secret: (!secret.is_empty()).then(|| crate::infra::crypto::unb64(&secret).unwrap_or_default()),
    })
}

/// A list of `HGETALL` answers (flat field/value lists) as events.
fn parse_all(answer: Value) -> Result<Vec<StoredEvent>, StoreError> {
    answer.into_array().into_iter().filter(|v| !v.is_null()).map(|fields| parse(fields.into_array())).collect()
}

fn parse(flat: Vec<Value>) -> Result<StoredEvent, StoreError> {
    let mut fields: HashMap<String, Value> = HashMap::new();
    let mut iter = flat.into_iter();
    while let (Some(name), Some(value)) = (iter.next(), iter.next()) {
        if let Some(name) = name.as_string() {
            fields.insert(name, value);
        }
    }
    let text = |name: &str| fields.get(name).and_then(Value::as_string).unwrap_or_default();
    let number = |name: &str| fields.get(name).and_then(|v| v.as_string()).and_then(|s| s.parse::<i64>().ok());
    let id = number("id").ok_or_else(|| StoreError::new("a stored event has no id"))?;
    let last_error = text("last_error");
    let audience = text("audience");
    let sealed = text("sealed") == "1";
    // A sealed body is base64url; an undecodable one is left as it is (and will not open).
    let body =
        if sealed { crate::infra::crypto::unb64(&text("body")).unwrap_or_default() } else { text("body").into_bytes() };
    Ok(StoredEvent {
        id,
        dedupe_key: text("dedupe_key"),
        type_name: text("type_name"),
        route: text("route"),
        received_at: number("received_at").unwrap_or_default(),
        signed_at: number("signed_at").unwrap_or_default(),
        body,
        deliveries: number("deliveries").unwrap_or(1),
        state: State::parse(&text("state")),
        attempts: number("attempts").unwrap_or_default(),
        last_error: (!last_error.is_empty()).then_some(last_error),
        audience: (!audience.is_empty()).then_some(audience),
        sealed,
    })
}
