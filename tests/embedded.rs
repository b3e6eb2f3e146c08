//! The embedded surface over HTTP: framing headers, the session-token exchange through the
//! sandbox's creator surface, the partitioned cookie and the bearer fallback, and the SDK's
//! error codes. (The same flow in a real browser, inside the sandbox's iframe, is in
//! `browser.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use reqwest::StatusCode;

const APP_UUID: &str = fanvue_app_starter::config::SANDBOX_APP_UUID;

/// The session token the sandbox's creator surface injects for `account` (approving the app
/// first unless `approve` is false, then framing it anyway).
async fn injected_token(app: &TestApp, account: &str, approve: bool, extra: &str) -> String {
    let fanvue = app.cookieless();
    if approve {
        let r = fanvue
            .post(app.sandbox_url(&format!("/app-store/{APP_UUID}/creator-surface/consent")))
            .form(&[("user", account)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    let force = if approve { "" } else { "&force=1" };
    let surface = fanvue
        .get(app.sandbox_url(&format!("/app-store/{APP_UUID}/creator-surface?as={account}{force}{extra}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = surface.find("/embedded?token=").expect("the surface frames the app") + 16;
    let token = &surface[start..start + surface[start..].find('"').unwrap()];
    assert!(surface.contains(&format!("src=\"{}/embedded?token=", app.origin())));
    token.to_owned()
}

async fn exchange(app: &TestApp, client: &reqwest::Client, token: &str) -> reqwest::Response {
    client
        .post(app.url("/api/embedded/session"))
        .header("origin", app.origin())
        .json(&serde_json::json!({ "sessionToken": token }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn only_the_embedded_surface_may_be_framed_and_only_by_fanvue() {
    let app = TestApp::spawn(&[("FANVUE_PLATFORM_URL", "https://www.fanvue.com, https://local.fanvue.com")]).await;
    let r = app.cookieless().get(app.url("/embedded")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        csp.contains(&format!(
            "frame-ancestors https://www.fanvue.com https://local.fanvue.com {};",
            app.sandbox_url("")
        )),
        "{csp}"
    );
    assert!(r.headers().get("x-frame-options").is_none(), "X-Frame-Options would veto frame-ancestors");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    for path in ["/", "/events", "/api/oauth/login"] {
        let r = app.cookieless().get(app.url(path)).send().await.unwrap();
        assert_eq!(r.headers()["x-frame-options"], "DENY", "{path}");
        assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"), "{path}");
    }
}

#[tokio::test]
async fn the_session_token_becomes_a_partitioned_session_usable_by_cookie_or_bearer() {
    let app = TestApp::spawn(&[]).await;
    let token = injected_token(&app, "ava.sandbox", true, "").await;
    let iframe = app.client();
    let r = exchange(&app, &iframe, &token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("fanvue_oauth_embedded="))
        .expect("an embedded session cookie");
    for attribute in ["HttpOnly", "SameSite=None", "Secure", "Partitioned", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    let body: serde_json::Value = r.json().await.unwrap();
    let session = body["session"].as_str().unwrap().to_owned();
    assert!(!cookie.contains(&token) && !body.to_string().contains(&token), "the token is not echoed");

    // With the cookie (the browser's jar).
    let view = iframe.get(app.url("/embedded/view")).send().await.unwrap().text().await.unwrap();
    assert!(view.contains("Hello, Ava Sandbox") && view.contains("a partitioned cookie"), "{view}");
    assert!(view.contains("data-active=\"true\""), "Ava's plan is active: {view}");
    // With the header only (a browser that blocks every cookie here).
    let no_cookies = app.cookieless();
    let r = no_cookies.get(app.url("/embedded/view")).bearer_auth(&session).send().await.unwrap();
    let view = r.text().await.unwrap();
    assert!(view.contains("Hello, Ava Sandbox") && view.contains("the Authorization header"), "{view}");
    // Neither: not signed in.
    let r = no_cookies.get(app.url("/embedded/view")).header("accept", "application/json").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // A forged bearer is no session.
    let r = no_cookies.get(app.url("/embedded/view")).bearer_auth("AAAAAAAAAAAAAAAAAAAAAA").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The embedded session is not a console session (its cookie is not the Lax one), and its
    // id, put in the console's cookie, signs nobody in: its tokens are in another vault.
    let (_, home) = home(&app, &iframe).await;
    assert!(home.contains("Login with Fanvue"));
    let r = no_cookies.get(app.url("/")).header("cookie", format!("fanvue_oauth={session}")).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("Login with Fanvue"), "an embedded id opens no console");
    let r = no_cookies
        .get(app.url("/api/fanvue/users/me"))
        .header("cookie", format!("fanvue_oauth={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Nor is a console session an embedded one.
    let console = signed_in_cookie(&app).await;
    let console_id = console.trim_start_matches("fanvue_oauth=");
    let r = no_cookies.get(app.url("/embedded/view")).bearer_auth(console_id).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "a console session id is no embedded session");

    // The token was single-use.
    let r = exchange(&app, &app.client(), &token).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "invalid_session_token");
}

#[tokio::test]
async fn expired_unapproved_and_malformed_tokens_get_the_sdks_errors() {
    let app = TestApp::spawn(&[]).await;
    let error_of = |r: reqwest::Response| async move {
        let status = r.status();
        (status, r.json::<serde_json::Value>().await.unwrap()["error"].as_str().unwrap_or_default().to_owned())
    };
    let stale = injected_token(&app, "ava.sandbox", true, "&stale=1").await;
    let r = exchange(&app, &app.client(), &stale).await;
    assert_eq!(error_of(r).await, (StatusCode::UNAUTHORIZED, "invalid_session_token".to_owned()));

    let unapproved = injected_token(&app, "bo.unsubscribed", false, "").await;
    let r = exchange(&app, &app.client(), &unapproved).await;
    assert_eq!(error_of(r).await, (StatusCode::FORBIDDEN, "consent_required".to_owned()));

    let before = app.stat("tokenRequests").await;
    let r = exchange(&app, &app.client(), "not-a-session-token").await;
    assert_eq!(error_of(r).await, (StatusCode::UNAUTHORIZED, "invalid_session_token".to_owned()));
    let r = exchange(&app, &app.client(), "").await;
    assert_eq!(error_of(r).await, (StatusCode::BAD_REQUEST, "no_session_token".to_owned()));
    assert_eq!(app.stat("tokenRequests").await, before, "malformed tokens never reach the provider");

    // A creator who revoked the app: the next token is refused with consent_required.
    let token = injected_token(&app, "ava.sandbox", true, "").await;
    app.cookieless().post(app.sandbox_url("/_sandbox/revoke-consent")).send().await.unwrap();
    let r = exchange(&app, &app.client(), &token).await;
    assert_eq!(error_of(r).await, (StatusCode::FORBIDDEN, "consent_required".to_owned()));

    // Another site cannot start a session in the user's browser.
    let r = app
        .client()
        .post(app.url("/api/embedded/session"))
        .header("origin", "https://evil.example")
        .json(&serde_json::json!({ "sessionToken": "a.b.c" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_unsubscribed_creator_sees_the_checkout_link_inside_fanvue() {
    let app = TestApp::spawn(&[]).await;
    let token = injected_token(&app, "bo.unsubscribed", true, "").await;
    let iframe = app.client();
    assert_eq!(exchange(&app, &iframe, &token).await.status(), StatusCode::OK);
    let view = iframe.get(app.url("/embedded/view")).send().await.unwrap().text().await.unwrap();
    assert!(view.contains("data-active=\"false\"") && view.contains("id=\"checkout\""), "{view}");
    assert!(view.contains("target=\"_top\""), "checkout leaves the iframe");
}
