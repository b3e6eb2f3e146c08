//! Chats and messages: the inbox with its filters, counters and online statuses, a chat's
//! messages and media, sending (also from a template and to whole lists), unsending, and the
//! saved templates.

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::paging::{cursor, page};
use super::shapes::{self, VARIANTS};
use super::{Acting, Call, Refusal, Reply, content, invalid, lists, not_found, refused, uuids};
use crate::seed::{Chat, Message, Template, World, iso};

/// The chat with this fan.
fn chat_index(w: &World, fan_uuid: &str) -> Result<usize, Refusal> {
    w.chats.iter().position(|c| w.fans[c.fan].uuid == fan_uuid).ok_or_else(|| not_found("Chat"))
}

fn has_unread(c: &Chat) -> bool {
    c.messages.iter().any(|m| !m.from_creator && !m.is_read)
}

/// When a chat last moved (its last message, or its creation).
fn last_activity(c: &Chat) -> OffsetDateTime {
    c.messages.last().map_or(c.created_at, |m| m.sent_at)
}

/// Whether a chat passes one of `/chats`' `filter` values (the reference's enum).
fn passes(w: &World, c: &Chat, filter: &str, now: OffsetDateTime) -> bool {
    let fan = &w.fans[c.fan];
    let spent = |source: Option<&str>| {
        w.earnings
            .iter()
            .filter(|e| e.fan == c.fan && source.is_none_or(|s| s == e.source))
            .map(|e| e.gross)
            .sum::<u64>()
    };
    match filter {
        "unread" => has_unread(c) || !c.is_read,
        "online" => fan.online,
        "not_muted" => !c.is_muted,
        "subscribers" => fan.subscriber,
        "followers" => !fan.subscriber,
        "recent_subscribers" => fan.subscriber && fan.subscribed_at.is_some_and(|at| now - at < Duration::days(30)),
        "not_answered" => c.messages.last().is_some_and(|m| !m.from_creator),
        "spent_more_than_50" => spent(None) > 5_000,
        "on_free_trial" => fan.free_trial,
        "has_tipped" => spent(Some("tip")) > 0,
        "spenders" => spent(None) > 0,
        // The creator subscribes to no fan; fans are not creators.
        "subscribed_to" => false,
        _ => true,
    }
}

pub fn list(w: &World, call: &Call<'_>) -> Reply {
    let now = OffsetDateTime::now_utc();
    let filters = call.q_all("filter");
    let smart = call.q_all("smartListIds");
    let custom = match call.q("customListId") {
        None => None,
        Some(id) => Some(w.lists.iter().find(|l| l.uuid == id).ok_or_else(|| not_found("Custom list"))?),
    };
    let search = call.q("search").map(str::to_lowercase);
    let mut chats: Vec<&Chat> = w
        .chats
        .iter()
        .filter(|c| filters.iter().all(|f| passes(w, c, f, now)))
        .filter(|c| smart.iter().all(|s| lists::in_smart_list(w, s, c.fan)))
        .filter(|c| custom.is_none_or(|list| list.members.contains(&c.fan)))
        .filter(|c| {
            let fan = &w.fans[c.fan];
            search
                .as_ref()
                .is_none_or(|s| fan.handle.contains(s.as_str()) || fan.display_name.to_lowercase().contains(s.as_str()))
        })
        .collect();
    chats.sort_by_key(|c| std::cmp::Reverse(last_activity(c)));
    match call.q("sortBy") {
        Some("online_now") => chats.sort_by_key(|c| !w.fans[c.fan].online),
        Some("most_unanswered_chats") => chats
            .sort_by_key(|c| std::cmp::Reverse(c.messages.iter().filter(|m| !m.from_creator && !m.is_read).count())),
        _ => {}
    }
    page(call, chats.into_iter().map(|c| shapes::chat(w, c)).collect())
}

/// `POST /chats`: starts a chat with a fan who can be messaged and has none yet.
pub fn create(w: &mut World, call: &Call<'_>) -> Reply {
    let body = call.json_body()?;
    let wanted = body.get("userUuid").and_then(Value::as_str).unwrap_or("");
    let fan = w
        .fan_index(wanted)
        .filter(|i| w.fans[*i].contactable)
        .ok_or_else(|| refused(StatusCode::BAD_REQUEST, "This user cannot be messaged"))?;
    if w.chats.iter().any(|c| c.fan == fan) {
        return Err(refused(StatusCode::BAD_REQUEST, "A chat with this user already exists"));
    }
    let now = OffsetDateTime::now_utc();
    w.chats.push(Chat { fan, is_read: true, is_muted: false, nickname: None, messages: Vec::new(), created_at: now });
    Ok((StatusCode::CREATED, Json(json!({"message": "Chat created"}))).into_response())
}

pub fn unread(w: &World) -> Reply {
    let unread_chats = w.chats.iter().filter(|c| has_unread(c)).count();
    let unread_messages: usize =
        w.chats.iter().map(|c| c.messages.iter().filter(|m| !m.from_creator && !m.is_read).count()).sum();
    // Notifications of the last week, from the same world the lists show.
    let since = OffsetDateTime::now_utc() - Duration::days(7);
    let recent = |source: &str| w.earnings.iter().filter(|e| e.at >= since && e.source == source).count();
    let new_followers = w.fans.iter().filter(|f| !f.subscriber && f.registered_at >= since).count();
    let latest = w.posts.first();
    Ok(Json(json!({
        "unreadChatsCount": unread_chats,
        "unreadMessagesCount": unread_messages,
        "unreadNotifications": {
            "newFollower": new_followers, "newSubscriber": recent("subscription"), "newTip": recent("tip"),
            "newPurchase": recent("message") + recent("post"),
            "newPostComment": latest.map_or(0, |p| p.comments.min(9)), "newPostLike": latest.map_or(0, |p| p.likes.min(20)),
            "newPromotion": 0,
        },
    }))
    .into_response())
}

/// `POST /chats/statuses`: online and last seen, for the fans among `userUuids` (≤ 100).
pub fn statuses(w: &World, call: &Call<'_>) -> Reply {
    let wanted = uuids(&call.json_body()?, "userUuids");
    if wanted.len() > 100 {
        return Err(invalid(vec!["userUuids must list at most 100 users".into()]));
    }
    let now = OffsetDateTime::now_utc();
    let found: serde_json::Map<String, Value> = wanted
        .iter()
        .filter_map(|uuid| w.fans.iter().find(|f| &f.uuid == uuid))
        .map(|f| (f.uuid.clone(), json!({"isOnline": f.online, "lastSeenAt": iso(f.last_seen_at(now))})))
        .collect();
    Ok(Json(Value::Object(found)).into_response())
}

/// Messages, newest first. `markAsRead` marks them read; it is on by default when an agency
/// reads a managed creator's chat (as Fanvue documents there), off for the creator's own.
pub fn messages(w: &mut World, call: &Call<'_>, acting: Acting) -> Reply {
    let i = chat_index(w, call.param(0))?;
    let mark = call.q("markAsRead").map_or(acting == Acting::Agency, |v| v == "true");
    if mark {
        for m in &mut w.chats[i].messages {
            m.is_read = true;
        }
    }
    let chat = &w.chats[i];
    page(call, chat.messages.iter().rev().map(|m| shapes::message(w, chat, m)).collect())
}

/// `body`, with a template's text, media and price where the body has none.
fn with_template(w: &World, body: Value) -> Result<Value, Refusal> {
    let Some(id) = body.get("templateUuid").and_then(Value::as_str) else { return Ok(body) };
    let template = w
        .templates
        .iter()
        .find(|t| t.uuid == id)
        .ok_or_else(|| invalid(vec![format!("templateUuid: {id} is not one of your templates")]))?;
    let mut merged = template_json(template);
    if let (Some(target), Some(given)) = (merged.as_object_mut(), body.as_object()) {
        target.extend(given.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())));
    }
    Ok(merged)
}

/// A message from the creator, now.
fn outgoing(
    uuid: String,
    (text, media_uuids, price): (Option<String>, Vec<String>, Option<u64>),
    kind: &'static str,
) -> Message {
    Message {
        uuid,
        text,
        sent_at: OffsetDateTime::now_utc(),
        from_creator: true,
        media_uuids,
        price,
        kind,
        is_read: true,
        purchased_at: None,
    }
}

pub fn send(w: &mut World, call: &Call<'_>) -> Reply {
    let body = with_template(w, call.json_body()?)?;
    let i = chat_index(w, call.param(0))?;
    if !w.fans[w.chats[i].fan].contactable {
        return Err(refused(StatusCode::BAD_REQUEST, "This user cannot be messaged"));
    }
    let mut errors = Vec::new();
    let fields = content(w, &body, "message", &mut errors);
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let uuid = w.new_uuid(0x5e4d);
    w.chats[i].messages.push(outgoing(uuid.clone(), fields, "SINGLE_RECIPIENT"));
    Ok((StatusCode::CREATED, Json(json!({ "messageUuid": uuid }))).into_response())
}

/// Unsends one of the creator's own messages; a purchased one or a mass message's copy stays.
pub fn unsend(w: &mut World, call: &Call<'_>) -> Reply {
    let i = chat_index(w, call.param(0))?;
    let messages = &mut w.chats[i].messages;
    let at = messages.iter().position(|m| m.uuid == call.param(1)).ok_or_else(|| not_found("Message"))?;
    let message = &messages[at];
    if !message.from_creator {
        return Err(Refusal(StatusCode::FORBIDDEN, json!({"error": "Only messages you sent can be deleted"})));
    }
    if message.purchased_at.is_some() {
        return Err(refused(StatusCode::BAD_REQUEST, "A purchased message cannot be deleted"));
    }
    if message.kind == "BROADCAST" {
        return Err(refused(StatusCode::BAD_REQUEST, "A mass message cannot be deleted from one chat"));
    }
    messages.remove(at);
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub fn update(w: &mut World, call: &Call<'_>) -> Reply {
    let body = call.json_body()?;
    let i = chat_index(w, call.param(0))?;
    if body.get("nickname").and_then(Value::as_str).is_some_and(|n| n.chars().count() > 30) {
        return Err(invalid(vec!["nickname must be at most 30 characters".into()]));
    }
    let chat = &mut w.chats[i];
    if let Some(read) = body.get("isRead").and_then(Value::as_bool) {
        chat.is_read = read;
        for m in &mut chat.messages {
            m.is_read = read;
        }
    }
    if let Some(muted) = body.get("isMuted").and_then(Value::as_bool) {
        chat.is_muted = muted;
    }
    if let Some(nickname) = body.get("nickname").and_then(Value::as_str) {
        chat.nickname = Some(nickname.to_owned()).filter(|n| !n.is_empty());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /chats/{userUuid}/media`: the media sent in a chat, newest first (cursor, `limit`).
pub fn media(w: &World, call: &Call<'_>, issuer: &str) -> Reply {
    let chat = &w.chats[chat_index(w, call.param(0))?];
    let kind = call.q("mediaType");
    let fan = &w.fans[chat.fan];
    let items = chat
        .messages
        .iter()
        .rev()
        .flat_map(|m| m.media_uuids.iter().map(move |uuid| (m, uuid)))
        .filter_map(|(m, uuid)| Some((m, w.media.iter().find(|x| &x.uuid == uuid)?)))
        .filter(|(_, item)| kind.is_none_or(|k| k == item.media_type))
        .map(|(m, item)| {
            let variants: Vec<Value> =
                VARIANTS[1..3].iter().enumerate().map(|(i, v)| shapes::variant(item, v, i, issuer)).collect();
            json!({"uuid": item.uuid, "messageUuid": m.uuid, "mediaType": item.media_type,
                   "created_at": iso(item.created_at), "sentAt": iso(m.sent_at),
                   "ownerUuid": if m.from_creator { &w.owner_uuid } else { &fan.uuid },
                   "name": item.name, "variants": variants})
        })
        .collect();
    cursor(call, "limit", items)
}

/// `POST /chats/mass-messages`: one message to everyone in the included lists but not in the
/// excluded ones who can be messaged; their chats are started when they have none.
pub fn mass_message(w: &mut World, call: &Call<'_>) -> Reply {
    let body = call.json_body()?;
    let mut errors = Vec::new();
    let fields = content(w, &body, "message", &mut errors);
    let members = |key: &str, errors: &mut Vec<String>| -> Vec<usize> {
        let lists = body.get(key).cloned().unwrap_or(Value::Null);
        let smart = uuids(&lists, "smartListUuids");
        let custom = uuids(&lists, "customListUuids");
        for unknown in custom.iter().filter(|id| !w.lists.iter().any(|l| &&l.uuid == id)) {
            errors.push(format!("{key}.customListUuids: {unknown} is not one of your lists"));
        }
        (0..w.fans.len())
            .filter(|i| {
                smart.iter().any(|s| lists::in_smart_list(w, s, *i))
                    || w.lists.iter().any(|l| custom.contains(&l.uuid) && l.members.contains(i))
            })
            .collect()
    };
    let included = members("includedLists", &mut errors);
    let excluded = members("excludedLists", &mut errors);
    let recipients: Vec<usize> =
        included.into_iter().filter(|i| !excluded.contains(i) && w.fans[*i].contactable).collect();
    if errors.is_empty() && recipients.is_empty() {
        errors.push("the included lists have no one who can be messaged".into());
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let now = OffsetDateTime::now_utc();
    for fan in &recipients {
        let i = match w.chats.iter().position(|c| c.fan == *fan) {
            Some(i) => i,
            None => {
                w.chats.push(Chat {
                    fan: *fan,
                    is_read: true,
                    is_muted: false,
                    nickname: None,
                    messages: Vec::new(),
                    created_at: now,
                });
                w.chats.len() - 1
            }
        };
        let uuid = w.new_uuid(0x5e4d);
        w.chats[i].messages.push(outgoing(uuid, fields.clone(), "BROADCAST"));
    }
    let id = w.new_uuid(0x3a55);
    Ok((StatusCode::CREATED, Json(json!({"id": id, "recipientCount": recipients.len(), "createdAt": iso(now)})))
        .into_response())
}

fn template_json(t: &Template) -> Value {
    json!({"uuid": t.uuid, "text": t.text, "price": t.price, "mediaUuids": t.media_uuids, "folderName": t.folder_name})
}

/// `GET /chats/templates`: `folderName` matches part of the folder's name, any case.
pub fn templates(w: &World, call: &Call<'_>) -> Reply {
    let folder = call.q("folderName").map(str::to_lowercase);
    let items = w
        .templates
        .iter()
        .filter(|t| {
            folder
                .as_ref()
                .is_none_or(|f| t.folder_name.as_ref().is_some_and(|n| n.to_lowercase().contains(f.as_str())))
        })
        .map(template_json)
        .collect();
    page(call, items)
}

pub fn template(w: &World, call: &Call<'_>) -> Reply {
    let t = w.templates.iter().find(|t| t.uuid == call.param(0)).ok_or_else(|| not_found("Template"))?;
    Ok(Json(template_json(t)).into_response())
}
