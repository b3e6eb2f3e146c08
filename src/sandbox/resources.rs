//! The sandbox's resources: the endpoints the app's pages use, over the seeded [`World`],
//! with Fanvue's shapes, pagination styles (page/size/hasMore and cursor/nextCursor) and
//! validation answers (`400 {"errors": [...]}`).

use axum::Json;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::SandboxState;
use super::seed::{Chat, Earning, Fan, Folder, Link, Media, Message, Post, World, iso};

/// A request as the resource handlers see it.
pub struct Call<'a> {
    /// HTTP method.
    pub method: &'a Method,
    /// The endpoint pattern from the shared table, e.g. `/chats/{userUuid}/messages`.
    pub pattern: &'a str,
    /// Path parameters in pattern order.
    pub params: Vec<String>,
    /// Query pairs (repeatable keys kept).
    pub query: Vec<(String, String)>,
    /// Request body.
    pub body: &'a [u8],
}

impl Call<'_> {
    fn q(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    fn q_all(&self, key: &str) -> Vec<&str> {
        self.query.iter().filter(|(k, _)| k == key).flat_map(|(_, v)| v.split(',')).collect()
    }
    fn param(&self, i: usize) -> &str {
        self.params.get(i).map_or("", String::as_str)
    }
    /// The JSON body, or the validation messages to answer with.
    fn json_body(&self) -> Result<Value, Vec<String>> {
        serde_json::from_slice(self.body).map_err(|_| vec!["Request body must be valid JSON".into()])
    }
}

fn invalid(errors: Vec<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "errors": errors }))).into_response()
}

fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "message": format!("{what} not found") }))).into_response()
}

/// Answers a resource endpoint, or `None` when the sandbox does not serve it.
pub fn handle(sb: &SandboxState, call: &Call<'_>) -> Option<Response> {
    let mut world = sb.world.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let w = &mut *world;
    let response = match (call.method.as_str(), call.pattern) {
        ("GET", "/followers") => page(call, w.fans.iter().filter(|f| !f.subscriber).map(fan_json).collect()),
        ("GET", "/subscribers") => page(call, w.fans.iter().filter(|f| f.subscriber).map(fan_json).collect()),
        ("GET", "/chats") => list_chats(w, call),
        ("GET", "/chats/unread") => unread(w),
        ("GET", "/chats/{userUuid}/messages") => messages(w, call),
        ("POST", "/chats/{userUuid}/message") => send_message(w, call),
        ("PATCH", "/chats/{userUuid}") => update_chat(w, call),
        ("GET", "/chats/lists/smart") => smart_lists(w),
        ("GET", "/posts") => page(call, w.posts.iter().map(post_json).collect()),
        ("GET", "/posts/{uuid}") => match w.posts.iter().find(|p| p.uuid == call.param(0)) {
            Some(post) => Json(post_json(post)).into_response(),
            None => not_found("Post"),
        },
        ("POST", "/posts") => create_post(w, call),
        ("PATCH", "/posts/{uuid}") => update_post(w, call),
        ("GET", "/chats/lists/custom") => page(
            call,
            CUSTOM_LISTS
                .iter()
                .enumerate()
                .map(|(i, (name, _))| {
                    json!({"uuid": seed_list_uuid(i as u32), "name": name, "membersCount": custom_members(w, i).count(),
                           "createdAt": "2026-01-05T10:00:00.000Z"})
                })
                .collect(),
        ),
        ("POST", "/creators/{creatorUserUuid}/chats/{userUuid}/message") => match creator_offset(w, call) {
            Some(offset) => {
                let fan = call.param(1);
                let of_creator = w.chats.iter().skip(offset).step_by(3).any(|c| w.fans[c.fan].uuid == fan);
                if of_creator {
                    let shifted = Call {
                        method: call.method,
                        pattern: call.pattern,
                        params: vec![fan.to_owned()],
                        query: Vec::new(),
                        body: call.body,
                    };
                    send_message(w, &shifted)
                } else {
                    not_found("Chat")
                }
            }
            None => not_found("Creator"),
        },
        ("GET", "/tracking-links") => cursor(call, "limit", w.links.iter().map(link_json).collect()),
        ("POST", "/tracking-links") => create_link(w, call),
        ("DELETE", "/tracking-links/{uuid}") => delete_link(w, call),
        ("GET", "/tracking-links/{uuid}/users") => link_users(w, call),
        ("GET", "/insights/earnings") => earnings(w, call),
        ("GET", "/insights/top-spenders") => top_spenders(w, call),
        ("GET", "/insights/subscribers") => subscriber_days(w, call),
        ("GET", "/media") => list_media(w, call, &sb.issuer),
        ("GET", "/media/{uuid}") => match w.media.iter().find(|m| m.uuid == call.param(0)) {
            Some(m) => Json(media_json(m, &variants(call), &sb.issuer)).into_response(),
            None => not_found("Media"),
        },
        ("POST", "/media/uploads") => start_upload(w, call),
        ("GET", "/media/uploads/{uploadId}/parts/{partNumber}/url") => part_url(sb, w, call),
        ("PATCH", "/media/uploads/{uploadId}") => complete_upload(w, call),
        ("GET", "/vault/folders") => page(call, w.folders.iter().map(folder_json).collect()),
        ("POST", "/vault/folders") => create_folder(w, call),
        ("GET", "/vault/folders/{folderName}") => match w.folders.iter().find(|f| f.name == call.param(0)) {
            Some(f) => Json(folder_json(f)).into_response(),
            None => not_found("Folder"),
        },
        ("PATCH", "/vault/folders/{folderName}") => rename_folder(w, call),
        ("DELETE", "/vault/folders/{folderName}") => match w.folders.iter().position(|f| f.name == call.param(0)) {
            Some(i) => {
                w.folders.remove(i);
                StatusCode::NO_CONTENT.into_response()
            }
            None => not_found("Folder"),
        },
        ("GET", "/vault/folders/{folderName}/media") => folder_media(w, call),
        ("POST", "/vault/folders/{folderName}/media") => attach_media(w, call),
        ("GET", "/creators") => page(call, w.creators.iter().map(creator_json).collect()),
        ("GET", "/agencies/team-members") => team(w),
        ("POST", "/agencies/invites") => invite(w, call),
        ("GET", "/creators/{creatorUserUuid}/chats") => match creator_offset(w, call) {
            Some(offset) => {
                let chats: Vec<&Chat> = w.chats.iter().skip(offset).step_by(3).collect();
                page(call, chats.into_iter().map(|c| chat_json(w, c)).collect())
            }
            None => not_found("Creator"),
        },
        ("GET", "/creators/{creatorUserUuid}/followers") => match creator_offset(w, call) {
            Some(offset) => {
                page(call, w.fans.iter().skip(offset).step_by(3).filter(|f| !f.subscriber).map(fan_json).collect())
            }
            None => not_found("Creator"),
        },
        ("GET", "/creators/{creatorUserUuid}/subscribers") => match creator_offset(w, call) {
            Some(offset) => {
                page(call, w.fans.iter().skip(offset).step_by(3).filter(|f| f.subscriber).map(fan_json).collect())
            }
            None => not_found("Creator"),
        },
        _ => return None,
    };
    Some(response)
}

// ---- pagination -------------------------------------------------------------------------

fn bounded(call: &Call<'_>, key: &str, default: usize, max: usize, errors: &mut Vec<String>) -> usize {
    match call.q(key) {
        None => default,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                errors.push(format!("{key} must be an integer between 1 and {max}"));
                default
            }
        },
    }
}

/// Page-based: `page` (≥ 1), `size` (1–50, default 15) → `data` + `pagination`.
fn page(call: &Call<'_>, items: Vec<Value>) -> Response {
    let mut errors = Vec::new();
    let size = bounded(call, "size", 15, 50, &mut errors);
    let number = bounded(call, "page", 1, usize::MAX, &mut errors);
    if !errors.is_empty() {
        return invalid(errors);
    }
    let start = (number - 1).saturating_mul(size);
    let data: Vec<Value> = items.iter().skip(start).take(size).cloned().collect();
    let has_more = start.saturating_add(size) < items.len();
    Json(json!({ "data": data, "pagination": { "page": number, "size": data.len(), "hasMore": has_more } }))
        .into_response()
}

/// Cursor-based: opaque `cursor`, `limit` or `size` (1–50, default 20) → `data` + `nextCursor`.
fn cursor(call: &Call<'_>, size_key: &str, items: Vec<Value>) -> Response {
    let mut errors = Vec::new();
    let size = bounded(call, size_key, 20, 50, &mut errors);
    let start = match call.q("cursor") {
        None => 0,
        Some(raw) => match crate::crypto::unb64(raw)
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("o:")?.parse().ok())
        {
            Some(offset) => offset,
            None => {
                errors.push("cursor is invalid".into());
                0
            }
        },
    };
    if !errors.is_empty() {
        return invalid(errors);
    }
    let data: Vec<Value> = items.iter().skip(start).take(size).cloned().collect();
    let next = (start + size < items.len()).then(|| crate::crypto::b64(format!("o:{}", start + size).as_bytes()));
    Json(json!({ "data": data, "nextCursor": next })).into_response()
}

// ---- shapes -----------------------------------------------------------------------------

fn fan_json(fan: &Fan) -> Value {
    serde_json::to_value(fan).unwrap_or(Value::Null)
}

fn message_json(world: &World, chat: &Chat, m: &Message) -> Value {
    let fan = &world.fans[chat.fan];
    let (creator, them) = (
        json!({"uuid": super::api::USER_UUID, "handle": super::api::USER_HANDLE}),
        json!({"uuid": fan.uuid, "handle": fan.handle}),
    );
    let (sender, recipient) = if m.from_creator { (creator, them) } else { (them, creator) };
    json!({
        "uuid": m.uuid, "text": m.text, "sentAt": iso(m.sent_at), "sender": sender, "recipient": recipient,
        "hasMedia": !m.media_uuids.is_empty(), "mediaType": (!m.media_uuids.is_empty()).then_some("image"),
        "mediaUuids": m.media_uuids, "type": m.kind,
        "pricing": m.price.map(|p| json!({"USD": {"price": p}})), "purchasedAt": Value::Null, "isRead": m.is_read,
    })
}

fn chat_json(world: &World, chat: &Chat) -> Value {
    let fan = &world.fans[chat.fan];
    let last = chat.messages.last();
    let unread = chat.messages.iter().filter(|m| !m.from_creator && !m.is_read).count();
    json!({
        "createdAt": iso(chat.created_at),
        "lastMessageAt": last.map(|m| iso(m.sent_at)),
        "isRead": unread == 0 && chat.is_read,
        "isMuted": chat.is_muted,
        "unreadMessagesCount": unread,
        "user": {"uuid": fan.uuid, "handle": fan.handle, "displayName": fan.display_name, "nickname": chat.nickname.clone().or_else(|| fan.nickname.clone()),
                 "isTopSpender": fan.is_top_spender, "avatarUrl": fan.avatar_url, "registeredAt": fan.registered_at},
        "lastMessage": last.map(|m| json!({"text": m.text, "type": m.kind, "uuid": m.uuid, "sentAt": iso(m.sent_at),
            "hasMedia": !m.media_uuids.is_empty(), "senderUuid": if m.from_creator { super::api::USER_UUID.to_owned() } else { fan.uuid.clone() }})),
    })
}

fn post_json(p: &Post) -> Value {
    json!({
        "uuid": p.uuid, "createdAt": iso(p.created_at), "text": p.text, "price": p.price, "audience": p.audience,
        "publishAt": p.publish_at, "publishedAt": if p.publish_at.is_none() { Some(iso(p.created_at)) } else { None },
        "expiresAt": Value::Null, "mediaUuids": p.media_uuids, "isPinned": false,
        "likesCount": p.likes, "commentsCount": p.comments,
        "tips": {"count": p.tips, "totalGross": p.tips_gross, "totalNet": p.tips_gross * 8 / 10},
    })
}

fn link_json(l: &Link) -> Value {
    let subs = l.users.iter().filter(|u| u.2).count();
    json!({
        "uuid": l.uuid, "name": l.name, "linkUrl": l.link_url, "externalSocialPlatform": l.platform,
        "createdAt": iso(l.created_at), "clicks": l.clicks,
        "engagement": {"acquiredSubscribers": subs, "acquiredFollowers": l.users.len() - subs, "totalSubscribers": subs, "totalFollowers": l.users.len()},
        "earnings": l.earnings_gross.map(|g| json!({"totalGross": g, "totalNet": g * 8 / 10})),
    })
}

// ---- chats ------------------------------------------------------------------------------

fn chat_index(world: &World, fan_uuid: &str) -> Option<usize> {
    world.chats.iter().position(|c| world.fans[c.fan].uuid == fan_uuid)
}

fn list_chats(w: &World, call: &Call<'_>) -> Response {
    let filters = call.q_all("filter");
    let known = [
        "unread",
        "online",
        "subscribed_to",
        "not_muted",
        "subscribers",
        "followers",
        "recent_subscribers",
        "not_answered",
        "spent_more_than_50",
        "on_free_trial",
        "has_tipped",
        "spenders",
        "exclude_creators",
    ];
    if let Some(bad) = filters.iter().find(|f| !known.contains(f)) {
        return invalid(vec![format!("filter '{bad}' is not supported")]);
    }
    let smart = call.q_all("smartListIds");
    if let Some(bad) =
        smart.iter().find(|s| !["subscribers", "followers", "auto_renewing", "spent_more_than_50"].contains(s))
    {
        return invalid(vec![format!("smartListIds: '{bad}' is not a smart list")]);
    }
    let custom = match call.q("customListId") {
        None => None,
        Some(id) => match (0..CUSTOM_LISTS.len()).find(|i| seed_list_uuid(*i as u32) == id) {
            Some(list) => Some(list),
            None => return not_found("Custom list"),
        },
    };
    let search = call.q("search").map(str::to_lowercase);
    let mut chats: Vec<&Chat> = w
        .chats
        .iter()
        .filter(|c| {
            !filters.contains(&"unread") || c.messages.iter().any(|m| !m.from_creator && !m.is_read) || !c.is_read
        })
        .filter(|c| !filters.contains(&"not_muted") || !c.is_muted)
        .filter(|c| !filters.contains(&"subscribers") || w.fans[c.fan].subscriber)
        .filter(|c| smart.iter().all(|s| in_smart_list(w, s, c.fan)))
        .filter(|c| custom.is_none_or(|list| custom_members(w, list).any(|i| i == c.fan)))
        .filter(|c| {
            search.as_ref().is_none_or(|s| {
                w.fans[c.fan].handle.contains(s.as_str())
                    || w.fans[c.fan].display_name.to_lowercase().contains(s.as_str())
            })
        })
        .collect();
    chats.sort_by(|a, b| b.messages.last().map(|m| m.sent_at).cmp(&a.messages.last().map(|m| m.sent_at)));
    page(call, chats.into_iter().map(|c| chat_json(w, c)).collect())
}

fn unread(w: &World) -> Response {
    let unread_chats = w.chats.iter().filter(|c| c.messages.iter().any(|m| !m.from_creator && !m.is_read)).count();
    let unread_messages: usize =
        w.chats.iter().map(|c| c.messages.iter().filter(|m| !m.from_creator && !m.is_read).count()).sum();
    Json(json!({"unreadChatsCount": unread_chats, "unreadMessagesCount": unread_messages, "unreadNotifications": {}}))
        .into_response()
}

fn messages(w: &mut World, call: &Call<'_>) -> Response {
    let Some(i) = chat_index(w, call.param(0)) else { return not_found("Chat") };
    if call.q("markAsRead") == Some("true") {
        for m in &mut w.chats[i].messages {
            m.is_read = true;
        }
    }
    let chat = &w.chats[i];
    page(call, chat.messages.iter().rev().map(|m| message_json(w, chat, m)).collect())
}

/// Text, media and price as Fanvue checks them on posts and messages: text ≤ 5000
/// characters, media from the library, a price of at least 300 cents and only with media,
/// and something to send.
fn content(
    w: &World,
    body: &Value,
    what: &str,
    errors: &mut Vec<String>,
) -> (Option<String>, Vec<String>, Option<u64>) {
    let text = body.get("text").and_then(Value::as_str).map(str::to_owned);
    if text.as_ref().is_some_and(|t| t.chars().count() > 5000) {
        errors.push("text must be at most 5000 characters".into());
    }
    let media: Vec<String> = body
        .get("mediaUuids")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    for m in &media {
        if !w.media.iter().any(|x| &x.uuid == m) {
            errors.push(format!("mediaUuids: {m} is not in your media library"));
        }
    }
    let price = match body.get("price") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(p) if p >= 300 => Some(p),
            _ => {
                errors.push("price must be an integer of at least 300 (cents)".into());
                None
            }
        },
    };
    if price.is_some() && media.is_empty() {
        errors.push(format!("a paid {what} needs at least one media item"));
    }
    if text.as_deref().is_none_or(|t| t.trim().is_empty()) && media.is_empty() {
        errors.push(format!("a {what} needs text or media"));
    }
    (text, media, price)
}

fn send_message(w: &mut World, call: &Call<'_>) -> Response {
    let body = match call.json_body() {
        Ok(body) => body,
        Err(errors) => return invalid(errors),
    };
    let Some(i) = chat_index(w, call.param(0)) else { return not_found("Chat") };
    let mut errors = Vec::new();
    let (text, media, price) = content(w, &body, "message", &mut errors);
    if !errors.is_empty() {
        return invalid(errors);
    }
    let uuid = w.new_uuid(0x5e4d);
    w.chats[i].messages.push(Message {
        uuid: uuid.clone(),
        text,
        sent_at: OffsetDateTime::now_utc(),
        from_creator: true,
        media_uuids: media,
        price,
        kind: "SINGLE_RECIPIENT",
        is_read: true,
    });
    (StatusCode::CREATED, Json(json!({ "messageUuid": uuid }))).into_response()
}

fn update_chat(w: &mut World, call: &Call<'_>) -> Response {
    let body = match call.json_body() {
        Ok(body) => body,
        Err(errors) => return invalid(errors),
    };
    let Some(i) = chat_index(w, call.param(0)) else { return not_found("Chat") };
    if body.get("nickname").and_then(Value::as_str).is_some_and(|n| n.chars().count() > 30) {
        return invalid(vec!["nickname must be at most 30 characters".into()]);
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
    StatusCode::NO_CONTENT.into_response()
}

fn smart_lists(w: &World) -> Response {
    let subs = w.fans.iter().filter(|f| f.subscriber).count();
    Json(json!([
        {"uuid": "subscribers", "name": "Subscribers", "count": subs},
        {"uuid": "followers", "name": "Followers", "count": w.fans.len() - subs},
        {"uuid": "auto_renewing", "name": "Auto-renewing", "count": subs * 2 / 3},
        {"uuid": "spent_more_than_50", "name": "Spent more than $50", "count": w.fans.iter().filter(|f| f.is_top_spender).count()},
    ]))
    .into_response()
}

// ---- posts ------------------------------------------------------------------------------

/// The seeded custom lists: name, and which fans (by index) belong.
/// Whether fan number `i` belongs to a list.
type Membership = fn(usize) -> bool;

const CUSTOM_LISTS: [(&str, Membership); 2] = [("VIP", |i| i % 7 == 0), ("Birthday this month", |i| i % 13 == 3)];

fn custom_members(w: &World, list: usize) -> impl Iterator<Item = usize> + '_ {
    (0..w.fans.len()).filter(move |i| CUSTOM_LISTS.get(list).is_some_and(|(_, member)| member(*i)))
}

/// Whether fan `i` is in smart list `id`.
fn in_smart_list(w: &World, id: &str, i: usize) -> bool {
    let fan = &w.fans[i];
    match id {
        "subscribers" => fan.subscriber,
        "followers" => !fan.subscriber,
        "auto_renewing" => fan.subscriber && i.is_multiple_of(3),
        "spent_more_than_50" => fan.is_top_spender,
        _ => false,
    }
}

fn seed_list_uuid(i: u32) -> String {
    super::seed::uuid(0x1157, i)
}

/// A post's fields as Fanvue validates them on create and on edit.
struct PostFields {
    audience: String,
    text: Option<String>,
    price: Option<u64>,
    media: Vec<String>,
    publish_at: Option<String>,
}

fn create_post(w: &mut World, call: &Call<'_>) -> Response {
    let body = match call.json_body() {
        Ok(body) => body,
        Err(errors) => return invalid(errors),
    };
    let fields = match post_fields(w, &body) {
        Ok(fields) => fields,
        Err(errors) => return invalid(errors),
    };
    let post = Post {
        uuid: w.new_uuid(0x9057),
        created_at: OffsetDateTime::now_utc(),
        text: fields.text,
        price: fields.price,
        audience: fields.audience,
        media_uuids: fields.media,
        publish_at: fields.publish_at,
        likes: 0,
        comments: 0,
        tips: 0,
        tips_gross: 0,
    };
    let json = post_json(&post);
    w.posts.insert(0, post);
    (StatusCode::CREATED, Json(json)).into_response()
}

fn update_post(w: &mut World, call: &Call<'_>) -> Response {
    let patch = match call.json_body() {
        Ok(body) => body,
        Err(errors) => return invalid(errors),
    };
    let Some(current) = w.posts.iter().find(|p| p.uuid == call.param(0)) else { return not_found("Post") };
    // PATCH is partial, as at Fanvue: absent fields keep their value; `null` clears one.
    let mut body = post_json(current);
    if let (Some(target), Some(changes)) = (body.as_object_mut(), patch.as_object()) {
        for (key, value) in changes {
            target.insert(key.clone(), value.clone());
        }
    }
    let published = body
        .get("publishAt")
        .and_then(Value::as_str)
        .is_some_and(|at| OffsetDateTime::parse(at, &Rfc3339).is_ok_and(|t| t <= OffsetDateTime::now_utc()));
    if published {
        body["publishAt"] = Value::Null; // already published: not a schedule to check
    }
    let fields = match post_fields(w, &body) {
        Ok(fields) => fields,
        Err(errors) => return invalid(errors),
    };
    let Some(post) = w.posts.iter_mut().find(|p| p.uuid == call.param(0)) else { return not_found("Post") };
    post.audience = fields.audience;
    post.text = fields.text;
    post.price = fields.price;
    post.media_uuids = fields.media;
    post.publish_at = fields.publish_at;
    Json(post_json(post)).into_response()
}

fn post_fields(w: &World, body: &Value) -> Result<PostFields, Vec<String>> {
    let mut errors = Vec::new();
    let audience = body.get("audience").and_then(Value::as_str).unwrap_or("");
    if !matches!(audience, "subscribers" | "followers-and-subscribers") {
        errors.push("audience must be one of: subscribers, followers-and-subscribers".into());
    }
    let (text, media, price) = content(w, body, "post", &mut errors);
    let publish_at = body.get("publishAt").and_then(Value::as_str).map(str::to_owned);
    if let Some(at) = &publish_at {
        match OffsetDateTime::parse(at, &Rfc3339) {
            Ok(t) if t > OffsetDateTime::now_utc() => {}
            _ => errors.push("publishAt must be a future ISO 8601 date-time".into()),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(PostFields { audience: audience.to_owned(), text, price, media, publish_at })
}

// ---- tracking links ---------------------------------------------------------------------

const PLATFORMS: [&str; 8] = ["facebook", "instagram", "other", "reddit", "snapchat", "tiktok", "twitter", "youtube"];

fn create_link(w: &mut World, call: &Call<'_>) -> Response {
    let body = match call.json_body() {
        Ok(body) => body,
        Err(errors) => return invalid(errors),
    };
    let mut errors = Vec::new();
    let name = body.get("name").and_then(Value::as_str).map(str::trim).unwrap_or("");
    if name.is_empty() || name.chars().count() > 100 {
        errors.push("name must be between 1 and 100 characters".into());
    }
    let platform = body.get("externalSocialPlatform").and_then(Value::as_str).unwrap_or("");
    if !PLATFORMS.contains(&platform) {
        errors.push(format!("externalSocialPlatform must be one of: {}", PLATFORMS.join(", ")));
    }
    if !errors.is_empty() {
        return invalid(errors);
    }
    let link = Link {
        uuid: w.new_uuid(0x71c4),
        name: name.to_owned(),
        link_url: format!("fv-{}", 300_000 + w.next_id),
        platform: platform.to_owned(),
        created_at: OffsetDateTime::now_utc(),
        clicks: 0,
        earnings_gross: None,
        users: Vec::new(),
    };
    let json = link_json(&link);
    w.links.insert(0, link);
    (StatusCode::CREATED, Json(json)).into_response()
}

fn delete_link(w: &mut World, call: &Call<'_>) -> Response {
    match w.links.iter().position(|l| l.uuid == call.param(0)) {
        Some(i) => {
            w.links.remove(i);
            StatusCode::NO_CONTENT.into_response()
        }
        None => not_found("Tracking link"),
    }
}

fn link_users(w: &World, call: &Call<'_>) -> Response {
    let Some(link) = w.links.iter().find(|l| l.uuid == call.param(0)) else { return not_found("Tracking link") };
    let users = link
        .users
        .iter()
        .map(|(fan, clicked, subscribed)| {
            let mut user = fan_json(&w.fans[*fan]);
            user["clickedAt"] = iso(*clicked).into();
            user["status"] = if *subscribed { "subscriber" } else { "follower" }.into();
            user
        })
        .collect();
    cursor(call, "limit", users)
}

// ---- insights ---------------------------------------------------------------------------

/// `startDate`/`endDate`: a date (`2026-01-31`) or a date-time; end exclusive.
fn date_range(call: &Call<'_>) -> Result<(Option<OffsetDateTime>, Option<OffsetDateTime>), Vec<String>> {
    let parse = |key: &str| -> Result<Option<OffsetDateTime>, String> {
        match call.q(key) {
            None => Ok(None),
            Some(raw) => {
                let full = if raw.len() == 10 { format!("{raw}T00:00:00Z") } else { raw.to_owned() };
                OffsetDateTime::parse(&full, &Rfc3339).map(Some).map_err(|_| format!("{key} must be an ISO 8601 date"))
            }
        }
    };
    let errors: Vec<String> = [parse("startDate"), parse("endDate")].iter().filter_map(|r| r.clone().err()).collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    let (start, end) = (parse("startDate").ok().flatten(), parse("endDate").ok().flatten());
    if let (Some(s), Some(e)) = (start, end)
        && s >= e
    {
        return Err(vec!["startDate must be before endDate".into()]);
    }
    Ok((start, end))
}

fn in_range(e: &Earning, start: Option<OffsetDateTime>, end: Option<OffsetDateTime>) -> bool {
    start.is_none_or(|s| e.at >= s) && end.is_none_or(|x| e.at < x)
}

fn earnings(w: &World, call: &Call<'_>) -> Response {
    let (start, end) = match date_range(call) {
        Ok(range) => range,
        Err(errors) => return invalid(errors),
    };
    let sources = call.q_all("source");
    let items = w
        .earnings
        .iter()
        .filter(|e| in_range(e, start, end))
        .filter(|e| sources.is_empty() || sources.contains(&"all") || sources.contains(&e.source))
        .map(|e| {
            let fan = &w.fans[e.fan];
            json!({"date": iso(e.at), "gross": e.gross, "net": e.gross * 8 / 10, "currency": "USD", "source": e.source,
                   "user": {"uuid": fan.uuid, "handle": fan.handle, "displayName": fan.display_name, "nickname": fan.nickname, "isTopSpender": fan.is_top_spender}})
        })
        .collect();
    cursor(call, "size", items)
}

fn top_spenders(w: &World, call: &Call<'_>) -> Response {
    let (start, end) = match date_range(call) {
        Ok(range) => range,
        Err(errors) => return invalid(errors),
    };
    let mut totals = vec![(0u64, 0u64); w.fans.len()];
    for e in w.earnings.iter().filter(|e| in_range(e, start, end)) {
        totals[e.fan].0 += e.gross;
        totals[e.fan].1 += u64::from(e.source == "message");
    }
    let mut ranked: Vec<usize> = (0..w.fans.len()).filter(|i| totals[*i].0 > 0).collect();
    ranked.sort_by(|a, b| totals[*b].0.cmp(&totals[*a].0));
    let items = ranked
        .into_iter()
        .map(|i| json!({"gross": totals[i].0, "net": totals[i].0 * 8 / 10, "messages": totals[i].1, "user": fan_json(&w.fans[i])}))
        .collect();
    page(call, items)
}

fn subscriber_days(w: &World, call: &Call<'_>) -> Response {
    let (start, end) = match date_range(call) {
        Ok(range) => range,
        Err(errors) => return invalid(errors),
    };
    let mut days: std::collections::BTreeMap<time::Date, (u64, u64)> = std::collections::BTreeMap::new();
    for e in w.earnings.iter().filter(|e| in_range(e, start, end)) {
        let entry = days.entry(e.at.date()).or_default();
        if e.source == "subscription" {
            entry.0 += 1;
        }
        if e.source == "renewal" && e.gross % 2 == 1 {
            entry.1 += 1;
        }
    }
    let mut total = i64::try_from(w.fans.iter().filter(|f| f.subscriber).count()).unwrap_or(0);
    let items = days
        .into_iter()
        .map(|(day, (new, cancelled))| {
            total += i64::try_from(new).unwrap_or(0) - i64::try_from(cancelled).unwrap_or(0);
            json!({"date": format!("{day}T00:00:00.000Z"), "total": total, "newSubscribersCount": new, "cancelledSubscribersCount": cancelled})
        })
        .collect();
    cursor(call, "size", items)
}

// ---- media and vault ----------------------------------------------------------------------

const VARIANTS: [&str; 4] = ["blurred", "main", "thumbnail", "thumbnail_gallery"];

fn variants(call: &Call<'_>) -> Vec<String> {
    call.q_all("variants").into_iter().filter(|v| VARIANTS.contains(v)).map(str::to_owned).collect()
}

/// Signed URLs appear only for the variants asked for, as at Fanvue.
fn media_json(m: &Media, variants: &[String], issuer: &str) -> Value {
    if m.status != "ready" || m.ready_at.is_some_and(|at| OffsetDateTime::now_utc() < at) {
        return json!({"uuid": m.uuid, "status": if m.status == "ready" { "processing" } else { m.status }});
    }
    let variants: Vec<Value> = variants
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"variantType": v, "displayPosition": i, "url": format!("{issuer}/_sandbox/media/{}/{v}.svg?sig=sandbox", m.uuid), "width": 640, "height": 800}))
        .collect();
    json!({"uuid": m.uuid, "status": m.status, "createdAt": iso(m.created_at), "name": m.name, "mediaType": m.media_type, "variants": variants})
}

fn list_media(w: &World, call: &Call<'_>, issuer: &str) -> Response {
    let wanted = variants(call);
    let kind = call.q("mediaType");
    let statuses = call.q_all("status");
    let now = OffsetDateTime::now_utc();
    let status_of = |m: &Media| if m.ready_at.is_some_and(|at| now < at) { "processing" } else { m.status };
    page(
        call,
        w.media
            .iter()
            .filter(|m| kind.is_none_or(|k| k == m.media_type))
            .filter(|m| statuses.is_empty() || statuses.contains(&status_of(m)))
            .map(|m| media_json(m, &wanted, issuer))
            .collect(),
    )
}

fn folder_json(f: &Folder) -> Value {
    json!({"name": f.name, "createdAt": iso(f.created_at), "mediaCount": f.media.len()})
}

fn folder_name(body: &Value) -> Result<String, Vec<String>> {
    let name = body.get("name").and_then(Value::as_str).map(str::trim).unwrap_or("");
    if name.is_empty() || name.chars().count() > 255 {
        return Err(vec!["name must be between 1 and 255 characters".into()]);
    }
    Ok(name.to_owned())
}

fn create_folder(w: &mut World, call: &Call<'_>) -> Response {
    let name = match call.json_body().and_then(|b| folder_name(&b)) {
        Ok(name) => name,
        Err(errors) => return invalid(errors),
    };
    if w.folders.iter().any(|f| f.name == name) {
        return (StatusCode::CONFLICT, Json(json!({"message": "A folder with this name already exists"})))
            .into_response();
    }
    let folder = Folder { name, created_at: OffsetDateTime::now_utc(), media: Vec::new() };
    let json = folder_json(&folder);
    w.folders.insert(0, folder);
    (StatusCode::CREATED, Json(json)).into_response()
}

fn rename_folder(w: &mut World, call: &Call<'_>) -> Response {
    let name = match call.json_body().and_then(|b| folder_name(&b)) {
        Ok(name) => name,
        Err(errors) => return invalid(errors),
    };
    if w.folders.iter().any(|f| f.name == name) {
        return (StatusCode::CONFLICT, Json(json!({"message": "A folder with this name already exists"})))
            .into_response();
    }
    match w.folders.iter_mut().find(|f| f.name == call.param(0)) {
        Some(folder) => {
            folder.name = name;
            StatusCode::NO_CONTENT.into_response()
        }
        None => not_found("Folder"),
    }
}

fn folder_media(w: &World, call: &Call<'_>) -> Response {
    let Some(folder) = w.folders.iter().find(|f| f.name == call.param(0)) else { return not_found("Folder") };
    let items = folder
        .media
        .iter()
        .filter_map(|uuid| w.media.iter().find(|m| &m.uuid == uuid))
        .map(|m| json!({"uuid": m.uuid, "name": m.name, "createdAt": iso(m.created_at), "mediaType": m.media_type}))
        .collect();
    page(call, items)
}

fn attach_media(w: &mut World, call: &Call<'_>) -> Response {
    let body = match call.json_body() {
        Ok(body) => body,
        Err(errors) => return invalid(errors),
    };
    let wanted: Vec<String> = body
        .get("mediaUuids")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    if wanted.is_empty() {
        return invalid(vec!["mediaUuids must list at least one media item".into()]);
    }
    let unknown: Vec<String> = wanted
        .iter()
        .filter(|u| !w.media.iter().any(|m| &&m.uuid == u))
        .map(|u| format!("mediaUuids: {u} is not in your media library"))
        .collect();
    if !unknown.is_empty() {
        return invalid(unknown);
    }
    let Some(folder) = w.folders.iter_mut().find(|f| f.name == call.param(0)) else { return not_found("Folder") };
    let mut added = 0;
    for uuid in wanted {
        if !folder.media.contains(&uuid) {
            folder.media.push(uuid);
            added += 1;
        }
    }
    (StatusCode::CREATED, Json(json!({"addedCount": added}))).into_response()
}

// ---- agency -------------------------------------------------------------------------------

fn creator_json(c: &super::seed::Creator) -> Value {
    json!({"uuid": c.uuid, "handle": c.handle, "displayName": c.display_name, "nickname": Value::Null, "isTopSpender": false,
           "avatarUrl": Value::Null, "registeredAt": "2024-01-10T12:00:00.000Z", "role": c.role})
}

/// Which slice of the seeded world a managed creator sees (each has their own fans and chats).
fn creator_offset(w: &World, call: &Call<'_>) -> Option<usize> {
    w.creators.iter().position(|c| c.uuid == call.param(0))
}

fn team(w: &World) -> Response {
    let creators: Vec<Value> = w.creators.iter().map(|c| json!({"uuid": c.uuid, "role": c.role})).collect();
    let members: Vec<Value> = w
        .team
        .iter()
        .map(|t| json!({"uuid": t.uuid, "isAdmin": t.is_admin, "nickname": Value::Null, "email": t.email, "displayName": t.display_name,
                        "creatorAccess": if t.is_admin { creators.clone() } else { creators.iter().take(1).cloned().collect() }}))
        .collect();
    Json(Value::Array(members)).into_response()
}

fn invite(w: &mut World, call: &Call<'_>) -> Response {
    let body = match call.json_body() {
        Ok(body) => body,
        Err(errors) => return invalid(errors),
    };
    let email = body.get("email").and_then(Value::as_str).map(str::trim).unwrap_or("");
    let plausible = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.') && !domain.starts_with('.'));
    if !plausible {
        return invalid(vec!["email must be a valid email address".into()]);
    }
    if w.team.iter().any(|t| t.email.eq_ignore_ascii_case(email))
        || w.invites.iter().any(|i| i.eq_ignore_ascii_case(email))
    {
        return (StatusCode::CONFLICT, Json(json!({"message": "This person is already a member or invited"})))
            .into_response();
    }
    w.invites.push(email.to_owned());
    let uuid = w.new_uuid(0x1e7);
    Json(json!({"success": true, "message": format!("Invitation sent to {email}"), "inviteUuid": uuid})).into_response()
}

// ---- uploads ------------------------------------------------------------------------------

/// Part size the sandbox asks for (S3's minimum for every part but the last).
pub const PART_SIZE: u64 = 5 * 1024 * 1024;

fn start_upload(w: &mut World, call: &Call<'_>) -> Response {
    let body = match call.json_body() {
        Ok(body) => body,
        Err(errors) => return invalid(errors),
    };
    let text = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let (name, filename, kind) = (text("name"), text("filename"), text("mediaType"));
    let mut errors = Vec::new();
    for (field, value) in [("name", &name), ("filename", &filename)] {
        if value.is_empty() || value.chars().count() > 255 {
            errors.push(format!("{field} must be between 1 and 255 characters"));
        }
    }
    let media_type = match kind.as_str() {
        "image" => "image",
        "video" => "video",
        "audio" => "audio",
        "document" => "document",
        _ => {
            errors.push("mediaType must be one of: image, video, audio, document".into());
            "document"
        }
    };
    if !errors.is_empty() {
        return invalid(errors);
    }
    let media_uuid = w.new_uuid(0x3ed1a);
    let upload_id = format!("upl_{}", crate::crypto::random_token(12));
    w.uploads.insert(
        upload_id.clone(),
        super::seed::Upload {
            media_uuid: media_uuid.clone(),
            name,
            media_type,
            parts: Default::default(),
            completed: false,
        },
    );
    Json(json!({"mediaUuid": media_uuid, "uploadId": upload_id, "partSize": PART_SIZE, "maxParts": 10000}))
        .into_response()
}

/// The presigned URL comes back as plain text, as Fanvue's clients see it.
fn part_url(sb: &SandboxState, w: &World, call: &Call<'_>) -> Response {
    let Some(upload) = w.uploads.get(call.param(0)) else { return not_found("Upload") };
    if upload.completed {
        return invalid(vec!["the upload is already completed".into()]);
    }
    let Some(number) = call.param(1).parse::<u32>().ok().filter(|n| (1..=10_000).contains(n)) else {
        return invalid(vec!["partNumber must be between 1 and 10000".into()]);
    };
    let signature = sb.store.sign_part(call.param(0), number);
    let url = format!("{}/_sandbox/storage/{}/{number}?signature={signature}", sb.issuer, call.param(0));
    ([(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], url).into_response()
}

fn complete_upload(w: &mut World, call: &Call<'_>) -> Response {
    let body = match call.json_body() {
        Ok(body) => body,
        Err(errors) => return invalid(errors),
    };
    let Some(upload) = w.uploads.get(call.param(0)).cloned() else { return not_found("Upload") };
    if upload.completed {
        return invalid(vec!["the upload is already completed".into()]);
    }
    let listed: Vec<(u64, String)> = body
        .get("parts")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| Some((p.get("PartNumber")?.as_u64()?, p.get("ETag")?.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let mut errors = Vec::new();
    if listed.is_empty() {
        errors.push("parts must list every uploaded part".into());
    }
    for (i, (number, etag)) in listed.iter().enumerate() {
        let stored = u32::try_from(*number).ok().and_then(|n| upload.parts.get(&n));
        match stored {
            _ if *number != i as u64 + 1 => {
                errors.push(format!("parts must be numbered 1, 2, 3…; found {number} at position {}", i + 1))
            }
            None => errors.push(format!("part {number} was never uploaded")),
            Some((stored_etag, _)) if stored_etag != etag => {
                errors.push(format!("part {number}: the ETag does not match"))
            }
            Some((_, size)) if i + 1 < listed.len() && *size < PART_SIZE => {
                errors.push(format!("part {number} is smaller than 5 MiB (EntityTooSmall)"))
            }
            Some(_) => {}
        }
    }
    if !errors.is_empty() {
        return invalid(errors);
    }
    let size = upload.parts.values().map(|(_, s)| s).sum();
    if let Some(u) = w.uploads.get_mut(call.param(0)) {
        u.completed = true;
    }
    let now = OffsetDateTime::now_utc();
    w.media.insert(
        0,
        Media {
            uuid: upload.media_uuid,
            name: upload.name,
            media_type: upload.media_type,
            created_at: now,
            status: "ready",
            ready_at: Some(now + time::Duration::seconds(1)),
            size,
        },
    );
    Json(json!({"status": "processing"})).into_response()
}
