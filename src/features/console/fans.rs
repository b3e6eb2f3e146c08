//! Fans (`read:fan`): subscribers and followers, page by page.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::Console;
use crate::auth::Signed;
use crate::web::error::AppError;
use crate::web::format::{When, initial};
use crate::web::page::{Nav, Pager, Params, https_only, render};
use fanvue::models::UserSummary;
use fanvue::pagination::Page;
use fanvue::scopes::Scope;

#[derive(Template)]
#[template(path = "pages/fans.html")]
struct FansPage {
    nav: Nav,
    tab: &'static str,
    fans: Vec<FanRow>,
    pager: Pager,
}

struct FanRow {
    name: String,
    handle: String,
    avatar: Option<String>,
    /// For the placeholder when there is no avatar.
    initial: String,
    top_spender: bool,
    since: When,
}

/// `GET /fans?tab=subscribers|followers&page=N`.
pub async fn page(State(state): State<Console>, signed: Signed, params: Params) -> Result<Response, AppError> {
    let (session, tokens) = signed.require(&[Scope::ReadFan])?;
    let tab = if params.get("tab") == Some("followers") { "followers" } else { "subscribers" };
    let page = params.page();
    let list: Page<UserSummary> =
        state.api.get_json(&session, &format!("/{tab}"), &[("page", &page.to_string()), ("size", "20")]).await?;
    let fans = list
        .data
        .iter()
        .map(|u| FanRow {
            name: u.name().to_owned(),
            handle: u.handle.clone(),
            avatar: https_only(u.avatar_url.as_deref()),
            initial: initial(u.name()),
            top_spender: u.is_top_spender,
            since: When::parse_opt(u.registered_at.as_deref()),
        })
        .collect();
    let pager = Pager::pages("/fans", page, list.pagination.has_more, &[("tab", tab)]);
    Ok(render(StatusCode::OK, &FansPage { nav: Nav::for_scopes(tokens.scopes, "/fans"), tab, fans, pager }))
}
