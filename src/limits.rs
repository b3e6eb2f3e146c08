//! Abuse limits per client IP on the routes that cost something upstream: `/api/oauth/*`
//! (each login starts a session and a consent) and `/api/fanvue/*` (each call spends the
//! user's Fanvue budget). A fixed one-minute window per IP; over it, `429` with
//! `Retry-After`.
//!
//! The same window, keyed by Fanvue user, is the per-user budget ([`fanvue_budget`]) that
//! keeps the app under Fanvue's 200 requests a minute: past `FANVUE_BUDGET_PER_MINUTE` the app
//! answers 429 itself instead of spending the user's quota at Fanvue (shared by every
//! instance through Redis when sessions are there).
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
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

const WINDOW: Duration = Duration::from_secs(60);
/// Above this many tracked IPs, stale windows are dropped (bounded memory under churn).
const MAX_TRACKED: usize = 50_000;

/// Request counts per key (a client IP, a Fanvue user) in the current one-minute window.
#[derive(Debug)]
pub struct RateLimiter<K = IpAddr> {
    windows: Mutex<HashMap<K, (Instant, u32)>>,
}

impl<K> Default for RateLimiter<K> {
    fn default() -> Self {
        RateLimiter { windows: Mutex::new(HashMap::new()) }
    }
}

impl<K: std::hash::Hash + Eq> RateLimiter<K> {
    /// Counts one request for `ip`; `Err(seconds to wait)` when over `limit`.
    pub fn check(&self, ip: K, limit: u32, now: Instant) -> Result<(), u64> {
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() >= MAX_TRACKED {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = windows.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            let wait = WINDOW.saturating_sub(now.duration_since(entry.0)).as_secs().max(1);
            return Err(wait);
        }
        entry.1 += 1;
        Ok(())
    }
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
            crate::metrics::metrics().connection_refused(false);
            return Err(ConnectionRefusal::Total);
        }
        if let Some(key) = key {
            let count = open.per_key.entry(key).or_insert(0);
            if *count >= self.per_ip {
                crate::metrics::metrics().connection_refused(true);
                return Err(ConnectionRefusal::PerIp);
            }
            *count += 1;
        }
        open.total += 1;
        crate::metrics::metrics().connection(true);
        Ok(ConnectionPermit { gate: self.clone(), key })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner).total
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        crate::metrics::metrics().connection(false);
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

/// Middleware: the per-IP limit on `/api/oauth/*` and `/api/fanvue/*`.
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.config.rate_limit_per_minute;
    let path = request.uri().path();
    // The embedded exchange spends the app's client credentials at Fanvue: limited too.
    if limit == 0
        || !(path.starts_with("/api/oauth/") || path.starts_with("/api/fanvue/") || path.starts_with("/api/embedded/"))
    {
        return next.run(request).await;
    }
    let Some(peer) = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()) else {
        return next.run(request).await; // in-process tests have no peer
    };
    let ip = client_ip(peer, request.headers(), &state.config.trusted_proxies);
    match state.rate_limiter.check(ip_key(ip), limit, Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            tracing::info!(%ip, "rate limit reached");
            // Refused before routing: counted here, under its own label.
            crate::metrics::metrics().request("(rate limited)", 429, Duration::ZERO);
            let mut response = (StatusCode::TOO_MANY_REQUESTS, "").into_response();
            if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
    }
}

/// Counts one Fanvue call against `user`'s budget for this minute; `Err(seconds to wait)`
/// when spent. `user` already names the bucket (user, or user and managed creator).
pub async fn fanvue_budget(state: &AppState, user: &str) -> Result<(), u64> {
    let limit = state.config.fanvue_budget_per_minute;
    if limit == 0 {
        return Ok(());
    }
    let shared = state.tokens.vault_redis();
    match shared {
        Some(redis) => match redis.count_in_window(&format!("budget:{user}"), WINDOW).await {
            Ok((count, reset)) if count > u64::from(limit) => Err(reset.max(1)),
            Ok(_) => Ok(()),
            // Redis trouble must not stop Fanvue calls: fall back to this instance's count.
            Err(_) => state.user_budget.check(user.to_owned(), limit, Instant::now()),
        },
        None => state.user_budget.check(user.to_owned(), limit, Instant::now()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_counts_and_resets() {
        let limiter = RateLimiter::default();
        let ip: IpAddr = [203, 0, 113, 7].into();
        let t0 = Instant::now();
        assert!(limiter.check(ip, 2, t0).is_ok());
        assert!(limiter.check(ip, 2, t0).is_ok());
        let wait = limiter.check(ip, 2, t0 + Duration::from_secs(10)).err();
        assert_eq!(wait, Some(50));
        assert!(limiter.check([198, 51, 100, 1].into(), 2, t0).is_ok(), "per IP");
        assert!(limiter.check(ip, 2, t0 + WINDOW).is_ok(), "a new window");
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
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        assert!(limiter.check(ip_key(ip("2001:db8::1")), 1, t0).is_ok());
        assert!(limiter.check(ip_key(ip("2001:db8::2")), 1, t0).is_err(), "another address in the /64");
        assert!(limiter.check(ip_key(ip("2001:db8:0:1::1")), 1, t0).is_ok(), "another /64");
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
