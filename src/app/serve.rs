//! Starting and stopping the server: reading configuration (under the sandbox's layer with
//! `--sandbox`), the certificate, the listener (or the one handed over), the state, the
//! webhook worker, and a graceful shutdown on SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::build_app;
use super::error::StartError;
use super::state::AppState;
use crate::config::{self, Config};
use crate::infra::{server, tls};

/// How the binary was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Against Fanvue (or any provider configured through the environment).
    Fanvue,
    /// With the built-in sandbox (`--sandbox`), which supplies the provider's settings.
    Sandbox,
}

/// How long in-flight requests get to finish after SIGTERM/SIGINT.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub use crate::infra::tls::install_crypto_provider;

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

/// Listening sockets handed over by whoever started the process (systemd socket activation,
/// `systemfd`, the test harness): `LISTEN_FDS` sockets from fd 3, the first for the app and,
/// with `--sandbox`, the second for the sandbox. A handed-over socket is used as it is, so the
/// port is never free between whoever chose it and the server (no race with other programs),
/// and a privileged port needs no privileges here. `PORT` still names the port in `BASE_URL`.
#[derive(Debug, Default)]
pub struct Inherited {
    app: Option<std::net::TcpListener>,
    // Taken (and so closed) in a production build too, where nothing serves on it.
    #[cfg_attr(not(feature = "sandbox"), allow(dead_code))]
    sandbox: Option<std::net::TcpListener>,
}

impl Inherited {
    /// Takes the sockets named by `LISTEN_FDS` (and removes the variables, so nothing this
    /// process starts inherits them). Call it before any other thread starts: it edits the
    /// environment.
    pub fn from_env() -> Result<Self, String> {
        let mut fds = listenfd::ListenFd::from_env();
        let mut take = |index: usize, what: &str| {
            fds.take_tcp_listener(index)
                .map_err(|e| format!("LISTEN_FDS: socket {} ({what}) is not a listening TCP socket: {e}", index + 3))
        };
        let app = take(0, "the app's")?;
        let sandbox = take(1, "the sandbox's")?;
        Ok(Inherited { app, sandbox })
    }
}

/// Runs the server (and the sandbox in [`Mode::Sandbox`]) until SIGTERM/SIGINT.
pub async fn run(mode: Mode, inherited: Inherited) -> ExitCode {
    install_crypto_provider();
    match serve(mode, inherited).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(mode: Mode, inherited: Inherited) -> Result<(), StartError> {
    let env = |var: &str| std::env::var(var).ok();
    // Refused before anything touches the disk (certificates, databases).
    #[cfg(not(feature = "sandbox"))]
    if mode == Mode::Sandbox {
        return Err(StartError::Other(
            "this binary was built without the sandbox (cargo feature `sandbox`): run it without --sandbox".into(),
        ));
    }
    #[cfg(feature = "sandbox")]
    let sandbox = match mode {
        Mode::Sandbox => Some(with_sandbox::Prepared::read(&env)?),
        Mode::Fanvue => None,
    };
    #[cfg(feature = "sandbox")]
    let mut config = match &sandbox {
        Some(sandbox) => Config::from_lookup(&sandbox.layer(&env))?,
        None => Config::from_lookup(&env)?,
    };
    #[cfg(not(feature = "sandbox"))]
    let config = Config::from_lookup(&env)?;
    let material = tls::load_or_generate(&config.server.tls)?;
    let tls_config = match &material {
        Some(material) => Some(tls::rustls_config(material).await?),
        None => None,
    };
    let shutdown = CancellationToken::new();

    #[cfg(feature = "sandbox")]
    if let Some(sandbox) = sandbox {
        sandbox.start(&mut config, material.as_ref().map(|m| m.cert_pem.clone()), inherited.sandbox).await?;
    }

    let addr = SocketAddr::new(config.server.bind, config.server.port);
    let listener = match inherited.app {
        Some(listener) => listener,
        None => std::net::TcpListener::bind(addr).map_err(|e| StartError::Bind { addr, reason: e.to_string() })?,
    };
    let local = listener.local_addr().map_err(|e| StartError::Bind { addr, reason: e.to_string() })?;
    if config.server.tls == config::TlsSetting::TerminatedByProxy && config.metrics_token.is_none() {
        tracing::warn!("TLS_TERMINATED_BY_PROXY is set and METRICS_TOKEN is not: /metrics answers nobody until it is");
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
    state.start_webhook_worker();
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

/// `--sandbox`: the sandbox's environment layer under the app's configuration, and the
/// sandbox itself started next to the app.
#[cfg(feature = "sandbox")]
mod with_sandbox {
    use std::net::{IpAddr, SocketAddr};

    use fanvue_sandbox::env::SandboxEnv;
    use secrecy::ExposeSecret;

    use super::StartError;
    use crate::config::{Config, ConfigError, Problem, TlsSetting};

    /// The sandbox's settings and the session secret the app runs with.
    pub struct Prepared {
        env: SandboxEnv,
        session_secret: String,
        generated_secret: bool,
    }

    impl Prepared {
        /// Reads the `SANDBOX_*` variables; without `SESSION_SECRET` a random one is used (so
        /// sessions end at restart, which the log says).
        pub fn read(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, StartError> {
            let sandbox = SandboxEnv::read(env).map_err(|problems| {
                ConfigError(problems.into_iter().map(|p| Problem { var: p.var, message: p.message }).collect())
            })?;
            let given = env("SESSION_SECRET").filter(|s| !s.trim().is_empty());
            let generated_secret = given.is_none();
            let session_secret = given.unwrap_or_else(|| crate::infra::crypto::random_token(32));
            Ok(Prepared { env: sandbox, session_secret, generated_secret })
        }

        /// The app's environment seen through the sandbox.
        pub fn layer<'a>(&self, env: &'a dyn Fn(&str) -> Option<String>) -> impl Fn(&str) -> Option<String> + 'a {
            self.env.layer(env, &self.session_secret)
        }

        /// Starts the sandbox with `certs/127.0.0.1.pem` (generated once when missing), or joins
        /// the one `SANDBOX_JOIN` names, and makes the app's HTTP client trust its certificate
        /// (added to, not replacing, the system roots).
        pub async fn start(
            self,
            config: &mut Config,
            app_cert_pem: Option<Vec<u8>>,
            inherited: Option<std::net::TcpListener>,
        ) -> Result<(), StartError> {
            if self.generated_secret {
                tracing::warn!(
                    "SESSION_SECRET is not set: using a random one, so sessions end when the server restarts"
                );
            }
            let setting = TlsSetting::Auto { host: "127.0.0.1".to_owned() };
            let material = crate::infra::tls::load_or_generate(&setting)?
                .ok_or_else(|| StartError::Other("the sandbox needs a certificate".into()))?;
            let mut roots = config.api.extra_root_pem.take().unwrap_or_default();
            roots.extend_from_slice(&material.cert_pem);
            config.api.extra_root_pem = Some(roots);
            if let Some(join) = &self.env.join {
                // Another instance runs the sandbox (same folder, so the same certificate).
                tracing::info!("sandbox: joining the one at {join}");
                return Ok(());
            }
            let origin = config.origin();
            // Deliveries reach the app on this machine, whatever name BASE_URL gives it.
            let ip =
                if config.server.bind.is_unspecified() { IpAddr::from([127, 0, 0, 1]) } else { config.server.bind };
            let port = config.base_url.port_or_known_default().unwrap_or(config.server.port);
            let mut app = fanvue_sandbox::AppSettings::new(&origin, config.oauth.scopes);
            app.webhooks_url = format!("{origin}{}", crate::features::webhooks::routes::PATH);
            app.webhook_secret = config.webhooks.secrets.first().map(|s| s.expose_secret().to_owned());
            app.cert_pem = app_cert_pem;
            app.resolve = Some(SocketAddr::new(ip, port));
            let client = fanvue_sandbox::RegisteredClient {
                id: config.oauth.client_id.clone(),
                secret: config.oauth.client_secret.expose_secret().to_owned(),
                redirect_uris: vec![config.oauth.redirect_uri.to_string()],
            };
            let mut settings = fanvue_sandbox::Settings::for_app(client, app);
            settings.port = self.env.port;
            settings.access_token_ttl = self.env.access_token_ttl;
            settings.latency = self.env.latency;
            settings.rate_limit = self.env.rate_limit;
            settings.tls = Some(fanvue_sandbox::TlsPem { cert_pem: material.cert_pem, key_pem: material.key_pem });
            let spawned = match inherited {
                Some(listener) => fanvue_sandbox::spawn_on(listener, settings).await,
                None => fanvue_sandbox::spawn(settings).await,
            };
            let running = spawned.map_err(|e| StartError::Bind {
                addr: SocketAddr::from(([127, 0, 0, 1], self.env.port)),
                reason: format!("{e} (the sandbox's port; set SANDBOX_PORT)"),
            })?;
            tracing::info!(
                "sandbox: a stand-in for Fanvue's sign-in and API at {} (the app trusts its certificate; your browser will ask once)",
                running.issuer()
            );
            // It serves for as long as the process runs (dropping the handle does not stop it).
            drop(running);
            Ok(())
        }
    }
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
