//! Agency (`read:agency` and `read:creator`; invites with `write:agency`): the managed
//! creators and the team, inviting a team member, and acting as one managed creator through
//! Fanvue's `/creators/{uuid}/…` routes (their chats need `read:chat`, their fans `read:fan`).

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
use crate::web::page::{Nav, Params, money, render};
use fanvue::models::{Chat, Earning, ManagedCreator, TeamMember, UserSummary};
use fanvue::pagination::{CursorPage, Page};
use fanvue::range::DayRange;
use fanvue::scopes::Scope;

#[derive(Template)]
#[template(path = "pages/agency.html")]
struct AgencyPage {
    nav: Nav,
    creators: Vec<(String, String, String, String)>,
    team: Vec<(String, String, bool, usize)>,
    can_invite: bool,
    team_hidden: bool,
    email: String,
    errors: Vec<String>,
    notice: Option<String>,
}

/// `GET /agency`.
pub async fn page(State(state): State<Console>, session: Session, params: Params) -> Result<Response, AppError> {
    let notice = params.get("invited").map(|_| "Invitation sent.".to_owned());
    render_agency(&state, &session, String::new(), Vec::new(), notice, StatusCode::OK).await
}

async fn render_agency(
    state: &Console,
    session: &Session,
    email: String,
    errors: Vec<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let tokens = state.api.gate(session, &[Scope::ReadAgency, Scope::ReadCreator]).await?;
    let creators: Page<ManagedCreator> = state.api.get_json(session, "/creators", &[("size", "50")]).await?;
    // The team is for agency admins only: Fanvue answers 403 to other members.
    let team_answer = state
        .api
        .call(
            session,
            fanvue::ApiRequest::get(
                fanvue::ApiPath::parse("/agencies/team-members").map_err(|e| AppError::Internal(e.to_string()))?,
            ),
        )
        .await?;
    let team_hidden = team_answer.status.as_u16() == 403;
    let team: Vec<TeamMember> = if team_hidden { Vec::new() } else { team_answer.json()? };
    let view = AgencyPage {
        nav: Nav::for_scopes(tokens.scopes, "/agency"),
        creators: creators
            .data
            .into_iter()
            .map(|c| {
                (
                    c.user.uuid.clone(),
                    c.user.name().to_owned(),
                    c.user.handle,
                    label(c.role.as_deref().unwrap_or_default()),
                )
            })
            .collect(),
        team: team
            .into_iter()
            .map(|t| {
                (t.display_name.unwrap_or_default(), t.email.unwrap_or_default(), t.is_admin, t.creator_access.len())
            })
            .collect(),
        can_invite: tokens.scopes.contains(Scope::WriteAgency) && !team_hidden,
        team_hidden,
        email,
        errors,
        notice,
    };
    Ok(render(status, &view))
}

/// `POST /agency/invites`: invites a team member by email.
pub async fn invite(State(state): State<Console>, signed: Signed, body: Bytes) -> Result<Response, AppError> {
    let (session, _) = signed.require(&[Scope::WriteAgency])?;
    let params = Params::parse(&body);
    let email = params.get("email").unwrap_or("").to_owned();
    let plausible = email.len() <= 254
        && email.split_once('@').is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'));
    let errors = if plausible {
        let answer =
            state.api.send_json(&session, Method::POST, "/agencies/invites", Some(&json!({ "email": email }))).await?;
        if answer.status.is_success() {
            return Ok(Redirect::to("/agency?invited=1").into_response());
        }
        crate::auth::upstream::form_errors(answer)?
    } else {
        vec!["Enter the email address of the person to invite.".to_owned()]
    };
    render_agency(&state, &session, email, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await
}

#[derive(Template)]
#[template(path = "pages/act_as.html")]
struct ActAsPage {
    nav: Nav,
    creator: String,
    /// The creator's name and handle from the managed creators' list (the heading names them;
    /// their UUID only when Fanvue does not list them).
    creator_name: Option<(String, String)>,
    can_write: bool,
    notice: Option<&'static str>,
    /// (fan uuid, name, unread, last message time)
    chats: Option<Vec<(String, String, u64, When)>>,
    followers: Option<Vec<(String, String)>>,
    /// Gross earnings of the last 30 days, and whether more than one page of them exists.
    earnings: Option<(String, bool)>,
}

/// `GET /agency/creators/{uuid}`: the creator's chats, followers and last 30 days of
/// earnings, through `/creators/{uuid}/…` (each part shown only when its scope was granted).
pub async fn act_as(
    State(state): State<Console>,
    session: Session,
    Path(uuid): Path<String>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, AppError> {
    let notice = Params::parse(raw.unwrap_or_default().as_bytes()).get("sent").map(|_| "Sent as the creator.");
    let tokens = state.api.gate(&session, &[Scope::ReadCreator]).await?;
    crate::web::page::require_uuid(&uuid, "creator id")?;
    // Both parts at once: a page that needs several calls makes them concurrently.
    let chats = async {
        if !tokens.scopes.contains(Scope::ReadChat) {
            return Ok::<_, AppError>(None);
        }
        let list: Page<Chat> =
            state.api.get_json(&session, &format!("/creators/{uuid}/chats"), &[("size", "20")]).await?;
        Ok(Some(
            list.data
                .into_iter()
                .map(|c| {
                    (
                        c.user.uuid.clone(),
                        c.user.name().to_owned(),
                        c.unread_messages_count,
                        When::parse_opt(c.last_message_at.as_deref()),
                    )
                })
                .collect::<Vec<_>>(),
        ))
    };
    let followers = async {
        if !tokens.scopes.contains(Scope::ReadFan) {
            return Ok(None);
        }
        let list: Page<UserSummary> =
            state.api.get_json(&session, &format!("/creators/{uuid}/followers"), &[("size", "20")]).await?;
        Ok(Some(list.data.into_iter().map(|u| (u.name().to_owned(), u.handle)).collect::<Vec<_>>()))
    };
    let earnings = async {
        if !tokens.scopes.contains(Scope::ReadInsights) {
            return Ok(None);
        }
        let today = time::OffsetDateTime::now_utc().date();
        let days = DayRange::new(today - time::Duration::days(29), today)
            .ok_or_else(|| AppError::Internal("the last 30 days form no range".into()))?;
        let [start, end] = days.query();
        let query = [("size", "50"), (start.0, start.1.as_str()), (end.0, end.1.as_str())];
        let page: CursorPage<Earning> =
            state.api.get_json(&session, &format!("/creators/{uuid}/insights/earnings"), &query).await?;
        Ok(Some((money(page.data.iter().map(|e| e.gross).sum::<i64>()), page.next_cursor.is_some())))
    };
    let name = async {
        let creators: Page<ManagedCreator> = state.api.get_json(&session, "/creators", &[("size", "50")]).await?;
        Ok(creators.data.into_iter().find(|c| c.user.uuid == uuid).map(|c| (c.user.name().to_owned(), c.user.handle)))
    };
    let (chats, followers, earnings, creator_name) = tokio::try_join!(chats, followers, earnings, name)?;
    let can_write = tokens.scopes.contains(Scope::WriteChat);
    let view = ActAsPage {
        nav: Nav::for_scopes(tokens.scopes, "/agency"),
        creator: uuid,
        creator_name,
        can_write,
        notice,
        chats,
        followers,
        earnings,
    };
    Ok(render(StatusCode::OK, &view))
}

/// `POST /agency/creators/{creator}/chats/{fan}`: sends a text message as the managed creator
/// (`POST /creators/{creator}/chats/{fan}/message`; `read:creator` + `write:chat`).
pub async fn send_as(
    State(state): State<Console>,
    signed: Signed,
    Path((creator, fan)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, AppError> {
    let (session, _) = signed.require(&[Scope::ReadCreator, Scope::WriteChat])?;
    crate::web::page::require_uuid(&creator, "creator id")?;
    crate::web::page::require_uuid(&fan, "chat (a fan's UUID)")?;
    let params = Params::parse(&body);
    let text = params.get("text").unwrap_or("");
    if text.is_empty() || text.chars().count() > super::MAX_TEXT {
        return Err(AppError::BadRequest(format!("Write a message of 1 to {} characters.", super::MAX_TEXT)));
    }
    let path = format!("/creators/{creator}/chats/{fan}/message");
    let answer = state.api.send_json(&session, Method::POST, &path, Some(&json!({ "text": text }))).await?;
    if !answer.status.is_success() {
        return Err(AppError::BadRequest(crate::auth::upstream::form_errors(answer)?.join(" ")));
    }
    Ok(Redirect::to(&format!("/agency/creators/{creator}?sent=1")).into_response())
}
