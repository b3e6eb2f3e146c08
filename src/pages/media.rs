//! Media (`read:media`; folder changes with `write:media`): the library with thumbnails (the
//! `thumbnail` variant is requested; its signed URL is used for this page only, never
//! stored), and vault folders: create, rename, delete, attach media.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;
use tower_sessions::Session;

use super::{Nav, Pager, Params, gate, https_only, is_uuid, render, short_time};
use crate::error::AppError;
use crate::fanvue::models::{Folder, Media};
use crate::fanvue::pagination::Page;
use crate::scopes::Scope;
use crate::state::AppState;
use crate::upstream;

#[derive(Template)]
#[template(path = "pages/media.html")]
struct MediaPage {
    nav: Nav,
    items: Vec<MediaTile>,
    pager: Pager,
    folders: Vec<FolderRow>,
    can_write: bool,
    folder_name: String,
    errors: Vec<String>,
    notice: Option<String>,
}

struct MediaTile {
    uuid: String,
    name: String,
    kind: String,
    thumbnail: Option<String>,
    created: String,
}

struct FolderRow {
    name: String,
    href: String,
    count: u64,
}

fn tiles(items: Vec<Media>) -> Vec<MediaTile> {
    items
        .into_iter()
        .map(|m| MediaTile {
            thumbnail: https_only(m.variant_url("thumbnail")),
            name: m.name.unwrap_or_else(|| m.uuid.clone()),
            kind: m.media_type.unwrap_or_default(),
            created: m.created_at.as_deref().map(short_time).unwrap_or_default(),
            uuid: m.uuid,
        })
        .collect()
}

/// A folder name as one URL path segment.
fn segment(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Folder names are path segments at Fanvue: 1–255 characters, no slashes or control
/// characters.
fn check_folder_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.chars().count() > 255
        || name.chars().any(|c| c == '/' || c == '\\' || c.is_control())
        || name == "."
        || name == ".."
    {
        Err("A folder name has 1 to 255 characters and no slashes.".to_owned())
    } else {
        Ok(())
    }
}

/// `GET /media?page=N`.
pub async fn page(
    State(state): State<AppState>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let params = Params::parse(raw.unwrap_or_default().as_bytes());
    let notice = params.get("done").map(|what| {
        match what {
            "created" => "Folder created.",
            "deleted" => "Folder deleted.",
            _ => "Done.",
        }
        .to_owned()
    });
    render_library(&state, &session, params.page(), String::new(), Vec::new(), notice, StatusCode::OK).await
}

async fn render_library(
    state: &AppState,
    session: &Session,
    page: u32,
    folder_name: String,
    errors: Vec<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let tokens = gate(state, session, &[Scope::ReadMedia]).await?;
    let library: Page<Media> = upstream::get_json(
        state,
        session,
        "/media",
        &[("page", &page.to_string()), ("size", "12"), ("variants", "thumbnail")],
    )
    .await?;
    let folders: Page<Folder> = upstream::get_json(state, session, "/vault/folders", &[("size", "50")]).await?;
    let view = MediaPage {
        nav: Nav::for_scopes(tokens.scopes, "/media"),
        pager: Pager::pages("/media", page, library.pagination.has_more, &[]),
        items: tiles(library.data),
        folders: folders
            .data
            .into_iter()
            .map(|f| FolderRow {
                href: format!("/media/folders/{}", segment(&f.name)),
                name: f.name,
                count: f.media_count,
            })
            .collect(),
        can_write: tokens.scopes.contains(Scope::WriteMedia),
        folder_name,
        errors,
        notice,
    };
    Ok(render(status, &view))
}

/// `POST /media/folders`: creates a vault folder.
pub async fn create_folder(State(state): State<AppState>, session: Session, body: Bytes) -> Result<Response, AppError> {
    gate(&state, &session, &[Scope::WriteMedia]).await?;
    let params = Params::parse(&body);
    let name = params.get("name").unwrap_or("").to_owned();
    let errors = match check_folder_name(&name) {
        Ok(()) => {
            let answer =
                upstream::send_json(&state, &session, Method::POST, "/vault/folders", Some(&json!({ "name": name })))
                    .await?;
            if answer.status.is_success() {
                return Ok(Redirect::to("/media?done=created").into_response());
            }
            upstream::form_errors(answer)?
        }
        Err(error) => vec![error],
    };
    render_library(&state, &session, 1, name, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await
}

#[derive(Template)]
#[template(path = "pages/folder.html")]
struct FolderPage {
    nav: Nav,
    name: String,
    href: String,
    items: Vec<MediaTile>,
    pager: Pager,
    can_write: bool,
    errors: Vec<String>,
    notice: Option<String>,
    new_name: String,
    attach: String,
}

/// `GET /media/folders/{name}`.
pub async fn folder(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    check_folder_name(&name).map_err(AppError::BadRequest)?;
    let params = Params::parse(raw.unwrap_or_default().as_bytes());
    let notice = params.get("done").map(|_| "Saved.".to_owned());
    render_folder(
        &state,
        &session,
        name,
        params.page(),
        Vec::new(),
        notice,
        (String::new(), String::new()),
        StatusCode::OK,
    )
    .await
}

#[expect(clippy::too_many_arguments, reason = "one render for the page, its forms and its list")]
async fn render_folder(
    state: &AppState,
    session: &Session,
    name: String,
    page: u32,
    errors: Vec<String>,
    notice: Option<String>,
    (new_name, attach): (String, String),
    status: StatusCode,
) -> Result<Response, AppError> {
    let tokens = gate(state, session, &[Scope::ReadMedia]).await?;
    let path = format!("/vault/folders/{}/media", segment(&name));
    let list: Page<Media> =
        upstream::get_json(state, session, &path, &[("page", &page.to_string()), ("size", "24")]).await?;
    let href = format!("/media/folders/{}", segment(&name));
    let view = FolderPage {
        nav: Nav::for_scopes(tokens.scopes, "/media"),
        pager: Pager::pages(&href, page, list.pagination.has_more, &[]),
        href,
        name,
        items: tiles(list.data),
        can_write: tokens.scopes.contains(Scope::WriteMedia),
        errors,
        notice,
        new_name,
        attach,
    };
    Ok(render(status, &view))
}

/// `POST /media/folders/{name}/rename`, `/delete` and `/attach`.
pub async fn change_folder(
    State(state): State<AppState>,
    session: Session,
    Path((name, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, AppError> {
    gate(&state, &session, &[Scope::WriteMedia]).await?;
    check_folder_name(&name).map_err(AppError::BadRequest)?;
    let params = Params::parse(&body);
    let path = format!("/vault/folders/{}", segment(&name));
    let (new_name, attach) =
        (params.get("name").unwrap_or("").to_owned(), params.get("media").unwrap_or("").to_owned());
    let outcome = match action.as_str() {
        "rename" => match check_folder_name(&new_name) {
            Ok(()) => Ok((
                Method::PATCH,
                path.clone(),
                Some(json!({ "name": new_name })),
                format!("/media/folders/{}?done=1", segment(&new_name)),
            )),
            Err(e) => Err(vec![e]),
        },
        "delete" => Ok((Method::DELETE, path.clone(), None, "/media?done=deleted".to_owned())),
        "attach" => {
            let uuids: Vec<&str> = attach.split([',', ' ', '\n']).map(str::trim).filter(|s| !s.is_empty()).collect();
            if uuids.is_empty() || uuids.iter().any(|u| !is_uuid(u)) {
                Err(vec!["List media UUIDs, separated by commas.".to_owned()])
            } else {
                Ok((
                    Method::POST,
                    format!("{path}/media"),
                    Some(json!({ "mediaUuids": uuids })),
                    format!("/media/folders/{}?done=1", segment(&name)),
                ))
            }
        }
        _ => return Err(AppError::BadRequest("Unknown folder action.".into())),
    };
    let errors = match outcome {
        Ok((method, upstream_path, body, next)) => {
            let answer = upstream::send_json(&state, &session, method, &upstream_path, body.as_ref()).await?;
            if answer.status.is_success() {
                return Ok(Redirect::to(&next).into_response());
            }
            upstream::form_errors(answer)?
        }
        Err(errors) => errors,
    };
    render_folder(&state, &session, name, 1, errors, None, (new_name, attach), StatusCode::UNPROCESSABLE_ENTITY).await
}
