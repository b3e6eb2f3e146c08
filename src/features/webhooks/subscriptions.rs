//! Fanvue's webhook subscriptions API (`/webhooks/subscriptions`, scope `read:creator`), typed,
//! for the operator view: subscribe the signed-in account to event types, list what this app
//! subscribed, unsubscribe. Calls go through [`crate::auth::upstream`] like every other.
//!
//! A subscription gets a delivery URL of its own, `/api/webhooks/fanvue/s/{endpoint}` (a
//! random id, see [`super::routes`]), and Fanvue answers its creation with a signing secret,
//! "only returned in this response". That secret goes straight into the event store, sealed
//! ([`super::store::Endpoint`]), and verifies that endpoint's deliveries; it is never shown,
//! logged or sent to a browser (the JSON proxy refuses `/webhooks/…` for the same reason).

use http::Method;
use secrecy::SecretString;
use tower_sessions::Session;

use super::WebhookState;
use super::store::{Endpoint, EndpointSecret};
use crate::web::error::AppError;
use fanvue::models::WebhookSubscription;

/// The subscriptions this OAuth client created for the signed-in account.
pub async fn list(state: &WebhookState, session: &Session) -> Result<Vec<WebhookSubscription>, AppError> {
    let value: serde_json::Value = state.api.get_json(session, "/webhooks/subscriptions", &[]).await?;
    // Fanvue's lists are `{data: [...]}`; a bare array is accepted too.
    let list = value.get("data").cloned().unwrap_or(value);
    serde_json::from_value(list).map_err(|e| fanvue::FanvueError::Decode(e.to_string()).into())
}

/// Subscribes a new endpoint of this app to `events` (names such as `message.received`) for
/// the signed-in account, `owner` (their UUID), and keeps the subscription's signing secret,
/// sealed. Returns the subscription (without its secret).
pub async fn create(
    state: &WebhookState,
    session: &Session,
    owner: &str,
    events: &[&str],
) -> Result<WebhookSubscription, AppError> {
    let endpoint_id = crate::infra::crypto::random_token(16);
    let url = format!("{}{}", state.config.origin(), super::routes::endpoint_path(&endpoint_id));
    let body = serde_json::json!({"url": url, "events": events});
    let response = state.api.send_json(session, Method::POST, "/webhooks/subscriptions", Some(&body)).await?;
    let mut created: serde_json::Value = response.error_for_status()?.json()?;
    let signing_secret = created
        .as_object_mut()
        .and_then(|o| o.remove("signingSecret"))
        .and_then(|s| s.as_str().map(|s| SecretString::from(s.to_owned())));
    let subscription: WebhookSubscription =
        serde_json::from_value(created).map_err(|e| fanvue::FanvueError::Decode(e.to_string()))?;
    let secret = match signing_secret {
        Some(secret) => EndpointSecret::Own(secret),
        None => {
            tracing::info!("Fanvue returned no signing secret for the subscription; FANVUE_WEBHOOK_SECRET checks it");
            EndpointSecret::App
        }
    };
    let endpoint = Endpoint {
        id: endpoint_id,
        subscription_id: subscription.id.clone(),
        owner: owner.to_owned(),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        created_at: super::store::now_ms(),
        secret,
    };
    if let Err(err) = state.webhooks.store().put_endpoint(&endpoint).await {
        // Without its secret nothing delivered there could be verified: undo it at Fanvue.
        if let Err(undo) = delete_at_fanvue(state, session, &subscription.id).await {
            tracing::warn!(error = %undo, subscription = %subscription.id, "deleting an unusable subscription failed");
        }
        return Err(AppError::Internal(format!("keeping the subscription's signing secret failed: {err}")));
    }
    tracing::info!(subscription = %subscription.id, "webhook subscription created; its signing secret is sealed");
    Ok(subscription)
}

/// Deletes subscription `id` at Fanvue, then forgets its endpoint and secret.
pub async fn delete(state: &WebhookState, session: &Session, id: &str) -> Result<(), AppError> {
    delete_at_fanvue(state, session, id).await?;
    state.webhooks.store().delete_endpoints_of(id).await.map_err(|e| AppError::Internal(e.to_string()))
}

async fn delete_at_fanvue(state: &WebhookState, session: &Session, id: &str) -> Result<(), AppError> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(AppError::BadRequest("That is not a subscription id.".into()));
    }
    let path = format!("/webhooks/subscriptions/{id}");
    state.api.send_json(session, Method::DELETE, &path, None).await?.error_for_status()?;
    Ok(())
}
