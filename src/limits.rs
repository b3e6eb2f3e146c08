//! Abuse limits per client IP on the routes that cost something upstream: `/api/oauth/*`
//! (each login starts a session and a consent) and `/api/fanvue/*` (each call spends the
//! user's Fanvue budget). A fixed one-minute window per IP; over it, `429` with
//! `Retry-After`.
//!
//! The client IP is the TCP peer, or, when the peer is one of `TRUSTED_PROXIES`, the last
//! `X-Forwarded-For` entry that is not itself a trusted proxy. `X-Forwarded-For` from anyone
//! else is ignored: it is just a header a client can type.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

const WINDOW: Duration = Duration::from_secs(60);
/// Above this many tracked IPs, stale windows are dropped (bounded memory under churn).
const MAX_TRACKED: usize = 50_000;

/// Per-IP request counts in the current window.
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    /// Counts one request from `ip`; `Err(seconds to wait)` when over `limit`.
    pub fn check(&self, ip: IpAddr, limit: u32, now: Instant) -> Result<(), u64> {
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
    if limit == 0 || !(path.starts_with("/api/oauth/") || path.starts_with("/api/fanvue/")) {
        return next.run(request).await;
    }
    let Some(peer) = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()) else {
        return next.run(request).await; // in-process tests have no peer
    };
    let ip = client_ip(peer, request.headers(), &state.config.trusted_proxies);
    match state.rate_limiter.check(ip, limit, Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            tracing::info!(%ip, "rate limit reached");
            let mut response = (StatusCode::TOO_MANY_REQUESTS, "").into_response();
            if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
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
