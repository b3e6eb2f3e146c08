//! [`AppState`]: what every handler can reach. Built once at start-up, cheap to clone.

use std::sync::Arc;

use crate::config::Config;
use crate::fanvue::FanvueClient;
use crate::oauth::OAuthClient;
use crate::oauth::session_tokens::SessionTokens;
use crate::session::{AnyStore, SealedStore};

/// Shared application state: one allocation, shared by every request (axum clones the
/// state for each extractor and middleware that asks for it, so a clone must be a pointer
/// copy). Fields are reached through `Deref`: `state.config`, `state.tokens`…
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
    /// Sessions' tokens: sign-in, single-flight refresh, sign-out (and the OAuth client).
    pub tokens: SessionTokens,
    /// The same for embedded (iframe) sessions, in a vault of their own.
    pub embedded_tokens: SessionTokens,
    /// The Fanvue API client.
    pub fanvue: FanvueClient,
    /// The sealed store behind the session layer.
    pub session_store: SealedStore<AnyStore>,
    /// Uploads streaming at once, per instance and per user: each holds one part in memory.
    pub upload_slots: Arc<UploadSlots>,
    /// The per-client-IP limit (`RATE_LIMIT_PER_MINUTE`) and this instance's count of the
    /// per-Fanvue-user budget (`FANVUE_BUDGET_PER_MINUTE`).
    pub limits: Arc<crate::limits::RateLimits>,
    /// The webhook receiver: verification, event store, live notices.
    pub webhooks: crate::webhooks::Webhooks,
    /// App Store entitlements cached per session.
    pub entitlements: crate::entitlements::EntitlementCache,
    /// Profile reads cached per session for pages (`PROFILE_CACHE_SECS`).
    pub read_cache: crate::cache::TtlCache<bytes::Bytes>,
    /// How an embedded app's injected session token becomes tokens.
    pub embed_exchange: Arc<dyn crate::embedded::exchange::SessionTokenExchange>,
}

impl AppState {
    /// Builds the state from configuration: opens the session store, and one HTTP client
    /// for Fanvue's auth and API.
    pub async fn new(config: Config) -> Result<Self, crate::StartError> {
        // The metrics recorder first: installing it calibrates a TSC clock in a busy loop that
        // ends sooner, the fewer other threads are busy (the stores' are about to start).
        crate::metrics::metrics();
        let http = http_client(&config)?;
        let oauth =
            OAuthClient::new(&config.oauth, http.clone()).map_err(|e| crate::StartError::Other(e.to_string()))?;
        let fanvue = FanvueClient::new(config.api.base_url.clone(), &config.api.version, http)
            .map_err(|e| crate::StartError::Other(e.to_string()))?;
        let crate::session::Stores { sessions: session_store, vault, embedded_vault } =
            crate::session::open_store(&config.session).await?;
        let embedded_tokens = SessionTokens::new(oauth.clone(), embedded_vault, config.session.ttl);
        let embed_exchange = embed_exchange(&config, &oauth);
        let tokens = SessionTokens::new(oauth, vault, config.session.ttl);
        let upload_slots = Arc::new(UploadSlots::new(config.uploads.slots, config.uploads.slots_per_user));
        let webhooks = crate::webhooks::Webhooks::open(config.webhooks.clone())
            .await
            .map_err(|e| crate::StartError::Other(format!("{e} (WEBHOOK_STORE)")))?;
        let entitlements = crate::entitlements::EntitlementCache::new(config.app_store.cache_ttl);
        let read_cache = crate::cache::TtlCache::new(config.api.profile_cache_ttl);
        let limits =
            Arc::new(crate::limits::RateLimits::new(config.rate_limit_per_minute, config.fanvue_budget_per_minute));
        limits.start_housekeeping();
        Ok(Self(Arc::new(Shared {
            config: Arc::new(config),
            embedded_tokens,
            tokens,
            fanvue,
            session_store,
            upload_slots,
            limits,
            webhooks,
            entitlements,
            read_cache,
            embed_exchange,
        })))
    }

    /// Starts the background worker that hands stored webhook events to `handler`.
    pub fn start_webhook_worker(&self, handler: Arc<dyn crate::webhooks::Handler>) -> tokio::task::JoinHandle<()> {
        self.webhooks.start_worker(handler)
    }

    /// The app's own webhook handler ([`crate::webhooks::handler::AppEvents`]).
    pub fn app_event_handler(&self) -> Arc<dyn crate::webhooks::Handler> {
        Arc::new(crate::webhooks::handler::AppEvents { entitlements: self.entitlements.clone() })
    }

    /// The OAuth client.
    pub fn oauth(&self) -> &OAuthClient {
        self.tokens.oauth()
    }
}

/// Upload slots: `UPLOAD_SLOTS` per instance (each upload holds one part in memory), of which
/// one user may hold `UPLOAD_SLOTS_PER_USER`, so one creator cannot keep every other one out.
#[derive(Debug)]
pub struct UploadSlots {
    instance: Arc<tokio::sync::Semaphore>,
    per_user: std::sync::Mutex<std::collections::HashMap<String, usize>>,
    per_user_limit: usize,
}

/// Why no upload slot was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotRefusal {
    /// The user already holds their share.
    User,
    /// Every slot of the instance is taken.
    Instance,
}

/// One held upload slot; dropping it frees it (the upload ended, failed or was abandoned).
#[derive(Debug)]
pub struct UploadSlot {
    slots: Arc<UploadSlots>,
    user: String,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl UploadSlots {
    /// `total` slots for the instance, `per_user` of them for one user (both at least 1).
    pub fn new(total: usize, per_user: usize) -> Self {
        UploadSlots {
            instance: Arc::new(tokio::sync::Semaphore::new(total.max(1))),
            per_user: std::sync::Mutex::default(),
            per_user_limit: per_user.max(1),
        }
    }

    /// Takes a slot for `user` (any stable key for the Fanvue user), without waiting.
    pub fn try_acquire(self: &Arc<Self>, user: &str) -> Result<UploadSlot, SlotRefusal> {
        let mut per_user = self.per_user.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let held = per_user.get(user).copied().unwrap_or(0);
        if held >= self.per_user_limit {
            return Err(SlotRefusal::User);
        }
        let permit = self.instance.clone().try_acquire_owned().map_err(|_| SlotRefusal::Instance)?;
        per_user.insert(user.to_owned(), held + 1);
        Ok(UploadSlot { slots: self.clone(), user: user.to_owned(), _permit: permit })
    }

    /// Slots held right now by `user`.
    pub fn held_by(&self, user: &str) -> usize {
        self.per_user.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(user).copied().unwrap_or(0)
    }
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut per_user = self.slots.per_user.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(held) = per_user.get_mut(&self.user) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                per_user.remove(&self.user);
            }
        }
    }
}

/// The embedded sign-in `EMBEDDED_EXCHANGE` asks for.
fn embed_exchange(config: &Config, oauth: &OAuthClient) -> Arc<dyn crate::embedded::exchange::SessionTokenExchange> {
    use crate::config::EmbedExchange;
    use crate::embedded::exchange::{AuthorizeOnBehalf, JwtBearer};
    match &config.embed.exchange {
        EmbedExchange::AuthorizeOnBehalf { authorize_url } => {
            Arc::new(AuthorizeOnBehalf::new(oauth.clone(), authorize_url.clone()))
        }
        EmbedExchange::JwtBearer => Arc::new(JwtBearer::new(oauth.clone())),
    }
}

/// The one outbound HTTP client: timeouts, no redirects (a redirect would replay bearer
/// tokens, codes or the client secret to wherever it points), connection reuse, HTTP/2.
fn http_client(config: &Config) -> Result<reqwest::Client, crate::StartError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.api.timeout)
        .connect_timeout(std::time::Duration::from_secs(5))
        .pool_idle_timeout(std::time::Duration::from_secs(60))
        .user_agent(concat!("fanvue-app-starter/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = &config.api.extra_root_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| crate::StartError::Other(format!("UPSTREAM_CA_FILE or the sandbox's certificate: {e}")))?;
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| crate::StartError::Other(format!("building the HTTP client: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_slots_are_shared_out_per_user_and_freed_on_drop() {
        let slots = Arc::new(UploadSlots::new(2, 1));
        let first = slots.try_acquire("user:a");
        assert!(first.is_ok());
        assert_eq!(slots.try_acquire("user:a").err(), Some(SlotRefusal::User), "one per user");
        let second = slots.try_acquire("user:b");
        assert!(second.is_ok());
        assert_eq!(slots.try_acquire("user:c").err(), Some(SlotRefusal::Instance), "the instance is full");
        drop(first);
        assert_eq!(slots.held_by("user:a"), 0);
        assert!(slots.try_acquire("user:a").is_ok(), "freed when dropped");
    }
}
