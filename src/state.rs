//! [`AppState`]: what every handler can reach. Built once at start-up, cheap to clone.

use std::sync::Arc;

use crate::config::Config;
use crate::fanvue::FanvueClient;
use crate::oauth::OAuthClient;
use crate::oauth::refresh::RefreshLocks;

/// Shared application state.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The configuration read at start-up.
    pub config: Arc<Config>,
    /// Login, token exchange, refresh, revocation.
    pub oauth: OAuthClient,
    /// The Fanvue API client.
    pub fanvue: FanvueClient,
    /// Per-session refresh locks (single-flight refresh).
    pub refresh_locks: Arc<RefreshLocks>,
}

impl AppState {
    /// Builds the state from configuration: one HTTP client for Fanvue's auth and API.
    pub fn new(config: Config) -> Result<Self, crate::StartError> {
        let http = http_client(&config)?;
        let oauth =
            OAuthClient::new(&config.oauth, http.clone()).map_err(|e| crate::StartError::Other(e.to_string()))?;
        let fanvue = FanvueClient::new(&config.api, http).map_err(|e| crate::StartError::Other(e.to_string()))?;
        Ok(Self { config: Arc::new(config), oauth, fanvue, refresh_locks: Arc::default() })
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
        let cert = reqwest::Certificate::from_pem(pem)
            .map_err(|e| crate::StartError::Other(format!("sandbox certificate: {e}")))?;
        builder = builder.tls_certs_merge([cert]);
    }
    builder.build().map_err(|e| crate::StartError::Other(format!("building the HTTP client: {e}")))
}
