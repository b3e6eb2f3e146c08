//! Tracking links: the list (cursor, `limit`), creating and deleting one, and the fans a link
//! brought.

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::Value;
use time::OffsetDateTime;

use super::paging::cursor;
use super::shapes;
use super::{Call, Reply, invalid, not_found};
use crate::seed::{Link, World, iso};

pub fn list(w: &World, call: &Call<'_>) -> Reply {
    cursor(call, "limit", w.links.iter().map(shapes::link).collect())
}

pub fn create(w: &mut World, call: &Call<'_>) -> Reply {
    let body = call.json_body()?;
    let name = body.get("name").and_then(Value::as_str).map(str::trim).unwrap_or("");
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid(vec!["name must be between 1 and 100 characters".into()]));
    }
    // The platform's enum is the reference's, checked before the handler runs.
    let platform = body.get("externalSocialPlatform").and_then(Value::as_str).unwrap_or("other");
    let uuid = w.new_uuid(0x71c4);
    let link = Link {
        // Unique across worlds, as the id is (its world is in the counter's bits 24–30).
        link_url: format!("fv-{}", 300_000 + (w.next_id & !crate::seed::CREATED)),
        uuid,
        name: name.to_owned(),
        platform: platform.to_owned(),
        created_at: OffsetDateTime::now_utc(),
        clicks: 0,
        earnings_gross: None,
        users: Vec::new(),
    };
    let json = shapes::link(&link);
    w.links.insert(0, link);
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

pub fn delete(w: &mut World, call: &Call<'_>) -> Reply {
    let i = w.links.iter().position(|l| l.uuid == call.param(0)).ok_or_else(|| not_found("Tracking link"))?;
    w.links.remove(i);
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub fn users(w: &World, call: &Call<'_>) -> Reply {
    let link = w.links.iter().find(|l| l.uuid == call.param(0)).ok_or_else(|| not_found("Tracking link"))?;
    let users = link
        .users
        .iter()
        .map(|(fan, clicked, subscribed)| {
            let mut user = shapes::user(&w.fans[*fan]);
            user["clickedAt"] = iso(*clicked).into();
            user["status"] = if *subscribed { "subscriber" } else { "follower" }.into();
            user
        })
        .collect();
    cursor(call, "limit", users)
}
