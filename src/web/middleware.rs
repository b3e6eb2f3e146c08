//! Generic middleware, none of which knows a route: the stack every request passes
//! ([`stack`]: request ids, a request log line that never contains query strings — they carry
//! OAuth codes and state — security headers, error rendering, panic containment, a body limit,
//! request metrics), and the layers a feature puts on its own routes ([`with_timeout`],
//! [`same_origin_only`], [`limited_per_client`], [`json_errors`]). Responses tell the stack what
//! they are through extensions ([`Passthrough`], [`Frameable`], [`JsonErrors`]), never through
//! their path.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

use crate::infra::metrics::metrics;
use crate::infra::rate_limit::{RateLimits, client_ip, ip_key, retry_after_secs};
use crate::web::error::{AppError, ErrorReport};
use crate::web::page::ErrorPage;

/// Header carrying the request id, on the request and echoed on the response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Largest request body accepted (JSON to the proxy, form posts) unless a route sets its own.
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;
/// Longest a request may take end to end (upstream timeout included), unless its feature
/// sets another ([`with_timeout`]).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the whole stack needs to know about the deployment.
#[derive(Clone, Copy, Debug)]
pub struct StackSettings {
    /// Whether to send `Strict-Transport-Security` (not on a local host name).
    pub hsts: bool,
}

impl StackSettings {
    /// The settings for an app served at `base_url`.
    pub fn for_base_url(base_url: &url::Url) -> Self {
        StackSettings { hsts: !is_local_host(base_url.host_str().unwrap_or("")) }
    }
}

/// Applies the whole stack to `router`. Outermost first:
/// request id → log line → sensitive headers → security headers → error rendering →
/// panic containment → body limit → request metrics → (routes and their own layers).
pub fn stack<S: Clone + Send + Sync + 'static>(router: Router<S>, settings: StackSettings) -> Router<S> {
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
            .layer(middleware::from_fn_with_state(settings, security_headers))
            .layer(middleware::from_fn(render_errors))
            .layer(CatchPanicLayer::custom(|_| AppError::Internal("a handler panicked".into()).into_response()))
            .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT_BYTES))
            .layer(middleware::from_fn(record)),
    )
}

/// Bounds the time of every request to `router`'s routes: past `limit`, 504. A feature puts it
/// on its routes, with its own limit where it needs one (an upload streams for minutes; a live
/// feed has none at all).
pub fn with_timeout<S: Clone + Send + Sync + 'static>(router: Router<S>, limit: Duration) -> Router<S> {
    router.layer(middleware::from_fn(move |request: Request, next: Next| async move {
        match tokio::time::timeout(limit, next.run(request)).await {
            Ok(response) => response,
            Err(_) => StatusCode::GATEWAY_TIMEOUT.into_response(),
        }
    }))
}

/// Refuses state-changing requests to `router`'s routes that do not come from this app's own
/// pages (CSRF), before the session is touched. Every current browser sends `Sec-Fetch-Site`
/// or `Origin` on a POST; a request with neither is refused too (a script calling the proxy
/// with a session cookie sends `Origin` itself), so the check never rests on a missing header.
/// Every feature that takes a cookie-authenticated POST puts it on its routes; what is left
/// without it is cross-site by design and protected otherwise (the OAuth callback by `state`,
/// webhooks by their signature).
pub fn same_origin_only<S: Clone + Send + Sync + 'static>(router: Router<S>, origin: &str) -> Router<S> {
    let origin: Arc<str> = origin.into();
    router.layer(middleware::from_fn_with_state(origin, refuse_cross_site))
}

async fn refuse_cross_site(State(origin): State<Arc<str>>, request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || is_same_origin(request.headers(), &origin) {
        next.run(request).await
    } else {
        AppError::CrossSite.into_response()
    }
}

/// The per-client-IP limit (`RATE_LIMIT_PER_MINUTE`) and who may name the client in
/// `X-Forwarded-For` (`TRUSTED_PROXIES`).
#[derive(Clone, Debug)]
pub struct ClientLimit {
    /// The limits.
    pub limits: Arc<RateLimits>,
    /// `TRUSTED_PROXIES`.
    pub trusted_proxies: Arc<[IpAddr]>,
}

/// Puts the per-client-IP limit on `router`'s routes: the ones that cost something upstream
/// (a login starts a consent, a proxied call spends the user's Fanvue budget, the embedded
/// exchange spends the app's credentials). Over the limit: 429 with `Retry-After`.
pub fn limited_per_client<S: Clone + Send + Sync + 'static>(router: Router<S>, limit: ClientLimit) -> Router<S> {
    router.layer(middleware::from_fn_with_state(limit, per_client))
}

async fn per_client(State(limit): State<ClientLimit>, request: Request, next: Next) -> Response {
    let Some(per_client) = limit.limits.per_client.as_ref() else {
        return next.run(request).await;
    };
    let Some(peer) = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()) else {
        return next.run(request).await; // in-process tests have no peer
    };
    let ip = client_ip(peer, request.headers(), &limit.trusted_proxies);
    match per_client.check(&ip_key(ip)) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            // Counted by the stack's request metrics, under the route it was meant for.
            tracing::info!(%ip, "rate limit reached");
            let mut response = (StatusCode::TOO_MANY_REQUESTS, "").into_response();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(wait)));
            response
        }
    }
}

/// Marks every response of `router`'s routes (errors from their own layers included) as an
/// API's: errors are rendered as JSON, not as a page.
pub fn json_errors<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router.layer(middleware::map_response(|mut response: Response| async move {
        response.extensions_mut().insert(JsonErrors);
        response
    }))
}

/// Counts every answered request under its route pattern.
async fn record(request: Request, next: Next) -> Response {
    // MatchedPath is a shared string: cloning it allocates nothing.
    let route = request.extensions().get::<axum::extract::MatchedPath>().cloned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let route = route.as_ref().map_or("unmatched", |p| p.as_str());
    metrics().request(route, response.status().as_u16(), started.elapsed());
    response
}

/// Request ids: 96 random bits, base64url.
#[derive(Clone, Copy, Debug)]
pub struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&crate::infra::crypto::random_token(12)).ok().map(RequestId::new)
    }
}

/// The Content-Security-Policy of every page: nothing inline, nothing from elsewhere except
/// https images (avatars), and no framing (Fanvue's authorize page must not be framed, and
/// neither may ours: clickjacking).
pub const CSP: &str = "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

async fn security_headers(State(settings): State<StackSettings>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let frameable = response.extensions().get::<Frameable>().is_some();
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, CSP);
    if !frameable {
        // A frameable surface sets its own `frame-ancestors`; X-Frame-Options would veto it.
        set(header::X_FRAME_OPTIONS, "DENY");
    }
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "same-origin");
    set(HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    // Pages show personal data and carry fresh session cookies: never cache them. (Static
    // files set their own Cache-Control, which `or_insert` keeps.)
    set(header::CACHE_CONTROL, "no-store");
    if settings.hsts {
        set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
    response
}

fn is_local_host(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost") || host == "127.0.0.1" || host == "[::1]"
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
/// or a generic one for bare statuses from layers (413, 404, 405, 504…). JSON for routes
/// marked [`JsonErrors`] and for clients that ask for JSON, an HTML page otherwise, both with
/// the request id.
async fn render_errors(request: Request, next: Next) -> Response {
    let asks_json = request
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
    let wants_json = asks_json || response.extensions().get::<JsonErrors>().is_some();
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
        let mut page = ErrorPage::new(status, &report, &request_id, &path);
        if let Some(SignedInScopes(scopes)) = parts.extensions.get::<SignedInScopes>() {
            page.nav = crate::web::page::Nav::for_scopes(*scopes, "");
        }
        Body::from(page.render().unwrap_or_else(|_| "Something went wrong.".to_owned()))
    };
    Response::from_parts(parts, body)
}

/// Marks a response relayed from Fanvue: its status and body are passed back as they are.
#[derive(Clone, Copy, Debug)]
pub struct Passthrough;

/// What a signed-in session was granted, put on an error response by whoever knows the
/// session (`auth`), so the error page keeps the navigation.
#[derive(Clone, Copy, Debug)]
pub struct SignedInScopes(pub fanvue::scopes::ScopeSet);

/// Marks a response of an API route: an error is rendered as JSON ([`json_errors`]).
#[derive(Clone, Copy, Debug)]
pub struct JsonErrors;

/// Marks a page that may be framed (it sets its own `frame-ancestors`): no `X-Frame-Options`.
#[derive(Clone, Copy, Debug)]
pub struct Frameable;

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
