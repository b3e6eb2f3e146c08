//! The sandbox's REST API under `/api`, checked exactly as Fanvue checks: the
//! `X-Fanvue-API-Version` header (400 missing or unknown, 410 sunset), the bearer token (401),
//! the endpoint's scopes from the shared endpoint table (403), the per-user budget of 200
//! requests per 60 s (429 with `Retry-After`), then the request against Fanvue's published
//! reference ([`fanvue::contract`]): a path parameter of the wrong format is a 400
//! `{"message"}`, a value the reference refuses a 400 `{"errors": [...]}`. Every answer
//! carries `X-RateLimit-*`.
//!
//! What the reference does not document is not refused (Fanvue ignores unknown parameters)
//! but recorded as a contract violation, and so is every 2xx answer of the sandbox's own that
//! departs from the documented status or schema: `GET /_sandbox/contract` lists them, so a
//! test can fail on a client sending what Fanvue does not document, or on the sandbox drifting
//! from Fanvue.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::store::{Side, Violation};
use crate::state::SandboxState;
use fanvue::ApiPath;
use fanvue::contract::{self, Operation};
use fanvue::endpoints::{self, Lookup};

pub use crate::users::{USER_HANDLE, USER_UUID};
/// The only API version the sandbox serves (Fanvue's current one).
pub const CURRENT_VERSION: &str = "2025-06-26";
/// A version Fanvue documents as sunset.
pub const SUNSET_VERSION: &str = "2024-01-01";

fn api_error(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

/// Every `/api/*` request.
pub async fn dispatch(State(sb): State<SandboxState>, request: Request) -> Response {
    sb.store.count(|s| s.api_calls += 1);
    if !sb.latency.is_zero() {
        tokio::time::sleep(sb.latency).await;
    }
    let version = request.headers().get("x-fanvue-api-version").and_then(|v| v.to_str().ok());
    match version {
        Some(CURRENT_VERSION) => {}
        Some(SUNSET_VERSION) => {
            return api_error(
                StatusCode::GONE,
                json!({"error": "API version no longer supported", "message": "API version '2024-01-01' was sunset on 2024-12-31T00:00:00.000Z", "nextVersion": CURRENT_VERSION}),
            );
        }
        other => {
            return api_error(
                StatusCode::BAD_REQUEST,
                json!({"error": "Unsupported API version", "message": format!("API version '{}' is not supported", other.unwrap_or(""))}),
            );
        }
    }
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(claims) = bearer.and_then(|t| sb.store.verify_access(t)) else {
        return api_error(
            StatusCode::UNAUTHORIZED,
            json!({"error": "Unauthorized: the access token is missing, expired or revoked"}),
        );
    };
    let path = request.uri().path().strip_prefix("/api").unwrap_or_default();
    let Ok(path) = ApiPath::parse(path) else {
        return api_error(StatusCode::NOT_FOUND, json!({"message": "Not Found"}));
    };
    let method = request.method().clone();
    let endpoint = match endpoints::lookup(&method, &path) {
        Lookup::Found(endpoint) => endpoint,
        Lookup::MethodNotAllowed | Lookup::Unknown => {
            return api_error(StatusCode::NOT_FOUND, json!({"message": format!("Cannot {method} {path}")}));
        }
    };
    let missing = claims.scp.missing(endpoint.required());
    if !missing.is_empty() {
        return api_error(
            StatusCode::FORBIDDEN,
            json!({"error": format!("Insufficient scope: this endpoint requires {missing}")}),
        );
    }
    let (remaining, reset) = match sb.store.take_budget(&claims.sub) {
        Ok(budget) => budget,
        Err(retry_after) => {
            let mut response = api_error(StatusCode::TOO_MANY_REQUESTS, json!({"error": "Too Many Requests"}));
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            rate_headers(&mut response, 0, sb.store.rate_limit(), fanvue::oauth::now_unix() + retry_after);
            return response;
        }
    };
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes()).into_owned().collect();
    let params = path_params(endpoint.pattern, &path);
    let body = axum::body::to_bytes(request.into_body(), 1024 * 1024).await.unwrap_or_default();
    let operation = contract::contract().ok().and_then(|c| c.find(&method, &path));
    if let Some((op, named)) = &operation
        && let Some(refusal) = check_request(&sb, op, named, &query, &body)
    {
        return with_rate_headers(refusal, &sb, remaining, reset);
    }
    let call = super::resources::Call { method: &method, pattern: endpoint.pattern, params, query, body: &body };
    let served = match (&method, endpoint.pattern) {
        (&Method::GET | &Method::HEAD, "/users/me") => {
            Some(Json(super::users::profile(&claims.sub, &sb.issuer)).into_response())
        }
        (&Method::GET, "/apps/{appUuid}/subscription/me") => Some(super::surface::entitlement(&sb, &call, &claims.sub)),
        (_, "/webhooks/subscriptions" | "/webhooks/subscriptions/{subscriptionId}") => {
            Some(super::hooks::subscriptions_api(&sb, &call, &claims.sub))
        }
        _ => super::resources::handle(&sb, &call),
    };
    let mut response = served.unwrap_or_else(|| {
        api_error(
            StatusCode::NOT_IMPLEMENTED,
            json!({"message": format!("The sandbox does not serve {method} {} yet; it is part of the Fanvue API and works against Fanvue.", endpoint.pattern)}),
        )
    });
    if let Some((op, _)) = &operation
        && response.status().is_success()
    {
        response = check_response(&sb, op, response).await;
    }
    with_rate_headers(response, &sb, remaining, reset)
}

fn with_rate_headers(mut response: Response, sb: &SandboxState, remaining: u32, reset: i64) -> Response {
    rate_headers(&mut response, remaining, sb.store.rate_limit(), reset);
    response
}

fn violation(op: &Operation, kind: Side, message: String) -> Violation {
    Violation { method: op.method.to_string(), path: op.path.clone(), kind, message }
}

/// Fanvue's refusal of what its reference refuses, if any; records what it does not document.
fn check_request(
    sb: &SandboxState,
    op: &Operation,
    named: &[(String, String)],
    query: &[(String, String)],
    body: &[u8],
) -> Option<Response> {
    let found = op.check_request(named, query, Some(body));
    for undocumented in found.undocumented {
        sb.store.record_violation(violation(op, Side::Request, undocumented));
    }
    if !found.invalid_path.is_empty() {
        return Some(api_error(StatusCode::BAD_REQUEST, json!({"message": found.invalid_path.join("; ")})));
    }
    (!found.invalid.is_empty()).then(|| api_error(StatusCode::BAD_REQUEST, json!({"errors": found.invalid})))
}

/// Records where a 2xx answer departs from the documented status and schema; the answer goes
/// out unchanged.
async fn check_response(sb: &SandboxState, op: &Operation, response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    for problem in op.check_response(parts.status.as_u16(), &bytes) {
        sb.store.record_violation(violation(op, Side::Response, problem));
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The values of the pattern's `{…}` segments, in order.
fn path_params(pattern: &str, path: &ApiPath) -> Vec<String> {
    pattern
        .trim_start_matches('/')
        .split('/')
        .zip(path.segments())
        .filter(|(p, _)| p.starts_with('{'))
        .map(|(_, v)| v.to_owned())
        .collect()
}

fn rate_headers(response: &mut Response, remaining: u32, limit: u32, reset: i64) {
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
}
