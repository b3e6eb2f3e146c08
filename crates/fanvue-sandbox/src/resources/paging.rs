//! Fanvue's two pagination styles: page-based (`page`, `size` → `data` + `pagination`) for
//! most lists, cursor-based (`cursor`, `limit` or `size` → `data` + `nextCursor`) for the
//! high-volume ones. Both take 1–50 items a page, as the reference's prose says.

use axum::Json;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::{Call, Reply, invalid};

/// Most items a page.
const MAX_SIZE: usize = 50;

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
pub fn page(call: &Call<'_>, items: Vec<Value>) -> Reply {
    let mut errors = Vec::new();
    let size = bounded(call, "size", 15, MAX_SIZE, &mut errors);
    let number = bounded(call, "page", 1, usize::MAX, &mut errors);
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let start = (number - 1).saturating_mul(size);
    let data: Vec<Value> = items.iter().skip(start).take(size).cloned().collect();
    let has_more = start.saturating_add(size) < items.len();
    Ok(Json(json!({ "data": data, "pagination": { "page": number, "size": data.len(), "hasMore": has_more } }))
        .into_response())
}

/// Cursor-based: opaque `cursor`, `limit` or `size` (1–50, default 20) → `data` + `nextCursor`.
pub fn cursor(call: &Call<'_>, size_key: &str, items: Vec<Value>) -> Reply {
    let mut errors = Vec::new();
    let size = bounded(call, size_key, 20, MAX_SIZE, &mut errors);
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
        return Err(invalid(errors));
    }
    let data: Vec<Value> = items.iter().skip(start).take(size).cloned().collect();
    let next = (start + size < items.len()).then(|| crate::crypto::b64(format!("o:{}", start + size).as_bytes()));
    Ok(Json(json!({ "data": data, "nextCursor": next })).into_response())
}
