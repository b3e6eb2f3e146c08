//! What a sandbox is started with: the app it plays Fanvue for (its registered OAuth client,
//! origin, scopes, webhook URL and secret) and its own knobs (port, token lifetime, latency,
//! rate limit, certificate), plus the ids it registers for the starter.

use std::net::SocketAddr;
use std::time::Duration;

use fanvue::ScopeSet;

use crate::store::{self, RegisteredClient};

/// The client id the sandbox registers for the starter.
pub const CLIENT_ID: &str = "fanvue-app-starter-sandbox";
/// The app's UUID in the sandbox's App Store.
pub const APP_UUID: &str = "0b1e4a8c-7d2f-4c39-a6e5-9f8d7c6b5a41";
/// The sandbox app's paid plan (the App Store samples' plan).
pub const PLAN_UUID: &str = fanvue::webhooks::samples::PLAN_UUID;

/// Everything a sandbox needs to play Fanvue for one app.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Port on 127.0.0.1 (0: any free one).
    pub port: u16,
    /// The app's OAuth client, as Fanvue's Builder holds it.
    pub client: RegisteredClient,
    /// The app: where deliveries and the creator surface go, what consent asks for.
    pub app: AppSettings,
    /// How long access tokens live (Fanvue: an hour).
    pub access_token_ttl: Duration,
    /// Delay added to every API and token answer, to see an app with a slow Fanvue.
    pub latency: Duration,
    /// API calls per user a minute (Fanvue: 200).
    pub rate_limit: u32,
    /// The certificate and key to serve with (PEM); `None`: a self-signed one for 127.0.0.1,
    /// made at start. The access tokens are signed under a key derived from this key, so a
    /// persistent certificate makes tokens outlive restarts, as Fanvue's do.
    pub tls: Option<TlsPem>,
}

/// A certificate chain and its key, PEM.
#[derive(Clone)]
pub struct TlsPem {
    /// Certificate chain.
    pub cert_pem: Vec<u8>,
    /// Private key.
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for TlsPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsPem { .. }")
    }
}

/// What the sandbox knows about the app (what the Builder holds at Fanvue).
#[derive(Clone, Debug)]
pub struct AppSettings {
    /// The app's origin, e.g. `https://localhost:3001` (the creator surface frames
    /// `{origin}/embedded`).
    pub origin: String,
    /// The app's scopes, asked for by the in-shell consent.
    pub scopes: ScopeSet,
    /// Where platform events go: `{webhooks_url}/{event}`; default `{origin}/api/webhooks/fanvue`.
    pub webhooks_url: String,
    /// The app-level signing secret of deliveries (the Builder's), if any.
    pub webhook_secret: Option<String>,
    /// The app's certificate, trusted by the delivery client (a self-signed local one).
    pub cert_pem: Option<Vec<u8>>,
    /// Deliveries reach the app's host at this address (a browser needs a hosts entry for
    /// `my-fanvue-app.dev`; the sandbox does not).
    pub resolve: Option<SocketAddr>,
}

impl AppSettings {
    /// An app at `origin` asking for `scopes`, with the default webhook URL.
    pub fn new(origin: &str, scopes: ScopeSet) -> Self {
        let origin = origin.trim_end_matches('/').to_owned();
        AppSettings {
            webhooks_url: format!("{origin}/api/webhooks/fanvue"),
            origin,
            scopes,
            webhook_secret: None,
            cert_pem: None,
            resolve: None,
        }
    }
}

impl Settings {
    /// Fanvue's behaviour (an hour's tokens, no added latency, 200 calls a minute) for `client`
    /// and `app`, on any free port.
    pub fn for_app(client: RegisteredClient, app: AppSettings) -> Self {
        Settings {
            port: 0,
            client,
            app,
            access_token_ttl: Duration::from_secs(3600),
            latency: Duration::ZERO,
            rate_limit: store::RATE_LIMIT,
            tls: None,
        }
    }
}
