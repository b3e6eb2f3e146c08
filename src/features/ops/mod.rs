//! Operations endpoints: `/healthz` (alive), `/readyz` (the session store answers) and
//! `/metrics` (Prometheus text from [`crate::infra::metrics`]).
//!
//! `/metrics` is not public ([`authorized`]): with `METRICS_TOKEN` set it needs
//! `Authorization: Bearer <token>`; without it, it answers only a client on this host, the
//! client address being the one the rate limits use (`X-Forwarded-For` believed from
//! `TRUSTED_PROXIES` only). Behind `TLS_TERMINATED_BY_PROXY` the token is required: there
//! every client arrives from the proxy, often over loopback, and a forgotten
//! `TRUSTED_PROXIES` would make the metrics public. `/readyz` tells the public ready or not;
//! why not goes to the log, and to a caller allowed to read metrics.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::auth::store::{AnyStore, SealedStore};
use crate::config::{Config, TlsSetting};
use crate::infra::metrics::metrics;

/// What the ops endpoints need.
#[derive(Clone, Debug)]
pub struct Ops {
    /// `METRICS_TOKEN`, `TLS_TERMINATED_BY_PROXY`, `TRUSTED_PROXIES`.
    pub config: Arc<Config>,
    /// The store `/readyz` probes.
    pub session_store: SealedStore<AnyStore>,
}

/// `/healthz`, `/readyz`, `/metrics`.
pub fn router<S: Clone + Send + Sync + 'static>(ops: Ops) -> Router<S> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(endpoint))
        .with_state(ops)
}

/// Whether a request may read metrics (and readiness details): the bearer of
/// `METRICS_TOKEN` when one is set; otherwise a client on this host, unless TLS is terminated
/// by a proxy (then the token is required).
pub fn authorized(state: &Ops, headers: &HeaderMap, peer: Option<SocketAddr>) -> bool {
    match &state.config.metrics_token {
        Some(token) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| {
                crate::infra::crypto::constant_time_eq(
                    given.as_bytes(),
                    secrecy::ExposeSecret::expose_secret(token).as_bytes(),
                )
            }),
        None if state.config.server.tls == TlsSetting::TerminatedByProxy => false,
        None => peer.is_some_and(|peer| {
            crate::infra::rate_limit::client_ip(peer.ip(), headers, &state.config.trusted_proxies).is_loopback()
        }),
    }
}

fn peer(request: &Request) -> Option<SocketAddr> {
    request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0)
}

/// `GET /metrics`.
pub async fn endpoint(State(state): State<Ops>, request: Request) -> Response {
    if !authorized(&state, request.headers(), peer(&request)) {
        let why = if state.config.server.tls == TlsSetting::TerminatedByProxy {
            "metrics need METRICS_TOKEN (Authorization: Bearer) when TLS_TERMINATED_BY_PROXY is set"
        } else {
            "metrics need METRICS_TOKEN (Authorization: Bearer) or a client on this host"
        };
        // For a scraper's log: the reason as plain text, not the HTML error page.
        let mut response = (StatusCode::FORBIDDEN, why).into_response();
        response.extensions_mut().insert(crate::web::middleware::Passthrough);
        return response;
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics().render()).into_response()
}

/// `GET /readyz`: 200 when the session store answers, 503 when not. Why not is logged, and
/// shown only to a caller [`authorized`] to read metrics.
pub async fn ready(State(state): State<Ops>, request: Request) -> Response {
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
