//! The middleware stack, declared once in [`stack`], plus the pieces it is made of:
//! request ids, a request log line that never contains query strings (they carry OAuth codes
//! and state), security headers, cross-site request refusal, error rendering, panic
//! containment, timeouts and body limits.

use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

use crate::error::{AppError, ErrorReport};
use crate::pages::ErrorPage;
use crate::state::AppState;

/// Header carrying the request id, on the request and echoed on the response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Largest request body accepted (JSON to the proxy, form posts).
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;
/// Longest a request may take end to end (upstream timeout included).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a media upload may take (it streams the file to Fanvue as it arrives).
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Applies the whole stack to `router`. Outermost first:
/// request id → log line → sensitive headers → security headers → error rendering →
/// panic containment → time limit → body limit → per-IP rate limit → cross-site refusal → (routes).
pub fn stack(router: Router<AppState>, state: AppState) -> Router<AppState> {
    router.layer(
        ServiceBuilder::new()
            // Ids are ours: one sent by the client is dropped, not trusted into logs and pages.
            .layer(axum::middleware::map_request(|mut req: Request| async move {
                req.headers_mut().remove(REQUEST_ID);
                req
            }))
            .layer(SetRequestIdLayer::new(REQUEST_ID, RandomRequestId))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|req: &Request| {
                        let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                        // The path only: query strings carry `code` and `state`.
                        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                    })
                    .on_request(())
                    .on_response(|res: &Response, latency: Duration, _: &tracing::Span| {
                        tracing::info!(status = res.status().as_u16(), latency_us = latency.as_micros() as u64, "response");
                    }),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(SetSensitiveRequestHeadersLayer::new([header::AUTHORIZATION, header::COOKIE]))
            .layer(middleware::from_fn_with_state(state.clone(), security_headers))
            .layer(middleware::from_fn(render_errors))
            .layer(CatchPanicLayer::custom(|_| AppError::Internal("a handler panicked".into()).into_response()))
            .layer(middleware::from_fn(time_limit))
            .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT_BYTES))
            .layer(middleware::from_fn_with_state(state.clone(), crate::limits::limit))
            .layer(middleware::from_fn_with_state(state, refuse_cross_site)),
    )
}

/// Bounds every request's time: [`REQUEST_TIMEOUT`], or [`UPLOAD_TIMEOUT`] for the one
/// route that streams a file to Fanvue. A request past its time gets 504.
async fn time_limit(request: Request, next: Next) -> Response {
    let limit = match request.uri().path() {
        crate::pages::media::UPLOAD_PATH => UPLOAD_TIMEOUT,
        // A live feed stays open for as long as the page does.
        crate::pages::events::STREAM_PATH => return next.run(request).await,
        _ => REQUEST_TIMEOUT,
    };
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => StatusCode::GATEWAY_TIMEOUT.into_response(),
    }
}

/// Request ids: 96 random bits, base64url.
#[derive(Clone, Copy, Debug)]
pub struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&crate::crypto::random_token(12)).ok().map(RequestId::new)
    }
}

/// The Content-Security-Policy of every page: nothing inline, nothing from elsewhere except
/// https images (avatars), and no framing (Fanvue's authorize page must not be framed, and
/// neither may ours: clickjacking).
pub const CSP: &str = "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

async fn security_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let is_static = request.uri().path().starts_with("/static/");
    let mut response = next.run(request).await;
    let frameable = response.extensions().get::<crate::embedded::Frameable>().is_some();
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, CSP);
    if !frameable {
        // The embedded surface sets its own `frame-ancestors`; X-Frame-Options would veto it.
        set(header::X_FRAME_OPTIONS, "DENY");
    }
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "same-origin");
    set(HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    if !is_static {
        // Pages show personal data and carry fresh session cookies: never cache them.
        set(header::CACHE_CONTROL, "no-store");
    }
    if !is_local_host(state.config.base_url.host_str().unwrap_or("")) {
        set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
    response
}

fn is_local_host(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost") || host == "127.0.0.1" || host == "[::1]"
}

/// Refuses state-changing requests that do not come from this app's own pages (CSRF),
/// before the session is touched. Every current browser sends `Sec-Fetch-Site` or `Origin`
/// on a POST; a request with neither is refused too (a script calling the proxy with a
/// session cookie sends `Origin` itself), so the check never rests on a missing header.
/// Two routes are exempt: the OAuth callback (the provider's `form_post` is cross-site by
/// design and is protected by `state`) and the webhook receiver (server to server, no
/// cookies, protected by its signature).
async fn refuse_cross_site(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let path = request.uri().path();
    if safe
        || crate::oauth::routes::is_callback_path(path, state.config.oauth.redirect_uri.path())
        || path.starts_with(crate::webhooks::routes::PATH)
    {
        return next.run(request).await;
    }
    if is_same_origin(request.headers(), &state.config.origin()) {
        next.run(request).await
    } else {
        AppError::CrossSite.into_response()
    }
}

/// Whether an unsafe request comes from this app's own pages.
pub fn is_same_origin(headers: &HeaderMap, origin: &str) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match (get("sec-fetch-site"), get("origin")) {
        (Some(site), _) if site != "same-origin" && site != "none" => false,
        (_, Some(o)) => o == origin,
        (Some(_), None) => true,
        (None, None) => false,
    }
}

/// Renders every error response in one place: the [`ErrorReport`] an [`AppError`] left,
/// or a generic one for bare statuses from layers (413, 404, 405, 504…). JSON for the API
/// proxy, an HTML page otherwise, both with the request id.
async fn render_errors(request: Request, next: Next) -> Response {
    let wants_json =
        ["/api/fanvue", "/api/webhooks", "/api/embedded"].iter().any(|p| request.uri().path().starts_with(p))
            || request
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.starts_with("application/json"));
    let request_id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    if response.extensions().get::<Passthrough>().is_some() {
        return response;
    }
    let report = match response.extensions().get::<ErrorReport>() {
        Some(report) => report.clone(),
        // Bare statuses from layers and extractor rejections (plain text) get a proper page.
        None if (status.is_client_error() || status.is_server_error()) && !has_rich_body(&response) => {
            generic_report(status)
        }
        None => return response,
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = if wants_json {
        parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let json = serde_json::json!({
            "error": report.code,
            "message": report.message,
            "missingScopes": report.scopes,
            "requestId": request_id,
        });
        Body::from(json.to_string())
    } else {
        parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        let page = ErrorPage::new(status, &report, &request_id, &path);
        Body::from(page.render().unwrap_or_else(|_| "Something went wrong.".to_owned()))
    };
    Response::from_parts(parts, body)
}

/// Marks a response relayed from Fanvue: its status and body are passed back as they are.
#[derive(Clone, Copy, Debug)]
pub struct Passthrough;

/// Whether a response already carries a body meant for people or programs (HTML, JSON).
/// Empty and `text/plain` bodies (extractor rejections, layer errors) do not count.
fn has_rich_body(response: &Response) -> bool {
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    response.body().size_hint().exact() != Some(0)
        && !content_type.is_empty()
        && !content_type.starts_with("text/plain")
}

fn generic_report(status: StatusCode) -> ErrorReport {
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "There is no page here."),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "That method is not allowed here."),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "The request body is too large."),
        StatusCode::GATEWAY_TIMEOUT => ("timeout", "That took too long. Try again."),
        StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "Too many requests. Wait a moment and try again."),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "Send JSON with Content-Type: application/json.")
        }
        s if s.is_client_error() => ("bad_request", "The request was not understood."),
        _ => ("internal_error", "Something went wrong on our side."),
    };
    ErrorReport { code, message: message.to_owned(), scopes: Vec::new(), actions: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn cross_site_detection_follows_fetch_metadata_then_origin() {
        let me = "https://localhost:3001";
        assert!(is_same_origin(&headers(&[("sec-fetch-site", "same-origin"), ("origin", me)]), me));
        assert!(!is_same_origin(&headers(&[("sec-fetch-site", "cross-site"), ("origin", me)]), me));
        assert!(!is_same_origin(&headers(&[("sec-fetch-site", "same-site")]), me));
        assert!(!is_same_origin(&headers(&[("origin", "https://evil.example")]), me));
        assert!(!is_same_origin(&headers(&[("origin", "null")]), me));
        assert!(is_same_origin(&headers(&[("origin", me)]), me));
        assert!(!is_same_origin(&headers(&[]), me), "no proof of origin, no state change");
    }
}
