//! The sandbox must behave as Fanvue's provider and API do, so that code passing against it
//! works against Fanvue. These tests drive its router in process, as an OAuth client would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use fanvue_app_starter::scopes::ScopeSet;
use fanvue_sandbox::{AppSettings, RegisteredClient, SandboxState, Settings, crypto, router};
use http_body_util::BodyExt;
use serde_json::Value;
use sha2::Digest;
use tower::ServiceExt;

const REDIRECT: &str = "https://localhost:3001/api/oauth/callback";

struct Sandbox {
    app: Router,
    basic: String,
}

fn sandbox(ttl: &str) -> Sandbox {
    let client = RegisteredClient {
        id: fanvue_sandbox::CLIENT_ID.to_owned(),
        secret: "sandbox-test-client-secret".to_owned(),
        redirect_uris: vec![REDIRECT.to_owned()],
    };
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", client.id, client.secret));
    let mut settings = Settings::for_app(client, AppSettings::new("https://localhost:3001", ScopeSet::all()));
    settings.access_token_ttl = std::time::Duration::from_secs(ttl.parse().unwrap());
    Sandbox { app: router(SandboxState::new(&settings, "https://127.0.0.1:3002", "sandbox-test-signing")), basic }
}

struct Reply {
    status: StatusCode,
    location: Option<String>,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
    fn query(&self) -> HashMap<String, String> {
        url::Url::parse(self.location.as_deref().unwrap()).unwrap().query_pairs().into_owned().collect()
    }
}

impl Sandbox {
    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let location = headers.get(header::LOCATION).map(|v| v.to_str().unwrap().to_owned());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply { status, location, headers, body: String::from_utf8_lossy(&body).into_owned() }
    }

    async fn authorize(&self, query: &str) -> Reply {
        self.send(Request::get(format!("/oauth2/auth?{query}")).body(Body::empty()).unwrap()).await
    }

    async fn form(&self, path: &str, body: &str, auth: Option<&str>) -> Reply {
        let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(auth) = auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        self.send(request.body(Body::from(body.to_owned())).unwrap()).await
    }

    async fn token(&self, body: &str) -> Reply {
        self.form("/oauth2/token", body, Some(&format!("Basic {}", self.basic))).await
    }

    /// Authorize + Allow; returns the code.
    async fn code_for(&self, scope: &str, challenge: &str) -> String {
        let q = authorize_query(scope, challenge);
        let page = self.authorize(&q).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let start = page.body.find("name=\"challenge\" value=\"").unwrap() + 24;
        let consent = &page.body[start..start + page.body[start..].find('"').unwrap()];
        let reply = self.form("/oauth2/consent", &format!("challenge={consent}&decision=allow"), None).await;
        reply.query()["code"].clone()
    }

    /// A full grant; returns the token response.
    async fn grant(&self, scope: &str) -> Value {
        let (verifier, challenge) = pkce();
        let code = self.code_for(scope, &challenge).await;
        let reply = self.token(&exchange_body(&code, &verifier)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json()
    }

    async fn api(&self, path: &str, token: &str, version: Option<&str>) -> Reply {
        let mut request = Request::get(format!("/api{path}")).header(header::AUTHORIZATION, format!("Bearer {token}"));
        if let Some(version) = version {
            request = request.header("x-fanvue-api-version", version);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }
}

fn pkce() -> (String, String) {
    let verifier = crypto::random_token(32);
    let challenge = crypto::b64(&sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn authorize_query(scope: &str, challenge: &str) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", "fanvue-app-starter-sandbox")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scope)
        .append_pair("state", "state-0123456789")
        .append_pair("nonce", "nonce-0123456789")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    q.finish()
}

fn exchange_body(code: &str, verifier: &str) -> String {
    format!("grant_type=authorization_code&code={code}&code_verifier={verifier}&redirect_uri={}", urlenc(REDIRECT))
}

fn urlenc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn refresh_body(rt: &str) -> String {
    format!("grant_type=refresh_token&refresh_token={rt}")
}

const SCOPE: &str = "openid offline_access offline read:self";

#[tokio::test]
async fn authorize_refuses_bad_requests_like_hydra() {
    let sb = sandbox("3600");
    let (_, challenge) = pkce();
    let good = authorize_query(SCOPE, &challenge);
    assert_eq!(sb.authorize(&good).await.status, StatusCode::OK);

    // Unknown client or a redirect URI that is not registered exactly: an error page, no redirect.
    for bad in [
        good.replace("fanvue-app-starter-sandbox", "someone-else"),
        good.replace("api%2Foauth%2Fcallback", "api%2Foauth%2Fcallback%2F"),
        good.replace("localhost%3A3001", "evil.example"),
    ] {
        let reply = sb.authorize(&bad).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(reply.location.is_none());
    }
    // Everything else goes back to the app with an OAuth error.
    for (query, error) in [
        (good.replace("code_challenge_method=S256", "code_challenge_method=plain"), "invalid_request"),
        (good.replace(&format!("code_challenge={challenge}"), ""), "invalid_request"),
        (good.replace("state=state-0123456789", "state=short"), "invalid_state"),
        (authorize_query("openid read:self read:wallet", &challenge), "invalid_scope"),
        (good.replace("response_type=code", "response_type=token"), "unsupported_response_type"),
    ] {
        let reply = sb.authorize(&query).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{query}");
        assert_eq!(reply.query()["error"], error, "{query}");
    }
}

#[tokio::test]
async fn codes_are_one_time_and_bound_to_pkce_and_the_redirect_uri() {
    let sb = sandbox("3600");
    let (verifier, challenge) = pkce();
    let code = sb.code_for(SCOPE, &challenge).await;
    let (wrong_verifier, _) = pkce();
    let reply = sb.token(&exchange_body(&code, &wrong_verifier)).await;
    assert_eq!(reply.json()["error"], "invalid_grant", "a wrong verifier burns the code");
    let reply = sb.token(&exchange_body(&code, &verifier)).await;
    assert_eq!(reply.json()["error"], "invalid_grant");

    let code = sb.code_for(SCOPE, &challenge).await;
    let wrong_redirect = exchange_body(&code, &verifier).replace("callback", "other");
    assert_eq!(sb.token(&wrong_redirect).await.json()["error"], "invalid_grant");

    let code = sb.code_for(SCOPE, &challenge).await;
    let first = sb.token(&exchange_body(&code, &verifier)).await.json();
    let at = first["access_token"].as_str().unwrap();
    assert_eq!(sb.api("/users/me", at, Some("2025-06-26")).await.status, StatusCode::OK);
    let replay = sb.token(&exchange_body(&code, &verifier)).await;
    assert_eq!(replay.json()["error"], "invalid_grant");
    assert_eq!(
        sb.api("/users/me", at, Some("2025-06-26")).await.status,
        StatusCode::UNAUTHORIZED,
        "a replayed code revokes what it issued"
    );
}

#[tokio::test]
async fn only_client_secret_basic_with_the_right_secret_is_accepted() {
    let sb = sandbox("3600");
    let body = "grant_type=refresh_token&refresh_token=x";
    let reply = sb.form("/oauth2/token", body, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["error"], "invalid_client");
    let wrong = base64::engine::general_purpose::STANDARD.encode("fanvue-app-starter-sandbox:wrong");
    let reply = sb.form("/oauth2/token", body, Some(&format!("Basic {wrong}"))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = sb.token(&format!("{body}&client_secret=anything")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "client_secret_post is refused");
    let reply = sb.token(&format!("{body}&client_id=someone-else")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "a body client_id must match Basic");
    let reply = sb.token("grant_type=password&username=a&password=b").await;
    assert_eq!(reply.json()["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_grant() {
    let sb = sandbox("3600");
    let first = sb.grant(SCOPE).await;
    assert_eq!(first["token_type"], "bearer");
    assert!(first["id_token"].as_str().unwrap().split('.').count() == 3);
    let rt1 = first["refresh_token"].as_str().unwrap();
    let second = sb.token(&refresh_body(rt1)).await.json();
    let (rt2, at2) = (second["refresh_token"].as_str().unwrap(), second["access_token"].as_str().unwrap());
    assert_ne!(rt1, rt2, "rotated");
    assert_eq!(sb.api("/users/me", at2, Some("2025-06-26")).await.status, StatusCode::OK);
    let at1 = first["access_token"].as_str().unwrap();
    assert_eq!(
        sb.api("/users/me", at1, Some("2025-06-26")).await.status,
        StatusCode::UNAUTHORIZED,
        "refresh retires the old access token"
    );

    // The stale refresh token comes back: reuse detection kills the grant.
    let reuse = sb.token(&refresh_body(rt1)).await;
    assert_eq!(reuse.status, StatusCode::BAD_REQUEST);
    assert_eq!(reuse.json()["error"], "invalid_grant");
    let newest = sb.token(&refresh_body(rt2)).await;
    assert_eq!(newest.status, StatusCode::UNAUTHORIZED, "the newest one is dead too");
    assert_eq!(newest.json()["error"], "token_inactive");
    assert_eq!(sb.api("/users/me", at2, Some("2025-06-26")).await.status, StatusCode::UNAUTHORIZED);

    let wider = sb.grant(SCOPE).await;
    let rt = wider["refresh_token"].as_str().unwrap();
    let reply = sb.token(&format!("{}&scope=read%3Achat", refresh_body(rt))).await;
    assert_eq!(reply.json()["error"], "invalid_scope", "no widening on refresh");
}

#[tokio::test]
async fn revocation_kills_the_grant() {
    let sb = sandbox("3600");
    let grant = sb.grant(SCOPE).await;
    let rt = grant["refresh_token"].as_str().unwrap();
    let reply = sb
        .form(
            "/oauth2/revoke",
            &format!("token={rt}&token_type_hint=refresh_token"),
            Some(&format!("Basic {}", sb.basic)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(sb.token(&refresh_body(rt)).await.json()["error"], "token_inactive");
    let at = grant["access_token"].as_str().unwrap();
    assert_eq!(sb.api("/users/me", at, Some("2025-06-26")).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_api_checks_version_token_expiry_and_scopes() {
    // Expiry has whole-second resolution: 2 s leaves at least 1 s for the checks below.
    let sb = sandbox("2");
    let grant = sb.grant("openid offline read:chat").await;
    let at = grant["access_token"].as_str().unwrap();
    let reply = sb.api("/users/me", at, None).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "the version header is required");
    assert_eq!(reply.json()["error"], "Unsupported API version");
    assert_eq!(sb.api("/users/me", at, Some("2024-01-01")).await.status, StatusCode::GONE);
    let reply = sb.api("/users/me", at, Some("2025-06-26")).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "read:self was not granted");
    assert!(reply.json()["error"].as_str().unwrap().contains("read:self"));
    assert_eq!(sb.api("/users/me", "sbx_at.forged.token", Some("2025-06-26")).await.status, StatusCode::UNAUTHORIZED);
    let reply = sb.api("/chats", at, Some("2025-06-26")).await;
    assert!(reply.headers.contains_key("x-ratelimit-remaining"));
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(sb.api("/chats", at, Some("2025-06-26")).await.status, StatusCode::UNAUTHORIZED, "expired");
}

#[tokio::test]
async fn the_api_enforces_fanvues_budget_of_200_requests_a_minute() {
    let sb = sandbox("3600");
    let at = sb.grant(SCOPE).await["access_token"].as_str().unwrap().to_owned();
    for i in 0..200 {
        let reply = sb.api("/users/me", &at, Some("2025-06-26")).await;
        assert_eq!(reply.status, StatusCode::OK, "request {i}");
    }
    let reply = sb.api("/users/me", &at, Some("2025-06-26")).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(reply.headers.contains_key(header::RETRY_AFTER));
}

#[tokio::test]
async fn form_post_answers_with_an_auto_submitting_form() {
    let sb = sandbox("3600");
    let (_, challenge) = pkce();
    let page = sb.authorize(&format!("{}&response_mode=form_post", authorize_query(SCOPE, &challenge))).await;
    let start = page.body.find("name=\"challenge\" value=\"").unwrap() + 24;
    let consent = &page.body[start..start + page.body[start..].find('"').unwrap()];
    let reply = sb.form("/oauth2/consent", &format!("challenge={consent}&decision=allow"), None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.contains(&format!(r#"<form method="post" action="{REDIRECT}""#)));
    assert!(reply.body.contains(r#"name="code""#) && reply.body.contains(r#"name="state" value="state-0123456789""#));
    let again = sb.form("/oauth2/consent", &format!("challenge={consent}&decision=allow"), None).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "a consent is answered once");
}

impl Sandbox {
    async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header("x-fanvue-api-version", "2025-06-26")
            .header(header::CONTENT_TYPE, "application/json");
        self.send(request.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string()))).unwrap()).await
    }
}

/// Every id the seed gives out, in every world.
fn seeded_ids(world: &fanvue_sandbox::seed::World) -> Vec<String> {
    let mut ids: Vec<String> = world.fans.iter().map(|f| f.uuid.clone()).collect();
    ids.extend(world.chats.iter().flat_map(|c| c.messages.iter().map(|m| m.uuid.clone())));
    ids.extend(world.posts.iter().map(|p| p.uuid.clone()));
    ids.extend(world.links.iter().map(|l| l.uuid.clone()));
    ids.extend(world.media.iter().map(|m| m.uuid.clone()));
    ids.extend(world.templates.iter().map(|t| t.uuid.clone()));
    ids.extend(world.lists.iter().map(|l| l.uuid.clone()));
    ids.extend(world.team.iter().map(|t| t.uuid.clone()));
    for creator in &world.creators {
        ids.push(creator.uuid.clone());
        ids.extend(seeded_ids(&creator.world));
    }
    ids
}

#[tokio::test]
async fn ids_made_through_the_api_never_equal_seeded_ones() {
    let sb = sandbox("3600");
    let scope = "openid read:media write:media write:post read:tracking_links write:tracking_links";
    let at = sb.grant(scope).await["access_token"].as_str().unwrap().to_owned();

    let started = sb
        .call(
            "POST",
            "/api/media/uploads",
            &at,
            Some(serde_json::json!({"name": "New", "filename": "new.jpg", "mediaType": "image"})),
        )
        .await
        .json();
    let upload = started["uploadId"].as_str().unwrap();
    let url = sb.call("GET", &format!("/api/media/uploads/{upload}/parts/1/url"), &at, None).await.body;
    let url = url::Url::parse(&url).unwrap();
    let put = sb
        .send(Request::put(format!("{}?{}", url.path(), url.query().unwrap())).body(Body::from("bytes")).unwrap())
        .await;
    let etag = put.headers[header::ETAG].to_str().unwrap();
    let parts = serde_json::json!({"parts": [{"PartNumber": 1, "ETag": etag}]});
    assert_eq!(
        sb.call("PATCH", &format!("/api/media/uploads/{upload}"), &at, Some(parts)).await.status,
        StatusCode::OK
    );
    let media = started["mediaUuid"].as_str().unwrap();
    let listed = sb.call("GET", "/api/media", &at, None).await.json();
    assert_eq!(listed["data"][0]["uuid"], media, "the upload is in the library");

    let post =
        sb.call("POST", "/api/posts", &at, Some(serde_json::json!({"audience": "subscribers", "text": "New"}))).await;
    assert_eq!(post.status, StatusCode::CREATED);
    let link = serde_json::json!({"name": "New", "externalSocialPlatform": "other"});
    let link = sb.call("POST", "/api/tracking-links", &at, Some(link)).await;
    assert_eq!(link.status, StatusCode::CREATED);

    let seeded = seeded_ids(&fanvue_sandbox::seed::World::seed(time::OffsetDateTime::now_utc(), "x"));
    assert!(seeded.len() > 1000, "every world's ids: {}", seeded.len());
    for created in [
        media.to_owned(),
        post.json()["uuid"].as_str().unwrap().to_owned(),
        link.json()["uuid"].as_str().unwrap().to_owned(),
    ] {
        assert!(!seeded.contains(&created), "{created} is a seeded id");
    }
    let mut unique = seeded.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seeded.len(), "seeded ids are unique across worlds");
}

fn fan(i: u32) -> String {
    fanvue_sandbox::seed::uuid(0xfa0, i)
}

#[tokio::test]
async fn lists_chats_and_messages_follow_fanvues_rules() {
    let sb = sandbox("3600");
    let scope = "openid read:chat write:chat read:fan read:insights read:creator";
    let at = sb.grant(scope).await["access_token"].as_str().unwrap().to_owned();
    let json = |v: Value| Some(v);

    // Custom lists: unique names (409), rename, members added or skipped, removal.
    let list = sb.call("POST", "/api/chats/lists/custom", &at, json(serde_json::json!({"name": "Gym"}))).await;
    assert_eq!(list.status, StatusCode::CREATED);
    let uuid = list.json()["uuid"].as_str().unwrap().to_owned();
    let again = sb.call("POST", "/api/chats/lists/custom", &at, json(serde_json::json!({"name": "gym"}))).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let path = format!("/api/chats/lists/custom/{uuid}");
    let taken = sb.call("PATCH", &path, &at, json(serde_json::json!({"name": "VIP"}))).await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "a seeded list's name");
    let renamed = sb.call("PATCH", &path, &at, json(serde_json::json!({"name": "Gym buddies"}))).await;
    assert_eq!(renamed.status, StatusCode::NO_CONTENT);
    let stranger = "7b1e0c7e-0000-4000-8000-000000000001";
    let members = serde_json::json!({"userUuids": [fan(1), fan(1), stranger]});
    let added = sb.call("POST", &format!("{path}/members"), &at, json(members)).await;
    assert_eq!(added.json(), serde_json::json!({"added": 1, "skipped": 2}));
    assert_eq!(sb.call("GET", &path, &at, None).await.json()["data"][0]["uuid"], fan(1));
    let member = format!("{path}/members/{}", fan(1));
    assert_eq!(sb.call("DELETE", &member, &at, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(sb.call("DELETE", &member, &at, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(sb.call("DELETE", &path, &at, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(sb.call("GET", &path, &at, None).await.status, StatusCode::NOT_FOUND);

    // Starting chats: not twice, not with someone who cannot be messaged.
    let start = |uuid: String| json(serde_json::json!({"userUuid": uuid}));
    let existing = sb.call("POST", "/api/chats", &at, start(fan(0))).await;
    assert_eq!(
        (existing.status, existing.json()["message"].as_str()),
        (StatusCode::BAD_REQUEST, Some("A chat with this user already exists"))
    );
    let closed = sb.call("POST", "/api/chats", &at, start(fan(46))).await;
    assert_eq!(closed.json()["message"], "This user cannot be messaged");
    assert_eq!(sb.call("POST", "/api/chats", &at, start(fan(1))).await.status, StatusCode::CREATED);
    let chats = sb.call("GET", "/api/chats?size=50", &at, None).await.json();
    let new = chats["data"].as_array().unwrap().iter().find(|c| c["user"]["uuid"] == fan(1)).unwrap();
    assert!(new["lastMessage"].is_null() && new["lastMessageAt"].is_null());

    // Unsending: only one's own, never a purchased one.
    let mut purchased = None;
    let mut theirs = None;
    for chat in chats["data"].as_array().unwrap() {
        let fan = chat["user"]["uuid"].as_str().unwrap();
        let messages = sb.call("GET", &format!("/api/chats/{fan}/messages?size=50"), &at, None).await.json();
        for m in messages["data"].as_array().unwrap() {
            let path = format!("/api/chats/{fan}/messages/{}", m["uuid"].as_str().unwrap());
            if !m["purchasedAt"].is_null() {
                purchased.get_or_insert(path);
            } else if m["sender"]["uuid"] == fan {
                theirs.get_or_insert(path);
            }
        }
    }
    let purchased = sb.call("DELETE", &purchased.expect("a seeded purchase"), &at, None).await;
    assert_eq!(purchased.json()["message"], "A purchased message cannot be deleted");
    assert_eq!(sb.call("DELETE", &theirs.unwrap(), &at, None).await.status, StatusCode::FORBIDDEN);
    let sent = sb
        .call("POST", &format!("/api/chats/{}/message", fan(3)), &at, json(serde_json::json!({"text": "oops"})))
        .await;
    let own = format!("/api/chats/{}/messages/{}", fan(3), sent.json()["messageUuid"].as_str().unwrap());
    assert_eq!(sb.call("DELETE", &own, &at, None).await.status, StatusCode::NO_CONTENT);

    // One fan's insights agree with the earnings behind the top spenders.
    let top = sb.call("GET", "/api/insights/top-spenders?size=1", &at, None).await.json();
    let spender = top["data"][0]["user"]["uuid"].as_str().unwrap();
    let insight = sb.call("GET", &format!("/api/insights/fans/{spender}"), &at, None).await.json();
    assert_eq!(insight["spending"]["total"]["gross"], top["data"][0]["gross"]);
    assert_eq!(top["data"][0]["user"]["isTopSpender"], true);
}

#[tokio::test]
async fn a_managed_creator_is_one_consistent_world_of_their_own() {
    let sb = sandbox("3600");
    let scope = "openid read:chat write:chat read:fan read:insights read:creator";
    let at = sb.grant(scope).await["access_token"].as_str().unwrap().to_owned();
    let creator =
        sb.call("GET", "/api/creators", &at, None).await.json()["data"][1]["uuid"].as_str().unwrap().to_owned();
    let base = format!("/api/creators/{creator}");
    let chats = sb.call("GET", &format!("{base}/chats?size=50"), &at, None).await.json();
    let mut fans: Vec<Value> = Vec::new();
    for audience in ["followers", "subscribers"] {
        let page = sb.call("GET", &format!("{base}/{audience}?size=50"), &at, None).await.json();
        fans.extend(page["data"].as_array().unwrap().iter().map(|f| f["uuid"].clone()));
    }
    let chatting: Vec<&Value> = chats["data"].as_array().unwrap().iter().map(|c| &c["user"]["uuid"]).collect();
    assert!(
        !chatting.is_empty() && chatting.iter().all(|u| fans.contains(u)),
        "the creator's chats are with their fans"
    );
    let spenders = sb.call("GET", &format!("{base}/insights/top-spenders?size=50"), &at, None).await.json();
    assert!(spenders["data"].as_array().unwrap().iter().all(|s| fans.contains(&s["user"]["uuid"])));

    let fan = chatting[0].as_str().unwrap();
    let text = serde_json::json!({"text": "From the team"});
    let sent = sb.call("POST", &format!("{base}/chats/{fan}/message"), &at, Some(text)).await;
    assert_eq!(sent.status, StatusCode::CREATED);
    let messages = sb.call("GET", &format!("{base}/chats/{fan}/messages?size=1"), &at, None).await.json();
    assert_eq!(messages["data"][0]["text"], "From the team");
    assert_eq!(messages["data"][0]["sender"]["uuid"], creator, "sent as the creator");
    assert_eq!(
        sb.call("GET", &format!("/api/chats/{fan}/messages"), &at, None).await.status,
        StatusCode::NOT_FOUND,
        "not the agency's own fan"
    );
    let unknown = "/api/creators/000c4ea7-0000-4ea7-8000-0000000000ff/followers";
    assert_eq!(sb.call("GET", unknown, &at, None).await.status, StatusCode::NOT_FOUND);
}

/// Fanvue's checkout pays as whoever is signed in to Fanvue. Signed in at the sandbox's
/// consent page as @bo.unsubscribed, the App Store checkout must offer Bo first, not Ava
/// (who is subscribed already, so paying as her left Bo at the paywall).
#[tokio::test]
async fn the_checkout_pays_as_the_account_signed_in_at_the_consent_page() {
    let sb = sandbox("3600");
    let (_, challenge) = pkce();
    let page = sb.authorize(&authorize_query(SCOPE, &challenge)).await;
    let start = page.body.find("name=\"challenge\" value=\"").unwrap() + 24;
    let consent = &page.body[start..start + page.body[start..].find('"').unwrap()];
    let reply =
        sb.form("/oauth2/consent", &format!("challenge={consent}&decision=allow&user=bo.unsubscribed"), None).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let cookies: Vec<String> = reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next().map(str::to_owned))
        .collect();
    assert!(!cookies.is_empty(), "the sandbox remembers who signed in");

    let checkout =
        format!("/app-store/{}?plan={}&action=checkout", fanvue_sandbox::APP_UUID, fanvue_sandbox::PLAN_UUID);
    let listing =
        sb.send(Request::get(&checkout).header(header::COOKIE, cookies.join("; ")).body(Body::empty()).unwrap()).await;
    assert!(listing.body.contains(r#"<option value="bo.unsubscribed" selected>"#), "{}", listing.body);
    assert!(!listing.body.contains(r#"<option value="ava.sandbox" selected>"#), "{}", listing.body);

    // Nobody signed in: the form still works, with no account chosen for the payer.
    let anonymous = sb.send(Request::get(&checkout).body(Body::empty()).unwrap()).await;
    assert!(!anonymous.body.contains(" selected>"), "{}", anonymous.body);
}
