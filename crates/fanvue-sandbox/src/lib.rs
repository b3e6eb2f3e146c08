//! # fanvue-sandbox
//!
//! A faithful stand-in for Fanvue: its OAuth provider (ORY Hydra), its REST API checked
//! against Fanvue's published reference, the App Store's creator surface and checkout, and
//! webhook deliveries, so an app runs and is tested with no Fanvue account and no network.
//! The starter runs it next to the app with `--sandbox`; another project's tests can start
//! one with [`spawn`]:
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let settings = fanvue_sandbox::Settings::for_app(
//!     fanvue_sandbox::RegisteredClient {
//!         id: "my-client".into(),
//!         secret: "my-secret".into(),
//!         redirect_uris: vec!["https://localhost:3001/api/oauth/callback".into()],
//!     },
//!     fanvue_sandbox::AppSettings::new("https://localhost:3001", fanvue::ScopeSet::all()),
//! );
//! let sandbox = fanvue_sandbox::spawn(settings).await?;
//! println!("sign in at {}/oauth2/auth, call {}", sandbox.issuer(), sandbox.api_base());
//! # Ok(()) }
//! ```
//!
//! It listens on `https://127.0.0.1:PORT`. The host differs from an app on `localhost` on
//! purpose: to a browser the sandbox is another site, as Fanvue is, so `SameSite` cookie rules
//! and `form_post` behave as they do in production.
//!
//! What it enforces, like Fanvue: exact redirect URIs, PKCE S256, `state` and `nonce`
//! strength, one-time codes (a replay revokes the grant), `client_secret_basic` only, access
//! token expiry, refresh-token rotation with reuse detection that revokes the whole grant,
//! revocation, `X-Fanvue-API-Version`, scope checks on every API call (the `fanvue` crate's
//! endpoint table), every parameter and body as Fanvue's reference publishes it, and the
//! 200 requests / 60 s budget.
//!
//! - [`provider`]: authorize, consent, token, revoke, and embedded apps' authorize-on-behalf;
//! - [`api`]: the REST API, checked against Fanvue's published reference;
//! - [`resources`]: its endpoints, over the seeded data of [`seed`];
//! - [`store`]: codes, grants, tokens and counters (`GET /_sandbox/stats`);
//! - [`surface`]: the creator surface and the App Store; [`hooks`]: webhook deliveries;
//! - [`env`]: the sandbox's settings as environment variables, for an app started with it.
//!
//! Extras exist for tests and demos: `GET /_sandbox/stats` (counters), `GET /_sandbox/contract`
//! (requests and answers that departed from Fanvue's published reference, see [`api`]) and
//! `POST /_sandbox/revoke-consent` (what a creator does in Fanvue's settings).

pub mod api;
pub mod crypto;
pub mod env;
pub mod hooks;
pub mod provider;
pub mod resources;
pub mod seed;
pub mod store;
pub mod surface;
pub mod users;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::{any, get, post};
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use fanvue::ScopeSet;

pub use store::RegisteredClient;

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
    /// tokens under keys derived from `signing_secret` ([`spawn`] derives it from the
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
fn install_crypto_provider() {
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

/// The sandbox's routes.
pub fn router(state: SandboxState) -> Router {
    Router::new()
        .route("/oauth2/auth", get(provider::authorize))
        .route("/oauth2/consent", post(provider::consent))
        .route("/oauth2/token", post(provider::token))
        .route("/oauth2/revoke", post(provider::revoke))
        .route(fanvue::oauth::AUTHORIZE_ON_BEHALF_PATH, post(provider::authorize_on_behalf))
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/api/{*rest}", any(api::dispatch))
        .route("/app-store/{app}", get(surface::listing))
        .route("/app-store/{app}/checkout", post(surface::checkout))
        .route("/app-store/{app}/creator-surface", get(surface::creator_surface))
        .route("/app-store/{app}/creator-surface/consent", post(surface::surface_consent))
        .route("/_sandbox/events", get(hooks::page).post(hooks::send))
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/contract", get(contract_violations))
        .route("/_sandbox/revoke-consent", post(revoke_consent))
        .route("/_sandbox/{file}", get(asset))
        .route("/_sandbox/media/{uuid}/{variant}", get(media_image))
        .route("/_sandbox/storage/{upload}/{part}", axum::routing::put(store_part))
        .with_state(state)
}

async fn discovery(axum::extract::State(sb): axum::extract::State<SandboxState>) -> impl IntoResponse {
    let issuer = &sb.issuer;
    axum::Json(serde_json::json!({
        "issuer": format!("{issuer}/"),
        "authorization_endpoint": format!("{issuer}/oauth2/auth"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        // Not standard metadata: where embedded apps trade a session token for a code (assumed
        // path; Fanvue's is not public).
        "fanvue_authorize_on_behalf_endpoint": format!("{issuer}{}", fanvue::oauth::AUTHORIZE_ON_BEHALF_PATH),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "scopes_supported": fanvue::scopes::Scope::ALL.map(|(_, name)| name),
    }))
}

async fn stats(axum::extract::State(sb): axum::extract::State<SandboxState>) -> impl IntoResponse {
    axum::Json(sb.store.stats())
}

/// `GET /_sandbox/contract`: where clients and the sandbox departed from Fanvue's reference.
async fn contract_violations(axum::extract::State(sb): axum::extract::State<SandboxState>) -> impl IntoResponse {
    let (count, violations) = sb.store.violations();
    axum::Json(serde_json::json!({ "count": count, "violations": violations }))
}

/// Emulates the creator revoking the app in Fanvue's settings: every grant dies.
async fn revoke_consent(axum::extract::State(sb): axum::extract::State<SandboxState>) -> impl IntoResponse {
    sb.store.revoke_all();
    axum::http::StatusCode::NO_CONTENT
}

/// The storage behind presigned part URLs (S3's role): checks the signature, reads the part
/// as it streams (hashing it, keeping only its size) and answers with its ETag.
async fn store_part(
    axum::extract::State(sb): axum::extract::State<SandboxState>,
    axum::extract::Path((upload, part)): axum::extract::Path<(String, u32)>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> axum::response::Response {
    use http_body_util::BodyExt;
    use sha2::Digest;
    if headers.contains_key(header::AUTHORIZATION) {
        // As S3: a presigned URL is the only credential; a bearer token here would be a leak.
        return (axum::http::StatusCode::BAD_REQUEST, "InvalidArgument: Only one auth mechanism allowed")
            .into_response();
    }
    let signature = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "signature")
        .map(|(_, v)| v.into_owned());
    let expected = sb.store.sign_part(&upload, part);
    if !signature.is_some_and(|s| crate::crypto::constant_time_eq(s.as_bytes(), expected.as_bytes())) {
        return (axum::http::StatusCode::FORBIDDEN, "SignatureDoesNotMatch").into_response();
    }
    let (mut hasher, mut size, mut body) = (sha2::Sha256::new(), 0u64, body);
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return (axum::http::StatusCode::BAD_REQUEST, "IncompleteBody").into_response() };
        if let Some(data) = frame.data_ref() {
            size += data.len() as u64;
            if size > 64 * 1024 * 1024 {
                return (axum::http::StatusCode::PAYLOAD_TOO_LARGE, "EntityTooLarge").into_response();
            }
            hasher.update(data);
        }
    }
    let digest = hasher.finalize();
    let etag = format!("\"{}\"", crate::crypto::hex(&digest[..16]));
    let mut world = sb.world.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    match world.upload_mut(&upload) {
        Some(u) if !u.completed => {
            u.parts.insert(part, (etag.clone(), size));
            ([(header::ETAG, etag)], "").into_response()
        }
        _ => (axum::http::StatusCode::NOT_FOUND, "NoSuchUpload").into_response(),
    }
}

/// A signed media URL's target: a generated picture, its colour derived from the media id.
async fn media_image(
    axum::extract::Path((uuid, variant)): axum::extract::Path<(String, String)>,
) -> axum::response::Response {
    let hue = uuid.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b))) % 360;
    let blur = if variant.starts_with("blurred") { r#" filter="blur(8px)""# } else { "" };
    let svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 160 200"><rect width="160" height="200" fill="hsl({hue},60%,60%)"{blur}/><circle cx="80" cy="80" r="36" fill="hsl({hue},70%,85%)"/><rect x="30" y="130" width="100" height="40" rx="8" fill="hsl({hue},70%,85%)"/></svg>"#
    );
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml")),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300")),
        ],
        svg,
    )
        .into_response()
}

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> axum::response::Response {
    let (content_type, body): (&str, &'static [u8]) = match file.as_str() {
        "style.css" => ("text/css; charset=utf-8", include_bytes!("../static/sandbox.css")),
        "avatar.svg" => ("image/svg+xml", include_bytes!("sandbox-avatar.svg")),
        "form_post.js" => ("text/javascript; charset=utf-8", b"document.getElementById('form-post').submit();\n"),
        _ => return axum::http::StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], body).into_response()
}

/// Renders one of the sandbox's pages (a render failure is a bare 500: nothing to leak).
pub fn render(page: &impl askama::Template) -> axum::response::Response {
    match page.render() {
        Ok(html) => axum::response::Html(html).into_response(),
        Err(_) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "render failed").into_response(),
    }
}

/// A running sandbox.
pub struct Running {
    addr: SocketAddr,
    cert_pem: Vec<u8>,
    handle: Handle<SocketAddr>,
}

impl Running {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its issuer URL (the OAuth provider), e.g. `https://127.0.0.1:3002`.
    pub fn issuer(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Its API's base URL, e.g. `https://127.0.0.1:3002/api`.
    pub fn api_base(&self) -> String {
        format!("https://{}/api", self.addr)
    }

    /// The certificate it serves (PEM): trust it in the app's HTTP client.
    pub fn cert_pem(&self) -> &[u8] {
        &self.cert_pem
    }

    /// Stops it at once (to see an app with Fanvue gone).
    pub fn stop(&self) {
        self.handle.shutdown();
    }
}

/// Binds the sandbox on `127.0.0.1:{settings.port}` and serves it in the background.
pub async fn spawn(settings: Settings) -> std::io::Result<Running> {
    let listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], settings.port)))?;
    spawn_on(listener, settings).await
}

/// Serves the sandbox in the background on a socket already listening (`settings.port` is
/// not used): for a caller that holds the port so nothing else can take it first.
pub async fn spawn_on(listener: std::net::TcpListener, settings: Settings) -> std::io::Result<Running> {
    install_crypto_provider();
    let material = match settings.tls.clone() {
        Some(material) => material,
        None => {
            let generated = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .map_err(std::io::Error::other)?;
            TlsPem {
                cert_pem: generated.cert.pem().into_bytes(),
                key_pem: generated.signing_key.serialize_pem().into_bytes(),
            }
        }
    };
    let tls = RustlsConfig::from_pem(material.cert_pem.clone(), material.key_pem.clone()).await?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let signing_secret = crypto::b64(&crypto::derive(&material.key_pem, "sandbox-signing-v1").mac(b"sandbox"));
    let state = SandboxState::new(&settings, &format!("https://{addr}"), &signing_secret);
    let handle = Handle::new();
    let server = axum_server::from_tcp_rustls(listener, tls)?.handle(handle.clone());
    tokio::spawn(async move {
        if let Err(err) = server.serve(router(state).into_make_service()).await {
            tracing::error!(error = %err, "the sandbox stopped");
        }
    });
    Ok(Running { addr, cert_pem: material.cert_pem, handle })
}
