//! The built-in Fanvue sandbox: a faithful stand-in for Fanvue's OAuth provider (ORY
//! Hydra) and REST API, started next to the app by `--sandbox`, so the whole app runs and is
//! tested with no Fanvue account and no network.
//!
//! It listens on `https://127.0.0.1:SANDBOX_PORT` with its own certificate,
//! `certs/127.0.0.1.pem` (generated once, or yours from mkcert), which the app's HTTP client
//! trusts. The host differs from the app's (`localhost`) on purpose: to a browser the sandbox
//! is another site, as Fanvue is, so `SameSite` cookie rules and `form_post` behave as they do
//! in production.
//!
//! What it enforces, like Fanvue: exact redirect URIs, PKCE S256, `state` and `nonce`
//! strength, one-time codes (a replay revokes the grant), `client_secret_basic` only, access
//! token expiry (`SANDBOX_ACCESS_TOKEN_TTL_SECS`), refresh-token rotation with reuse detection
//! that revokes the whole grant, revocation, `X-Fanvue-API-Version`, scope checks on every API
//! call (the same endpoint table the app uses), and the 200 requests / 60 s budget.
//!
//! - [`provider`]: authorize, consent, token, revoke, and embedded apps' authorize-on-behalf;
//! - [`api`]: the REST API, checked against Fanvue's published reference;
//! - [`resources`]: its endpoints, over the seeded data of [`seed`];
//! - [`store`]: codes, grants, tokens and counters (`GET /_sandbox/stats`).
//!
//! Extras exist for tests and demos: `GET /_sandbox/stats` (counters), `GET /_sandbox/contract`
//! (requests and answers that departed from Fanvue's published reference, see [`api`]) and
//! `POST /_sandbox/revoke-consent` (what a creator does in Fanvue's settings).

pub mod api;
pub mod hooks;
pub mod provider;
pub mod resources;
pub mod seed;
pub mod store;
pub mod surface;
pub mod users;

use std::net::SocketAddr;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::{any, get, post};
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use secrecy::ExposeSecret;

use crate::config::Config;
use store::{RegisteredClient, SandboxStore};

/// State of the sandbox's handlers.
#[derive(Clone)]
pub struct SandboxState {
    /// Codes, grants, tokens, counters.
    pub store: SandboxStore,
    /// The sandbox's issuer URL, e.g. `https://127.0.0.1:3002`.
    pub issuer: String,
    /// Delay added to every API answer (`SANDBOX_LATENCY_MS`).
    pub latency: std::time::Duration,
    /// The seeded creator's world, changed by the API's write endpoints.
    pub world: std::sync::Arc<std::sync::Mutex<seed::World>>,
    /// The app, as Fanvue knows it: where to deliver webhooks and what to ask consent for.
    pub app: AppTarget,
}

/// What the sandbox knows about the app (what the Builder holds at Fanvue).
#[derive(Clone)]
pub struct AppTarget {
    /// The app's origin (`BASE_URL`).
    pub origin: String,
    /// The app's scopes (`OAUTH_SCOPES`), asked for by the in-shell consent.
    pub scopes: crate::scopes::ScopeSet,
    /// The signing secret of webhook deliveries.
    pub webhook_secret: Option<String>,
    /// The client deliveries go out with: it trusts the app's certificate and reaches the
    /// app's host on this machine (the browser needs a hosts entry; the sandbox does not).
    pub http: reqwest::Client,
}

impl SandboxState {
    /// Registers the app's client (id, secret, exact redirect URI) from its configuration.
    ///
    /// Its access tokens are signed under `signing_secret`: the in-process sandbox uses its
    /// certificate's key, so tokens outlive restarts and do not depend on `SESSION_SECRET`,
    /// as Fanvue's do not.
    pub fn from_config(config: &Config, signing_secret: &str, app_cert_pem: Option<&[u8]>) -> Self {
        let sandbox = config.sandbox.as_ref();
        let client = RegisteredClient {
            id: config.oauth.client_id.clone(),
            secret: config.oauth.client_secret.expose_secret().to_owned(),
            redirect_uris: vec![config.oauth.redirect_uri.to_string()],
        };
        let ttl = sandbox.map_or(std::time::Duration::from_secs(3600), |s| s.access_token_ttl);
        let issuer = config.oauth.issuer.as_str().trim_end_matches('/').to_owned();
        let world = seed::World::seed(time::OffsetDateTime::now_utc(), &issuer);
        SandboxState {
            store: SandboxStore::new(client, signing_secret, ttl, sandbox.map_or(store::RATE_LIMIT, |s| s.rate_limit)),
            issuer,
            latency: sandbox.map_or(std::time::Duration::ZERO, |s| s.latency),
            world: std::sync::Arc::new(std::sync::Mutex::new(world)),
            app: AppTarget {
                origin: config.origin(),
                scopes: config.oauth.scopes,
                webhook_secret: config.webhooks.verifier.current_secret().map(|s| s.expose_secret().to_owned()),
                http: delivery_client(config, app_cert_pem),
            },
        }
    }
}

fn delivery_client(config: &Config, app_cert_pem: Option<&[u8]>) -> reqwest::Client {
    // reqwest without a default provider panics when none is installed (e.g. in tests).
    crate::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("Fanvue-Webhooks (sandbox)");
    if let Some(cert) = app_cert_pem.and_then(|pem| reqwest::Certificate::from_pem(pem).ok()) {
        builder = builder.tls_certs_merge([cert]);
    }
    if let (Some(url::Host::Domain(host)), Some(port)) =
        (config.base_url.host(), config.base_url.port_or_known_default())
    {
        let ip = if config.server.bind.is_unspecified() {
            std::net::IpAddr::from([127, 0, 0, 1])
        } else {
            config.server.bind
        };
        builder = builder.resolve(host, std::net::SocketAddr::new(ip, port));
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
        .route(crate::embedded::exchange::AUTHORIZE_ON_BEHALF_PATH, post(provider::authorize_on_behalf))
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
        "fanvue_authorize_on_behalf_endpoint": format!("{issuer}{}", crate::embedded::exchange::AUTHORIZE_ON_BEHALF_PATH),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "scopes_supported": crate::scopes::Scope::ALL.map(|(_, name)| name),
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
        "style.css" => ("text/css; charset=utf-8", include_bytes!("../../static/app.css")),
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

/// Binds the sandbox on `127.0.0.1:port` and serves it in the background.
pub fn spawn(
    state: SandboxState,
    port: u16,
    tls: RustlsConfig,
    handle: Handle<SocketAddr>,
) -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(err) = crate::tls::serve(listener, Some(tls), router(state), handle).await {
            tracing::error!(error = %err, "the sandbox stopped");
        }
    });
    Ok(addr)
}
