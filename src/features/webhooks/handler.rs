//! **Your code goes here**: what the app does with each webhook event.
//!
//! [`AppEvents::handle`] runs after the event was stored and Fanvue got its 2xx, in the
//! background, so it may be slow (call Fanvue, send mail, update your database). Return
//! `Err` to have it retried with back-off; make it idempotent, since a crash after the work
//! but before the event is marked handled runs it again (use `stored.id` or
//! `stored.dedupe_key` to recognise a repeat).
//!
//! What it does as shipped: logs each event without personal data, and when the App Store
//! reports a one-time payment or its refund (`app.payment.succeeded` / `app.payment.refunded`;
//! app subscriptions send no webhook), forgets the buyer's cached entitlement so their next
//! request asks Fanvue. Other `app.*` types are stored and logged, never refused.

use async_trait::async_trait;

use super::Handler;
use super::events::Event;
use super::store::StoredEvent;
use crate::auth::entitlement::Entitlements;

/// The app's event handler.
#[derive(Clone, Debug)]
pub struct AppEvents {
    /// The paid-plan check, whose cached answers about a buyer are dropped.
    pub entitlements: Entitlements,
}

#[async_trait]
impl Handler for AppEvents {
    async fn handle(&self, event: &Event, stored: &StoredEvent) -> Result<(), String> {
        match event {
            Event::MessageReceived(m) => {
                // e.g. an auto-reply or a CRM update, through the `fanvue` crate with the
                // creator's stored tokens.
                tracing::info!(event = stored.id, has_media = m.message.has_media, "a fan sent a message");
            }
            Event::AppStore(envelope) => {
                if let Some(buyer) = envelope.purchaser_uuid() {
                    self.entitlements.forget_user(buyer);
                }
                tracing::info!(event = stored.id, r#type = %envelope.kind, "App Store event");
            }
            other => tracing::info!(event = stored.id, r#type = %other.type_name(), "webhook event"),
        }
        Ok(())
    }
}
