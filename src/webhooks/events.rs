//! Typed webhook events, for the three families Fanvue sends (platform, checkout, App Store).
//!
//! Platform events are flat JSON with no type and no id: the type comes from the URL they
//! were delivered to (one URL per event, as the README recommends) or, on the shared URL,
//! from their shape. Checkout and App Store events are envelopes `{id, type, timestamp,
//! data}`. Parsing is tolerant: every field may be missing, unknown fields are ignored, and
//! an event that fits no type is kept as [`Event::Unknown`], never refused (Fanvue adds
//! events; a receiver that 4xx's them gets retried for nothing).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The kinds of events, with the URL slug each platform event has under
/// `/api/webhooks/fanvue/{slug}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A fan sent the creator a message.
    MessageReceived,
    /// A fan read the creator's messages.
    MessageRead,
    /// A new follower.
    NewFollower,
    /// A new subscriber.
    NewSubscriber,
    /// A post or message (PPV) purchase.
    PurchaseReceived,
    /// A tip.
    TipReceived,
    /// `checkout_link.*` and `payout.*` envelopes.
    Checkout,
    /// `app.*` envelopes (App Store payments and subscriptions).
    AppStore,
    /// Anything else (kept, not refused).
    #[default]
    Unknown,
}

/// Platform events: kind, URL slug, the name `POST /webhooks/subscriptions` uses, and the
/// scope a creator must have granted for Fanvue to deliver it. The one table the router, the
/// CLI and the sandbox follow.
pub const PLATFORM_EVENTS: [(Kind, &str, &str, crate::scopes::Scope); 6] = {
    use crate::scopes::Scope;
    [
        (Kind::MessageReceived, "message-received", "message.received", Scope::ReadChat),
        (Kind::MessageRead, "message-read", "message.read", Scope::ReadChat),
        (Kind::NewFollower, "new-follower", "follow.new", Scope::ReadFan),
        (Kind::NewSubscriber, "new-subscriber", "subscription.new", Scope::ReadFan),
        (Kind::PurchaseReceived, "purchase-received", "purchase.new", Scope::ReadFan),
        (Kind::TipReceived, "tip-received", "tip.new", Scope::ReadFan),
    ]
};

impl Kind {
    /// The kind a URL slug names.
    pub fn from_slug(slug: &str) -> Option<Kind> {
        PLATFORM_EVENTS.iter().find(|(_, s, _, _)| *s == slug).map(|(k, ..)| *k)
    }

    /// The URL slug of a platform event.
    pub fn slug(self) -> Option<&'static str> {
        PLATFORM_EVENTS.iter().find(|(k, ..)| *k == self).map(|(_, s, _, _)| *s)
    }

    /// A label for pages and logs.
    pub fn label(self) -> &'static str {
        match self {
            Kind::MessageReceived => "message received",
            Kind::MessageRead => "message read",
            Kind::NewFollower => "new follower",
            Kind::NewSubscriber => "new subscriber",
            Kind::PurchaseReceived => "purchase received",
            Kind::TipReceived => "tip received",
            Kind::Checkout => "checkout",
            Kind::AppStore => "app store",
            Kind::Unknown => "unknown",
        }
    }
}

/// A fan as platform events describe them.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Sender {
    /// The fan's UUID.
    pub uuid: Option<String>,
    /// `@handle`.
    pub handle: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
}

/// The message inside [`MessageReceived`].
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Message {
    /// Message UUID.
    pub uuid: Option<String>,
    /// Text.
    pub text: Option<String>,
    /// Whether media is attached.
    pub has_media: Option<bool>,
    /// Attached media.
    pub media_uuids: Vec<String>,
    /// Price in minor units, for a pay-to-view message.
    pub price: Option<i64>,
    /// ISO 8601.
    pub created_at: Option<String>,
}

/// Message Received.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageReceived {
    /// The message.
    pub message: Message,
    /// Its UUID (also the dedupe key).
    pub message_uuid: Option<String>,
    /// The fan.
    pub sender: Sender,
    /// The creator.
    pub recipient_uuid: Option<String>,
    /// Whether the creator muted the chat.
    pub is_muted: Option<bool>,
    /// ISO 8601.
    pub timestamp: Option<String>,
}

/// Message Read.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageRead {
    /// The fan who read.
    pub counterpart_uuid: Option<String>,
    /// How many messages were read.
    pub read_messages_count: Option<i64>,
    /// The creator.
    pub recipient_uuid: Option<String>,
    /// ISO 8601.
    pub timestamp: Option<String>,
}

/// New Follower, New Subscriber, Purchase Received and Tip Received share this shape.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct FanEvent {
    /// The fan.
    pub sender: Sender,
    /// The fan's UUID (tips carry it beside `sender`).
    pub sender_uuid: Option<String>,
    /// The creator.
    pub recipient_uuid: Option<String>,
    /// Minor units (cents for USD).
    pub price: Option<i64>,
    /// A post purchase or a tip on a post.
    pub post_uuid: Option<String>,
    /// A message (PPV) purchase.
    pub route_uuid: Option<String>,
    /// A tip on a message.
    pub message_uuid: Option<String>,
    /// For tips: `post` or `message`.
    pub context: Option<String>,
    /// ISO 8601.
    pub timestamp: Option<String>,
}

/// A checkout or App Store envelope.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct Envelope {
    /// Stable across retries: the dedupe key.
    pub id: String,
    /// e.g. `checkout_link.payment.succeeded`, `app.payment.succeeded`.
    #[serde(rename = "type")]
    pub kind: String,
    /// ISO 8601.
    pub timestamp: Option<String>,
    /// `data.object` says what it holds (`payment`, `subscription`, `refund`…).
    pub data: Value,
}

impl Envelope {
    /// `data.object`.
    pub fn object(&self) -> Option<&str> {
        self.data.get("object").and_then(Value::as_str)
    }

    /// The buyer: `data.purchaser.uuid`.
    pub fn purchaser_uuid(&self) -> Option<&str> {
        self.data.get("purchaser").and_then(|p| p.get("uuid")).and_then(Value::as_str)
    }

    /// The plan: `data.plan.uuid` (subscriptions) or `data.item.uuid` (payments).
    pub fn plan_uuid(&self) -> Option<&str> {
        ["plan", "item"].iter().find_map(|k| self.data.get(k).and_then(|p| p.get("uuid")).and_then(Value::as_str))
    }
}

/// One event, typed.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A fan sent a message.
    MessageReceived(MessageReceived),
    /// A fan read messages.
    MessageRead(MessageRead),
    /// A new follower.
    NewFollower(FanEvent),
    /// A new subscriber.
    NewSubscriber(FanEvent),
    /// A purchase.
    PurchaseReceived(FanEvent),
    /// A tip.
    TipReceived(FanEvent),
    /// `checkout_link.*`, `payout.*`.
    Checkout(Envelope),
    /// `app.*`.
    AppStore(Envelope),
    /// Anything else, as received.
    Unknown(Value),
}

impl Event {
    /// Types `body`, delivered to the URL of `kind` (`None`: the shared URL, typed by shape).
    /// `Err` only when the body is not JSON at all.
    pub fn parse(kind: Option<Kind>, body: &[u8]) -> Result<Event, serde_json::Error> {
        let value: Value = serde_json::from_slice(body)?;
        let kind = match kind {
            Some(kind) => kind,
            None => detect(&value),
        };
        Ok(Self::typed(kind, value))
    }

    fn typed(kind: Kind, value: Value) -> Event {
        fn as_<T: serde::de::DeserializeOwned>(value: &Value) -> Option<T> {
            serde_json::from_value(value.clone()).ok()
        }
        let typed = match kind {
            Kind::MessageReceived => as_(&value).map(Event::MessageReceived),
            Kind::MessageRead => as_(&value).map(Event::MessageRead),
            Kind::NewFollower => as_(&value).map(Event::NewFollower),
            Kind::NewSubscriber => as_(&value).map(Event::NewSubscriber),
            Kind::PurchaseReceived => as_(&value).map(Event::PurchaseReceived),
            Kind::TipReceived => as_(&value).map(Event::TipReceived),
            Kind::Checkout => as_(&value).map(Event::Checkout),
            Kind::AppStore => as_(&value).map(Event::AppStore),
            Kind::Unknown => None,
        };
        typed.unwrap_or(Event::Unknown(value))
    }

    /// The event's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Event::MessageReceived(_) => Kind::MessageReceived,
            Event::MessageRead(_) => Kind::MessageRead,
            Event::NewFollower(_) => Kind::NewFollower,
            Event::NewSubscriber(_) => Kind::NewSubscriber,
            Event::PurchaseReceived(_) => Kind::PurchaseReceived,
            Event::TipReceived(_) => Kind::TipReceived,
            Event::Checkout(_) => Kind::Checkout,
            Event::AppStore(_) => Kind::AppStore,
            Event::Unknown(_) => Kind::Unknown,
        }
    }

    /// What the events page shows as the type: the envelope's `type`, or the kind.
    pub fn type_name(&self) -> String {
        match self {
            Event::Checkout(e) | Event::AppStore(e) => e.kind.clone(),
            Event::Unknown(v) => v.get("type").and_then(Value::as_str).unwrap_or("unknown").to_owned(),
            other => other.kind().slug().unwrap_or("unknown").to_owned(),
        }
    }

    /// The key a retried delivery shares with the first: the envelope's `id`, the message
    /// UUID, or (flat payloads carry no id) the fields that identify the occurrence. Falls
    /// back to a hash of the body.
    pub fn dedupe_key(&self, body: &[u8]) -> String {
        let join = |parts: &[Option<&str>]| parts.iter().map(|p| p.unwrap_or("-")).collect::<Vec<_>>().join(":");
        let key = match self {
            Event::Checkout(e) | Event::AppStore(e) if !e.id.is_empty() => Some(format!("envelope:{}", e.id)),
            Event::MessageReceived(m) => {
                m.message_uuid.as_deref().or(m.message.uuid.as_deref()).map(|id| format!("message-received:{id}"))
            }
            Event::MessageRead(m) if m.timestamp.is_some() => Some(format!(
                "message-read:{}",
                join(&[m.recipient_uuid.as_deref(), m.counterpart_uuid.as_deref(), m.timestamp.as_deref()])
            )),
            Event::NewFollower(f) | Event::NewSubscriber(f) | Event::PurchaseReceived(f) | Event::TipReceived(f)
                if f.timestamp.is_some() =>
            {
                let sender = f.sender.uuid.as_deref().or(f.sender_uuid.as_deref());
                let item = f.post_uuid.as_deref().or(f.route_uuid.as_deref()).or(f.message_uuid.as_deref());
                Some(format!(
                    "{}:{}",
                    self.kind().slug().unwrap_or("event"),
                    join(&[f.recipient_uuid.as_deref(), sender, item, f.timestamp.as_deref()])
                ))
            }
            _ => None,
        };
        key.unwrap_or_else(|| {
            use sha2::Digest;
            format!("body:{}", crate::crypto::hex(&sha2::Sha256::digest(body)))
        })
    }
}

/// Types a payload on the shared URL by its shape (§3.5 of the platform notes).
pub fn detect(value: &Value) -> Kind {
    let has = |k: &str| value.get(k).is_some_and(|v| !v.is_null());
    if has("id") && has("type") && has("data") {
        let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
        return if kind.starts_with("app.") {
            Kind::AppStore
        } else if kind.starts_with("checkout_link.") || kind.starts_with("payout.") {
            Kind::Checkout
        } else {
            Kind::Unknown
        };
    }
    if has("message") && has("messageUuid") {
        Kind::MessageReceived
    } else if has("counterpartUuid") && has("readMessagesCount") {
        Kind::MessageRead
    } else if has("context") {
        Kind::TipReceived
    } else if has("postUuid") || has("routeUuid") {
        Kind::PurchaseReceived
    } else if has("price") && has("sender") {
        Kind::NewSubscriber
    } else if has("sender") && has("recipientUuid") {
        Kind::NewFollower
    } else {
        Kind::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::samples;

    #[test]
    fn every_sample_is_typed_the_same_by_url_and_by_shape() {
        for name in samples::NAMES {
            let sample = samples::sample(name, "2026-05-20T10:00:00.000Z").unwrap_or_default();
            let body = sample.body.to_string();
            let by_shape = Event::parse(None, body.as_bytes()).ok();
            assert_eq!(by_shape.as_ref().map(Event::kind), Some(sample.kind), "{name} by shape");
            let by_url = Event::parse(sample.kind.slug().and_then(Kind::from_slug), body.as_bytes());
            assert_eq!(by_url.ok(), by_shape, "{name} by URL");
        }
    }

    #[test]
    fn unknown_and_partial_payloads_are_kept_not_refused() {
        let unknown = Event::parse(None, br#"{"hello":"world"}"#).ok();
        assert!(matches!(unknown, Some(Event::Unknown(_))));
        let envelope = Event::parse(None, br#"{"id":"evt_1","type":"future.thing","timestamp":"x","data":{}}"#).ok();
        assert_eq!(envelope.as_ref().map(Event::type_name).as_deref(), Some("future.thing"));
        // A known URL with a body of another shape: kept, as unknown.
        let odd = Event::parse(Some(Kind::MessageRead), br#"{"readMessagesCount":"three"}"#).ok();
        assert!(matches!(odd, Some(Event::Unknown(_))));
        assert!(Event::parse(None, b"not json").is_err());
    }

    #[test]
    fn dedupe_keys_are_stable_and_distinct() {
        let a = samples::sample("message-received", "2026-05-20T10:00:00.000Z").unwrap_or_default();
        let body = a.body.to_string();
        let event = Event::parse(None, body.as_bytes()).ok();
        let key = event.as_ref().map(|e| e.dedupe_key(body.as_bytes())).unwrap_or_default();
        assert!(key.starts_with("message-received:"), "{key}");
        let envelope = samples::sample("app.payment.refunded", "2026-05-20T10:00:00.000Z").unwrap_or_default();
        let body = envelope.body.to_string();
        let key = Event::parse(None, body.as_bytes()).ok().map(|e| e.dedupe_key(body.as_bytes())).unwrap_or_default();
        assert!(key.starts_with("envelope:evt_"), "{key}");
        let unknown = br#"{"x":1}"#;
        let key = Event::parse(None, unknown).ok().map(|e| e.dedupe_key(unknown)).unwrap_or_default();
        assert!(key.starts_with("body:"), "{key}");
    }
}
