//! Abuse limits per client IP on the routes that cost something upstream: `/api/oauth/*`
//! (each login starts a session and a consent), `/api/fanvue/*` (each call spends the user's
//! Fanvue budget) and `/api/embedded/*`. Over the limit: `429` with `Retry-After`.
//!
//! Limits are GCRA ([`governor`]): `N` a minute lets a burst of `N` through, then one more every
//! `60/N` seconds, so a client that went over waits seconds, not the rest of a minute, and no
//! window boundary lets `2N` through at once (over a whole minute: at most the burst plus what
//! refilled meanwhile). Each limiter keeps one timestamp per key in a
//! concurrent map; [`RateLimits::start_housekeeping`] drops the keys whose burst has refilled
//! (they are no different from keys never seen), which bounds memory under churn.
//!
//! The same limit keyed by Fanvue user (and managed creator) is the budget ([`RateLimits::fanvue_budget`])
//! that keeps the app under Fanvue's 200 requests a minute: past `FANVUE_BUDGET_PER_MINUTE`
//! the app answers 429 itself instead of spending the user's quota at Fanvue. When sessions are
//! in Redis every instance counts the same budget there, with the same algorithm in one Lua
//! script ([`crate::infra::redis::RedisStore::gcra`]).
//!
//! The client IP is the TCP peer, or, when the peer is one of `TRUSTED_PROXIES`, the last
//! `X-Forwarded-For` entry that is not itself a trusted proxy. `X-Forwarded-For` from anyone
//! else is ignored: it is just a header a client can type. Every per-client count keys on
//! [`ip_key`]: an IPv6 client counts as its /64, since one host gets a whole /64 to pick
//! addresses from.
//!
//! [`ConnectionGate`] caps open connections (`MAX_CONNECTIONS`, `MAX_CONNECTIONS_PER_IP`) for
//! the listener; it sees only the TCP peer, so connections from a trusted proxy count against
//! the instance's total only.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::infra::redis::RedisStore;

/// How often keys whose burst has refilled are dropped.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(30);

/// A GCRA limit per key (a client IP, a Fanvue user), kept in this process.
pub struct KeyedLimit<K: Hash + Eq + Clone, C: Clock = DefaultClock> {
    limiter: RateLimiter<K, DashMapStateStore<K>, C, NoOpMiddleware<C::Instant>>,
    quota: Quota,
}

/// The quota and the number of keys, not the keys: they are client addresses and users.
impl<K: Hash + Eq + Clone, C: Clock> std::fmt::Debug for KeyedLimit<K, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedLimit").field("quota", &self.quota).field("tracked", &self.limiter.len()).finish()
    }
}

impl<K: Hash + Eq + Clone> KeyedLimit<K> {
    /// `limit` a minute per key, in one burst at most; `None` when `limit` is 0 (no limit).
    pub fn per_minute(limit: u32) -> Option<Self> {
        NonZeroU32::new(limit).map(|limit| Self::with_clock(Quota::per_minute(limit), DefaultClock::default()))
    }
}

impl<K: Hash + Eq + Clone, C: Clock> KeyedLimit<K, C> {
    /// A limit of `quota` per key, on `clock` (tests move a fake one).
    pub fn with_clock(quota: Quota, clock: C) -> Self {
        KeyedLimit { limiter: RateLimiter::dashmap_with_clock(quota, clock), quota }
    }

    /// Counts one request for `key`; `Err(time to wait)` when it does not conform (and is not
    /// counted).
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        self.limiter.check_key(key).map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }

    /// The quota: burst size and refill interval.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// Drops the keys whose burst has refilled, and the memory they held.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// Keys tracked now.
    pub fn tracked(&self) -> usize {
        self.limiter.len()
    }
}

/// The app's limits, from `RATE_LIMIT_PER_MINUTE` and `FANVUE_BUDGET_PER_MINUTE`.
pub struct RateLimits {
    /// Per client ([`ip_key`]) on the routes that take the per-client limit layer; `None`: off.
    pub per_client: Option<KeyedLimit<IpAddr>>,
    /// Fanvue calls per user (or user and managed creator) counted in this process: the budget
    /// itself when sessions are not in Redis, the fallback while Redis does not answer. `None`: off.
    pub fanvue_budget: Option<KeyedLimit<String>>,
    /// Where every instance counts the budget together (the sessions' Redis), if anywhere.
    shared: Option<RedisStore>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("per_client", &self.per_client)
            .field("fanvue_budget", &self.fanvue_budget)
            .field("shared", &self.shared.is_some())
            .finish()
    }
}

impl RateLimits {
    /// The limits: `per_client` requests and `fanvue_budget` Fanvue calls a minute (0: off),
    /// the budget counted in `shared` Redis when there is one.
    pub fn new(per_client: u32, fanvue_budget: u32, shared: Option<RedisStore>) -> Self {
        RateLimits {
            per_client: KeyedLimit::per_minute(per_client),
            fanvue_budget: KeyedLimit::per_minute(fanvue_budget),
            shared,
        }
    }

    /// Counts one Fanvue call against `bucket`'s budget; `Err(seconds to wait)` when spent.
    /// `bucket` already names whose budget it is (user, or user and managed creator).
    pub async fn fanvue_budget(&self, bucket: &str) -> Result<(), u64> {
        let Some(local) = &self.fanvue_budget else {
            return Ok(());
        };
        let decision = match &self.shared {
            Some(redis) => match redis.gcra(&format!("budget:{bucket}"), local.quota()).await {
                Ok(decision) => decision,
                Err(err) => {
                    // Redis trouble must not stop Fanvue calls: fall back to this instance's count.
                    tracing::debug!(%err, "the shared Fanvue budget is unavailable; counting in this instance");
                    local.check(&bucket.to_owned())
                }
            },
            None => local.check(&bucket.to_owned()),
        };
        decision.map_err(retry_after_secs)
    }

    /// Drops idle keys from every limiter.
    pub fn forget_idle(&self) {
        if let Some(limit) = &self.per_client {
            limit.forget_idle();
        }
        if let Some(limit) = &self.fanvue_budget {
            limit.forget_idle();
        }
    }

    /// Runs [`Self::forget_idle`] every [`HOUSEKEEPING_EVERY`] until the limits are dropped (the
    /// task holds no reference that would keep them alive).
    pub fn start_housekeeping(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let limits = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(HOUSEKEEPING_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                match limits.upgrade() {
                    Some(limits) => limits.forget_idle(),
                    None => return,
                }
            }
        })
    }
}

/// `Retry-After` for a wait: whole seconds, rounded up (waiting less would be refused again).
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// The key a client's counts are kept under: an IPv4 address as it is, an IPv6 address as its
/// /64 (an IPv4-mapped one as its IPv4 address).
pub fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Open connections: at most `total` for the instance and `per_ip` per client key
/// ([`ip_key`]); a trusted proxy's connections count against the total only (its clients are
/// behind one address). Admission is a [`ConnectionPermit`]; dropping it closes the count.
#[derive(Debug)]
pub struct ConnectionGate {
    total: usize,
    per_ip: usize,
    trusted: Vec<IpAddr>,
    open: Mutex<OpenConnections>,
}

#[derive(Debug, Default)]
struct OpenConnections {
    total: usize,
    per_key: HashMap<IpAddr, usize>,
}

/// Which connection cap refused a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionRefusal {
    /// `MAX_CONNECTIONS`.
    Total,
    /// `MAX_CONNECTIONS_PER_IP`.
    PerIp,
}

/// One admitted connection, counted until dropped.
#[derive(Debug)]
pub struct ConnectionPermit {
    gate: Arc<ConnectionGate>,
    key: Option<IpAddr>,
}

impl ConnectionGate {
    /// A gate with these caps (each at least 1).
    pub fn new(total: usize, per_ip: usize, trusted: Vec<IpAddr>) -> Self {
        ConnectionGate { total: total.max(1), per_ip: per_ip.max(1), trusted, open: Mutex::default() }
    }

    /// Admits a connection from `peer`, or says which cap it would break.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<ConnectionPermit, ConnectionRefusal> {
        let key = (!self.trusted.contains(&peer)).then(|| ip_key(peer));
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if open.total >= self.total {
            crate::infra::metrics::metrics().connection_refused(false);
            return Err(ConnectionRefusal::Total);
        }
        if let Some(key) = key {
            let count = open.per_key.entry(key).or_insert(0);
            if *count >= self.per_ip {
                crate::infra::metrics::metrics().connection_refused(true);
                return Err(ConnectionRefusal::PerIp);
            }
            *count += 1;
        }
        open.total += 1;
        crate::infra::metrics::metrics().connection(true);
        Ok(ConnectionPermit { gate: self.clone(), key })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner).total
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        crate::infra::metrics::metrics().connection(false);
        let mut open = self.gate.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(key) = self.key
            && let Some(count) = open.per_key.get_mut(&key)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.per_key.remove(&key);
            }
        }
    }
}

/// The client's address, believing `X-Forwarded-For` only from a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::http::HeaderValue;
    use governor::clock::FakeRelativeClock;

    /// `limit` a minute per key, on a clock the test moves.
    fn per_minute(limit: u32) -> (KeyedLimit<IpAddr, FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let quota = Quota::per_minute(NonZeroU32::new(limit).unwrap_or(NonZeroU32::MIN));
        (KeyedLimit::with_clock(quota, clock.clone()), clock)
    }

    #[test]
    fn a_burst_up_to_the_limit_passes_then_the_rate_refills() {
        let (limit, clock) = per_minute(3);
        let ip: IpAddr = [203, 0, 113, 7].into();
        for i in 0..3 {
            assert!(limit.check(&ip).is_ok(), "request {i} of the burst");
        }
        // One request comes back every 60/3 = 20 s.
        assert_eq!(limit.check(&ip), Err(Duration::from_secs(20)));
        clock.advance(Duration::from_secs(5));
        let wait = limit.check(&ip).err();
        assert_eq!(wait, Some(Duration::from_secs(15)), "a refused request is not counted");
        assert_eq!(wait.map(retry_after_secs), Some(15));
        assert!(limit.check(&[198, 51, 100, 1].into()).is_ok(), "per IP");
        clock.advance(Duration::from_secs(15));
        assert!(limit.check(&ip).is_ok(), "one refilled");
        assert!(limit.check(&ip).is_err(), "only one");
        clock.advance(Duration::from_secs(60));
        for i in 0..3 {
            assert!(limit.check(&ip).is_ok(), "a whole burst again after a quiet minute ({i})");
        }
        assert!(limit.check(&ip).is_err());
    }

    #[test]
    fn keys_whose_burst_refilled_are_forgotten() {
        let (limit, clock) = per_minute(2);
        for last in 0..100u8 {
            assert!(limit.check(&[198, 51, 100, last].into()).is_ok());
        }
        clock.advance(Duration::from_secs(60));
        let busy: IpAddr = [203, 0, 113, 7].into();
        assert!(limit.check(&busy).is_ok() && limit.check(&busy).is_ok());
        assert_eq!(limit.tracked(), 101);
        limit.forget_idle();
        assert_eq!(limit.tracked(), 1, "only the key whose burst has not refilled");
        assert_eq!(limit.check(&busy), Err(Duration::from_secs(30)), "its state was kept");
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(315)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(20)), 20);
        assert_eq!(retry_after_secs(Duration::ZERO), 1, "never `Retry-After: 0` on a refusal");
    }

    #[test]
    fn a_zero_limit_is_no_limit() {
        let limits = RateLimits::new(0, 0, None);
        assert!(limits.per_client.is_none() && limits.fanvue_budget.is_none());
        let limits = RateLimits::new(1, 5, None);
        assert_eq!(limits.fanvue_budget.map(|l| l.quota().burst_size().get()), Some(5));
    }

    #[test]
    fn ipv6_clients_are_keyed_on_their_64_and_ipv4_on_the_address() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert_eq!(ip_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")), ip("2001:db8:1:2::"));
        assert_eq!(ip_key(ip("2001:db8:1:2::1")), ip_key(ip("2001:db8:1:2:ffff::9")), "one /64, one key");
        assert_ne!(ip_key(ip("2001:db8:1:2::1")), ip_key(ip("2001:db8:1:3::1")), "the next /64 is someone else");
        assert_eq!(ip_key(ip("203.0.113.7")), ip("203.0.113.7"));
        assert_eq!(ip_key(ip("::ffff:203.0.113.7")), ip("203.0.113.7"), "IPv4-mapped: the IPv4 address");
        assert_ne!(ip_key(ip("203.0.113.7")), ip_key(ip("203.0.113.8")));

        // The rate limit counts the whole /64 as one client.
        let (limit, _clock) = per_minute(1);
        assert!(limit.check(&ip_key(ip("2001:db8::1"))).is_ok());
        assert!(limit.check(&ip_key(ip("2001:db8::2"))).is_err(), "another address in the /64");
        assert!(limit.check(&ip_key(ip("2001:db8:0:1::1"))).is_ok(), "another /64");
    }

    #[test]
    fn connections_are_capped_in_total_and_per_client() {
        let proxy: IpAddr = [10, 0, 0, 2].into();
        let gate = Arc::new(ConnectionGate::new(4, 2, vec![proxy]));
        let a1: IpAddr = "2001:db8::1".parse().unwrap_or(proxy);
        let a2: IpAddr = "2001:db8::2".parse().unwrap_or(proxy);
        let first = gate.admit(a1);
        let second = gate.admit(a2);
        assert!(first.is_ok() && second.is_ok());
        assert_eq!(gate.admit(a1).err(), Some(ConnectionRefusal::PerIp), "the /64 holds two already");
        let other = gate.admit([198, 51, 100, 1].into());
        assert!(other.is_ok(), "another client is unaffected");
        let via_proxy = gate.admit(proxy);
        assert!(via_proxy.is_ok(), "a trusted proxy is not capped per IP");
        assert_eq!(gate.admit([198, 51, 100, 2].into()).err(), Some(ConnectionRefusal::Total));
        drop(first);
        assert_eq!(gate.open(), 3);
        assert!(gate.admit(a1).is_ok(), "a closed connection frees its place");
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = [10, 0, 0, 2].into();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("198.51.100.9, 203.0.113.7, 10.0.0.2"));
        assert_eq!(client_ip(proxy, &headers, &[proxy]), IpAddr::from([203, 0, 113, 7]));
        assert_eq!(client_ip(proxy, &headers, &[]), proxy, "untrusted peer: header ignored");
        let stranger: IpAddr = [192, 0, 2, 1].into();
        assert_eq!(client_ip(stranger, &headers, &[proxy]), stranger);
    }
}
