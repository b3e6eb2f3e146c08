//! Calling Fanvue for the signed-in session: the one path pages and the proxy share.
//!
//! [`call`] looks the request up in the endpoint table (unknown endpoints never leave the
//! app), gets a fresh access token (single-flight refresh), refuses with
//! [`AppError::MissingScope`] **without calling Fanvue** when the grant lacks a scope, sends
//! the request through [`crate::fanvue::FanvueClient::send`], and after a 401 on an
//! idempotent request refreshes once and retries (the token was revoked or the clocks
//! disagree). Non-idempotent requests are never retried.

use http::Method;
use serde::de::DeserializeOwned;
use tower_sessions::Session;

use crate::error::AppError;
use crate::fanvue::endpoints::{self, Lookup};
use crate::fanvue::{ApiPath, ApiRequest, ApiResponse, FanvueError};
use crate::state::AppState;

/// Sends `request` for the session's user; returns Fanvue's answer for any status but 401.
pub async fn call(state: &AppState, session: &Session, request: ApiRequest) -> Result<ApiResponse, AppError> {
    let endpoint = match endpoints::lookup(&request.method, &request.path) {
        Lookup::Found(endpoint) => endpoint,
        Lookup::MethodNotAllowed => return Err(AppError::MethodNotAllowed),
        Lookup::Unknown => return Err(AppError::UnknownEndpoint),
    };
    // Scopes first, from the stored grant: a refused call must not even refresh.
    let granted = state.tokens.current(session).await?.ok_or(AppError::NotSignedIn)?;
    let missing = granted.scopes.missing(endpoint.required());
    if !missing.is_empty() {
        return Err(AppError::MissingScope(missing));
    }
    let tokens = state.tokens.fresh(session, None).await?;
    let idempotent = matches!(request.method, Method::GET | Method::HEAD);
    let retry = idempotent.then(|| clone_request(&request));
    let response = state.fanvue.send(request, &tokens.access_token).await?;
    let response = match (response.status.as_u16(), retry) {
        (401, Some(again)) => {
            let renewed = state.tokens.fresh(session, Some(&tokens.access_token)).await?;
            state.fanvue.send(again, &renewed.access_token).await?
        }
        (_, _) => response,
    };
    if response.status.as_u16() == 401 {
        return Err(FanvueError::Unauthorized.into());
    }
    Ok(response)
}

/// GETs `path` and decodes the JSON answer into `T`; any non-2xx becomes an error.
pub async fn get_json<T: DeserializeOwned>(state: &AppState, session: &Session, path: &str) -> Result<T, AppError> {
    let path = ApiPath::parse(path).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(call(state, session, ApiRequest::get(path)).await?.json()?)
}

fn clone_request(request: &ApiRequest) -> ApiRequest {
    ApiRequest {
        method: request.method.clone(),
        path: request.path.clone(),
        query: request.query.clone(),
        json_body: request.json_body.clone(),
    }
}
