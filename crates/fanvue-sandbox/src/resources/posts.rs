//! Posts: the list, one post, creating and editing (partial, `null` clears), and who
//! commented, liked and tipped, derived from each post's counters so lists and counters agree.

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime, format_description::well_known::Rfc3339};

use super::paging::page;
use super::shapes;
use super::{Call, Refusal, Reply, content, invalid, not_found};
use crate::seed::{Post, World, iso};

const COMMENTS: [&str; 6] = [
    "Gorgeous 😍",
    "This made my day",
    "Can't wait for the next one!",
    "Where was this taken?",
    "Absolutely stunning",
    "🔥🔥🔥",
];

fn find<'w>(w: &'w World, call: &Call<'_>) -> Result<&'w Post, Refusal> {
    w.posts.iter().find(|p| p.uuid == call.param(0)).ok_or_else(|| not_found("Post"))
}

pub fn list(w: &World, call: &Call<'_>) -> Reply {
    page(call, w.posts.iter().map(shapes::post).collect())
}

pub fn one(w: &World, call: &Call<'_>) -> Reply {
    Ok(Json(shapes::post(find(w, call)?)).into_response())
}

/// A post's fields as Fanvue validates them on create and on edit.
struct PostFields {
    audience: String,
    text: Option<String>,
    price: Option<u64>,
    media: Vec<String>,
    publish_at: Option<String>,
}

fn post_fields(w: &World, body: &Value) -> Result<PostFields, Refusal> {
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
        return Err(invalid(errors));
    }
    Ok(PostFields { audience: audience.to_owned(), text, price, media, publish_at })
}

pub fn create(w: &mut World, call: &Call<'_>) -> Reply {
    let fields = post_fields(w, &call.json_body()?)?;
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
    let json = shapes::post(&post);
    w.posts.insert(0, post);
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

pub fn update(w: &mut World, call: &Call<'_>) -> Reply {
    let patch = call.json_body()?;
    // PATCH is partial, as at Fanvue: absent fields keep their value; `null` clears one.
    let mut body = shapes::post(find(w, call)?);
    if let (Some(target), Some(changes)) = (body.as_object_mut(), patch.as_object()) {
        target.extend(changes.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let published = body
        .get("publishAt")
        .and_then(Value::as_str)
        .is_some_and(|at| OffsetDateTime::parse(at, &Rfc3339).is_ok_and(|t| t <= OffsetDateTime::now_utc()));
    if published {
        body["publishAt"] = Value::Null; // already published: not a schedule to check
    }
    let fields = post_fields(w, &body)?;
    let post = w.posts.iter_mut().find(|p| p.uuid == call.param(0)).ok_or_else(|| not_found("Post"))?;
    post.audience = fields.audience;
    post.text = fields.text;
    post.price = fields.price;
    post.media_uuids = fields.media;
    post.publish_at = fields.publish_at;
    Ok(Json(shapes::post(post)).into_response())
}

/// The `count` reactions to a post: for each (newest first) its number, the fan (an index
/// spread over the fans from the post's own id) and when, spread over the post's first days.
fn reactions(w: &World, p: &Post, count: u64, stride: usize) -> impl Iterator<Item = (u64, usize, OffsetDateTime)> {
    let seed = p.uuid.get(p.uuid.len().saturating_sub(4)..).and_then(|h| usize::from_str_radix(h, 16).ok());
    let seed = seed.unwrap_or(0);
    let span = (w.seeded_at.max(p.created_at) - p.created_at).min(Duration::days(3));
    let fans = w.fans.len().max(1);
    (0..count).rev().map(move |k| {
        let at = p.created_at + span * ((k + 1) as f64 / (count + 1) as f64);
        (k, (seed + k as usize * stride) % fans, at)
    })
}

pub fn comments(w: &World, call: &Call<'_>) -> Reply {
    let p = find(w, call)?;
    let items = reactions(w, p, p.comments, 7)
        .map(|(k, fan, at)| {
            json!({"uuid": shapes::derived_id(0xc033_0000 + k as u32, &p.uuid),
                   "text": COMMENTS[k as usize % COMMENTS.len()], "user": shapes::user_brief(&w.fans[fan]),
                   "createdAt": iso(at), "updatedAt": Value::Null})
        })
        .collect();
    page(call, items)
}

pub fn likes(w: &World, call: &Call<'_>) -> Reply {
    let p = find(w, call)?;
    // A stride of 1 over at most as many likes as fans: each fan likes a post once.
    let items = reactions(w, p, p.likes, 1)
        .map(|(_, fan, at)| json!({"user": shapes::user(&w.fans[fan]), "createdAt": iso(at)}))
        .collect();
    page(call, items)
}

pub fn tips(w: &World, call: &Call<'_>) -> Reply {
    let p = find(w, call)?;
    let items = reactions(w, p, p.tips, 5)
        .map(|(k, fan, at)| {
            let gross = p.tip(k);
            json!({"user": shapes::user(&w.fans[fan]), "createdAt": iso(at), "gross": gross, "net": gross * 8 / 10})
        })
        .collect();
    page(call, items)
}
