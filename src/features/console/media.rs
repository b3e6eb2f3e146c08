//! Media (`read:media`; folder changes with `write:media`): the library with thumbnails (the
//! `thumbnail` variant is requested; its signed URL is used for this page only, never
//! stored), and vault folders: create, rename, delete, attach media.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Poll;

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::multipart::Field;
use axum::extract::{FromRequest, Multipart, Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::StreamExt;
use serde_json::json;
use tower_sessions::Session;

use super::Console;
use crate::auth::Signed;
use crate::web::error::AppError;
use crate::web::format::{When, label};
use crate::web::page::{Nav, Pager, Params, https_only, is_uuid, render};
use fanvue::models::{Folder, FolderItem, Media, UploadSession, UploadStatus};
use fanvue::pagination::Page;
use fanvue::scopes::Scope;

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
    created: When,
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
            kind: label(m.media_type.as_deref().unwrap_or_default()),
            created: When::parse_opt(m.created_at.as_deref()),
            uuid: m.uuid,
        })
        .collect()
}

/// A folder's items carry no renditions (Fanvue lists only what identifies them).
fn folder_tiles(items: Vec<FolderItem>) -> Vec<MediaTile> {
    items
        .into_iter()
        .map(|m| MediaTile {
            thumbnail: None,
            name: m.name.unwrap_or_else(|| m.uuid.clone()),
            kind: label(m.media_type.as_deref().unwrap_or_default()),
            created: When::parse_opt(m.created_at.as_deref()),
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
pub async fn page(State(state): State<Console>, session: Session, params: Params) -> Result<Response, AppError> {
    let notice = match (params.get("uploaded"), params.get("done")) {
        (Some(uuid), _) => Notice::Uploaded { uuid: uuid.to_owned(), ready: params.get("status") == Some("ready") },
        (None, Some("created")) => Notice::Text("Folder created."),
        (None, Some("deleted")) => Notice::Text("Folder deleted."),
        (None, Some(_)) => Notice::Text("Done."),
        (None, None) => Notice::None,
    };
    render_library(&state, &session, params.page(), String::new(), Vec::new(), notice, StatusCode::OK).await
}

/// The banner of the library page. Never text from the query string (a crafted link could
/// put any words in the app's own banner): an upload is named from the library, by id.
enum Notice {
    None,
    Text(&'static str),
    Uploaded { uuid: String, ready: bool },
}

async fn render_library(
    state: &Console,
    session: &Session,
    page: u32,
    folder_name: String,
    errors: Vec<String>,
    notice: Notice,
    status: StatusCode,
) -> Result<Response, AppError> {
    let tokens = state.api.gate(session, &[Scope::ReadMedia]).await?;
    let page_number = page.to_string();
    let library_query = [("page", page_number.as_str()), ("size", "12"), ("variants", "thumbnail")];
    let (library, folders) = tokio::try_join!(
        state.api.get_json::<Page<Media>>(session, "/media", &library_query),
        // The reference documents no paging parameters for folders: Fanvue answers its default page.
        state.api.get_json::<Page<Folder>>(session, "/vault/folders", &[]),
    )?;
    let notice = match notice {
        Notice::None => None,
        Notice::Text(text) => Some(text.to_owned()),
        Notice::Uploaded { uuid, ready } => {
            let state_word = if ready { "ready" } else { "processing" };
            let name = library.data.iter().find(|m| m.uuid == uuid).and_then(|m| m.name.clone());
            Some(name.map_or_else(
                || format!("Upload complete ({state_word})."),
                |n| format!("Uploaded “{n}” ({state_word})."),
            ))
        }
    };
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
pub async fn create_folder(State(state): State<Console>, signed: Signed, body: Bytes) -> Result<Response, AppError> {
    let (session, _) = signed.require(&[Scope::WriteMedia])?;
    let params = Params::parse(&body);
    let name = params.get("name").unwrap_or("").to_owned();
    let errors = match check_folder_name(&name) {
        Ok(()) => {
            let answer =
                state.api.send_json(&session, Method::POST, "/vault/folders", Some(&json!({ "name": name }))).await?;
            if answer.status.is_success() {
                return Ok(Redirect::to("/media?done=created").into_response());
            }
            crate::auth::upstream::form_errors(answer)?
        }
        Err(error) => vec![error],
    };
    render_library(&state, &session, 1, name, errors, Notice::None, StatusCode::UNPROCESSABLE_ENTITY).await
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
    State(state): State<Console>,
    session: Session,
    Path(name): Path<String>,
    params: Params,
) -> Result<Response, AppError> {
    check_folder_name(&name).map_err(AppError::BadRequest)?;
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
    state: &Console,
    session: &Session,
    name: String,
    page: u32,
    errors: Vec<String>,
    notice: Option<String>,
    (new_name, attach): (String, String),
    status: StatusCode,
) -> Result<Response, AppError> {
    let tokens = state.api.gate(session, &[Scope::ReadMedia]).await?;
    let path = format!("/vault/folders/{}/media", segment(&name));
    let list: Page<FolderItem> =
        state.api.get_json(session, &path, &[("page", &page.to_string()), ("size", "24")]).await?;
    let href = format!("/media/folders/{}", segment(&name));
    let view = FolderPage {
        nav: Nav::for_scopes(tokens.scopes, "/media"),
        pager: Pager::pages(&href, page, list.pagination.has_more, &[]),
        href,
        name,
        items: folder_tiles(list.data),
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
    State(state): State<Console>,
    signed: Signed,
    Path((name, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, AppError> {
    let (session, _) = signed.require(&[Scope::WriteMedia])?;
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
            let answer = state.api.send_json(&session, method, &upstream_path, body.as_ref()).await?;
            if answer.status.is_success() {
                return Ok(Redirect::to(&next).into_response());
            }
            crate::auth::upstream::form_errors(answer)?
        }
        Err(errors) => errors,
    };
    render_folder(&state, &session, name, 1, errors, None, (new_name, attach), StatusCode::UNPROCESSABLE_ENTITY).await
}

/// The upload route (it gets a longer time limit and a larger body limit).
pub const UPLOAD_PATH: &str = "/media/upload";
/// Largest file Fanvue accepts (1.5 GiB).
pub const MAX_UPLOAD_BYTES: u64 = 1_610_612_736;
/// Part size when Fanvue does not say.
const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;
/// S3's minimum for every part but the last.
const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
/// Largest part size accepted from Fanvue: one part is what an upload holds in memory.
const MAX_PART_SIZE: usize = 64 * 1024 * 1024;
/// Times a part URL is asked for again after a 429 (a GET, safe to repeat).
const PART_URL_TRIES: u32 = 3;

/// Largest value of a form field other than the file (the `name`, anything unknown).
pub const MAX_FIELD_BYTES: usize = 4 * 1024;
/// What an upload's body may hold at any moment besides the file bytes the handler has taken:
/// the preamble, part headers, the other fields, and what the multipart parser buffers. A part
/// header that never ends, or a field that never does, stops here ([`FormBudget`]).
pub const FORM_OVERHEAD_BYTES: u64 = 1024 * 1024;

/// Why an upload was refused before or while its body arrived.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// A form field other than the file is over [`MAX_FIELD_BYTES`].
    #[error("the {0} field is over {MAX_FIELD_BYTES} bytes")]
    FieldTooLarge(&'static str),
    /// The form's overhead is over [`FORM_OVERHEAD_BYTES`].
    #[error("the form besides the file is over {FORM_OVERHEAD_BYTES} bytes")]
    FormTooLarge,
    /// The user already holds their upload slots (`UPLOAD_SLOTS_PER_USER`).
    #[error("an upload of this user is already in progress")]
    AlreadyUploading,
    /// The body sent nothing for `UPLOAD_IDLE_TIMEOUT_SECS`.
    #[error("the upload sent nothing for {0} s")]
    Stalled(u64),
}

impl UploadError {
    /// Status, code and public message.
    pub fn classify(&self) -> (StatusCode, &'static str, String) {
        match self {
            UploadError::FieldTooLarge(field) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "field_too_large",
                format!("The {field} field is too long: at most {MAX_FIELD_BYTES} bytes."),
            ),
            UploadError::FormTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "form_too_large",
                "The upload form is malformed or too large besides the file. Send a name and a file.".into(),
            ),
            UploadError::AlreadyUploading => (
                StatusCode::TOO_MANY_REQUESTS,
                "upload_in_progress",
                "You already have an upload in progress. Wait for it to finish, then try again.".into(),
            ),
            UploadError::Stalled(secs) => (
                StatusCode::REQUEST_TIMEOUT,
                "upload_stalled",
                format!("The upload stopped: no data arrived for {secs} seconds. Try again."),
            ),
        }
    }
}

impl From<UploadError> for AppError {
    fn from(err: UploadError) -> Self {
        let (status, code, message) = err.classify();
        AppError::feature(status, code, message, format!("upload: {err}"))
    }
}

/// Why an upload failed, in words for the page.
fn upload_error(message: impl Into<String>) -> AppError {
    AppError::BadRequest(message.into())
}

/// Counts the request body's bytes as the multipart parser pulls them, less the file bytes the
/// handler has taken: that is what the parser holds plus the form's overhead. Past
/// [`FORM_OVERHEAD_BYTES`] the body gives the parser nothing more (it is not an error yet: a
/// fast client can have sent file bytes the parser has not handed over). If the parser then
/// cannot go on with what it holds — a part header or field that has not ended — the form is
/// too large ([`FormReader::wait`] sees it in the same poll). This bounds what the parser can
/// buffer: it keeps a part's headers whole until they end.
#[derive(Clone, Debug, Default)]
struct FormBudget(std::sync::Arc<BudgetCounters>);

#[derive(Debug, Default)]
struct BudgetCounters {
    pulled: AtomicU64,
    taken: AtomicU64,
    /// Set by the body when it held back in the current poll.
    held_back: AtomicBool,
}

impl FormBudget {
    fn wrap(&self, body: Body) -> Body {
        let budget = self.clone();
        let mut inner = body.into_data_stream();
        Body::from_stream(futures_util::stream::poll_fn(move |cx| {
            let counters = &budget.0;
            let held = counters.pulled.load(Ordering::Relaxed).saturating_sub(counters.taken.load(Ordering::Relaxed));
            if held > FORM_OVERHEAD_BYTES {
                // No waker: `FormReader::wait` ends the read in this same poll unless the parser
                // hands the handler a chunk, after which it polls again.
                counters.held_back.store(true, Ordering::Relaxed);
                return Poll::Pending;
            }
            let next = inner.poll_next_unpin(cx);
            if let Poll::Ready(Some(Ok(chunk))) = &next {
                counters.pulled.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
            next
        }))
    }

    /// The handler has taken `bytes` of the file: they no longer count.
    fn take(&self, bytes: usize) {
        self.0.taken.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// Reads the form: every wait for the client is bounded by `UPLOAD_IDLE_TIMEOUT_SECS`, and
/// every error says whether the form was too large, stalled or cut off.
struct FormReader {
    budget: FormBudget,
    idle: std::time::Duration,
}

impl FormReader {
    async fn wait<T>(
        &self,
        next: impl std::future::Future<Output = Result<T, axum::extract::multipart::MultipartError>>,
    ) -> Result<T, AppError> {
        let mut next = std::pin::pin!(next);
        let counters = &self.budget.0;
        let read = std::future::poll_fn(|cx| {
            counters.held_back.store(false, Ordering::Relaxed);
            match next.as_mut().poll(cx) {
                Poll::Ready(result) => Poll::Ready(Some(result)),
                // Held back, and the parser cannot go on with what it holds: too large.
                Poll::Pending if counters.held_back.load(Ordering::Relaxed) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            }
        });
        match tokio::time::timeout(self.idle, read).await {
            Ok(Some(Ok(value))) => Ok(value),
            Ok(None) => Err(UploadError::FormTooLarge.into()),
            Ok(Some(Err(e))) => Err(upload_error(format!("The upload was interrupted: {e}"))),
            Err(_) => Err(UploadError::Stalled(self.idle.as_secs()).into()),
        }
    }

    /// A field other than the file, at most [`MAX_FIELD_BYTES`], as text.
    async fn small_field(&self, mut field: Field<'_>, label: &'static str) -> Result<String, AppError> {
        let mut value = Vec::new();
        while let Some(chunk) = self.wait(field.chunk()).await? {
            if value.len() + chunk.len() > MAX_FIELD_BYTES {
                return Err(UploadError::FieldTooLarge(label).into());
            }
            value.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8_lossy(&value).into_owned())
    }
}

/// `POST /media/upload` (multipart form: `name`, then `file`): streams the file into
/// Fanvue's multipart upload as it arrives, one part in memory at a time:
/// `POST /media/uploads` → for each part, its presigned URL and a `PUT` → `PATCH` complete →
/// poll `GET /media/{uuid}` until it is ready. The page's script sends
/// `X-Upload-Progress: 1` and gets `{"next": url}` instead of a redirect.
///
/// Only the file streams: other fields are capped at [`MAX_FIELD_BYTES`] and the rest of the
/// form at [`FORM_OVERHEAD_BYTES`]; one user holds at most `UPLOAD_SLOTS_PER_USER` slots; a body
/// that sends nothing for `UPLOAD_IDLE_TIMEOUT_SECS` is aborted (its slot freed with it).
pub async fn upload(
    State(state): State<Console>,
    signed: Signed,
    headers: axum::http::HeaderMap,
    request: axum::extract::Request,
) -> Result<Response, AppError> {
    let (session, tokens) = signed.require(&[Scope::WriteMedia])?;
    let user = state.api.tokens.budget_key(&session, &tokens);
    let _slot = state.uploads.try_acquire(&user).map_err(|refusal| match refusal {
        SlotRefusal::User => AppError::from(UploadError::AlreadyUploading),
        SlotRefusal::Instance => AppError::Busy("Too many uploads are in progress. Try again in a minute."),
    })?;
    let reader = FormReader { budget: FormBudget::default(), idle: state.config.uploads.idle_timeout };
    let (parts, body) = request.into_parts();
    let request = axum::extract::Request::from_parts(parts, reader.budget.wrap(body));
    let mut form = Multipart::from_request(request, &state)
        .await
        .map_err(|e| upload_error(format!("Send the upload as a multipart form: {e}")))?;
    let mut name = String::new();
    let mut field = loop {
        let Some(field) = reader.wait(form.next_field()).await? else {
            return Err(upload_error("Choose a file to upload."));
        };
        match field.name() {
            Some("name") => name = reader.small_field(field, "name").await?.trim().chars().take(255).collect(),
            Some("file") => break field,
            _ => {
                reader.small_field(field, "extra form").await?;
            }
        }
    };
    let filename: String = field.file_name().unwrap_or("upload").chars().take(255).collect();
    let media_type = match field.content_type().unwrap_or("") {
        t if t.starts_with("image/") => "image",
        t if t.starts_with("video/") => "video",
        t if t.starts_with("audio/") => "audio",
        _ => "document",
    };
    if name.is_empty() {
        name = filename.clone();
    }
    // Look at the first bytes before opening an upload at Fanvue: an empty file opens none.
    let mut first = None;
    while let Some(chunk) = reader.wait(field.chunk()).await? {
        reader.budget.take(chunk.len());
        if !chunk.is_empty() {
            first = Some(chunk);
            break;
        }
    }
    let Some(first) = first else {
        return Err(upload_error("The file is empty."));
    };

    let start = json!({ "name": name, "filename": filename, "mediaType": media_type });
    let answer = state.api.send_json(&session, Method::POST, "/media/uploads", Some(&start)).await?;
    if !answer.status.is_success() {
        return Err(upload_error(crate::auth::upstream::form_errors(answer)?.join(" ")));
    }
    let upload: UploadSession = answer.json()?;
    if !is_uuid(&upload.media_uuid) {
        return Err(AppError::Fanvue(fanvue::FanvueError::Decode("mediaUuid is not a UUID".into())));
    }
    let part_size = match upload.part_size {
        None => DEFAULT_PART_SIZE,
        Some(size) if (MIN_PART_SIZE..=MAX_PART_SIZE).contains(&size) => size,
        Some(size) => {
            return Err(AppError::Fanvue(fanvue::FanvueError::Decode(format!(
                "Fanvue asked for parts of {size} bytes; this server accepts {MIN_PART_SIZE} to {MAX_PART_SIZE}"
            ))));
        }
    };
    let upload_segment = segment(&upload.upload_id);

    let mut parts = Vec::new();
    // One part's worth of memory, reused for every part: once a part is sent and dropped,
    // `reserve` takes its allocation back (whatever the allocator would do with a new one).
    let mut buffer = bytes::BytesMut::with_capacity(part_size);
    let mut total: u64 = 0;
    let mut next = Some(first);
    while let Some(chunk) = next {
        total += chunk.len() as u64;
        if total > MAX_UPLOAD_BYTES {
            return Err(upload_error("The file is larger than Fanvue's 1.5 GiB limit."));
        }
        let mut rest: &[u8] = &chunk;
        while !rest.is_empty() {
            let take = rest.len().min(part_size - buffer.len());
            buffer.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if buffer.len() == part_size {
                let part = buffer.split().freeze();
                parts.push(send_part(&state, &session, &upload_segment, parts.len() + 1, part).await?);
                buffer.reserve(part_size);
            }
        }
        next = reader.wait(field.chunk()).await?;
        if let Some(chunk) = &next {
            reader.budget.take(chunk.len());
        }
    }
    if !buffer.is_empty() {
        parts.push(send_part(&state, &session, &upload_segment, parts.len() + 1, buffer.freeze()).await?);
    }
    let complete = json!({ "parts": parts });
    let answer = state
        .api
        .send_json(&session, Method::PATCH, &format!("/media/uploads/{upload_segment}"), Some(&complete))
        .await?;
    if !answer.status.is_success() {
        return Err(upload_error(crate::auth::upstream::form_errors(answer)?.join(" ")));
    }
    let ready = wait_until_ready(&state, &session, &upload.media_uuid).await?;
    let next_url = format!(
        "/media?{}",
        crate::auth::upstream::encode_query(&[("uploaded", &upload.media_uuid), ("status", ready)])
    );
    if headers.get("x-upload-progress").is_some() {
        return Ok(axum::Json(json!({ "next": next_url })).into_response());
    }
    Ok(Redirect::to(&next_url).into_response())
}

/// One part: its presigned URL from Fanvue (plain text in practice, JSON in the spec), then
/// the bytes to storage. Returns `{PartNumber, ETag}` for the completion call.
async fn send_part(
    state: &Console,
    session: &Session,
    upload: &str,
    number: usize,
    bytes: bytes::Bytes,
) -> Result<serde_json::Value, AppError> {
    let path = format!("/media/uploads/{upload}/parts/{number}/url");
    let path = fanvue::ApiPath::parse(&path).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let mut tries = 0;
    let answer = loop {
        tries += 1;
        let answer = state.api.call(session, fanvue::ApiRequest::get(path.clone())).await?;
        // Many parts can outrun Fanvue's 200-a-minute budget: this GET is safe to repeat.
        if answer.status.as_u16() == 429 && tries < PART_URL_TRIES {
            let wait = answer.retry_after().unwrap_or(5).min(60);
            tracing::info!(wait, "rate limited while uploading; waiting");
            tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
            continue;
        }
        break answer.error_for_status()?;
    };
    let text = String::from_utf8_lossy(&answer.body).trim().to_owned();
    let url = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(json) => json.get("url").and_then(|u| u.as_str()).map(str::to_owned).unwrap_or_default(),
        Err(_) => text.trim_matches('"').to_owned(),
    };
    let etag = state.api.client().put_part(&url, bytes).await?;
    Ok(json!({ "PartNumber": number, "ETag": etag }))
}

/// Polls the media item until Fanvue has processed it (at most about 30 s).
async fn wait_until_ready(state: &Console, session: &Session, media_uuid: &str) -> Result<&'static str, AppError> {
    for _ in 0..30 {
        let item: UploadStatus = state.api.get_json(session, &format!("/media/{media_uuid}"), &[]).await?;
        match item.status.as_deref() {
            Some("ready") => return Ok("ready"),
            Some("error") => return Err(upload_error("Fanvue could not process the file.")),
            _ => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
        }
    }
    Ok("processing")
}

/// Upload slots: `UPLOAD_SLOTS` per instance (each upload holds one part in memory), of which
/// one user may hold `UPLOAD_SLOTS_PER_USER`, so one creator cannot keep every other one out.
#[derive(Debug)]
pub struct UploadSlots {
    instance: Arc<tokio::sync::Semaphore>,
    per_user: std::sync::Mutex<std::collections::HashMap<String, usize>>,
    per_user_limit: usize,
}

/// Why no upload slot was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotRefusal {
    /// The user already holds their share.
    User,
    /// Every slot of the instance is taken.
    Instance,
}

/// One held upload slot; dropping it frees it (the upload ended, failed or was abandoned).
#[derive(Debug)]
pub struct UploadSlot {
    slots: Arc<UploadSlots>,
    user: String,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl UploadSlots {
    /// `total` slots for the instance, `per_user` of them for one user (both at least 1).
    pub fn new(total: usize, per_user: usize) -> Self {
        UploadSlots {
            instance: Arc::new(tokio::sync::Semaphore::new(total.max(1))),
            per_user: std::sync::Mutex::default(),
            per_user_limit: per_user.max(1),
        }
    }

    /// Takes a slot for `user` (any stable key for the Fanvue user), without waiting.
    pub fn try_acquire(self: &Arc<Self>, user: &str) -> Result<UploadSlot, SlotRefusal> {
        let mut per_user = self.per_user.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let held = per_user.get(user).copied().unwrap_or(0);
        if held >= self.per_user_limit {
            return Err(SlotRefusal::User);
        }
        let permit = self.instance.clone().try_acquire_owned().map_err(|_| SlotRefusal::Instance)?;
        per_user.insert(user.to_owned(), held + 1);
        Ok(UploadSlot { slots: self.clone(), user: user.to_owned(), _permit: permit })
    }

    /// Slots held right now by `user`.
    pub fn held_by(&self, user: &str) -> usize {
        self.per_user.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(user).copied().unwrap_or(0)
    }
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut per_user = self.slots.per_user.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(held) = per_user.get_mut(&self.user) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                per_user.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_slots_are_shared_out_per_user_and_freed_on_drop() {
        let slots = Arc::new(UploadSlots::new(2, 1));
        let first = slots.try_acquire("user:a");
        assert!(first.is_ok());
        assert_eq!(slots.try_acquire("user:a").err(), Some(SlotRefusal::User), "one per user");
        let second = slots.try_acquire("user:b");
        assert!(second.is_ok());
        assert_eq!(slots.try_acquire("user:c").err(), Some(SlotRefusal::Instance), "the instance is full");
        drop(first);
        assert_eq!(slots.held_by("user:a"), 0);
        assert!(slots.try_acquire("user:a").is_ok(), "freed when dropped");
    }
}
