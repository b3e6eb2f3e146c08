//! The receiving endpoints: `POST /api/webhooks/fanvue` (any event, typed by shape) and
//! `POST /api/webhooks/fanvue/{event}` (one URL per platform event, recommended because
//! platform payloads carry no type). Both take the raw body, so the signature is checked
//! over the exact bytes Fanvue sent.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::events::Kind;
use super::signature::HEADER;
use crate::error::AppError;
use crate::state::AppState;

/// Where the endpoints live.
pub const PATH: &str = "/api/webhooks/fanvue";

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route(PATH, post(shared)).route(&format!("{PATH}/{{event}}"), post(typed))
}

async fn shared(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, AppError> {
    receive(&state, None, &headers, &body).await
}

async fn typed(
    State(state): State<AppState>,
    Path(event): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    // An unknown slug is a 404, so a typo in the Builder shows up as failed deliveries.
    let kind = Kind::from_slug(&event).ok_or(AppError::NotFound)?;
    receive(&state, Some(kind), &headers, &body).await
}

async fn receive(state: &AppState, kind: Option<Kind>, headers: &HeaderMap, body: &[u8]) -> Result<Response, AppError> {
    let signature = headers.get(HEADER).map(|v| v.as_bytes());
    let receipt = state.webhooks.receive(kind, signature, body).await?;
    Ok(Json(serde_json::json!({"received": true, "id": receipt.id, "duplicate": receipt.duplicate})).into_response())
}
