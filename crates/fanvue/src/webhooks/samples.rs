//! Sample events in the shapes Fanvue's docs give: what `fanvue-app-starter webhook send`
//! sends, what the sandbox emits and what the tests deliver. Ids are fresh on every call, so
//! two sends are two events (a test that wants a duplicate sends the same bytes twice).

use serde_json::{Value, json};

use super::events::Kind;

/// The names `webhook send` accepts: the platform events' URL slugs, then envelope types.
pub const NAMES: [&str; 9] = [
    "message-received",
    "message-read",
    "new-follower",
    "new-subscriber",
    "purchase-received",
    "tip-received",
    "checkout_link.payment.succeeded",
    "app.payment.succeeded",
    "app.payment.refunded",
];

/// The samples' creator and a fan of theirs (the same ids as the sandbox's seeded world).
pub const CREATOR_UUID: &str = "a3c1e6f2-5b7d-4e8a-9c0f-1d2e3f4a5b6c";
/// The app plan the App Store samples were bought (the sandbox's plan).
pub const PLAN_UUID: &str = "6f3a2b1c-9e8d-4f7a-b5c4-3d2e1f0a9b8c";
const FAN_UUID: &str = "5939ae62-3eb5-4433-954f-f78c7b4282f3";

/// A sample: its kind and body.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// What it is.
    pub kind: Kind,
    /// The JSON body.
    pub body: Value,
}

/// Now, as Fanvue writes timestamps: ISO 8601 with milliseconds and `Z`.
pub fn now_iso() -> String {
    let now = time::OffsetDateTime::now_utc();
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    now.format(&format).unwrap_or_default()
}

/// A random RFC 4122 version 4 UUID.
pub fn random_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::crypto::hex(&b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn sender() -> Value {
    json!({"uuid": FAN_UUID, "handle": "test-user", "displayName": "Test User", "avatarUrl": null})
}

/// The sample called `name` at time `now` (ISO 8601), or `None` for an unknown name.
pub fn sample(name: &str, now: &str) -> Option<Sample> {
    let (kind, body) = match name {
        "message-received" => {
            let id = random_uuid();
            (
                Kind::MessageReceived,
                json!({
                    "message": {"uuid": id, "text": "Hey! Loved your last post 😍", "hasMedia": false,
                                "mediaUuids": [], "price": null, "createdAt": now},
                    "messageUuid": id,
                    "sender": sender(),
                    "recipientUuid": CREATOR_UUID,
                    "isMuted": false,
                    "timestamp": now,
                }),
            )
        }
        "message-read" => (
            Kind::MessageRead,
            json!({"counterpartUuid": FAN_UUID, "readMessagesCount": 3, "recipientUuid": CREATOR_UUID, "timestamp": now}),
        ),
        "new-follower" => {
            (Kind::NewFollower, json!({"recipientUuid": CREATOR_UUID, "sender": sender(), "timestamp": now}))
        }
        "new-subscriber" => (
            Kind::NewSubscriber,
            json!({"price": 1299, "recipientUuid": CREATOR_UUID, "sender": sender(), "timestamp": now}),
        ),
        "purchase-received" => (
            Kind::PurchaseReceived,
            json!({"postUuid": random_uuid(), "price": 500, "recipientUuid": CREATOR_UUID, "sender": sender(), "timestamp": now}),
        ),
        "tip-received" => (
            Kind::TipReceived,
            json!({"context": "post", "postUuid": random_uuid(), "recipientUuid": CREATOR_UUID, "senderUuid": FAN_UUID,
                   "price": 1000, "sender": sender(), "timestamp": now}),
        ),
        "checkout_link.payment.succeeded" => (
            Kind::Checkout,
            envelope(
                name,
                now,
                json!({"object": "payment", "id": "FV-12345", "status": "succeeded", "billing_reason": "one_time",
                       "gross": 2500, "net": 2000, "currency": "USD", "paid_in_full": true,
                       "checkout_link": {"uuid": random_uuid(), "name": "Coaching call"},
                       "purchaser": {"uuid": FAN_UUID}, "creator": {"uuid": CREATOR_UUID}, "metadata": {}}),
            ),
        ),
        // The App Store's two events, for one-time purchases (`purchase_reference` `appotp_…`);
        // app subscriptions send none.
        "app.payment.succeeded" => (
            Kind::AppStore,
            envelope(
                name,
                now,
                json!({"object": "payment", "status": "succeeded", "gross": 999, "net": 799, "currency": "USD",
                       "purchase_reference": format!("appotp_{}", crate::crypto::random_token(8)),
                       "item": {"uuid": PLAN_UUID}, "purchaser": {"uuid": CREATOR_UUID}}),
            ),
        ),
        "app.payment.refunded" => (
            Kind::AppStore,
            envelope(
                name,
                now,
                json!({"object": "refund", "status": "succeeded", "amount": 999, "currency": "USD",
                       "purchase_reference": format!("appotp_{}", crate::crypto::random_token(8)),
                       "item": {"uuid": PLAN_UUID}, "purchaser": {"uuid": CREATOR_UUID}}),
            ),
        ),
        _ => return None,
    };
    Some(Sample { kind, body })
}

fn envelope(kind: &str, now: &str, data: Value) -> Value {
    json!({"id": format!("evt_{}", crate::crypto::random_token(12)), "type": kind, "timestamp": now, "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_has_a_sample_and_uuids_are_v4() {
        for name in NAMES {
            assert!(sample(name, "2026-01-01T00:00:00.000Z").is_some(), "{name}");
        }
        assert!(sample("nope", "x").is_none());
        let id = random_uuid();
        assert!(crate::path::is_uuid(&id) && id.as_bytes()[14] == b'4', "{id}");
    }
}
