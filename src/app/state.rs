//! [`AppState`]: everything the app holds, built once at start-up, cheap to clone. Only the
//! app's assembly names it: each feature gets its own state ([`AppState::console`] and
//! friends), made of the parts it needs.

use std::sync::Arc;

use super::error::StartError;
use crate::auth::Api;
use crate::auth::entitlement::Entitlements;
use crate::auth::store::{AnyStore, SealedStore};
use crate::auth::tokens::SessionTokens;
use crate::config::Config;
use crate::features::console::Console;
use crate::features::embedded::Embedded;
use crate::features::embedded::exchange::SessionTokenExchange;
use crate::features::login::Login;
use crate::features::ops::Ops;
use crate::features::paid::Paid;
use crate::features::webhooks::{WebhookConfig, WebhookState, Webhooks};
use crate::infra::cache::TtlCache;
use crate::infra::rate_limit::RateLimits;
use crate::web::middleware::ClientLimit;
use fanvue::FanvueClient;
use fanvue::oauth::OAuthClient;

/// Shared application state: one allocation, shared by every request. Fields are reached
/// through `Deref`: `state.config`, `state.api`…
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
#[derive(Debug)]
pub struct Shared {
    /// The configuration read at start-up.
    pub config: Arc<Config>,
    /// Fanvue for console sessions: their tokens (sign-in, single-flight refresh, sign-out),
    /// the client, the budgets and the read cache.
    pub api: Api,
    /// The same for embedded (iframe) sessions, with a vault of their own.
    pub embedded_api: Api,
    /// The sealed store behind the session layers.
    pub session_store: SealedStore<AnyStore>,
    /// The per-client-IP limit (`RATE_LIMIT_PER_MINUTE`) and the per-Fanvue-user budget
    /// (`FANVUE_BUDGET_PER_MINUTE`).
    pub limits: Arc<RateLimits>,
    /// The webhook receiver: verification, event store, live notices.
    pub webhooks: Webhooks,
    /// The paid-plan check and its cache.
    pub entitlements: Entitlements,
    /// The console's state (with its upload slots).
    pub console: Console,
    /// How an embedded app's injected session token becomes tokens.
    pub embed_exchange: Arc<dyn SessionTokenExchange>,
}

impl AppState {
    /// Builds the state from configuration: opens the session store, and one HTTP client
    /// for Fanvue's auth and API.
    pub async fn new(config: Config) -> Result<Self, StartError> {
        // The metrics recorder first: installing it calibrates a TSC clock in a busy loop that
        // ends sooner, the fewer other threads are busy (the stores' are about to start).
        crate::infra::metrics::metrics();
        let http = http_client(&config)?;
        // One pool per store URL: sessions and webhook events share the file or server.
        let connections = crate::infra::connections::Connections::default();
        let oauth = OAuthClient::new(&config.oauth, http.clone()).map_err(|e| StartError::Other(e.to_string()))?;
        let fanvue = FanvueClient::new(config.api.base_url.clone(), &config.api.version, http)
            .map_err(|e| StartError::Other(e.to_string()))?;
        let crate::auth::store::Stores { sessions: session_store, vault, embedded_vault } =
            crate::auth::store::open_store(&config.session, &connections).await?;
        let limits = Arc::new(RateLimits::new(
            config.rate_limit_per_minute,
            config.fanvue_budget_per_minute,
            vault.redis().cloned(),
        ));
        limits.start_housekeeping();
        let embed_exchange = embed_exchange(&config, &oauth);
        let read_cache = TtlCache::new(config.api.profile_cache_ttl);
        let api =
            Api::new(SessionTokens::new(oauth.clone(), vault, config.session.ttl), fanvue, limits.clone(), read_cache);
        let embedded_api = api.with_tokens(SessionTokens::new(oauth, embedded_vault, config.session.ttl));
        let webhooks = Webhooks::open_on(WebhookConfig::from_config(&config.webhooks, &config.session), &connections)
            .await
            .map_err(|e| StartError::Other(format!("{e} (WEBHOOK_STORE)")))?;
        let entitlements = Entitlements::new(config.app_store.app_uuid.clone(), config.app_store.cache_ttl);
        let config = Arc::new(config);
        let console = Console::new(api.clone(), config.clone());
        Ok(Self(Arc::new(Shared {
            config,
            api,
            embedded_api,
            session_store,
            limits,
            webhooks,
            entitlements,
            console,
            embed_exchange,
        })))
    }

    /// Starts the background worker that hands stored webhook events to the app's handler
    /// ([`crate::features::webhooks::handler::AppEvents`], which drops a buyer's cached plan).
    pub fn start_webhook_worker(&self) -> tokio::task::JoinHandle<()> {
        let handler = crate::features::webhooks::handler::AppEvents { entitlements: self.entitlements.clone() };
        self.webhooks.start_worker(Arc::new(handler))
    }

    /// The per-client-IP limit, for the features that take it.
    pub fn client_limit(&self) -> ClientLimit {
        ClientLimit { limits: self.limits.clone(), trusted_proxies: self.config.trusted_proxies.clone().into() }
    }

    /// The login feature's state.
    pub fn login(&self) -> Login {
        Login { tokens: self.api.tokens.clone() }
    }

    /// The webhook feature's state.
    pub fn webhook_state(&self) -> WebhookState {
        WebhookState { webhooks: self.webhooks.clone(), api: self.api.clone(), config: self.config.clone() }
    }

    /// The embedded surface's state.
    pub fn embedded(&self) -> Embedded {
        Embedded {
            api: self.embedded_api.clone(),
            exchange: self.embed_exchange.clone(),
            entitlements: self.entitlements.clone(),
            config: self.config.clone(),
            session_store: self.session_store.clone(),
        }
    }

    /// The paid feature's state.
    pub fn paid(&self) -> Paid {
        Paid { api: self.api.clone(), entitlements: self.entitlements.clone(), config: self.config.clone() }
    }

    /// The ops endpoints' state.
    pub fn ops(&self) -> Ops {
        Ops { config: self.config.clone(), session_store: self.session_store.clone() }
    }
}

/// The embedded sign-in `EMBEDDED_EXCHANGE` asks for.
fn embed_exchange(config: &Config, oauth: &OAuthClient) -> Arc<dyn SessionTokenExchange> {
    use crate::config::EmbedExchange;
    use crate::features::embedded::exchange::{AuthorizeOnBehalf, JwtBearer};
    match &config.embed.exchange {
        EmbedExchange::AuthorizeOnBehalf { authorize_url } => {
            Arc::new(AuthorizeOnBehalf::new(oauth.clone(), authorize_url.clone()))
        }
        EmbedExchange::JwtBearer => Arc::new(JwtBearer::new(oauth.clone())),
    }
}

/// The one outbound HTTP client: timeouts, no redirects (a redirect would replay bearer
/// tokens, codes or the client secret to wherever it points), connection reuse, HTTP/2.
fn http_client(config: &Config) -> Result<reqwest::Client, StartError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.api.timeout)
        .connect_timeout(std::time::Duration::from_secs(5))
        .pool_idle_timeout(std::time::Duration::from_secs(60))
        .user_agent(concat!("fanvue-app-starter/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = &config.api.extra_root_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| StartError::Other(format!("UPSTREAM_CA_FILE or the sandbox's certificate: {e}")))?;
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| StartError::Other(format!("building the HTTP client: {e}")))
}
