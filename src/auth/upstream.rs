//! Calling Fanvue for a signed-in session: the one path pages, the proxy and every feature
//! share, through an [`Api`] handle.
//!
//! [`Api::call`] looks the request up in the endpoint table (unknown endpoints never leave the
//! app), gets a fresh access token (single-flight refresh), refuses with
//! [`AppError::MissingScope`] **without calling Fanvue** when the grant lacks a scope, spends
//! one unit of the user's Fanvue budget, sends the request through
//! [`fanvue::FanvueClient::send`], and after a 401 on an idempotent request refreshes once and
//! retries (the token was revoked or the clocks disagree). Non-idempotent requests are never
//! retried.
//!
//! An [`Api`] is bound to one kind of session (the console's or the embedded one's token
//! vault): [`Api::with_tokens`] makes the handle for another kind, so no function needs an
//! `_as` twin to pick a vault.

use std::sync::Arc;

use bytes::Bytes;
use http::Method;
use serde::de::DeserializeOwned;
use tower_sessions::Session;

use crate::auth::tokens::SessionTokens;
use crate::infra::cache::TtlCache;
use crate::infra::rate_limit::RateLimits;
use crate::web::error::AppError;
use fanvue::endpoints::{self, Lookup};
use fanvue::oauth::TokenSet;
use fanvue::scopes::{Scope, ScopeSet};
use fanvue::{ApiPath, ApiRequest, ApiResponse, FanvueClient, FanvueError};

/// Fanvue, as one kind of signed-in session reaches it. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Api {
    /// The sessions' tokens: sign-in, refresh, sign-out.
    pub tokens: SessionTokens,
    client: FanvueClient,
    limits: Arc<RateLimits>,
    read_cache: TtlCache<Bytes>,
}

impl Api {
    /// Calls through `client` with `tokens`' sessions, spending budgets from `limits`, caching
    /// [`CACHED_READS`] in `read_cache`.
    pub fn new(
        tokens: SessionTokens,
        client: FanvueClient,
        limits: Arc<RateLimits>,
        read_cache: TtlCache<Bytes>,
    ) -> Self {
        Api { tokens, client, limits, read_cache }
    }

    /// The same client, budgets and cache for another kind of session.
    pub fn with_tokens(&self, tokens: SessionTokens) -> Self {
        Api { tokens, ..self.clone() }
    }

    /// The Fanvue client itself (for what is not a call for a session, e.g. an upload part).
    pub fn client(&self) -> &FanvueClient {
        &self.client
    }

    /// The session's tokens if the grant has every scope in `needed`. Checked before any call
    /// to Fanvue, so a page whose scope was not granted never reaches it.
    pub async fn gate(&self, session: &Session, needed: &[Scope]) -> Result<TokenSet, AppError> {
        let tokens = self.tokens.current(session).await?.ok_or(AppError::NotSignedIn)?;
        require_scopes(tokens.scopes, needed.iter().copied().collect())?;
        Ok(tokens)
    }

    /// Sends `request` for the session's user; returns Fanvue's answer for any status but 401.
    pub async fn call(&self, session: &Session, request: ApiRequest) -> Result<ApiResponse, AppError> {
        let sessions = &self.tokens;
        let endpoint = match endpoints::lookup(&request.method, &request.path) {
            Lookup::Found(endpoint) => endpoint,
            Lookup::MethodNotAllowed => return Err(AppError::MethodNotAllowed),
            Lookup::Unknown => return Err(AppError::UnknownEndpoint),
        };
        // Scopes first, from the stored grant: a refused call must not even refresh.
        let granted = sessions.current(session).await?.ok_or(AppError::NotSignedIn)?;
        require_scopes(granted.scopes, endpoint.required())?;
        let tokens = sessions.fresh(session, None).await?;
        // Fanvue counts per app and user, and separately per managed creator (`/creators/{uuid}/…`).
        let mut bucket = sessions.budget_key(session, &tokens);
        if let Some(creator) =
            request.path.segments().nth(1).filter(|_| request.path.segments().next() == Some("creators"))
        {
            bucket.push_str(":creator:");
            bucket.push_str(creator);
        }
        if let Err(retry_after) = self.limits.fanvue_budget(&bucket).await {
            tracing::info!("the user's Fanvue budget for this minute is spent; answering 429 without calling Fanvue");
            return Err(FanvueError::RateLimited { retry_after: Some(retry_after) }.into());
        }
        let idempotent = matches!(request.method, Method::GET | Method::HEAD);
        let retry = idempotent.then(|| clone_request(&request));
        let response = counted(endpoint.pattern, self.client.send(request, &tokens.access_token).await)?;
        let response = match (response.status.as_u16(), retry) {
            (401, Some(again)) => {
                let renewed = sessions.fresh(session, Some(&tokens.access_token)).await?;
                counted(endpoint.pattern, self.client.send(again, &renewed.access_token).await)?
            }
            (_, _) => response,
        };
        if response.status.as_u16() == 401 {
            return Err(FanvueError::Unauthorized.into());
        }
        Ok(response)
    }

    /// GETs `path` with `query` and decodes the JSON answer into `T`; any non-2xx becomes an
    /// error. Empty query values are left out. [`CACHED_READS`] come from the session's read
    /// cache when fresh.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        session: &Session,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, AppError> {
        let cache_key = (query.is_empty() && CACHED_READS.contains(&path))
            .then(|| self.tokens.session_key(session).map(|key| format!("{key} {path}")))
            .flatten();
        if let Some(body) = cache_key.as_deref().and_then(|key| self.read_cache.get(key)) {
            return serde_json::from_slice(&body).map_err(|e| FanvueError::Decode(e.to_string()).into());
        }
        let api_path = ApiPath::parse(path).map_err(|e| AppError::BadRequest(e.to_string()))?;
        let request = ApiRequest { query: Some(encode_query(query)), ..ApiRequest::get(api_path) };
        let response = self.call(session, request).await?.error_for_status()?;
        let value = serde_json::from_slice(&response.body).map_err(|e| FanvueError::Decode(e.to_string()))?;
        if let Some(key) = cache_key {
            self.read_cache.put(key, response.body);
        }
        Ok(value)
    }

    /// Sends `body` (if any) as JSON with `method` to `path`. Returns Fanvue's answer whatever
    /// its status (but 401), so a form can show a validation error next to the user's input.
    pub async fn send_json(
        &self,
        session: &Session,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<ApiResponse, AppError> {
        let path = ApiPath::parse(path).map_err(|e| AppError::BadRequest(e.to_string()))?;
        let json_body = match body {
            Some(body) => Some(serde_json::to_vec(body).map_err(|e| AppError::Internal(e.to_string()))?.into()),
            None => None,
        };
        self.call(session, ApiRequest { method, path, query: None, json_body }).await
    }

    /// A per-session cache entry of pages' own (e.g. a list shown on every visit), under the
    /// same time limit as [`CACHED_READS`].
    pub fn cached(&self, key: &str) -> Option<Bytes> {
        self.read_cache.get(key)
    }

    /// Stores what [`Api::cached`] returns.
    pub fn cache(&self, key: String, body: Bytes) {
        self.read_cache.put(key, body);
    }
}

/// The one scope check: `granted` covers `needed`, or the "missing scope" error naming what
/// is missing (pages, the proxy and [`crate::auth::Signed`] all refuse through it).
pub fn require_scopes(granted: ScopeSet, needed: ScopeSet) -> Result<(), AppError> {
    let missing = granted.missing(needed);
    if missing.is_empty() { Ok(()) } else { Err(AppError::MissingScope(missing)) }
}

/// Counts an upstream answer in `fanvue_upstream_requests_total{endpoint, status}` (status 0:
/// no answer).
fn counted(pattern: &str, result: Result<ApiResponse, FanvueError>) -> Result<ApiResponse, FanvueError> {
    crate::infra::metrics::metrics().upstream(pattern, result.as_ref().map_or(0, |r| r.status.as_u16()));
    result
}

/// Reads that pages may reuse per session for `PROFILE_CACHE_SECS`: idempotent, rarely
/// changing, and needed on many pages. Fanvue's per-user budget (200 calls a minute) is
/// precious. The JSON proxy never uses this: it forwards every call.
const CACHED_READS: [&str; 1] = ["/users/me"];

/// What a form shows after Fanvue refused its request: Fanvue's validation messages
/// (`{"errors": [...]}` or `{"message": ...}`), or the error for any other failure.
pub fn form_errors(response: ApiResponse) -> Result<Vec<String>, AppError> {
    if !matches!(response.status.as_u16(), 400 | 409 | 422) {
        return Err(response
            .error_for_status()
            .err()
            .map_or(AppError::Internal("unexpected success".into()), Into::into));
    }
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
    let mut messages: Vec<String> = body
        .get("errors")
        .and_then(|e| e.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    if let Some(message) = body.get("message").and_then(|m| m.as_str()) {
        messages.push(message.to_owned());
    }
    if messages.is_empty() {
        messages.push("Fanvue refused the request.".to_owned());
    }
    Ok(messages)
}

/// `a=1&b=2`, leaving out empty values. (A plain function: the serializer is not `Send`, so
/// it must not live inside an async body.)
pub fn encode_query(pairs: &[(&str, &str)]) -> String {
    let mut encoded = url::form_urlencoded::Serializer::new(String::new());
    encoded.extend_pairs(pairs.iter().filter(|(_, v)| !v.is_empty()));
    encoded.finish()
}

fn clone_request(request: &ApiRequest) -> ApiRequest {
    ApiRequest {
        method: request.method.clone(),
        path: request.path.clone(),
        query: request.query.clone(),
        json_body: request.json_body.clone(),
    }
}
