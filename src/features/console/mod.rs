//! The creator console: one module per section (home, chats, fans, insights, media, posts,
//! tracking links, agency), one askama struct per template under `templates/pages/`, thin
//! handlers. Every page is gated on the scopes it needs ([`Api::gate`]): without them it shows
//! which scope is missing and offers a reconnect, and Fanvue is not called. Lists page through
//! Fanvue's two pagination styles with one [`crate::web::page::Pager`]. Forms post back to the
//! same origin, are validated before Fanvue is called, and on a validation error are shown
//! again with the message and the user's input.
//!
//! To add a page: a module here with its handler, a template, a `.route(...)` line in
//! [`router`], and a row in [`crate::web::page::SECTIONS`] for the navigation.

pub mod agency;
pub mod chats;
pub mod fans;
pub mod home;
pub mod insights;
pub mod links;
pub mod media;
pub mod posts;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tower_sessions::Session;

use crate::auth::Api;
use crate::config::Config;
use crate::web::error::AppError;
use crate::web::middleware::{REQUEST_TIMEOUT, same_origin_only, with_timeout};
use crate::web::page::{Params, https_only, is_uuid, money, parse_price};
use fanvue::models::Media;
use fanvue::pagination::Page;
use fanvue::scopes::{Scope, ScopeSet};

/// Longest a media upload may take (it streams the file to Fanvue as it arrives).
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// What the console's pages need. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Console {
    /// Fanvue for console sessions.
    pub api: Api,
    /// The configuration (requested scopes, upload limits…).
    pub config: Arc<Config>,
    /// Uploads streaming at once, per instance and per user.
    pub uploads: Arc<media::UploadSlots>,
}

impl axum::extract::FromRef<Console> for Api {
    fn from_ref(state: &Console) -> Api {
        state.api.clone()
    }
}

impl Console {
    /// The console's state: `api` for console sessions, upload slots from `UPLOAD_SLOTS`.
    pub fn new(api: Api, config: Arc<Config>) -> Self {
        let uploads = Arc::new(media::UploadSlots::new(config.uploads.slots, config.uploads.slots_per_user));
        Console { api, config, uploads }
    }
}

/// The console's routes, with their layers: a time limit (a longer one for the upload, which
/// also takes a larger body) and the cross-site refusal on every form post.
pub fn router<S: Clone + Send + Sync + 'static>(console: Console) -> Router<S> {
    let origin = console.config.origin();
    let pages = Router::new()
        .route("/", get(home::home))
        .route("/fans", get(fans::page))
        .route("/links", get(links::page).post(links::create))
        .route("/links/{uuid}/users", get(links::users))
        .route("/links/{uuid}/delete", post(links::delete))
        .route("/posts", get(posts::page).post(posts::create))
        .route("/posts/{uuid}/edit", get(posts::edit_form).post(posts::edit))
        .route("/chats", get(chats::list))
        .route("/chats/{uuid}", get(chats::conversation).post(chats::send))
        .route("/chats/{uuid}/state", post(chats::update))
        .route("/insights", get(insights::page))
        .route("/media", get(media::page))
        .route("/media/folders", post(media::create_folder))
        .route("/media/folders/{name}", get(media::folder))
        .route("/media/folders/{name}/{action}", post(media::change_folder))
        .route("/agency", get(agency::page))
        .route("/agency/invites", post(agency::invite))
        .route("/agency/creators/{uuid}", get(agency::act_as))
        .route("/agency/creators/{uuid}/chats/{fan}", post(agency::send_as));
    let upload = Router::new().route(
        media::UPLOAD_PATH,
        post(media::upload).layer(axum::extract::DefaultBodyLimit::max(media::MAX_UPLOAD_BYTES as usize + 1024 * 1024)),
    );
    let routes = with_timeout(pages, REQUEST_TIMEOUT).merge(with_timeout(upload, UPLOAD_TIMEOUT));
    same_origin_only(routes, &origin).with_state(console)
}

/// A form's media picker: recent items to tick, and the chosen UUIDs that are not among them
/// (shown in the text field, so nothing typed is lost on a validation error).
#[derive(Default)]
pub struct Picker {
    /// Items to tick.
    pub items: Vec<PickerItem>,
    /// Chosen UUIDs not offered as items, comma-separated.
    pub typed: String,
}

/// One media item offered in a form's picker.
pub struct PickerItem {
    /// Media UUID (the value sent).
    pub uuid: String,
    /// Name.
    pub name: String,
    /// Thumbnail (https only).
    pub thumbnail: Option<String>,
    /// Already chosen (kept after a validation error).
    pub checked: bool,
}

/// Recent ready media to attach from, when the grant can read the library (`read:media`);
/// otherwise the form offers only the UUID field.
pub async fn media_picker(api: &Api, session: &Session, granted: ScopeSet, chosen: &str) -> Result<Picker, AppError> {
    let chosen_list: Vec<&str> = chosen.split(',').map(str::trim).filter(|c| !c.is_empty()).collect();
    if !granted.contains(Scope::ReadMedia) {
        return Ok(Picker { items: Vec::new(), typed: chosen_list.join(", ") });
    }
    let recent: Page<Media> =
        api.get_json(session, "/media", &[("size", "8"), ("status", "ready"), ("variants", "thumbnail")]).await?;
    let items: Vec<PickerItem> = recent
        .data
        .into_iter()
        .map(|m| PickerItem {
            checked: chosen_list.contains(&m.uuid.as_str()),
            thumbnail: https_only(m.variant_url("thumbnail")),
            name: m.name.clone().unwrap_or_else(|| m.uuid.clone()),
            uuid: m.uuid,
        })
        .collect();
    let typed =
        chosen_list.iter().filter(|c| !items.iter().any(|i| i.uuid == **c)).copied().collect::<Vec<_>>().join(", ");
    Ok(Picker { items, typed })
}

/// The media chosen in a form: ticked picker boxes and UUIDs typed in the text field.
pub fn chosen_media(params: &Params) -> String {
    let mut chosen: Vec<&str> = Vec::new();
    for uuid in
        params.all("media").iter().flat_map(|v| v.split([',', ' ', '\n'])).map(str::trim).filter(|v| !v.is_empty())
    {
        if !chosen.contains(&uuid) {
            chosen.push(uuid);
        }
    }
    chosen.join(", ")
}

/// The lowest price Fanvue accepts for a paid post or message, in cents.
pub const MIN_PRICE_CENTS: u64 = 300;
/// The longest text Fanvue accepts for a post or message.
pub const MAX_TEXT: usize = 5000;

/// What a post or a message carries, checked the way Fanvue checks it.
pub struct Content<'a> {
    /// Text, if any.
    pub text: Option<&'a str>,
    /// Media UUIDs.
    pub media: Vec<&'a str>,
    /// Price in cents.
    pub price: Option<u64>,
}

/// Checks a form's text, media UUIDs (comma-separated) and price (in dollars) by Fanvue's
/// rules: at most [`MAX_TEXT`] characters, UUIDs, a price of at least [`MIN_PRICE_CENTS`]
/// and only with media, and something to send. `what` names the thing in the messages.
pub fn check_content<'a>(
    text: &'a str,
    media: &'a str,
    price: &str,
    what: &str,
    errors: &mut Vec<String>,
) -> Content<'a> {
    if text.chars().count() > MAX_TEXT {
        errors.push(format!("The {what} is longer than {MAX_TEXT} characters."));
    }
    let media: Vec<&str> = media.split([',', ' ', '\n']).map(str::trim).filter(|s| !s.is_empty()).collect();
    if let Some(bad) = media.iter().find(|m| !is_uuid(m)) {
        errors.push(format!("“{bad}” is not a media UUID."));
    }
    let price = if price.is_empty() {
        None
    } else {
        match parse_price(price) {
            Some(cents) if cents >= MIN_PRICE_CENTS => Some(cents),
            _ => {
                errors
                    .push(format!("A price is at least {} (in dollars and cents, e.g. 9.99).", money(MIN_PRICE_CENTS)));
                None
            }
        }
    };
    if price.is_some() && media.is_empty() {
        errors.push(format!("A paid {what} needs at least one media item."));
    }
    if text.trim().is_empty() && media.is_empty() {
        errors.push(format!("Write a {what} or attach media."));
    }
    Content { text: Some(text).filter(|t| !t.trim().is_empty()), media, price }
}
