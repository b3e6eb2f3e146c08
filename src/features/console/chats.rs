//! Chats (`read:chat`; sending and changing a chat with `write:chat`): the chat list with
//! unread counts, filters and search; one conversation (newest first, page by page); send a
//! message (text, media from the vault, optional price); mark read/unread; mute. Smart lists
//! are shown when `read:fan` is granted too.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};
use tower_sessions::Session;

use super::Console;
use crate::auth::Signed;
use crate::web::error::AppError;
use crate::web::format::{When, initial, label};
use crate::web::page::{Nav, Pager, Params, https_only, is_uuid, money, render};
use fanvue::models::{Chat, CustomList, Message, SmartList};
use fanvue::pagination::Page;
use fanvue::scopes::Scope;

/// Filters offered on the list (Fanvue has more; these work for every account).
const FILTERS: [(&str, &str); 3] = [("", "All"), ("unread", "Unread"), ("not_muted", "Not muted")];

#[derive(Template)]
#[template(path = "pages/chats.html")]
struct ChatsPage {
    nav: Nav,
    chats: Vec<ChatRow>,
    pager: Pager,
    filter: String,
    search: String,
    filters: &'static [(&'static str, &'static str)],
    smart_lists: Vec<SmartList>,
    custom_lists: Vec<CustomList>,
    /// Lists need `read:fan` as well.
    show_lists: bool,
    /// `smart:<id>` or `custom:<uuid>`, or empty.
    chosen_list: String,
}

struct ChatRow {
    uuid: String,
    name: String,
    handle: String,
    avatar: Option<String>,
    /// For the placeholder when there is no avatar.
    initial: String,
    unread: u64,
    muted: bool,
    last: String,
    at: When,
}

/// `GET /chats?filter=…&search=…&page=N`.
pub async fn list(State(state): State<Console>, signed: Signed, params: Params) -> Result<Response, AppError> {
    let (session, tokens) = signed.require(&[Scope::ReadChat])?;
    let filter = params.get("filter").filter(|f| FILTERS.iter().any(|(k, _)| k == f)).unwrap_or("").to_owned();
    let search: String = params.get("search").unwrap_or("").chars().take(100).collect();
    // `list=smart:<id>` or `list=custom:<uuid>`: chats of one fan list (needs read:fan).
    let chosen_list = params.get("list").filter(|_| tokens.scopes.contains(Scope::ReadFan)).unwrap_or("").to_owned();
    let (smart_id, custom_id) = match chosen_list.split_once(':') {
        Some(("smart", id)) if id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => (id, ""),
        Some(("custom", id)) if is_uuid(id) => ("", id),
        _ => ("", ""),
    };
    let page = params.page();
    let page_number = page.to_string();
    let query = [
        ("page", page_number.as_str()),
        ("size", "20"),
        ("filter", filter.as_str()),
        ("search", search.as_str()),
        ("smartListIds", smart_id),
        ("customListId", custom_id),
    ];
    // The chats and the fan lists at once.
    let lists = async {
        if !tokens.scopes.contains(Scope::ReadFan) {
            return Ok((Vec::new(), Vec::new()));
        }
        let (smart, custom) = tokio::try_join!(
            state.api.get_json::<Vec<SmartList>>(&session, "/chats/lists/smart", &[]),
            state.api.get_json::<Page<CustomList>>(&session, "/chats/lists/custom", &[("size", "50")]),
        )?;
        Ok::<_, AppError>((smart, custom.data))
    };
    let (list, (smart_lists, custom_lists)) =
        tokio::try_join!(state.api.get_json::<Page<Chat>>(&session, "/chats", &query), lists)?;
    let chats = list
        .data
        .iter()
        .map(|c| ChatRow {
            uuid: c.user.uuid.clone(),
            name: c.user.name().to_owned(),
            handle: c.user.handle.clone(),
            avatar: https_only(c.user.avatar_url.as_deref()),
            initial: initial(c.user.name()),
            unread: c.unread_messages_count,
            muted: c.is_muted,
            last: c.last_message.as_ref().and_then(|m| m.text.clone()).unwrap_or_default(),
            at: When::parse_opt(c.last_message_at.as_deref()),
        })
        .collect();
    let pager = Pager::pages(
        "/chats",
        page,
        list.pagination.has_more,
        &[("filter", &filter), ("search", &search), ("list", &chosen_list)],
    );
    let view = ChatsPage {
        nav: Nav::for_scopes(tokens.scopes, "/chats"),
        chats,
        pager,
        filter,
        search,
        filters: &FILTERS,
        smart_lists,
        custom_lists,
        show_lists: tokens.scopes.contains(Scope::ReadFan),
        chosen_list,
    };
    Ok(render(StatusCode::OK, &view))
}

#[derive(Template)]
#[template(path = "pages/chat.html")]
struct ConversationPage {
    nav: Nav,
    uuid: String,
    /// Who the conversation is with (the header names them rather than their UUID).
    fan: FanHeader,
    /// Oldest first, as a chat reads.
    messages: Vec<MessageRow>,
    pager: Pager,
    can_write: bool,
    form: MessageForm,
    errors: Vec<String>,
    notice: Option<String>,
    picker: super::Picker,
}

/// The fan a conversation is with.
struct FanHeader {
    name: String,
    handle: String,
    avatar: Option<String>,
    initial: String,
}

struct MessageRow {
    mine: bool,
    text: String,
    at: When,
    price: Option<String>,
    media: usize,
    kind: String,
}

#[derive(Default)]
struct MessageForm {
    text: String,
    media: String,
    price: String,
}

/// `GET /chats/{uuid}?page=N`: one conversation, oldest to newest within a page (page 1 is the
/// latest messages; the next page is older ones).
pub async fn conversation(
    State(state): State<Console>,
    session: Session,
    Path(uuid): Path<String>,
    params: Params,
) -> Result<Response, AppError> {
    crate::web::page::require_uuid(&uuid, "chat (a fan's UUID)")?;
    let notice = params.get("sent").map(|_| "Message sent.".to_owned());
    render_conversation(
        &state,
        &session,
        uuid,
        params.page(),
        MessageForm::default(),
        Vec::new(),
        notice,
        StatusCode::OK,
    )
    .await
}

#[expect(clippy::too_many_arguments, reason = "one render for the page, its form and its messages")]
async fn render_conversation(
    state: &Console,
    session: &Session,
    uuid: String,
    page: u32,
    form: MessageForm,
    errors: Vec<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let tokens = state.api.gate(session, &[Scope::ReadChat]).await?;
    let page_number = page.to_string();
    let picker = async {
        if tokens.scopes.contains(Scope::WriteChat) {
            super::media_picker(&state.api, session, tokens.scopes, &form.media).await
        } else {
            Ok(super::Picker::default())
        }
    };
    let path = format!("/chats/{uuid}/messages");
    // Viewing must not change "read": that is the user's own choice (mark read/unread).
    let query = [("page", page_number.as_str()), ("size", "25"), ("markAsRead", "false")];
    let (list, picker) = tokio::try_join!(state.api.get_json::<Page<Message>>(session, &path, &query), picker)?;
    // Fanvue lists newest first; a chat reads oldest to newest, with the composer below.
    let messages = list
        .data
        .iter()
        .rev()
        .map(|m| MessageRow {
            mine: m.sender.uuid != uuid,
            text: m.text.clone().unwrap_or_default(),
            at: When::parse_opt(m.sent_at.as_deref()),
            price: m.price().map(money),
            media: m.media_uuids.len(),
            // An ordinary one-to-one message says nothing by its type; the others (mass
            // messages, automated ones) are worth a word.
            kind: m
                .kind
                .as_deref()
                .filter(|k| !k.eq_ignore_ascii_case("SINGLE_RECIPIENT"))
                .map(label)
                .unwrap_or_default(),
        })
        .collect();
    let handle = list.data.iter().find(|m| m.sender.uuid == uuid).map(|m| m.sender.handle.clone());
    let fan = fan_header(state, session, &uuid, handle).await;
    let pager = Pager::pages(&format!("/chats/{uuid}"), page, list.pagination.has_more, &[]);
    let view = ConversationPage {
        picker,
        nav: Nav::for_scopes(tokens.scopes, "/chats"),
        uuid,
        fan,
        messages,
        pager,
        can_write: tokens.scopes.contains(Scope::WriteChat),
        form,
        errors,
        notice,
    };
    Ok(render(status, &view))
}

/// The fan's name and avatar for the conversation's header. Messages carry only the sender's
/// handle, so the chat list is searched for it (one more call, at most 5 rows); when that
/// finds nothing or fails, the header shows the handle: the conversation itself still works.
async fn fan_header(state: &Console, session: &Session, uuid: &str, handle: Option<String>) -> FanHeader {
    let handle = handle.unwrap_or_default();
    let found = if handle.is_empty() {
        None
    } else {
        let query = [("search", handle.as_str()), ("size", "5")];
        match state.api.get_json::<Page<Chat>>(session, "/chats", &query).await {
            Ok(chats) => chats.data.into_iter().find(|c| c.user.uuid == uuid),
            Err(err) => {
                tracing::debug!(error = %err, "the conversation header falls back to the handle");
                None
            }
        }
    };
    match found {
        Some(chat) => FanHeader {
            name: chat.user.name().to_owned(),
            initial: initial(chat.user.name()),
            avatar: https_only(chat.user.avatar_url.as_deref()),
            handle: chat.user.handle,
        },
        None => FanHeader {
            name: if handle.is_empty() { "Conversation".to_owned() } else { format!("@{handle}") },
            initial: initial(&handle),
            avatar: None,
            handle: String::new(),
        },
    }
}

fn validate(form: &MessageForm) -> Result<Value, Vec<String>> {
    let mut errors = Vec::new();
    let content = super::check_content(&form.text, &form.media, &form.price, "message", &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(json!({ "text": content.text, "mediaUuids": content.media, "price": content.price }))
}

/// `POST /chats/{uuid}`: sends a message. Never retried automatically (it is not idempotent).
pub async fn send(
    State(state): State<Console>,
    session: Session,
    Path(uuid): Path<String>,
    body: Bytes,
) -> Result<Response, AppError> {
    crate::web::page::require_uuid(&uuid, "chat (a fan's UUID)")?;
    state.api.gate(&session, &[Scope::WriteChat]).await?;
    let params = Params::parse(&body);
    let field = |k: &str| params.get(k).unwrap_or("").to_owned();
    let form = MessageForm { text: field("text"), media: super::chosen_media(&params), price: field("price") };
    let errors = match validate(&form) {
        Ok(request) => {
            let answer =
                state.api.send_json(&session, Method::POST, &format!("/chats/{uuid}/message"), Some(&request)).await?;
            if answer.status.is_success() {
                return Ok(Redirect::to(&format!("/chats/{uuid}?sent=1")).into_response());
            }
            crate::auth::upstream::form_errors(answer)?
        }
        Err(errors) => errors,
    };
    render_conversation(&state, &session, uuid, 1, form, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await
}

/// `POST /chats/{uuid}/state`: `read=true|false`, `muted=true|false`.
pub async fn update(
    State(state): State<Console>,
    session: Session,
    Path(uuid): Path<String>,
    body: Bytes,
) -> Result<Response, AppError> {
    crate::web::page::require_uuid(&uuid, "chat (a fan's UUID)")?;
    state.api.gate(&session, &[Scope::WriteChat]).await?;
    let params = Params::parse(&body);
    let flag = |k: &str| match params.get(k) {
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        None => Ok(None),
        Some(_) => Err(AppError::BadRequest(format!("{k} must be true or false"))),
    };
    let mut change = serde_json::Map::new();
    if let Some(read) = flag("read")? {
        change.insert("isRead".into(), read.into());
    }
    if let Some(muted) = flag("muted")? {
        change.insert("isMuted".into(), muted.into());
    }
    if change.is_empty() {
        return Err(AppError::BadRequest("Nothing to change.".into()));
    }
    let answer =
        state.api.send_json(&session, Method::PATCH, &format!("/chats/{uuid}"), Some(&Value::Object(change))).await?;
    answer.error_for_status()?;
    Ok(Redirect::to(&format!("/chats/{uuid}")).into_response())
}
