//! Tracking links (`read:tracking_links`; create and delete with `write:tracking_links`):
//! the list with clicks and earnings (cursor-paginated), the users one link acquired, and
//! the create and delete actions.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;
use tower_sessions::Session;

use super::Console;
use crate::auth::Signed;
use crate::web::error::AppError;
use crate::web::format::{When, label};
use crate::web::page::{Nav, Pager, Params, money, parse_trail, render};
use fanvue::models::{LinkUser, TrackingLink};
use fanvue::pagination::CursorPage;
use fanvue::scopes::Scope;

/// Platforms Fanvue accepts for a link.
pub const PLATFORMS: [&str; 8] =
    ["instagram", "tiktok", "twitter", "reddit", "youtube", "snapchat", "facebook", "other"];

#[derive(Template)]
#[template(path = "pages/links.html")]
struct LinksPage {
    nav: Nav,
    links: Vec<LinkRow>,
    pager: Pager,
    can_write: bool,
    form: LinkForm,
    errors: Vec<String>,
    notice: Option<String>,
    /// Each platform's value and its label.
    platforms: Vec<(&'static str, String)>,
}

struct LinkRow {
    uuid: String,
    name: String,
    code: String,
    platform: String,
    created: When,
    clicks: u64,
    subscribers: u64,
    followers: u64,
    earnings: String,
}

/// What the user typed into the create form (kept on a validation error).
#[derive(Default)]
struct LinkForm {
    name: String,
    platform: String,
}

/// `GET /links?cursor=…&trail=…`.
pub async fn page(State(state): State<Console>, session: Session, params: Params) -> Result<Response, AppError> {
    // Notices never echo the query string (a crafted link could put any words in the app's
    // own banner): `created` carries an id, and the name shown is the one Fanvue lists.
    let notice = params.get("deleted").map(|_| "Link deleted.".to_owned());
    render_list(&state, &session, &params, LinkForm::default(), Vec::new(), notice, StatusCode::OK).await
}

async fn render_list(
    state: &Console,
    session: &Session,
    params: &Params,
    form: LinkForm,
    errors: Vec<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let tokens = state.api.gate(session, &[Scope::ReadTrackingLinks]).await?;
    let cursor = params.get("cursor");
    let size = params
        .get("size")
        .and_then(|s| s.parse::<u8>().ok())
        .filter(|s| (1..=50).contains(s))
        .unwrap_or(20)
        .to_string();
    let list: CursorPage<TrackingLink> =
        state.api.get_json(session, "/tracking-links", &[("limit", &size), ("cursor", cursor.unwrap_or(""))]).await?;
    let links: Vec<LinkRow> = list
        .data
        .into_iter()
        .map(|l| {
            let engagement = l.engagement.unwrap_or_default();
            LinkRow {
                uuid: l.uuid,
                name: l.name,
                code: l.link_url,
                platform: label(l.external_social_platform.as_deref().unwrap_or_default()),
                created: When::parse_opt(l.created_at.as_deref()),
                clicks: l.clicks,
                subscribers: engagement.acquired_subscribers,
                followers: engagement.acquired_followers,
                earnings: l.earnings.map_or_else(|| "—".to_owned(), |e| money(e.total_gross)),
            }
        })
        .collect();
    let notice = notice.or_else(|| {
        let created = params.get("created")?;
        let name = links.iter().find(|l| l.uuid == created).map(|l| l.name.clone());
        Some(name.map_or_else(|| "Link created.".to_owned(), |n| format!("Created “{n}”.")))
    });
    let trail = parse_trail(params.get("trail"));
    let pager = Pager::cursors("/links", &trail, cursor, list.next_cursor.as_deref(), &[("size", &size)]);
    let page = LinksPage {
        nav: Nav::for_scopes(tokens.scopes, "/links"),
        links,
        pager,
        can_write: tokens.scopes.contains(Scope::WriteTrackingLinks),
        form,
        errors,
        notice,
        platforms: PLATFORMS.iter().map(|p| (*p, label(p))).collect(),
    };
    Ok(render(status, &page))
}

/// `POST /links`: validates, creates the link at Fanvue, back to the list.
pub async fn create(State(state): State<Console>, signed: Signed, body: Bytes) -> Result<Response, AppError> {
    let (session, _) = signed.require(&[Scope::WriteTrackingLinks])?;
    let params = Params::parse(&body);
    let form = LinkForm {
        name: params.get("name").unwrap_or("").chars().take(200).collect(),
        platform: params.get("platform").unwrap_or("").to_owned(),
    };
    let mut errors = Vec::new();
    if form.name.is_empty() || form.name.chars().count() > 100 {
        errors.push("Give the link a name of 1 to 100 characters.".to_owned());
    }
    if !PLATFORMS.contains(&form.platform.as_str()) {
        errors.push("Choose the platform the link will be posted on.".to_owned());
    }
    if errors.is_empty() {
        let body = json!({ "name": form.name, "externalSocialPlatform": form.platform });
        let answer = state.api.send_json(&session, Method::POST, "/tracking-links", Some(&body)).await?;
        if answer.status.is_success() {
            let created: TrackingLink = answer.json()?;
            let query = crate::auth::upstream::encode_query(&[("created", &created.uuid)]);
            return Ok(Redirect::to(&format!("/links?{query}")).into_response());
        }
        errors = crate::auth::upstream::form_errors(answer)?;
    }
    render_list(&state, &session, &Params::parse(b""), form, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await
}

/// `POST /links/{uuid}/delete`.
pub async fn delete(
    State(state): State<Console>,
    signed: Signed,
    Path(uuid): Path<String>,
) -> Result<Response, AppError> {
    let (session, _) = signed.require(&[Scope::WriteTrackingLinks])?;
    crate::web::page::require_uuid(&uuid, "link id")?;
    let answer = state.api.send_json(&session, Method::DELETE, &format!("/tracking-links/{uuid}"), None).await?;
    answer.error_for_status()?;
    Ok(Redirect::to("/links?deleted=1").into_response())
}

#[derive(Template)]
#[template(path = "pages/link_users.html")]
struct LinkUsersPage {
    nav: Nav,
    users: Vec<LinkUserRow>,
    pager: Pager,
}

struct LinkUserRow {
    name: String,
    handle: String,
    status: String,
    clicked: When,
}

/// `GET /links/{uuid}/users`: who came through one link.
pub async fn users(
    State(state): State<Console>,
    signed: Signed,
    Path(uuid): Path<String>,
    params: Params,
) -> Result<Response, AppError> {
    let (session, tokens) = signed.require(&[Scope::ReadTrackingLinks])?;
    crate::web::page::require_uuid(&uuid, "link id")?;
    let cursor = params.get("cursor");
    let list: CursorPage<LinkUser> = state
        .api
        .get_json(
            &session,
            &format!("/tracking-links/{uuid}/users"),
            &[("limit", "20"), ("cursor", cursor.unwrap_or(""))],
        )
        .await?;
    let users = list
        .data
        .iter()
        .map(|u| LinkUserRow {
            name: u.user.name().to_owned(),
            handle: u.user.handle.clone(),
            status: label(u.status.as_deref().unwrap_or_default()),
            clicked: When::parse_opt(u.clicked_at.as_deref()),
        })
        .collect();
    let path = format!("/links/{uuid}/users");
    let pager = Pager::cursors(&path, &parse_trail(params.get("trail")), cursor, list.next_cursor.as_deref(), &[]);
    Ok(render(StatusCode::OK, &LinkUsersPage { nav: Nav::for_scopes(tokens.scopes, "/links"), users, pager }))
}
