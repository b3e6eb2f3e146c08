//! Prometheus metrics for operators: requests by route and status with a latency histogram,
//! Fanvue calls by endpoint and status, token refreshes and their failures, sessions created,
//! and rate-limit answers. Counted in process (one registry per process, as Prometheus
//! exporters do) and rendered in Prometheus' text format at `GET /metrics`.
//!
//! `/metrics` is not public ([`authorized`]): with `METRICS_TOKEN` set it needs
//! `Authorization: Bearer <token>`; without it, it answers only a client on this host, the
//! client address being the one the rate limits use (`X-Forwarded-For` believed from
//! `TRUSTED_PROXIES` only). Behind `TLS_TERMINATED_BY_PROXY` the token is required: there
//! every client arrives from the proxy, often over loopback, and a forgotten
//! `TRUSTED_PROXIES` would make the metrics public. `/readyz` tells the public ready or not;
//! why not goes to the log, and to a caller allowed to read metrics.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::TlsSetting;
use crate::state::AppState;

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Default)]
struct RouteStats {
    statuses: BTreeMap<u16, u64>,
    latency: Histogram,
}

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// The process's metrics.
#[derive(Default)]
pub struct Metrics {
    /// Per route pattern: answers by status, and the latency histogram. One lock, and no
    /// allocation once a route has been seen (this runs on every request).
    routes: Mutex<HashMap<String, RouteStats>>,
    upstream: Mutex<BTreeMap<(String, u16), u64>>,
    refreshes: AtomicU64,
    refresh_failures: AtomicU64,
    sessions_created: AtomicU64,
    rate_limited: AtomicU64,
    webhooks: Mutex<BTreeMap<&'static str, u64>>,
    store_loads: AtomicU64,
    store_saves: AtomicU64,
    connections_open: AtomicU64,
    connections_refused_total: AtomicU64,
    connections_refused_per_ip: AtomicU64,
    connections_idle_closed: AtomicU64,
}

/// The process-wide registry.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::default)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Metrics {
    /// One answered request: `route` is the route pattern (never the raw path: bounded labels).
    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut routes = lock(&self.routes);
        let stats = match routes.get_mut(route) {
            Some(stats) => stats,
            None => routes.entry(route.to_owned()).or_default(),
        };
        *stats.statuses.entry(status).or_default() += 1;
        let h = &mut stats.latency;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
        if status == 429 {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One call to Fanvue: `endpoint` is the pattern from the endpoint table; status 0 means
    /// no answer (timeout, connection failure).
    pub fn upstream(&self, endpoint: &str, status: u16) {
        *lock(&self.upstream).entry((endpoint.to_owned(), status)).or_default() += 1;
    }

    /// A token refresh that succeeded, or not.
    pub fn refresh(&self, ok: bool) {
        let counter = if ok { &self.refreshes } else { &self.refresh_failures };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A webhook delivery: `accepted`, `duplicate`, or the rejection code.
    pub fn webhook(&self, outcome: &'static str) {
        *lock(&self.webhooks).entry(outcome).or_default() += 1;
    }

    /// A read (`save == false`) or write of the session store (session records and tokens).
    pub fn session_store(&self, save: bool) {
        let counter = if save { &self.store_saves } else { &self.store_loads };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection was admitted (`true`) or closed (`false`).
    pub fn connection(&self, opened: bool) {
        if opened {
            self.connections_open.fetch_add(1, Ordering::Relaxed);
        } else {
            // Never below zero, even if a close were counted twice.
            let _ = self.connections_open.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
    }

    /// A connection refused at once: over `MAX_CONNECTIONS_PER_IP` (`per_ip`) or `MAX_CONNECTIONS`.
    pub fn connection_refused(&self, per_ip: bool) {
        let counter = if per_ip { &self.connections_refused_per_ip } else { &self.connections_refused_total };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection closed after `HTTP_IDLE_TIMEOUT_SECS` without a request in progress.
    pub fn connection_idle_closed(&self) {
        self.connections_idle_closed.fetch_add(1, Ordering::Relaxed);
    }

    /// A session signed in.
    pub fn session_created(&self) {
        self.sessions_created.fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let label = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let _ = writeln!(
            out,
            "# HELP session_store_operations_total Session store reads and writes (records and tokens).\n# TYPE session_store_operations_total counter"
        );
        let _ =
            writeln!(out, "session_store_operations_total{{op=\"load\"}} {}", self.store_loads.load(Ordering::Relaxed));
        let _ =
            writeln!(out, "session_store_operations_total{{op=\"save\"}} {}", self.store_saves.load(Ordering::Relaxed));
        let _ = writeln!(
            out,
            "# HELP webhook_deliveries_total Webhook deliveries, by outcome.\n# TYPE webhook_deliveries_total counter"
        );
        for (outcome, n) in lock(&self.webhooks).iter() {
            let _ = writeln!(out, "webhook_deliveries_total{{outcome=\"{outcome}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP http_requests_total Requests answered, by route and status.\n# TYPE http_requests_total counter"
        );
        let routes = lock(&self.routes);
        let mut names: Vec<&String> = routes.keys().collect();
        names.sort();
        for (route, stats) in names.iter().filter_map(|r| Some((*r, routes.get(*r)?))) {
            for (status, n) in &stats.statuses {
                let _ = writeln!(out, "http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}", label(route));
            }
        }
        let _ = writeln!(
            out,
            "# HELP http_request_duration_seconds Time to answer, by route.\n# TYPE http_request_duration_seconds histogram"
        );
        for (route, h) in names.iter().filter_map(|r| Some((*r, &routes.get(*r)?.latency))) {
            let route = label(route);
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(out, "http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "http_request_duration_seconds_sum{{route=\"{route}\"}} {}", h.sum);
            let _ = writeln!(out, "http_request_duration_seconds_count{{route=\"{route}\"}} {}", h.count);
        }
        drop(routes);
        let _ = writeln!(
            out,
            "# HELP fanvue_upstream_requests_total Calls to the Fanvue API, by endpoint and status (0: no answer).\n# TYPE fanvue_upstream_requests_total counter"
        );
        for ((endpoint, status), n) in lock(&self.upstream).iter() {
            let _ = writeln!(
                out,
                "fanvue_upstream_requests_total{{endpoint=\"{}\",status=\"{status}\"}} {n}",
                label(endpoint)
            );
        }
        let _ = writeln!(
            out,
            "# HELP http_connections_open Connections open now (TLS handshakes included).\n# TYPE http_connections_open gauge\nhttp_connections_open {}",
            self.connections_open.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP http_connections_refused_total Connections closed at once because a cap was reached, by cap.\n# TYPE http_connections_refused_total counter"
        );
        for (limit, counter) in
            [("total", &self.connections_refused_total), ("per_ip", &self.connections_refused_per_ip)]
        {
            let _ = writeln!(
                out,
                "http_connections_refused_total{{limit=\"{limit}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        for (name, help, value) in [
            (
                "http_connections_idle_closed_total",
                "Connections closed after HTTP_IDLE_TIMEOUT_SECS without a request in progress.",
                &self.connections_idle_closed,
            ),
            ("fanvue_token_refreshes_total", "Access-token refreshes that succeeded.", &self.refreshes),
            ("fanvue_token_refresh_failures_total", "Access-token refreshes that failed.", &self.refresh_failures),
            ("fanvue_sessions_created_total", "Sessions signed in.", &self.sessions_created),
            ("http_rate_limited_total", "Requests answered 429.", &self.rate_limited),
        ] {
            let _ =
                writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", value.load(Ordering::Relaxed));
        }
        out
    }
}

/// Middleware: counts every answered request under its route pattern.
pub async fn record(request: Request, next: Next) -> Response {
    // MatchedPath is a shared string: cloning it allocates nothing.
    let route = request.extensions().get::<axum::extract::MatchedPath>().cloned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let route = route.as_ref().map_or("unmatched", |p| p.as_str());
    metrics().request(route, response.status().as_u16(), started.elapsed());
    response
}

/// Whether a request may read metrics (and readiness details): the bearer of
/// `METRICS_TOKEN` when one is set; otherwise a client on this host, unless TLS is terminated
/// by a proxy (then the token is required).
pub fn authorized(state: &AppState, headers: &HeaderMap, peer: Option<SocketAddr>) -> bool {
    match &state.config.metrics_token {
        Some(token) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| {
                crate::crypto::constant_time_eq(
                    given.as_bytes(),
                    secrecy::ExposeSecret::expose_secret(token).as_bytes(),
                )
            }),
        None if state.config.server.tls == TlsSetting::TerminatedByProxy => false,
        None => peer.is_some_and(|peer| {
            crate::limits::client_ip(peer.ip(), headers, &state.config.trusted_proxies).is_loopback()
        }),
    }
}

fn peer(request: &Request) -> Option<SocketAddr> {
    request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0)
}

/// `GET /metrics`.
pub async fn endpoint(State(state): State<AppState>, request: Request) -> Response {
    if !authorized(&state, request.headers(), peer(&request)) {
        let why = if state.config.server.tls == TlsSetting::TerminatedByProxy {
            "metrics need METRICS_TOKEN (Authorization: Bearer) when TLS_TERMINATED_BY_PROXY is set"
        } else {
            "metrics need METRICS_TOKEN (Authorization: Bearer) or a client on this host"
        };
        // For a scraper's log: the reason as plain text, not the HTML error page.
        let mut response = (StatusCode::FORBIDDEN, why).into_response();
        response.extensions_mut().insert(crate::middleware::Passthrough);
        return response;
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics().render()).into_response()
}

/// `GET /readyz`: 200 when the session store answers, 503 when not. Why not is logged, and
/// shown only to a caller [`authorized`] to read metrics.
pub async fn ready(State(state): State<AppState>, request: Request) -> Response {
    use tower_sessions::SessionStore;
    let probe = tower_sessions::session::Id(0);
    let problem = match tokio::time::timeout(Duration::from_secs(3), state.session_store.load(&probe)).await {
        Ok(Ok(_)) => None,
        Ok(Err(err)) => Some(err.to_string()),
        Err(_) => Some("no answer within 3 s".to_owned()),
    };
    if let Some(problem) = &problem {
        tracing::warn!(session_store = %problem, "not ready: the session store does not answer");
    }
    let (status, word) = match problem {
        None => (StatusCode::OK, "ready"),
        Some(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    };
    let mut body = serde_json::json!({ "status": word });
    if authorized(&state, request.headers(), peer(&request)) {
        body["sessionStore"] = serde_json::Value::String(problem.unwrap_or_else(|| "ok".to_owned()));
    }
    (status, axum::Json(body)).into_response()
}
