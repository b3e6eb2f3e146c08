//! `/api/fanvue/{*path}`: the scope-gated JSON proxy for the browser.
//!
//! The app's own pages (and any JavaScript you add) call Fanvue through here without ever
//! seeing a token. The path is checked ([`ApiPath`]: it cannot leave `API_BASE_URL`), the
//! request goes through [`Api::call`] (endpoint table, scope check before any upstream
//! call, fresh token, one retry after 401 for reads), and Fanvue's status, body and
//! `Retry-After`/`X-RateLimit-*` headers are passed back as they are; the Content-Type is the
//! proxy's own ([`answer_type`]). State-changing methods are refused cross-site before they
//! get here, and errors are JSON ([`router`]'s layers).
//!
//! One part of the API is not served: Fanvue's webhook subscriptions (`/webhooks/…`). Creating
//! one answers with its signing secret, which must never reach a browser (whoever holds it can
//! forge deliveries), and managing subscriptions is the operator's, on `/operator/events`.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use tower_sessions::Session;

use crate::auth::Api;
use crate::web::error::AppError;
use crate::web::middleware::{
    ClientLimit, Passthrough, REQUEST_TIMEOUT, json_errors, limited_per_client, same_origin_only, with_timeout,
};
use fanvue::{ApiPath, ApiRequest};

/// Prefix of the proxy routes.
pub const PREFIX: &str = "/api/fanvue";

/// The proxy route, for console sessions (`api`), with its layers: a time limit, the
/// cross-site refusal, the per-client limit (each call spends the user's Fanvue budget), and
/// JSON errors.
pub fn router<S: Clone + Send + Sync + 'static>(api: Api, origin: &str, limit: ClientLimit) -> Router<S> {
    let routes = Router::new().route(&format!("{PREFIX}/{{*path}}"), any(forward));
    let routes = same_origin_only(with_timeout(routes, REQUEST_TIMEOUT), origin);
    json_errors(limited_per_client(routes, limit)).with_state(api)
}

async fn forward(
    State(api): State<Api>,
    session: Session,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let raw_path = uri.path().strip_prefix(PREFIX).unwrap_or_default();
    let path = ApiPath::parse(raw_path).map_err(|e| AppError::BadRequest(e.to_string()))?;
    if is_operator_only(&path) {
        tracing::info!("the proxy does not serve Fanvue's webhook subscriptions (operator view only)");
        return Err(AppError::NotFound);
    }
    let json_body = json_body(&method, &headers, body)?;
    let request = ApiRequest { method, path, query: uri.query().map(str::to_owned), json_body };
    let answer = api.call(&session, request).await?;
    let mut response = Body::from(answer.body).into_response();
    *response.status_mut() = answer.status;
    let content_type = answer_type(answer.headers.get(header::CONTENT_TYPE));
    response.headers_mut().extend(answer.headers);
    response.headers_mut().insert(header::CONTENT_TYPE, content_type);
    response.extensions_mut().insert(Passthrough);
    Ok(response)
}

/// Fanvue's webhook subscriptions API: its answers carry signing secrets (see the module docs).
fn is_operator_only(path: &ApiPath) -> bool {
    path.segments().next().is_some_and(|first| first.eq_ignore_ascii_case("webhooks"))
}

/// The Content-Type of a relayed answer, always the proxy's own: it is served from this app's
/// origin, so Fanvue's header is never passed on as it came (`application/json, text/html`
/// would render as HTML). A JSON type (`application/json` or `application/problem+json`, any
/// case, any parameters) becomes exactly that type; anything else, or none, is inert text.
fn answer_type(upstream: Option<&HeaderValue>) -> HeaderValue {
    let essence = upstream
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some("application/json") => HeaderValue::from_static("application/json"),
        Some("application/problem+json") => HeaderValue::from_static("application/problem+json"),
        _ => HeaderValue::from_static("text/plain; charset=utf-8"),
    }
}

/// The body to forward: only for POST/PUT/PATCH, only JSON, and only if it parses.
fn json_body(method: &Method, headers: &HeaderMap, body: Bytes) -> Result<Option<Bytes>, AppError> {
    if !matches!(*method, Method::POST | Method::PUT | Method::PATCH) || body.is_empty() {
        return Ok(None);
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")));
    if !is_json {
        return Err(AppError::BadRequest("send the body as JSON with Content-Type: application/json".into()));
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(&body)
        .map_err(|e| AppError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    Ok(Some(body))
}
