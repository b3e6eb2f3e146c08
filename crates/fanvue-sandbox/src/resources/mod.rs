//! The sandbox's resources: every endpoint of Fanvue's API reference, over the seeded
//! [`World`], with Fanvue's shapes, pagination styles (page/size/hasMore and
//! cursor/nextCursor) and refusals.
//!
//! What the reference states as schema (types, formats, enums, required fields) is checked
//! before a handler runs ([`super::api`]); the handlers keep the rules the reference states
//! only in prose: page and size 1–50, an opaque cursor, text ≤ 5000 characters, a price of at
//! least 300 cents and only with media, names 1–255 characters, conflicts (409), what can be
//! messaged or deleted.
//!
//! `/creators/{creatorUserUuid}/…` routes are the creator's own routes run on the world of that
//! managed creator (one [`World`] each), so everything an agency sees of a creator agrees
//! across endpoints; an unknown creator is a 404.

mod agency;
mod chats;
mod insights;
mod links;
mod lists;
mod media;
mod paging;
mod posts;
mod shapes;

use axum::Json;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub use media::PART_SIZE;

use super::seed::World;
use crate::state::SandboxState;

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

impl<'a> Call<'a> {
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
    fn json_body(&self) -> Result<Value, Refusal> {
        serde_json::from_slice(self.body).map_err(|_| invalid(vec!["Request body must be valid JSON".into()]))
    }
    /// The same call addressed to `pattern`, without the first path parameter (a managed
    /// creator's route as the creator's own).
    fn without_creator(&self, pattern: &'a str) -> Call<'a> {
        Call {
            method: self.method,
            pattern,
            params: self.params.iter().skip(1).cloned().collect(),
            query: self.query.clone(),
            body: self.body,
        }
    }
}

/// A refusal as Fanvue words it: a status and a JSON body.
struct Refusal(StatusCode, Value);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

/// A handler's answer; `Err` is a refusal, so `?` can answer early.
type Reply = Result<Response, Refusal>;

/// Who is acting: the creator on their own account, or an agency on a managed creator's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Acting {
    Creator,
    Agency,
}

/// Fanvue's validation answer: 400 `{"errors": [...]}`.
fn invalid(errors: Vec<String>) -> Refusal {
    Refusal(StatusCode::BAD_REQUEST, json!({ "errors": errors }))
}

/// Fanvue's answer for a refused action: `{"message": …}` with `status`.
fn refused(status: StatusCode, message: &str) -> Refusal {
    Refusal(status, json!({ "message": message }))
}

fn not_found(what: &str) -> Refusal {
    refused(StatusCode::NOT_FOUND, &format!("{what} not found"))
}

const CREATOR_ROUTES: &str = "/creators/{creatorUserUuid}";

/// Answers a resource endpoint, or `None` when the sandbox does not serve it.
pub fn handle(sb: &SandboxState, call: &Call<'_>) -> Option<Response> {
    let mut world = sb.world.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    match call.pattern.strip_prefix(CREATOR_ROUTES) {
        Some(rest) => {
            let Some(creator) = world.creator_world(call.param(0)) else {
                return Some(not_found("Creator").into_response());
            };
            route(sb, creator, &call.without_creator(rest), Acting::Agency)
        }
        None => route(sb, &mut world, call, Acting::Creator),
    }
}

fn route(sb: &SandboxState, w: &mut World, call: &Call<'_>, acting: Acting) -> Option<Response> {
    let issuer = sb.issuer.as_str();
    let response = match (call.method.as_str(), call.pattern) {
        ("GET", "/followers") => lists::audience(w, call, false),
        ("GET", "/subscribers") => lists::audience(w, call, true),
        ("GET", "/chats") => chats::list(w, call),
        ("POST", "/chats") => chats::create(w, call),
        ("GET", "/chats/unread") => chats::unread(w),
        ("POST", "/chats/statuses") => chats::statuses(w, call),
        ("PATCH", "/chats/{userUuid}") => chats::update(w, call),
        ("GET", "/chats/{userUuid}/messages") => chats::messages(w, call, acting),
        ("POST", "/chats/{userUuid}/message") => chats::send(w, call),
        ("DELETE", "/chats/{userUuid}/messages/{messageUuid}") => chats::unsend(w, call),
        ("GET", "/chats/{userUuid}/media") => chats::media(w, call, issuer),
        ("POST", "/chats/mass-messages") => chats::mass_message(w, call),
        ("GET", "/chats/templates") => chats::templates(w, call),
        ("GET", "/chats/templates/{templateUuid}") => chats::template(w, call),
        ("GET", "/chats/lists/smart") => lists::smart_lists(w),
        ("GET", "/chats/lists/smart/{uuid}") => lists::smart_members(w, call),
        ("GET", "/chats/lists/custom") => lists::custom_lists(w, call),
        ("POST", "/chats/lists/custom") => lists::create(w, call),
        ("GET", "/chats/lists/custom/{uuid}") => lists::custom_members(w, call),
        ("PATCH", "/chats/lists/custom/{uuid}") => lists::rename(w, call),
        ("DELETE", "/chats/lists/custom/{uuid}") => lists::delete(w, call),
        ("POST", "/chats/lists/custom/{uuid}/members") => lists::add_members(w, call),
        ("DELETE", "/chats/lists/custom/{uuid}/members/{userUuid}") => lists::remove_member(w, call),
        ("GET", "/posts") => posts::list(w, call),
        ("POST", "/posts") => posts::create(w, call),
        ("GET", "/posts/{uuid}") => posts::one(w, call),
        ("PATCH", "/posts/{uuid}") => posts::update(w, call),
        ("GET", "/posts/{uuid}/comments") => posts::comments(w, call),
        ("GET", "/posts/{uuid}/likes") => posts::likes(w, call),
        ("GET", "/posts/{uuid}/tips") => posts::tips(w, call),
        ("GET", "/tracking-links") => links::list(w, call),
        ("POST", "/tracking-links") => links::create(w, call),
        ("DELETE", "/tracking-links/{uuid}") => links::delete(w, call),
        ("GET", "/tracking-links/{uuid}/users") => links::users(w, call),
        ("GET", "/insights/earnings") => insights::earnings(w, call),
        ("GET", "/insights/top-spenders") => insights::top_spenders(w, call),
        ("GET", "/insights/subscribers") => insights::subscriber_days(w, call),
        ("GET", "/insights/fans/{userUuid}") => insights::fan(w, call),
        ("GET", "/media") => media::list(w, call, issuer),
        ("GET", "/media/{uuid}") => media::one(w, call, issuer),
        ("POST", "/media/uploads") => media::start_upload(w, call),
        ("GET", "/media/uploads/{uploadId}/parts/{partNumber}/url") => media::part_url(sb, w, call),
        ("PATCH", "/media/uploads/{uploadId}") => media::complete_upload(w, call),
        ("GET", "/vault/folders") => media::folders(w, call),
        ("POST", "/vault/folders") => media::create_folder(w, call),
        ("GET", "/vault/folders/{folderName}") => media::folder(w, call),
        ("PATCH", "/vault/folders/{folderName}") => media::rename_folder(w, call),
        ("DELETE", "/vault/folders/{folderName}") => media::delete_folder(w, call),
        ("GET", "/vault/folders/{folderName}/media") => media::folder_media(w, call),
        ("POST", "/vault/folders/{folderName}/media") => media::attach(w, call),
        ("DELETE", "/vault/folders/{folderName}/media/{mediaUuid}") => media::detach(w, call),
        ("GET", "/creators") => agency::creators(w, call),
        ("GET", "/agencies/team-members") => agency::team(w),
        ("POST", "/agencies/invites") => agency::invite(w, call),
        _ => return None,
    };
    Some(response.unwrap_or_else(IntoResponse::into_response))
}

/// Text, media and price as Fanvue checks them on posts and messages: text ≤ 5000
/// characters, media from the library, a price of at least 300 cents and only with media,
/// and something to send. `what` names the thing in the messages ("post", "message").
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
    let media = uuids(body, "mediaUuids");
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

/// The strings of the array `key` of a JSON body.
fn uuids(body: &Value, key: &str) -> Vec<String> {
    body.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// A name as Fanvue takes it for folders and lists: trimmed, 1–255 characters.
fn name_field(body: &Value) -> Result<String, Refusal> {
    let name = body.get("name").and_then(Value::as_str).map(str::trim).unwrap_or("");
    if name.is_empty() || name.chars().count() > 255 {
        return Err(invalid(vec!["name must be between 1 and 255 characters".into()]));
    }
    Ok(name.to_owned())
}
