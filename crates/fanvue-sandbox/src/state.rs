//! The state every handler of the sandbox shares: its store (codes, grants, tokens,
//! counters), the seeded world the API reads and writes, and the app it delivers webhooks to.

use std::time::Duration;

use fanvue::ScopeSet;

use crate::settings::{AppSettings, Settings};
use crate::{seed, store};

/// State of the sandbox's handlers.
#[derive(Clone)]
pub struct SandboxState {
    /// Codes, grants, tokens, counters.
    pub store: store::SandboxStore,
    /// The sandbox's issuer URL, e.g. `https://127.0.0.1:3002`.
    pub issuer: String,
    /// Delay added to every API answer.
    pub latency: Duration,
    /// The seeded creator's world, changed by the API's write endpoints.
    pub world: std::sync::Arc<std::sync::Mutex<seed::World>>,
    /// The app, as Fanvue knows it.
    pub app: AppTarget,
}

/// The app as the handlers use it: its settings and the client deliveries go out with.
#[derive(Clone)]
pub struct AppTarget {
    /// The app's origin.
    pub origin: String,
    /// The app's scopes.
    pub scopes: ScopeSet,
    /// Where platform events go.
    pub webhooks_url: String,
    /// The app-level signing secret.
    pub webhook_secret: Option<String>,
    /// The client deliveries go out with: it trusts the app's certificate and reaches its host.
    pub http: reqwest::Client,
}

impl SandboxState {
    /// The sandbox for `settings` at `issuer` (e.g. `https://127.0.0.1:3002`), signing its
    /// tokens under keys derived from `signing_secret` ([`spawn`](crate::spawn) derives it from the
    /// certificate's key; an in-process test passes its own).
    pub fn new(settings: &Settings, issuer: &str, signing_secret: &str) -> Self {
        let issuer = issuer.trim_end_matches('/').to_owned();
        let world = seed::World::seed(time::OffsetDateTime::now_utc(), &issuer);
        let app = &settings.app;
        SandboxState {
            store: store::SandboxStore::new(
                settings.client.clone(),
                signing_secret,
                settings.access_token_ttl,
                settings.rate_limit,
            ),
            issuer,
            latency: settings.latency,
            world: std::sync::Arc::new(std::sync::Mutex::new(world)),
            app: AppTarget {
                origin: app.origin.clone(),
                scopes: app.scopes,
                webhooks_url: app.webhooks_url.clone(),
                webhook_secret: app.webhook_secret.clone(),
                http: delivery_client(app),
            },
        }
    }
}

/// Installs ring as rustls's crypto provider when none is (reqwest and the listener need one).
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn delivery_client(app: &AppSettings) -> reqwest::Client {
    install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("Fanvue-Webhooks (sandbox)");
    if let Some(cert) = app.cert_pem.as_deref().and_then(|pem| reqwest::Certificate::from_pem(pem).ok()) {
        builder = builder.tls_certs_merge([cert]);
    }
    if let (Some(addr), Ok(origin)) = (app.resolve, url::Url::parse(&app.origin))
        && let Some(url::Host::Domain(host)) = origin.host()
    {
        builder = builder.resolve(host, addr);
    }
    builder.build().unwrap_or_default()
}
