//! The sandbox's OAuth provider, modelled on ORY Hydra as Fanvue runs it:
//! `GET /oauth2/auth` (consent page), `POST /oauth2/consent` (Allow/Deny),
//! `POST /oauth2/token` (authorization_code with PKCE S256, refresh_token with rotation and
//! reuse detection; `client_secret_basic` only) and `POST /oauth2/revoke` (RFC 7009).
//!
//! For embedded apps, `POST /oauth2/authorize-on-behalf` plays Fanvue's authorize half of the
//! delegated flow (session token in, one-time code out; the wire is this starter's assumption,
//! the app's `EMBEDDED_EXCHANGE`), and the token endpoint also takes the jwt-bearer grant.
//!
//! As at Hydra, an unknown client or a redirect URI that does not match exactly gets an error
//! page and no redirect; every other authorize error is sent back to the app.

use askama::Template;
use axum::Form;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::store::ConsentRequest;
use crate::crypto;
use crate::state::SandboxState;
use fanvue::oauth::now_unix;
use fanvue::scopes::{Scope, ScopeSet};

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    client_id: &'a str,
    challenge: &'a str,
    scopes: Vec<&'static str>,
    offline: bool,
    accounts: &'a [super::users::Account],
}

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPostPage<'a> {
    action: &'a str,
    fields: Vec<(&'a str, String)>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let html = ErrorPage { title, message }.render().unwrap_or_else(|_| message.to_owned());
    (status, Html(html)).into_response()
}

/// `GET /oauth2/auth`.
pub async fn authorize(State(sb): State<SandboxState>, RawQuery(query): RawQuery) -> Response {
    let params: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()).into_owned().collect();
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let client = sb.store.client();
    if get("client_id") != Some(client.id.as_str()) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Unknown client",
            "The OAuth 2.0 Client does not exist (invalid_client).",
        );
    }
    let Some(redirect_uri) = get("redirect_uri").filter(|r| client.redirect_uris.iter().any(|u| u == r)) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Redirect URI mismatch",
            "The 'redirect_uri' parameter does not match any of the OAuth 2.0 Client's pre-registered redirect URLs.",
        );
    };
    let state = get("state").unwrap_or("");
    let form_post = match get("response_mode") {
        None | Some("query") => false,
        Some("form_post") => true,
        Some(_) => return deny(redirect_uri, state, false, "invalid_request", "The response_mode is not supported."),
    };
    let reject = |code: &str, description: &str| deny(redirect_uri, state, form_post, code, description);
    if get("response_type") != Some("code") {
        return reject("unsupported_response_type", "The authorization server does not support this response_type.");
    }
    if state.len() < 8 {
        return reject(
            "invalid_state",
            "The state is missing or does not have enough characters and is therefore considered too weak.",
        );
    }
    if get("code_challenge_method") != Some("S256") || get("code_challenge").is_none_or(|c| c.len() != 43) {
        return reject("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256.");
    }
    if get("nonce").is_some_and(|n| n.len() < 8) {
        return reject("invalid_request", "The nonce is too short and therefore considered too weak.");
    }
    let (scopes, offline, openid) = match parse_scope(get("scope").unwrap_or("")) {
        Ok(parsed) => parsed,
        Err(description) => return reject("invalid_scope", &description),
    };
    let request = ConsentRequest {
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        offline,
        openid,
        state: state.to_owned(),
        nonce: get("nonce").map(str::to_owned),
        code_challenge: get("code_challenge").unwrap_or_default().to_owned(),
        form_post,
        created_at: now_unix(),
        user: super::users::default_account().uuid.to_owned(),
    };
    let challenge = sb.store.park_consent(request);
    let page = ConsentPage {
        client_id: &client.id,
        challenge: &challenge,
        scopes: scopes.iter().map(Scope::as_str).collect(),
        offline,
        accounts: &super::users::ACCOUNTS,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(_) => error_page(StatusCode::INTERNAL_SERVER_ERROR, "Error", "The consent page could not be rendered."),
    }
}

/// An authorize request's `scope`: the app scopes, whether offline access (`offline` or
/// `offline_access`) and whether `openid` were asked for. `Err` is Hydra's description of the
/// first unknown scope.
fn parse_scope(raw: &str) -> Result<(ScopeSet, bool, bool), String> {
    let mut scopes = ScopeSet::empty();
    let (mut offline, mut openid) = (false, false);
    for name in raw.split(' ').filter(|s| !s.is_empty()) {
        match name {
            "openid" => openid = true,
            "offline" | "offline_access" => offline = true,
            other => match other.parse::<Scope>() {
                Ok(scope) => scopes.insert(scope),
                Err(_) => {
                    return Err(format!(
                        "The requested scope is invalid, unknown, or malformed. The OAuth 2.0 Client is not allowed to request scope '{other}'."
                    ));
                }
            },
        }
    }
    Ok((scopes, offline, openid))
}

/// `POST /oauth2/authorize-on-behalf`: Fanvue's authorize half for embedded apps. A back
/// channel (no browser, so every answer is JSON, never a redirect): the app presents the
/// session token the creator surface injected, with its PKCE challenge, `state`, `nonce`,
/// scopes and registered redirect URI, and gets `{code, state}`. The code is redeemed at
/// `/oauth2/token` like any other (one-time, PKCE, exact redirect URI; a replay revokes).
/// No client authentication: Fanvue never sees the app's secret in this flow, so one sent
/// here is refused as the leak it is.
pub async fn authorize_on_behalf(State(sb): State<SandboxState>, headers: HeaderMap, body: Bytes) -> Response {
    sb.store.count(|s| s.on_behalf_requests += 1);
    if !sb.latency.is_zero() {
        tokio::time::sleep(sb.latency).await;
    }
    let form: std::collections::HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let bad = |error: &str, description: &str| oauth_error(StatusCode::BAD_REQUEST, error, description);
    if headers.contains_key(header::AUTHORIZATION) || form.contains_key("client_secret") {
        return bad(
            "invalid_request",
            "Client credentials must not be sent to the authorize half; the client secret is for the token endpoint only.",
        );
    }
    let client = sb.store.client();
    if get("client_id") != Some(client.id.as_str()) {
        return bad("invalid_client", "The OAuth 2.0 Client does not exist.");
    }
    let Some(redirect_uri) = get("redirect_uri").filter(|r| client.redirect_uris.iter().any(|u| u == r)) else {
        return bad(
            "invalid_request",
            "The 'redirect_uri' parameter does not match any of the OAuth 2.0 Client's pre-registered redirect URLs.",
        );
    };
    if get("response_type") != Some("code") {
        return bad("unsupported_response_type", "The authorization server does not support this response_type.");
    }
    let state = get("state").unwrap_or("");
    if state.len() < 8 {
        return bad(
            "invalid_state",
            "The state is missing or does not have enough characters and is therefore considered too weak.",
        );
    }
    if get("code_challenge_method") != Some("S256") || get("code_challenge").is_none_or(|c| c.len() != 43) {
        return bad("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256.");
    }
    if get("nonce").is_some_and(|n| n.len() < 8) {
        return bad("invalid_request", "The nonce is too short and therefore considered too weak.");
    }
    let (scopes, offline, openid) = match parse_scope(get("scope").unwrap_or("")) {
        Ok(parsed) => parsed,
        Err(description) => return bad("invalid_scope", &description),
    };
    let Some(session_token) = get("session_token") else {
        return bad("invalid_request", "The session_token parameter is missing.");
    };
    let request = ConsentRequest {
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        offline,
        openid,
        state: state.to_owned(),
        nonce: get("nonce").map(str::to_owned),
        code_challenge: get("code_challenge").unwrap_or_default().to_owned(),
        form_post: false,
        created_at: now_unix(),
        // Set from the session token's subject.
        user: String::new(),
    };
    match sb.store.authorize_on_behalf(&sb.issuer, session_token, request) {
        Ok(code) => {
            let mut response = axum::Json(serde_json::json!({ "code": code, "state": state })).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
            response
        }
        Err((error, description)) => {
            let status = if error == "consent_required" { StatusCode::FORBIDDEN } else { StatusCode::BAD_REQUEST };
            oauth_error(status, error, &description)
        }
    }
}

/// The consent form's answer.
#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    challenge: String,
    decision: String,
    /// The account to sign in as (UUID or handle); Ava when absent.
    #[serde(default)]
    user: Option<String>,
}

/// `POST /oauth2/consent`: Allow issues a one-time code, Deny sends `access_denied`.
pub async fn consent(State(sb): State<SandboxState>, Form(form): Form<ConsentForm>) -> Response {
    let Some(mut request) = sb.store.take_consent(&form.challenge) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "This consent request expired",
            "Start the login again from the app.",
        );
    };
    if form.decision != "allow" {
        return deny(
            &request.redirect_uri,
            &request.state,
            request.form_post,
            "access_denied",
            "The resource owner denied the request",
        );
    }
    if let Some(account) = form.user.as_deref().and_then(super::users::find) {
        request.user = account.uuid.to_owned();
    }
    // Whoever consented is now signed in on the sandbox (its checkout pays as them).
    let account = super::users::find(&request.user).unwrap_or(super::users::default_account());
    let (redirect_uri, state, form_post) = (request.redirect_uri.clone(), request.state.clone(), request.form_post);
    let code = sb.store.issue_code(request);
    let mut response = respond(&redirect_uri, form_post, vec![("code", code), ("state", state)]);
    if let Ok(cookie) = header::HeaderValue::from_str(&super::users::signed_in_cookie(account)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn deny(redirect_uri: &str, state: &str, form_post: bool, error: &str, description: &str) -> Response {
    let mut fields = vec![("error", error.to_owned()), ("error_description", description.to_owned())];
    if !state.is_empty() {
        fields.push(("state", state.to_owned()));
    }
    respond(redirect_uri, form_post, fields)
}

/// Sends the authorization response as a redirect (query) or an auto-submitting form.
fn respond(redirect_uri: &str, form_post: bool, fields: Vec<(&str, String)>) -> Response {
    if form_post {
        let page = FormPostPage { action: redirect_uri, fields };
        return match page.render() {
            Ok(html) => Html(html).into_response(),
            Err(_) => error_page(StatusCode::INTERNAL_SERVER_ERROR, "Error", "The response could not be rendered."),
        };
    }
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(url) => url,
        Err(_) => {
            return error_page(StatusCode::BAD_REQUEST, "Bad redirect URI", "The registered redirect URI is invalid.");
        }
    };
    url.query_pairs_mut().extend_pairs(fields.iter().map(|(k, v)| (*k, v.as_str())));
    Redirect::to(url.as_str()).into_response()
}

/// An OAuth error response from the token or revocation endpoint.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = serde_json::json!({ "error": error, "error_description": description });
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Basic realm=\"sandbox\""));
    }
    response
}

/// Checks `client_secret_basic` (ids and secrets form-urlencoded inside Basic, RFC 6749
/// §2.3.1). A secret in the body is refused, as Fanvue does.
/// `Err` carries the `invalid_client` description.
fn authenticate(
    sb: &SandboxState,
    headers: &HeaderMap,
    form: &std::collections::HashMap<String, String>,
) -> Result<(), &'static str> {
    if form.contains_key("client_secret") {
        return Err("Client authentication failed: this client must use client_secret_basic, not client_secret_post.");
    }
    let decoded = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).ok())
        .and_then(|raw| String::from_utf8(raw).ok());
    let Some((id, secret)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
        return Err("Client authentication failed: no Basic credentials.");
    };
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
    };
    let client = sb.store.client();
    if form.get("client_id").is_some_and(|body_id| *body_id != unescape(id)) {
        return Err("Client authentication failed: client_id in the body differs from the Basic credentials.");
    }
    let ok =
        unescape(id) == client.id && crypto::constant_time_eq(unescape(secret).as_bytes(), client.secret.as_bytes());
    if ok { Ok(()) } else { Err("Client authentication failed.") }
}

/// `POST /oauth2/token`.
pub async fn token(State(sb): State<SandboxState>, headers: HeaderMap, body: Bytes) -> Response {
    sb.store.count(|s| s.token_requests += 1);
    if !sb.latency.is_zero() {
        tokio::time::sleep(sb.latency).await;
    }
    let form: std::collections::HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if let Err(description) = authenticate(&sb, &headers, &form) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description);
    }
    let get = |k: &str| form.get(k).map(String::as_str);
    let result = match get("grant_type") {
        Some("authorization_code") => {
            let code = get("code").unwrap_or("");
            sb.store.redeem_code(code, get("redirect_uri"), get("code_verifier")).map(|(issued, request)| {
                let id_token = request
                    .openid
                    .then(|| sb.store.id_token(&sb.issuer, &issued.grant_id, &request.user, request.nonce.as_deref()));
                (issued, id_token)
            })
        }
        Some("refresh_token") => sb.store.refresh(get("refresh_token").unwrap_or(""), get("scope")).map(|i| (i, None)),
        // RFC 7523, with the session token Fanvue injects into an embedded app.
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            sb.store.jwt_bearer(&sb.issuer, get("assertion").unwrap_or(""), get("scope")).map(|i| (i, None))
        }
        _ => Err((
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.".into(),
        )),
    };
    match result {
        Ok((issued, id_token)) => {
            let mut scope: Vec<&str> = vec!["openid", "offline_access", "offline"];
            scope.extend(issued.scopes.iter().map(Scope::as_str));
            let mut body = serde_json::json!({
                "access_token": issued.access_token,
                "expires_in": issued.expires_in,
                "scope": scope.join(" "),
                "token_type": "bearer",
            });
            if let Some(rt) = issued.refresh_token {
                body["refresh_token"] = rt.into();
            }
            if let Some(id_token) = id_token {
                body["id_token"] = id_token.into();
            }
            let mut response = axum::Json(body).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
            response
        }
        Err((error, description)) => {
            let status = if error == "token_inactive" { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
            oauth_error(status, error, &description)
        }
    }
}

/// `POST /oauth2/revoke` (RFC 7009): always 200 for an authenticated client.
pub async fn revoke(State(sb): State<SandboxState>, headers: HeaderMap, body: Bytes) -> Response {
    let form: std::collections::HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if let Err(description) = authenticate(&sb, &headers, &form) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description);
    }
    if let Some(token) = form.get("token") {
        sb.store.revoke(token);
    }
    StatusCode::OK.into_response()
}
