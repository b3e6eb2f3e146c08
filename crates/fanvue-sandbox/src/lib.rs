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
//! - [`settings`]: what a sandbox is started with; [`state`]: what its handlers share;
//! - [`env`](mod@env): the sandbox's settings as environment variables, for an app started with it.
//!
//! Extras exist for tests and demos: `GET /_sandbox/stats` (counters), `GET /_sandbox/contract`
//! (requests and answers that departed from Fanvue's published reference, see [`api`]) and
//! `POST /_sandbox/revoke-consent` (what a creator does in Fanvue's settings).

pub mod api;
pub mod crypto;
pub mod env;
pub mod hooks;
mod html;
pub mod provider;
pub mod resources;
pub mod seed;
pub mod settings;
pub mod state;
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

pub use html::render;
pub use settings::{APP_UUID, AppSettings, CLIENT_ID, PLAN_UUID, Settings, TlsPem};
pub use state::{AppTarget, SandboxState};
pub use store::RegisteredClient;

use state::install_crypto_provider;

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
