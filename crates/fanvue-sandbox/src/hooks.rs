//! Fanvue's webhook side, emulated: signed deliveries to the app (`X-Fanvue-Signature`),
//! retried twice on failure, a History of deliveries, the Events tab's "Test" button
//! (`/_sandbox/events`), and the subscriptions API (`/webhooks/subscriptions`).
//!
//! Without subscriptions, events go where the Builder's Events tab would send them, signed
//! with the app's signing secret: one URL per platform event under `/api/webhooks/fanvue/…`,
//! envelopes to `/api/webhooks/fanvue`. With subscriptions, to each subscription that lists
//! the event and belongs to the creator it is addressed to, signed with that subscription's
//! own secret, as Fanvue does (each gets one, "only returned" when it is created).

use std::time::Duration;

use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};

use super::resources::Call;
use super::store::Delivery;
use crate::state::SandboxState;
use fanvue::webhooks::events::{Kind, PLATFORM_EVENTS};
use fanvue::webhooks::{samples, signature};

/// Attempts per delivery (the first and two retries).
const ATTEMPTS: u32 = 3;

/// The name subscriptions use for a sample (`message.received` for `message-received`).
fn subscription_name(sample: &str) -> &str {
    PLATFORM_EVENTS.iter().find(|(_, slug, _, _)| *slug == sample).map_or(sample, |(_, _, name, _)| name)
}

/// Sends event `name` (a sample name) to the app, as Fanvue would; `purchaser` fills App Store
/// events. A new fan message is also added to the seeded chats. Returns the first attempts.
pub async fn emit(sb: &SandboxState, name: &str, purchaser: Option<&str>) -> Vec<Delivery> {
    let now = samples::now_iso();
    let Some(sample) = samples::sample(name, &now) else { return Vec::new() };
    let mut body = sample.body;
    if sample.kind == Kind::MessageReceived {
        add_fan_message(sb, &mut body);
    }
    if let (Some(user), Some(data)) = (purchaser, body.get_mut("data")) {
        data["purchaser"] = json!({"uuid": user});
    }
    // (URL, signing secret) of each delivery.
    let targets: Vec<(String, Option<String>)> = {
        let wanted = subscription_name(name);
        // A subscription is its creator's: it gets the events addressed to them (events that
        // name nobody, such as App Store ones, go to any subscription listing them).
        let addressee = fanvue::webhooks::events::audience(&body);
        let subscribed: Vec<(String, Option<String>)> = sb
            .store
            .hooks()
            .into_iter()
            .filter(|h| h.events.iter().any(|e| e == wanted))
            .filter(|h| addressee.as_ref().is_none_or(|a| h.owner.eq_ignore_ascii_case(a)))
            .map(|h| (h.url, Some(h.signing_secret)))
            .collect();
        if subscribed.is_empty() {
            let base = sb.app.webhooks_url.clone();
            let url = match sample.kind.slug() {
                Some(slug) => format!("{base}/{slug}"),
                None => base,
            };
            vec![(url, sb.app.webhook_secret.clone())]
        } else {
            subscribed
        }
    };
    let bytes = body.to_string().into_bytes();
    let mut first = Vec::new();
    for (url, secret) in targets {
        let delivery = deliver(sb, name, &url, secret.as_deref(), &bytes, 1).await;
        let failed = !(200..300).contains(&delivery.status);
        first.push(delivery);
        if failed {
            let (sb, name, bytes) = (sb.clone(), name.to_owned(), bytes.clone());
            tokio::spawn(async move {
                for attempt in 2..=ATTEMPTS {
                    tokio::time::sleep(Duration::from_secs(u64::from(attempt - 1))).await;
                    let retry = deliver(&sb, &name, &url, secret.as_deref(), &bytes, attempt).await;
                    if (200..300).contains(&retry.status) {
                        break;
                    }
                }
            });
        }
    }
    first
}

/// One POST signed with `secret` (signed at send time, as a retry is).
async fn deliver(
    sb: &SandboxState,
    name: &str,
    url: &str,
    secret: Option<&str>,
    body: &[u8],
    attempt: u32,
) -> Delivery {
    let mut request = sb.app.http.post(url).header(header::CONTENT_TYPE, "application/json").body(body.to_vec());
    if let Some(secret) = secret {
        let t = fanvue::oauth::now_unix();
        request = request.header(signature::HEADER, signature::header_value(secret, t, body));
    }
    let status = match request.send().await {
        Ok(response) => response.status().as_u16(),
        Err(err) => {
            tracing::info!(error = %err.without_url(), "sandbox: webhook delivery failed");
            0
        }
    };
    let delivery =
        Delivery { at: fanvue::oauth::now_unix(), event: name.to_owned(), url: url.to_owned(), status, attempt };
    sb.store.record_delivery(delivery.clone());
    delivery
}

/// A fan writes to the creator: the message lands in the seeded chat and in the event.
fn add_fan_message(sb: &SandboxState, body: &mut Value) {
    let mut world = sb.world.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(chat_index) = (!world.chats.is_empty()).then_some(0) else { return };
    let fan_index = world.chats[chat_index].fan;
    let Some(fan) = world.fans.get(fan_index).cloned() else { return };
    let uuid = body["messageUuid"].as_str().unwrap_or_default().to_owned();
    let text = body["message"]["text"].as_str().map(str::to_owned);
    let chat = &mut world.chats[chat_index];
    chat.is_read = false;
    chat.messages.push(super::seed::Message {
        uuid,
        text,
        sent_at: time::OffsetDateTime::now_utc(),
        from_creator: false,
        media_uuids: Vec::new(),
        price: None,
        kind: "SINGLE_RECIPIENT",
        is_read: false,
        purchased_at: None,
    });
    body["sender"] =
        json!({"uuid": fan.uuid, "handle": fan.handle, "displayName": fan.display_name, "avatarUrl": fan.avatar_url});
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage<'a> {
    names: &'a [&'static str],
    deliveries: Vec<Delivery>,
    app_origin: &'a str,
}

/// `GET /_sandbox/events`: send a test event; the delivery history.
pub async fn page(State(sb): State<SandboxState>) -> Response {
    let page = EventsPage { names: &samples::NAMES, deliveries: sb.store.deliveries(), app_origin: &sb.app.origin };
    crate::html::render(&page)
}

/// `POST /_sandbox/events` (form `event=NAME`): sends it; JSON of the first attempts for
/// `Accept: application/json`, else back to the page.
pub async fn send(State(sb): State<SandboxState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let name = url::form_urlencoded::parse(&body).find(|(k, _)| k == "event").map(|(_, v)| v.into_owned());
    let Some(name) = name.filter(|n| samples::NAMES.contains(&n.as_str())) else {
        return (StatusCode::BAD_REQUEST, format!("event must be one of: {}", samples::NAMES.join(", ")))
            .into_response();
    };
    let deliveries = emit(&sb, &name, None).await;
    let wants_json =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("application/json"));
    if wants_json { Json(deliveries).into_response() } else { Redirect::to("/_sandbox/events").into_response() }
}

/// `/webhooks/subscriptions[/{id}]` of the sandbox API for account `user` (scope checked by
/// the dispatcher): each account sees and deletes only its own subscriptions.
pub fn subscriptions_api(sb: &SandboxState, call: &Call<'_>, user: &str) -> Response {
    match (call.method.as_str(), call.params.first()) {
        ("GET", None) => {
            let mine: Vec<_> = sb.store.hooks().into_iter().filter(|h| h.owner == user).collect();
            Json(json!({"data": mine})).into_response()
        }
        ("POST", None) => {
            let body: Value = serde_json::from_slice(call.body).unwrap_or_default();
            let url = body.get("url").and_then(Value::as_str).unwrap_or_default();
            let events: Vec<String> = body
                .get("events")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|e| e.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            let mut errors = Vec::new();
            if !url.starts_with("https://") {
                errors.push("url must be an https URL".to_owned());
            }
            if events.is_empty() {
                errors.push("events must list at least one event type".to_owned());
            }
            if !errors.is_empty() {
                return (StatusCode::BAD_REQUEST, Json(json!({"errors": errors}))).into_response();
            }
            let hook = sb.store.add_hook(user, url.to_owned(), events);
            let mut answer = serde_json::to_value(&hook).unwrap_or_default();
            // Returned once, as Fanvue does: this subscription's own, not the app's.
            answer["signingSecret"] = json!(hook.signing_secret);
            (StatusCode::CREATED, Json(answer)).into_response()
        }
        ("DELETE", Some(id)) => {
            if sb.store.remove_hook(user, id) {
                StatusCode::NO_CONTENT.into_response()
            } else {
                (StatusCode::NOT_FOUND, Json(json!({"message": "Subscription not found"}))).into_response()
            }
        }
        _ => (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))).into_response(),
    }
}
