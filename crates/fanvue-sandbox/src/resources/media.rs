//! The media library, its multipart uploads (S3-style: start, one presigned URL per part,
//! complete) and the vault folders that group it.

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::paging::page;
use super::shapes::{self, VARIANTS};
use super::{Call, Refusal, Reply, invalid, name_field, not_found, refused, uuids};
use crate::SandboxState;
use crate::seed::{Folder, Media, Upload, World, iso};

/// Part size the sandbox asks for (S3's minimum for every part but the last).
pub const PART_SIZE: u64 = 5 * 1024 * 1024;

fn variants<'c>(call: &'c Call<'_>) -> Vec<&'c str> {
    call.q_all("variants").into_iter().filter(|v| VARIANTS.contains(v)).collect()
}

/// Whether an item is used the way `usage` asks (in posts for an audience, paid, or in a mass
/// message).
fn used_as(w: &World, m: &Media, usage: &str) -> bool {
    let in_posts = |audience: &str| w.posts.iter().any(|p| p.audience == audience && p.media_uuids.contains(&m.uuid));
    let messages = || w.chats.iter().flat_map(|c| &c.messages).filter(|x| x.media_uuids.contains(&m.uuid));
    match usage {
        "subscribers" => in_posts("subscribers"),
        "followers" => in_posts("followers-and-subscribers"),
        "ppv" => {
            w.posts.iter().any(|p| p.price.is_some() && p.media_uuids.contains(&m.uuid))
                || messages().any(|x| x.price.is_some())
        }
        "mass_messages" => messages().any(|x| x.kind == "BROADCAST"),
        _ => true,
    }
}

/// A library item, with `purchasedByFan` when the call names a fan (`purchasedBy`).
fn item(w: &World, m: &Media, call: &Call<'_>, issuer: &str) -> Value {
    let mut json = shapes::media(m, &variants(call), issuer);
    if let Some(fan) = call.q("purchasedBy").filter(|_| json.get("createdAt").is_some()) {
        let bought = w.chats.iter().filter(|c| w.fans[c.fan].uuid == fan).flat_map(|c| &c.messages);
        json["purchasedByFan"] =
            bought.clone().any(|x| x.purchased_at.is_some() && x.media_uuids.contains(&m.uuid)).into();
    }
    json
}

pub fn list(w: &World, call: &Call<'_>, issuer: &str) -> Reply {
    let kind = call.q("mediaType");
    let statuses = call.q_all("status");
    let folder = call.q("folderName").map(|name| w.folders.iter().find(|f| f.name == name));
    let usage = call.q("usage");
    let now = OffsetDateTime::now_utc();
    let items = w
        .media
        .iter()
        .filter(|m| kind.is_none_or(|k| k == m.media_type))
        .filter(|m| statuses.is_empty() || statuses.contains(&shapes::status(m, now)))
        .filter(|m| folder.is_none_or(|f| f.is_some_and(|f| f.media.contains(&m.uuid))))
        .filter(|m| usage.is_none_or(|u| used_as(w, m, u)))
        .map(|m| item(w, m, call, issuer))
        .collect();
    page(call, items)
}

pub fn one(w: &World, call: &Call<'_>, issuer: &str) -> Reply {
    let m = w.media.iter().find(|m| m.uuid == call.param(0)).ok_or_else(|| not_found("Media"))?;
    Ok(Json(item(w, m, call, issuer)).into_response())
}

// ---- uploads ------------------------------------------------------------------------------

pub fn start_upload(w: &mut World, call: &Call<'_>) -> Reply {
    let body = call.json_body()?;
    let text = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let (name, filename) = (text("name"), text("filename"));
    let mut errors = Vec::new();
    for (field, value) in [("name", &name), ("filename", &filename)] {
        if value.is_empty() || value.chars().count() > 255 {
            errors.push(format!("{field} must be between 1 and 255 characters"));
        }
    }
    let media_type = match text("mediaType").as_str() {
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
        return Err(invalid(errors));
    }
    let media_uuid = w.new_uuid(0x3ed1a);
    let upload_id = format!("upl_{}", crate::crypto::random_token(12));
    let upload =
        Upload { media_uuid: media_uuid.clone(), name, media_type, parts: Default::default(), completed: false };
    w.uploads.insert(upload_id.clone(), upload);
    Ok(Json(json!({"mediaUuid": media_uuid, "uploadId": upload_id, "partSize": PART_SIZE, "maxParts": 10000}))
        .into_response())
}

fn open_upload<'w>(w: &'w World, call: &Call<'_>) -> Result<&'w Upload, Refusal> {
    let upload = w.uploads.get(call.param(0)).ok_or_else(|| not_found("Upload"))?;
    if upload.completed {
        return Err(invalid(vec!["the upload is already completed".into()]));
    }
    Ok(upload)
}

/// The presigned URL comes back as plain text, as every Fanvue client reads it.
pub fn part_url(sb: &SandboxState, w: &World, call: &Call<'_>) -> Reply {
    open_upload(w, call)?;
    let number = call
        .param(1)
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| invalid(vec!["partNumber must be between 1 and 10000".into()]))?;
    let signature = sb.store.sign_part(call.param(0), number);
    let url = format!("{}/_sandbox/storage/{}/{number}?signature={signature}", sb.issuer, call.param(0));
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], url).into_response())
}

pub fn complete_upload(w: &mut World, call: &Call<'_>) -> Reply {
    let body = call.json_body()?;
    let upload = open_upload(w, call)?.clone();
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
        return Err(invalid(errors));
    }
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
            size: upload.parts.values().map(|(_, s)| s).sum(),
        },
    );
    Ok(Json(json!({"status": "processing"})).into_response())
}

// ---- vault --------------------------------------------------------------------------------

fn folder_json(f: &Folder) -> Value {
    json!({"name": f.name, "createdAt": iso(f.created_at), "mediaCount": f.media.len()})
}

fn folder_index(w: &World, call: &Call<'_>) -> Result<usize, Refusal> {
    w.folders.iter().position(|f| f.name == call.param(0)).ok_or_else(|| not_found("Folder"))
}

/// A folder name no other folder has.
fn free_name(w: &World, call: &Call<'_>) -> Result<String, Refusal> {
    let name = name_field(&call.json_body()?)?;
    if w.folders.iter().any(|f| f.name == name) {
        return Err(refused(StatusCode::CONFLICT, "A folder with this name already exists"));
    }
    Ok(name)
}

pub fn folders(w: &World, call: &Call<'_>) -> Reply {
    page(call, w.folders.iter().map(folder_json).collect())
}

pub fn folder(w: &World, call: &Call<'_>) -> Reply {
    Ok(Json(folder_json(&w.folders[folder_index(w, call)?])).into_response())
}

pub fn create_folder(w: &mut World, call: &Call<'_>) -> Reply {
    let folder = Folder { name: free_name(w, call)?, created_at: OffsetDateTime::now_utc(), media: Vec::new() };
    let json = folder_json(&folder);
    w.folders.insert(0, folder);
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

pub fn rename_folder(w: &mut World, call: &Call<'_>) -> Reply {
    let name = free_name(w, call)?;
    let i = folder_index(w, call)?;
    w.folders[i].name = name;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Deletes a folder; its media stay in the library.
pub fn delete_folder(w: &mut World, call: &Call<'_>) -> Reply {
    let i = folder_index(w, call)?;
    w.folders.remove(i);
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub fn folder_media(w: &World, call: &Call<'_>) -> Reply {
    let folder = &w.folders[folder_index(w, call)?];
    let items = folder
        .media
        .iter()
        .filter_map(|uuid| w.media.iter().find(|m| &m.uuid == uuid))
        .map(|m| json!({"uuid": m.uuid, "name": m.name, "createdAt": iso(m.created_at), "mediaType": m.media_type}))
        .collect();
    page(call, items)
}

pub fn attach(w: &mut World, call: &Call<'_>) -> Reply {
    let wanted = uuids(&call.json_body()?, "mediaUuids");
    if wanted.is_empty() {
        return Err(invalid(vec!["mediaUuids must list at least one media item".into()]));
    }
    let unknown: Vec<String> = wanted
        .iter()
        .filter(|u| !w.media.iter().any(|m| &&m.uuid == u))
        .map(|u| format!("mediaUuids: {u} is not in your media library"))
        .collect();
    if !unknown.is_empty() {
        return Err(invalid(unknown));
    }
    let i = folder_index(w, call)?;
    let folder = &mut w.folders[i];
    let mut added = 0;
    for uuid in wanted {
        if !folder.media.contains(&uuid) {
            folder.media.push(uuid);
            added += 1;
        }
    }
    Ok((StatusCode::CREATED, Json(json!({"addedCount": added}))).into_response())
}

/// Takes an item out of a folder (it stays in the library).
pub fn detach(w: &mut World, call: &Call<'_>) -> Reply {
    let i = folder_index(w, call)?;
    let media = &mut w.folders[i].media;
    let at = media.iter().position(|m| m == call.param(1)).ok_or_else(|| not_found("Media in this folder"))?;
    media.remove(at);
    Ok(StatusCode::NO_CONTENT.into_response())
}
