//! The JSON shapes Fanvue answers with, one builder per documented shape. Every field the
//! reference marks required is written, `null` where it allows that.

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::seed::{Chat, Creator, Fan, Link, Media, Message, Post, World, iso};

/// A user as the fan lists, chats and top spenders show one.
pub fn user(fan: &Fan) -> Value {
    json!({"uuid": fan.uuid, "handle": fan.handle, "displayName": fan.display_name, "nickname": fan.nickname,
           "isTopSpender": fan.is_top_spender, "avatarUrl": fan.avatar_url, "registeredAt": iso(fan.registered_at)})
}

/// A user as earnings and comments show one (no avatar, no registration date).
pub fn user_brief(fan: &Fan) -> Value {
    json!({"uuid": fan.uuid, "handle": fan.handle, "displayName": fan.display_name, "nickname": fan.nickname,
           "isTopSpender": fan.is_top_spender})
}

/// A member of a smart or custom list.
pub fn member(fan: &Fan) -> Value {
    json!({"uuid": fan.uuid, "displayName": fan.display_name, "handle": fan.handle, "isCreator": false})
}

/// A managed creator as `/creators` lists one.
pub fn creator(c: &Creator) -> Value {
    json!({"uuid": c.uuid, "handle": c.handle, "displayName": c.display_name, "nickname": Value::Null,
           "isTopSpender": false, "avatarUrl": Value::Null, "registeredAt": "2024-01-10T12:00:00.000Z", "role": c.role})
}

/// The media type of a message (its first media item's), or `null`.
fn message_media_type(world: &World, m: &Message) -> Value {
    m.media_uuids.first().map_or(Value::Null, |uuid| {
        json!(world.media.iter().find(|x| &x.uuid == uuid).map_or("image", |x| x.media_type))
    })
}

pub fn message(world: &World, chat: &Chat, m: &Message) -> Value {
    let fan = &world.fans[chat.fan];
    let (owner, them) = (
        json!({"uuid": world.owner_uuid, "handle": world.owner_handle}),
        json!({"uuid": fan.uuid, "handle": fan.handle}),
    );
    let (sender, recipient) = if m.from_creator { (owner, them) } else { (them, owner) };
    json!({
        "uuid": m.uuid, "text": m.text, "sentAt": iso(m.sent_at), "sender": sender, "recipient": recipient,
        "hasMedia": !m.media_uuids.is_empty(), "mediaType": message_media_type(world, m),
        "mediaUuids": m.media_uuids, "type": m.kind,
        "pricing": m.price.map(|p| json!({"USD": {"price": p}})), "purchasedAt": m.purchased_at.map(iso),
        "isRead": m.is_read,
    })
}

pub fn chat(world: &World, chat: &Chat) -> Value {
    let fan = &world.fans[chat.fan];
    let last = chat.messages.last();
    let unread = chat.messages.iter().filter(|m| !m.from_creator && !m.is_read).count();
    let mut summary = user(fan);
    summary["nickname"] = json!(chat.nickname.clone().or_else(|| fan.nickname.clone()));
    json!({
        "createdAt": iso(chat.created_at),
        "lastMessageAt": last.map(|m| iso(m.sent_at)),
        "isRead": unread == 0 && chat.is_read,
        "isMuted": chat.is_muted,
        "unreadMessagesCount": unread,
        "user": summary,
        "lastMessage": last.map(|m| json!({"text": m.text, "type": m.kind, "uuid": m.uuid, "sentAt": iso(m.sent_at),
            "hasMedia": !m.media_uuids.is_empty(), "mediaType": message_media_type(world, m),
            "senderUuid": if m.from_creator { &world.owner_uuid } else { &fan.uuid }})),
    })
}

pub fn post(p: &Post) -> Value {
    json!({
        "uuid": p.uuid, "createdAt": iso(p.created_at), "text": p.text, "price": p.price, "audience": p.audience,
        "publishAt": p.publish_at, "publishedAt": if p.publish_at.is_none() { Some(iso(p.created_at)) } else { None },
        "expiresAt": Value::Null, "mediaUuids": p.media_uuids, "isPinned": false,
        "likesCount": p.likes, "commentsCount": p.comments,
        "tips": {"count": p.tips, "totalGross": p.tips_gross, "totalNet": p.tips_gross * 8 / 10},
    })
}

pub fn link(l: &Link) -> Value {
    let subs = l.users.iter().filter(|u| u.2).count();
    json!({
        "uuid": l.uuid, "name": l.name, "linkUrl": l.link_url, "externalSocialPlatform": l.platform,
        "createdAt": iso(l.created_at), "clicks": l.clicks,
        "engagement": {"acquiredSubscribers": subs, "acquiredFollowers": l.users.len() - subs, "totalSubscribers": subs, "totalFollowers": l.users.len()},
        "earnings": l.earnings_gross.map(|g| json!({"totalGross": g, "totalNet": g * 8 / 10})),
    })
}

/// The id of something that belongs to `parent` (a variant of a media item, a comment on a
/// post): the parent's id with `first` as its first group, unique as the parent's is.
pub fn derived_id(first: u32, parent: &str) -> String {
    format!("{first:08x}{}", parent.get(8..).unwrap_or_default())
}

/// Variant types, in the order Fanvue lists them.
pub const VARIANTS: [&str; 4] = ["blurred", "main", "thumbnail", "thumbnail_gallery"];

/// One signed variant URL of a media item (the sandbox serves a generated picture there).
pub fn variant(m: &Media, kind: &str, position: usize, issuer: &str) -> Value {
    let id = derived_id(0x7a21_0000 + position as u32, &m.uuid);
    let (width, height) = if kind.starts_with("thumbnail") { (160, 200) } else { (640, 800) };
    json!({"uuid": id, "variantType": kind, "displayPosition": position, "width": width, "height": height,
           "lengthMs": (m.media_type == "video").then_some(42_000),
           "url": format!("{issuer}/_sandbox/media/{}/{kind}.svg?sig=sandbox", m.uuid)})
}

/// Whether an item is ready: an upload reports `processing` for a moment after completion.
pub fn status(m: &Media, now: OffsetDateTime) -> &'static str {
    if m.status == "ready" && m.ready_at.is_some_and(|at| now < at) { "processing" } else { m.status }
}

/// A library item; signed URLs appear only for the variants asked for, as at Fanvue. An item
/// not ready yet is only `{uuid, status}`.
pub fn media(m: &Media, variants: &[&str], issuer: &str) -> Value {
    let status = status(m, OffsetDateTime::now_utc());
    if status != "ready" {
        return json!({"uuid": m.uuid, "status": status});
    }
    let variants: Vec<Value> = variants.iter().enumerate().map(|(i, v)| variant(m, v, i, issuer)).collect();
    json!({"uuid": m.uuid, "status": status, "createdAt": iso(m.created_at), "name": m.name, "caption": Value::Null,
           "mediaType": m.media_type, "recommendedPrice": (m.media_type == "video").then_some(1200), "variants": variants})
}
