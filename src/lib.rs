//! # fanvue-app-starter
//!
//! A Rust starter for Fanvue apps: an axum server on HTTPS that signs creators in with
//! Fanvue (OAuth 2.0 + PKCE), keeps their tokens in sealed server-side sessions, and calls
//! the Fanvue API for server-rendered pages and a scope-gated JSON proxy.
//!
//! ## Map
//!
//! ```text
//! main.rs ─► run() ─► router(): pages · oauth::routes · proxy · assets ─► middleware::stack
//!                          │ extract (tower_sessions::Session, raw query/body)
//!                          ▼
//!            domain: oauth (login, refresh) · upstream (one call path) · fanvue (client,
//!                    endpoint table) · scopes · crypto
//!                          ▼
//!            infrastructure: config · session (sealed store) · server (listener) · tls · limits
//!                            · sandbox (--sandbox)
//! error.rs: domain errors ──From──► AppError ──► middleware::render_errors ──► HTML or JSON
//! ```
//!
//! Arrows point down only: domain modules never build responses, handlers never build
//! Fanvue URLs. The two seams tests use are [`build_app`] (a `Router` for in-process
//! `oneshot` tests) and the binary itself (end-to-end over TLS).

pub mod assets;
pub mod cache;
pub mod config;
pub mod crypto;
pub mod embedded;
pub mod entitlements;
pub mod error;
// Fanvue's contract and client live in their own crate (`crates/fanvue`); re-exported so
// `crate::fanvue::…` and `crate::scopes::…` name them.
pub use ::fanvue;
pub use ::fanvue::scopes;
pub mod limits;
pub mod metrics;
pub mod middleware;
pub mod oauth;
pub mod pages;
pub mod proxy;
pub mod redis;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod server;
pub mod session;
pub mod state;
pub mod tls;
pub mod upstream;
pub mod webhooks;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
#[cfg(feature = "sandbox")]
use axum_server::Handle;
use tokio_util::sync::CancellationToken;

use config::{Config, ConfigError, Mode};
use state::AppState;

/// How long in-flight requests get to finish after SIGTERM/SIGINT.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Installs ring as the process's one rustls crypto provider. Call it before building any
/// TLS client or server (reqwest with `rustls-no-provider` panics otherwise).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Why the server could not start. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad or missing configuration.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The certificate could not be loaded or generated.
    #[error("TLS: {0}")]
    Tls(#[from] tls::TlsError),
    /// The session store could not be opened.
    #[error("{0}")]
    Store(#[from] session::StoreError),
    /// The port is taken or not allowed.
    #[error("cannot listen on {addr}: {reason}. Stop whatever uses the port or set PORT (and BASE_URL) to another one")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        reason: String,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// The whole application as a `Router`: routes, session layer and middleware stack.
pub fn build_app(state: AppState) -> Router {
    let routes = Router::new()
        .merge(pages::router())
        .merge(oauth::routes::router(state.config.oauth.redirect_uri.path()))
        .merge(proxy::router())
        .merge(webhooks::routes::router())
        .merge(embedded::router(&state))
        .merge(assets::router())
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(metrics::ready))
        .route("/metrics", get(metrics::endpoint))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(session::layer(state.session_store.clone(), &state.config.session))
        .layer(axum::middleware::from_fn(metrics::record));
    middleware::stack(routes, state.clone()).with_state(state)
}

/// `--healthcheck` (the Docker `HEALTHCHECK`): GETs `/healthz` from the server on this machine
/// at `PORT` (https, or http with `TLS_TERMINATED_BY_PROXY=true`). Exit 0 when it answers 200.
pub async fn healthcheck() -> ExitCode {
    install_crypto_provider();
    let port = std::env::var("PORT").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "3001".into());
    let plain = std::env::var("TLS_TERMINATED_BY_PROXY").is_ok_and(|v| v == "true");
    let url = format!("{}://127.0.0.1:{port}/healthz", if plain { "http" } else { "https" });
    // Its own certificate may be for YOUR_DOMAIN, not 127.0.0.1: only liveness is asked here.
    let client = reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(3))
        .redirect(reqwest::redirect::Policy::none())
        .build();
    let ok = match client {
        Ok(client) => client.get(&url).send().await.is_ok_and(|r| r.status().is_success()),
        Err(_) => false,
    };
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Runs the server (and the sandbox in [`Mode::Sandbox`]) until SIGTERM/SIGINT.
pub async fn run(mode: Mode) -> ExitCode {
    install_crypto_provider();
    match serve(mode).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(mode: Mode) -> Result<(), StartError> {
    #[cfg_attr(not(feature = "sandbox"), allow(unused_mut))]
    let mut config = Config::from_env(mode)?;
    let material = tls::load_or_generate(&config.server.tls)?;
    let tls_config = match &material {
        Some(material) => Some(tls::rustls_config(material).await?),
        None => None,
    };
    let shutdown = CancellationToken::new();

    #[cfg(feature = "sandbox")]
    if let Some(sandbox) = config.sandbox.clone() {
        let app_cert = material.as_ref().map(|m| m.cert_pem.clone());
        start_sandbox(&mut config, sandbox.port, Handle::new(), app_cert.as_deref()).await?;
    }
    #[cfg(not(feature = "sandbox"))]
    if config.sandbox.is_some() {
        return Err(StartError::Other("this binary was built without the sandbox (cargo feature `sandbox`)".into()));
    }

    let addr = SocketAddr::new(config.server.bind, config.server.port);
    let listener = std::net::TcpListener::bind(addr).map_err(|e| StartError::Bind { addr, reason: e.to_string() })?;
    let local = listener.local_addr().map_err(|e| StartError::Bind { addr, reason: e.to_string() })?;
    if config.server.tls == config::TlsSetting::TerminatedByProxy && config.metrics_token.is_none() {
        tracing::warn!("TLS_TERMINATED_BY_PROXY is set and METRICS_TOKEN is not: /metrics answers nobody until it is");
    }
    if config.session.secret_is_ephemeral {
        tracing::warn!("SESSION_SECRET is not set: using a random one, so sessions end when the server restarts");
    }
    let scheme = if tls_config.is_some() { "https" } else { "http (TLS terminated by a proxy)" };
    tracing::info!(
        listen = %local,
        scopes = %config.oauth.scopes,
        redirect_uri = %config.oauth.redirect_uri,
        "serving {scheme}; open {} in your browser",
        config.base_url.as_str().trim_end_matches('/')
    );
    let options = server::ServeOptions {
        limits: config.server.limits.clone(),
        trusted_proxies: config.trusted_proxies.clone(),
        grace: SHUTDOWN_GRACE,
    };
    let state = AppState::new(config).await?;
    state.start_webhook_worker(state.app_event_handler());
    let app = build_app(state);
    // Only the app is told to stop: the sandbox keeps answering its in-flight requests and
    // ends with the process.
    tokio::spawn(shutdown_on_signal(shutdown.clone()));
    server::serve(listener, tls_config, app, options, shutdown)
        .await
        .map_err(|e| StartError::Other(format!("server error: {e}")))?;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Starts the in-process sandbox with `certs/127.0.0.1.pem` (generated once when missing)
/// and makes the app's HTTP client trust that certificate (added to, not replacing, the
/// system roots).
#[cfg(feature = "sandbox")]
async fn start_sandbox(
    config: &mut Config,
    port: u16,
    handle: Handle<SocketAddr>,
    app_cert_pem: Option<&[u8]>,
) -> Result<(), StartError> {
    let setting = config::TlsSetting::Auto { host: "127.0.0.1".to_owned() };
    let material =
        tls::load_or_generate(&setting)?.ok_or_else(|| StartError::Other("the sandbox needs a certificate".into()))?;
    let mut roots = config.api.extra_root_pem.take().unwrap_or_default();
    roots.extend_from_slice(&material.cert_pem);
    config.api.extra_root_pem = Some(roots);
    if let Some(join) = config.sandbox.as_ref().and_then(|s| s.join.clone()) {
        // Another instance runs the sandbox (same folder, so the same certs/127.0.0.1.pem).
        tracing::info!("sandbox: joining the one at {join}");
        return Ok(());
    }
    let sandbox_tls = tls::rustls_config(&material).await?;
    let signing_secret = crypto::b64(&crypto::Key::derive(&material.key_pem, "sandbox-signing-v1").mac(b"sandbox"));
    let state = sandbox::SandboxState::from_config(config, &signing_secret, app_cert_pem);
    let addr = sandbox::spawn(state, port, sandbox_tls, handle).map_err(|e| StartError::Bind {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        reason: format!("{e} (the sandbox's port; set SANDBOX_PORT)"),
    })?;
    tracing::info!(
        "sandbox: a stand-in for Fanvue's sign-in and API at https://{addr} (the app trusts its certificate; your browser will ask once)"
    );
    Ok(())
}

async fn shutdown_on_signal(shutdown: CancellationToken) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
    shutdown.cancel();
}
