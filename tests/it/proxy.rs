//! The scope-gated JSON proxy `/api/fanvue/{*path}`, end to end against the sandbox.

use crate::harness::*;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn signed_out_calls_get_401_json() {
    let app = TestApp::spawn(&[]).await;
    let r = app.client().get(app.url("/api/fanvue/users/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "not_signed_in");
    assert!(body["requestId"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(app.stat("apiCalls").await, 0);
}

#[tokio::test]
async fn a_granted_call_passes_fanvues_answer_and_rate_limit_headers_back() {
    let app = TestApp::spawn(&[]).await;
    let browser = app.client();
    login(&app, &browser).await;
    let r = browser.get(app.url("/api/fanvue/users/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-ratelimit-limit"], "200");
    assert!(r.headers().contains_key("x-ratelimit-remaining"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["handle"], "ava.sandbox");
    // Fanvue's own non-2xx answers come back as they are.
    let r = browser.get(app.url("/api/fanvue/chats?page=1&size=5")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let chats: Value = r.json().await.unwrap();
    assert_eq!(chats["data"].as_array().unwrap().len(), 5, "the query string reaches Fanvue");
    let r = browser.get(app.url("/api/fanvue/chats?size=500")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("size must be an integer between 1 and 50"), "Fanvue's validation answer");
    let r = browser.get(app.url("/api/fanvue/chats/templates?folderName=ppv")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let templates: Value = r.json().await.unwrap();
    assert!(templates["data"].as_array().unwrap().iter().all(|t| t["folderName"] == "PPV"), "{templates}");
}

#[tokio::test]
async fn a_missing_scope_is_refused_without_calling_fanvue() {
    let app = TestApp::spawn(&[("OAUTH_SCOPES", "read:self")]).await;
    let browser = app.client();
    login(&app, &browser).await;
    let before = app.stat("apiCalls").await;
    for (path, missing) in [
        ("/api/fanvue/chats", vec!["read:chat"]),
        ("/api/fanvue/insights/top-spenders", vec!["read:fan", "read:insights"]),
        ("/api/fanvue/creators/7b1e0c7e-0000-4000-8000-000000000001/followers", vec!["read:fan", "read:creator"]),
    ] {
        let r = browser.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "missing_scope");
        let got: Vec<&str> = body["missingScopes"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(got, missing, "{path}");
        assert!(body["message"].as_str().unwrap().contains("OAUTH_SCOPES"));
    }
    assert_eq!(app.stat("apiCalls").await, before, "Fanvue was not called");
    // The home page offers a reconnect for scopes that were asked for but not granted.
    assert!(home(&app, &browser).await.1.contains("Granted scopes"));
}

#[tokio::test]
async fn unknown_endpoints_and_methods_are_refused() {
    let app = TestApp::spawn(&[]).await;
    let browser = app.client();
    login(&app, &browser).await;
    let r = browser.get(app.url("/api/fanvue/oauth2/token")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "unknown_endpoint");
    let r = browser.delete(app.url("/api/fanvue/users/me")).header("origin", app.origin()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(app.stat("apiCalls").await, 0);
}

/// Paths that try to leave `API_BASE_URL` (for the sandbox, `https://127.0.0.1:PORT/api`,
/// whose parent also serves `/oauth2/token`) never reach the upstream.
#[tokio::test]
async fn paths_cannot_escape_the_api_base_url() {
    let app = TestApp::spawn(&[]).await;
    let cookie = signed_in_cookie(&app).await;
    let header = format!("Cookie: {cookie}\r\n");
    let before = app.stat("apiCalls").await;
    for path in [
        "/api/fanvue/../oauth2/token",
        "/api/fanvue/users/../../oauth2/token",
        "/api/fanvue/%2e%2e/oauth2/token",
        "/api/fanvue/%2E%2E%2Foauth2%2Ftoken",
        "/api/fanvue//127.0.0.1/users/me",
        "/api/fanvue/users%2fme",
        "/api/fanvue/users%5cme",
        "/api/fanvue/users/me%00",
        "/api/fanvue/https://evil.example/users/me",
        "/api/fanvue/users/me/",
    ] {
        let response = raw_get(&app, path, &header).await;
        let status = raw_status(&response);
        assert!((400..500).contains(&status), "{path} gave {status}:\n{response}");
    }
    let r = raw_get(&app, "/api/fanvue/users/me", &header).await;
    assert_eq!(raw_status(&r), 200, "the same session works for a good path");
    assert_eq!(app.stat("apiCalls").await, before + 1, "only the good path reached Fanvue");
}

#[tokio::test]
async fn unsafe_methods_are_csrf_checked_and_bodies_validated() {
    let app = TestApp::spawn(&[]).await;
    let browser = app.client();
    login(&app, &browser).await;
    let r = browser
        .post(app.url("/api/fanvue/chats"))
        .header("origin", "https://evil.example")
        .json(&serde_json::json!({"userUuid": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "cross_site_request");

    let r = browser
        .post(app.url("/api/fanvue/chats"))
        .header("origin", app.origin())
        .header("content-type", "text/plain")
        .body("userUuid=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = browser
        .post(app.url("/api/fanvue/chats"))
        .header("origin", app.origin())
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.stat("apiCalls").await, 0);

    let r = browser
        .post(app.url("/api/fanvue/chats"))
        .header("origin", app.origin())
        .json(&serde_json::json!({"userUuid": "7b1e0c7e-0000-4000-8000-000000000001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "same-origin JSON reaches Fanvue");
    assert_eq!(r.json::<Value>().await.unwrap()["message"], "This user cannot be messaged", "not a fan");
    assert_eq!(app.stat("apiCalls").await, 1);

    let big = vec![b'a'; 2 * 1024 * 1024];
    let r = browser
        .post(app.url("/api/fanvue/chats"))
        .header("origin", app.origin())
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

/// Fanvue's 429 (200 requests / 60 s per user) reaches the browser with `Retry-After`.
#[tokio::test]
async fn fanvues_rate_limit_is_passed_back_with_retry_after() {
    // The app's own per-IP limit off, to reach Fanvue's.
    let app = TestApp::spawn(&[("RATE_LIMIT_PER_MINUTE", "0"), ("FANVUE_BUDGET_PER_MINUTE", "0")]).await;
    let browser = app.client();
    login(&app, &browser).await;
    let mut last = None;
    for _ in 0..201 {
        let r = browser.get(app.url("/api/fanvue/users/me")).send().await.unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            last = Some(r);
            break;
        }
    }
    let r = last.expect("the 201st request is limited");
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    // The home page shows a friendly error and keeps the session.
    let (status, page) = home(&app, &browser).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("rate limit"), "{page}");
    assert!(page.contains("Sign out"), "still signed in");
}
