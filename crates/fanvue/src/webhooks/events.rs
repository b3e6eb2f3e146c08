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
}

/// What identifies a delivery, read from its signed bytes only, never from the URL it came
/// to: the signature covers `"{t}.{body}"`, not the URL, so the same signed body posted to
/// `/new-follower`, `/tip-received` and the shared URL must be one event, not three.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The key a retried (or replayed) delivery shares with the first. See [`identify`].
    pub dedupe_key: String,
    /// The creator the event is addressed to (lower-case UUID), if it names one. See
    /// [`audience`].
    pub audience: Option<String>,
}

/// The identity of `body`. `Err` only when it is not JSON.
///
/// The dedupe key is the envelope's `id` (Fanvue: "stable across delivery retries"), Message
/// Received's message UUID, and for every other payload a hash of its canonical JSON (keys
/// sorted, no whitespace): a retry carries the same content, and two different events always
/// differ somewhere (a follow and a subscription at the same millisecond differ by `price`),
/// which a key made of chosen fields (recipient, fan, item, time) without the URL's type would
/// not guarantee.
pub fn identify(body: &[u8]) -> Result<Identity, serde_json::Error> {
    let value: Value = serde_json::from_slice(body)?;
    let text = |v: Option<&Value>| v.and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    let dedupe_key = if is_envelope(&value)
        && let Some(id) = text(value.get("id"))
    {
        format!("envelope:{id}")
    } else if value.get("message").is_some_and(Value::is_object)
        && let Some(id) = text(value.get("messageUuid"))
    {
        format!("message-received:{id}")
    } else {
        use sha2::Digest;
        let mut canonical = Vec::with_capacity(body.len());
        write_canonical(&value, &mut canonical);
        format!("sha256:{}", crate::crypto::hex(&sha2::Sha256::digest(&canonical)))
    };
    Ok(Identity { dedupe_key, audience: audience(&value) })
}

/// The creator an event is addressed to: `recipientUuid` for platform events, `data.creator.uuid`
/// for checkout envelopes, `data.purchaser.uuid` for App Store envelopes (the app's customer,
/// who bought the plan). `None` when the payload names none (or not as a UUID): such events
/// are for operators only.
pub fn audience(value: &Value) -> Option<String> {
    let at = |path: &[&str]| path.iter().try_fold(value, |v, key| v.get(key)).and_then(Value::as_str);
    let found = if is_envelope(value) {
        let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
        if kind.starts_with("app.") {
            at(&["data", "purchaser", "uuid"])
        } else {
            at(&["data", "creator", "uuid"]).or_else(|| at(&["data", "recipientUuid"]))
        }
    } else {
        at(&["recipientUuid"])
    };
    found.filter(|uuid| crate::path::is_uuid(uuid)).map(str::to_ascii_lowercase)
}

fn is_envelope(value: &Value) -> bool {
    let has = |k: &str| value.get(k).is_some_and(|v| !v.is_null());
    has("id") && has("type") && has("data")
}

/// `value` as canonical JSON: object keys sorted, no whitespace (whatever order or spacing
/// the sender used, and whatever serde_json's map type).
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(&Value::String(key.clone()), out);
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        // Scalars serialise the same way whatever the map type: writing to a Vec cannot fail.
        scalar => out.extend_from_slice(serde_json::to_string(scalar).unwrap_or_default().as_bytes()),
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
    fn dedupe_keys_come_from_the_content_whatever_the_url() {
        let key = |body: &str| identify(body.as_bytes()).map(|i| i.dedupe_key).unwrap_or_default();
        let a = samples::sample("message-received", "2026-05-20T10:00:00.000Z").unwrap_or_default();
        assert!(key(&a.body.to_string()).starts_with("message-received:"));
        let envelope = samples::sample("app.payment.refunded", "2026-05-20T10:00:00.000Z").unwrap_or_default();
        assert!(key(&envelope.body.to_string()).starts_with("envelope:evt_"));
        // Flat events: the canonical content, so key order and spacing do not matter...
        let one = r#"{"recipientUuid":"r","sender":{"uuid":"f","handle":"h"},"timestamp":"t"}"#;
        let reordered = r#"{ "timestamp": "t", "sender": {"handle": "h", "uuid": "f"}, "recipientUuid": "r" }"#;
        assert!(key(one).starts_with("sha256:"));
        assert_eq!(key(one), key(reordered));
        // ...and a follow and a subscription by the same fan at the same instant stay two events.
        let subscribed = r#"{"price":1299,"recipientUuid":"r","sender":{"uuid":"f","handle":"h"},"timestamp":"t"}"#;
        assert_ne!(key(one), key(subscribed));
        // A tip on a message names the message but is not the message.
        let tip = r#"{"context":"message","messageUuid":"m1","recipientUuid":"r","timestamp":"t"}"#;
        assert!(key(tip).starts_with("sha256:"), "{}", key(tip));
        assert!(identify(b"not json").is_err());
    }

    #[test]
    fn the_audience_is_the_creator_an_event_is_addressed_to() {
        let ava = samples::CREATOR_UUID;
        let aud = |body: serde_json::Value| identify(body.to_string().as_bytes()).ok().and_then(|i| i.audience);
        for name in ["message-received", "new-follower", "tip-received", "checkout_link.payment.succeeded"] {
            let sample = samples::sample(name, "2026-05-20T10:00:00.000Z").unwrap_or_default();
            assert_eq!(aud(sample.body).as_deref(), Some(ava), "{name}");
        }
        // App Store events are for the buyer; checkout ones for the selling creator, not the fan.
        let upper = ava.to_ascii_uppercase();
        let app =
            serde_json::json!({"id": "e", "type": "app.payment.succeeded", "data": {"purchaser": {"uuid": upper}}});
        assert_eq!(aud(app).as_deref(), Some(ava));
        let checkout = serde_json::json!({"id": "e", "type": "checkout_link.payment.succeeded",
            "data": {"purchaser": {"uuid": ava}}});
        assert_eq!(aud(checkout), None);
        assert_eq!(aud(serde_json::json!({"recipientUuid": "not-a-uuid"})), None);
        assert_eq!(aud(serde_json::json!({"hello": "world"})), None);
    }
}
