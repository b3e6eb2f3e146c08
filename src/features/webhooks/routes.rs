//! The receiving endpoints: `POST /api/webhooks/fanvue` (any event, typed by shape) and
//! `POST /api/webhooks/fanvue/{event}` (one URL per platform event, recommended because
//! platform payloads carry no type), both verified with the app's `FANVUE_WEBHOOK_SECRET`; and
//! `POST /api/webhooks/fanvue/s/{endpoint}`, the URL the app registers for each subscription it
//! makes through Fanvue's API, verified with that subscription's own secret only. All take the
//! raw body, so the signature is checked over the exact bytes Fanvue sent.
//!
//! Why a URL per subscription rather than trying every stored secret on one URL: the URL
//! names the one secret to check, so a delivery costs one HMAC whatever the number of
//! subscriptions (an unauthenticated request cannot make the app compute one per secret), and
//! a delivery signed for one subscription is refused at every other URL, the app's included.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::WebhookState;
use super::events::Kind;
use super::signature::HEADER;
use crate::web::error::AppError;

/// Where the endpoints live.
pub const PATH: &str = "/api/webhooks/fanvue";

/// The receiving routes (their layers are put on in [`super::router`]).
pub(super) fn router() -> Router<WebhookState> {
    Router::new()
        .route(PATH, post(shared))
        .route(&format!("{PATH}/{{event}}"), post(typed))
        .route(&format!("{PATH}/s/{{endpoint}}"), post(subscription))
}

async fn shared(State(state): State<WebhookState>, headers: HeaderMap, body: Bytes) -> Result<Response, AppError> {
    receive(&state, None, &headers, &body).await
}

async fn typed(
    State(state): State<WebhookState>,
    Path(event): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    // An unknown slug is a 404, so a typo in the Builder shows up as failed deliveries.
    let kind = Kind::from_slug(&event).ok_or(AppError::NotFound)?;
    receive(&state, Some(kind), &headers, &body).await
}

/// The path of the endpoint `id` (what the app registers with Fanvue, under `BASE_URL`).
pub fn endpoint_path(id: &str) -> String {
    format!("{PATH}/s/{id}")
}

/// Whether `id` can be an endpoint id (22 base64url characters, as the app makes them).
pub fn is_endpoint_id(id: &str) -> bool {
    id.len() == 22 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn subscription(
    State(state): State<WebhookState>,
    Path(endpoint): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    // An unknown endpoint is a 404 (a deleted subscription Fanvue still delivers to).
    if !is_endpoint_id(&endpoint) {
        return Err(AppError::NotFound);
    }
    let endpoint =
        state.webhooks.endpoint(&endpoint).await.map_err(super::ReceiveError::from)?.ok_or(AppError::NotFound)?;
    let receipt = state.webhooks.receive_at(&endpoint, signature(&headers), &body).await?;
    Ok(acknowledged(receipt))
}

async fn receive(
    state: &WebhookState,
    kind: Option<Kind>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, AppError> {
    let receipt = state.webhooks.receive(kind, signature(headers), body).await?;
    Ok(acknowledged(receipt))
}

/// The delivery's signature header, as the verifier takes it.
fn signature(headers: &HeaderMap) -> Option<&[u8]> {
    headers.get(HEADER).map(|v| v.as_bytes())
}

/// The 200 Fanvue gets for a delivery that was stored (or had been): what the app received.
fn acknowledged(receipt: super::Receipt) -> Response {
    Json(serde_json::json!({"received": true, "id": receipt.id, "duplicate": receipt.duplicate})).into_response()
}
