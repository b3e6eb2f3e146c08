//! Posts (`read:post`; create with `write:post`): the list with likes, comments and tips,
//! and a create form (audience, text, media, price, schedule). Fanvue's rules are checked
//! before the call: a price is in cents, at least $3.00, and only with media.

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
use crate::web::format::{When, label};
use crate::web::page::{Nav, Pager, Params, money, render};
use fanvue::models::Post;
use fanvue::pagination::Page;
use fanvue::scopes::Scope;

#[derive(Template)]
#[template(path = "pages/posts.html")]
struct PostsPage {
    nav: Nav,
    posts: Vec<PostRow>,
    pager: Pager,
    can_write: bool,
    form: PostForm,
    errors: Vec<String>,
    notice: Option<String>,
    picker: super::Picker,
}

struct PostRow {
    uuid: String,
    text: String,
    created: When,
    audience: String,
    price: Option<String>,
    /// Empty unless the post is scheduled.
    scheduled: When,
    media: usize,
    likes: u64,
    comments: u64,
    tips: String,
}

/// What the user typed (kept on a validation error).
#[derive(Default)]
struct PostForm {
    audience: String,
    text: String,
    media: String,
    price: String,
    publish_at: String,
}

impl PostForm {
    /// The create and edit forms' fields.
    fn from_params(params: &Params) -> Self {
        let field = |k: &str| params.get(k).unwrap_or("").to_owned();
        PostForm {
            audience: field("audience"),
            text: field("text"),
            media: super::chosen_media(params),
            price: field("price"),
            publish_at: field("publish_at"),
        }
    }
}

/// `GET /posts?page=N`.
pub async fn page(State(state): State<Console>, session: Session, params: Params) -> Result<Response, AppError> {
    let notice = match (params.get("created"), params.get("updated")) {
        (Some(_), _) => Some("Post created.".to_owned()),
        (None, Some(_)) => Some("Post updated.".to_owned()),
        (None, None) => None,
    };
    let form = PostForm { audience: "subscribers".into(), ..PostForm::default() };
    render_list(&state, &session, params.page(), form, Vec::new(), notice, StatusCode::OK).await
}

async fn render_list(
    state: &Console,
    session: &Session,
    page: u32,
    form: PostForm,
    errors: Vec<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let tokens = state.api.gate(session, &[Scope::ReadPost]).await?;
    let page_number = page.to_string();
    let picker = async {
        if tokens.scopes.contains(Scope::WritePost) {
            super::media_picker(&state.api, session, tokens.scopes, &form.media).await
        } else {
            Ok(super::Picker::default())
        }
    };
    let query = [("page", page_number.as_str()), ("size", "10")];
    let (list, picker) = tokio::try_join!(state.api.get_json::<Page<Post>>(session, "/posts", &query), picker)?;
    let posts = list
        .data
        .into_iter()
        .map(|p| {
            let tips = p.tips.unwrap_or_default();
            PostRow {
                uuid: p.uuid,
                text: p.text.unwrap_or_default(),
                created: When::parse_opt(p.created_at.as_deref()),
                audience: label(p.audience.as_deref().unwrap_or_default()),
                price: p.price.map(money),
                scheduled: When::parse_opt(p.publish_at.as_deref()),
                media: p.media_uuids.len(),
                likes: p.likes_count,
                comments: p.comments_count,
                tips: format!("{} ({})", tips.count, money(tips.total_gross)),
            }
        })
        .collect();
    let page_view = PostsPage {
        picker,
        nav: Nav::for_scopes(tokens.scopes, "/posts"),
        posts,
        pager: Pager::pages("/posts", page, list.pagination.has_more, &[]),
        can_write: tokens.scopes.contains(Scope::WritePost),
        form,
        errors,
        notice,
    };
    Ok(render(status, &page_view))
}

/// Checks the form the way Fanvue will, and builds the request body.
fn validate(form: &PostForm, now: time::OffsetDateTime) -> Result<Value, Vec<String>> {
    let mut errors = Vec::new();
    if !matches!(form.audience.as_str(), "subscribers" | "followers-and-subscribers") {
        errors.push("Choose who can see the post.".to_owned());
    }
    let content = super::check_content(&form.text, &form.media, &form.price, "post", &mut errors);
    let publish_at = if form.publish_at.is_empty() {
        None
    } else {
        // <input type=datetime-local> gives `2026-12-01T18:30`; taken as UTC.
        let full = format!("{}:00Z", form.publish_at.get(..16).unwrap_or(&form.publish_at));
        match time::OffsetDateTime::parse(&full, &time::format_description::well_known::Rfc3339) {
            Ok(at) if at > now => Some(full),
            _ => {
                errors.push("The publication time must be in the future.".to_owned());
                None
            }
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut body = json!({ "audience": form.audience, "mediaUuids": content.media });
    if let Some(text) = content.text {
        body["text"] = text.into();
    }
    if let Some(cents) = content.price {
        body["price"] = cents.into();
    }
    if let Some(at) = publish_at {
        body["publishAt"] = at.into();
    }
    Ok(body)
}

/// `POST /posts`: validates, creates the post at Fanvue, back to the list.
pub async fn create(State(state): State<Console>, signed: Signed, body: Bytes) -> Result<Response, AppError> {
    let (session, _) = signed.require(&[Scope::WritePost])?;
    let form = PostForm::from_params(&Params::parse(&body));
    let errors = match validate(&form, time::OffsetDateTime::now_utc()) {
        Ok(request) => {
            let answer = state.api.send_json(&session, Method::POST, "/posts", Some(&request)).await?;
            if answer.status.is_success() {
                return Ok(Redirect::to("/posts?created=1").into_response());
            }
            crate::auth::upstream::form_errors(answer)?
        }
        Err(errors) => errors,
    };
    render_list(&state, &session, 1, form, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await
}

#[derive(Template)]
#[template(path = "pages/post_edit.html")]
struct EditPage {
    nav: Nav,
    uuid: String,
    form: PostForm,
    errors: Vec<String>,
    picker: super::Picker,
}

/// `GET /posts/{uuid}/edit`: the post's current values in the form.
pub async fn edit_form(
    State(state): State<Console>,
    session: Session,
    Path(uuid): Path<String>,
) -> Result<Response, AppError> {
    crate::web::page::require_uuid(&uuid, "post id")?;
    let tokens = state.api.gate(&session, &[Scope::ReadPost, Scope::WritePost]).await?;
    let post: Post = state.api.get_json(&session, &format!("/posts/{uuid}"), &[]).await?;
    let form = PostForm {
        audience: post.audience.unwrap_or_default(),
        text: post.text.unwrap_or_default(),
        media: post.media_uuids.join(", "),
        price: post.price.map(|c| format!("{}.{:02}", c / 100, c % 100)).unwrap_or_default(),
        // Only a schedule still ahead is editable; a published post has none to show.
        publish_at: post
            .publish_at
            .as_deref()
            .filter(|at| {
                time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                    .is_ok_and(|t| t > time::OffsetDateTime::now_utc())
            })
            .and_then(|p| p.get(..16))
            .unwrap_or_default()
            .to_owned(),
    };
    let picker = super::media_picker(&state.api, &session, tokens.scopes, &form.media).await?;
    let view = EditPage { nav: Nav::for_scopes(tokens.scopes, "/posts"), uuid, form, errors: Vec::new(), picker };
    Ok(render(StatusCode::OK, &view))
}

/// `POST /posts/{uuid}/edit`: validates as for a new post, then `PATCH /posts/{uuid}`.
pub async fn edit(
    State(state): State<Console>,
    session: Session,
    Path(uuid): Path<String>,
    body: Bytes,
) -> Result<Response, AppError> {
    crate::web::page::require_uuid(&uuid, "post id")?;
    let tokens = state.api.gate(&session, &[Scope::ReadPost, Scope::WritePost]).await?;
    let form = PostForm::from_params(&Params::parse(&body));
    let errors = match validate(&form, time::OffsetDateTime::now_utc()) {
        Ok(mut request) => {
            // Edits are partial at Fanvue: an emptied price or text must be sent as `null`
            // (free post, no text), or Fanvue keeps the old value. An empty schedule is left
            // out: `publishAt: null` would publish a scheduled post at once.
            for field in ["price", "text"] {
                if request.get(field).is_none() {
                    request[field] = Value::Null;
                }
            }
            let answer =
                state.api.send_json(&session, Method::PATCH, &format!("/posts/{uuid}"), Some(&request)).await?;
            if answer.status.is_success() {
                return Ok(Redirect::to("/posts?updated=1").into_response());
            }
            crate::auth::upstream::form_errors(answer)?
        }
        Err(errors) => errors,
    };
    let picker = super::media_picker(&state.api, &session, tokens.scopes, &form.media).await?;
    let view = EditPage { nav: Nav::for_scopes(tokens.scopes, "/posts"), uuid, form, errors, picker };
    Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &view))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(audience: &str, text: &str, media: &str, price: &str) -> PostForm {
        PostForm {
            audience: audience.into(),
            text: text.into(),
            media: media.into(),
            price: price.into(),
            publish_at: String::new(),
        }
    }

    #[test]
    fn fanvues_post_rules_are_checked_before_the_call() {
        let now = time::OffsetDateTime::now_utc();
        let uuid = "0009057a-0001-4057-8000-000000000001";
        assert!(validate(&form("subscribers", "hello", "", ""), now).is_ok());
        assert_eq!(
            validate(&form("subscribers", "x", uuid, "9.99"), now).ok().map(|b| b["price"].clone()),
            Some(999.into())
        );
        assert!(validate(&form("everyone", "x", "", ""), now).is_err());
        assert!(validate(&form("subscribers", "x", "", "9.99"), now).is_err(), "price needs media");
        assert!(validate(&form("subscribers", "x", uuid, "2.99"), now).is_err(), "minimum $3.00");
        assert!(validate(&form("subscribers", "", "", ""), now).is_err());
        assert!(validate(&form("subscribers", &"a".repeat(5001), "", ""), now).is_err());
        assert!(validate(&form("subscribers", "x", "not-a-uuid", ""), now).is_err());
        let mut past = form("subscribers", "x", "", "");
        past.publish_at = "2020-01-01T10:00".into();
        assert!(validate(&past, now).is_err());
    }
}
