//! Fanvue's webhook subscriptions API (`/webhooks/subscriptions`, scope `read:creator`), typed:
//! subscribe the signed-in creator's account to event types at a URL, list what this app
//! subscribed, unsubscribe. Calls go through [`crate::upstream`] like every other.

use http::Method;
use secrecy::SecretString;
use tower_sessions::Session;

use crate::error::AppError;
use crate::fanvue::models::WebhookSubscription;
use crate::state::AppState;
use crate::upstream;

/// A new subscription and its signing secret, which Fanvue returns only this once
/// (redacted in `Debug`).
#[derive(Debug)]
pub struct Created {
    /// The subscription.
    pub subscription: WebhookSubscription,
    /// Verifies its deliveries: store it as `FANVUE_WEBHOOK_SECRET`.
    pub signing_secret: Option<SecretString>,
}

/// The subscriptions this OAuth client created for the creator.
pub async fn list(state: &AppState, session: &Session) -> Result<Vec<WebhookSubscription>, AppError> {
    let value: serde_json::Value = upstream::get_json(state, session, "/webhooks/subscriptions", &[]).await?;
    // Fanvue's lists are `{data: [...]}`; a bare array is accepted too.
    let list = value.get("data").cloned().unwrap_or(value);
    serde_json::from_value(list).map_err(|e| crate::fanvue::FanvueError::Decode(e.to_string()).into())
}

/// Subscribes `url` to `events` (names such as `message.received`).
pub async fn create(state: &AppState, session: &Session, url: &str, events: &[&str]) -> Result<Created, AppError> {
    let body = serde_json::json!({"url": url, "events": events});
    let response = upstream::send_json(state, session, Method::POST, "/webhooks/subscriptions", Some(&body)).await?;
    let mut created: serde_json::Value = response.error_for_status()?.json()?;
    let signing_secret = created
        .as_object_mut()
        .and_then(|o| o.remove("signingSecret"))
        .and_then(|s| s.as_str().map(|s| SecretString::from(s.to_owned())));
    let subscription =
        serde_json::from_value(created).map_err(|e| crate::fanvue::FanvueError::Decode(e.to_string()))?;
    Ok(Created { subscription, signing_secret })
}

/// Deletes subscription `id`.
pub async fn delete(state: &AppState, session: &Session, id: &str) -> Result<(), AppError> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(AppError::BadRequest("That is not a subscription id.".into()));
    }
    let path = format!("/webhooks/subscriptions/{id}");
    upstream::send_json(state, session, Method::DELETE, &path, None).await?.error_for_status()?;
    Ok(())
}
