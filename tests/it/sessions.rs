//! Sessions end to end: refresh (single-flight, persisted, `invalid_grant`), restarts,
//! secret changes, and secrets at rest and in logs.

use std::time::Duration;

use crate::harness::*;
use reqwest::StatusCode;

/// Tokens live 33 s, so 3.5 s after login they are within the 30 s refresh window and a
/// refreshed token stays outside it for a few seconds.
const SHORT_TTL: (&str, &str) = ("SANDBOX_ACCESS_TOKEN_TTL_SECS", "33");

#[tokio::test]
async fn an_expiring_token_is_refreshed_once_and_the_rotation_is_persisted() {
    let app = TestApp::spawn(&[SHORT_TTL]).await;
    let browser = app.client();
    login(&app, &browser).await;
    assert_eq!(app.stat("refreshes").await, 0);
    tokio::time::sleep(Duration::from_millis(3500)).await;

    let (status, page) = home(&app, &browser).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Ava Sandbox"));
    assert_eq!(app.stat("refreshes").await, 1);
    // The next request uses the stored new tokens: no second refresh, no reuse.
    let (_, page) = home(&app, &browser).await;
    assert!(page.contains("Ava Sandbox"));
    assert_eq!(app.stat("refreshes").await, 1);
    assert_eq!(app.stat("reuseDetected").await, 0);
}

/// Fanvue revokes the whole grant when a refresh token is used twice, so concurrent
/// requests on one session must cause exactly one refresh.
#[tokio::test]
async fn concurrent_requests_cause_exactly_one_refresh() {
    let app = TestApp::spawn(&[SHORT_TTL]).await;
    let browser = app.client();
    login(&app, &browser).await;
    tokio::time::sleep(Duration::from_millis(3500)).await;

    let requests = (0..24).map(|i| {
        let browser = browser.clone();
        let url = if i % 2 == 0 { app.url("/api/fanvue/users/me") } else { app.url("/") };
        tokio::spawn(async move { browser.get(url).send().await.unwrap().status() })
    });
    for status in futures_util::future::join_all(requests).await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
    assert_eq!(app.stat("refreshes").await, 1);
    assert_eq!(app.stat("reuseDetected").await, 0);
    let (_, page) = home(&app, &browser).await;
    assert!(page.contains("Ava Sandbox"), "the session survived");
}

/// The creator revokes the app at Fanvue: the next call gets 401, the refresh gets
/// `invalid_grant`, and the user is signed out with a clear message.
#[tokio::test]
async fn a_revoked_grant_signs_the_user_out_with_a_message() {
    let app = TestApp::spawn(&[]).await;
    let browser = app.client();
    login(&app, &browser).await;
    let r = app.cookieless().post(app.sandbox_url("/_sandbox/revoke-consent")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    let (status, page) = home(&app, &browser).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Please sign in again"), "{page}");
    assert!(page.contains("Login with Fanvue"));
    let r = browser.get(app.url("/api/fanvue/users/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "not_signed_in");
}

#[tokio::test]
async fn a_restart_keeps_sessions_and_another_secret_signs_everyone_out() {
    let mut app = TestApp::spawn(&[]).await;
    let browser = app.client();
    login(&app, &browser).await;

    app.restart(&[]).await;
    let (_, page) = home(&app, &browser).await;
    assert!(page.contains("Ava Sandbox"), "signed in after a restart");

    app.restart(&[("SESSION_SECRET", "a-completely-different-secret-0123456789")]).await;
    let (status, page) = home(&app, &browser).await;
    assert_eq!(status, StatusCode::OK, "an unreadable session is not an error");
    assert!(page.contains("Login with Fanvue"), "{page}");
}

/// No token, code or session id in the cookie jar's view, the store's files, or the logs.
#[tokio::test]
async fn tokens_are_sealed_at_rest_and_never_logged() {
    let app = TestApp::spawn(&[SHORT_TTL, ("RUST_LOG", "debug")]).await;
    let browser = app.client();
    let r = browser.get(app.url("/api/oauth/login")).send().await.unwrap();
    let authorize = location(&r);
    let state = query_of(&authorize)["state"].clone();
    let page = browser.get(&authorize).send().await.unwrap().text().await.unwrap();
    let r = consent(&app, &browser, &challenge_of(&page), "allow").await;
    let callback = location(&r);
    let code = query_of(&callback)["code"].clone();
    let r = browser.get(&callback).send().await.unwrap();
    let (session_id, cookie) = session_cookie(r.headers()).unwrap();
    assert!(!cookie.contains("sbx_"), "the cookie holds only an id");
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let (_, page) = home(&app, &browser).await; // forces a refresh: two generations of tokens
    assert!(page.contains("Ava Sandbox"));
    assert_eq!(app.stat("refreshes").await, 1);
    browser.post(app.url("/api/oauth/logout")).header("origin", app.origin()).send().await.unwrap();

    // The sandbox's client secret, as the app derives it from SESSION_SECRET.
    let client_secret = fanvue_app_starter::infra::crypto::b64(
        &fanvue_app_starter::infra::crypto::Key::derive(SECRET.as_bytes(), "sandbox-client-secret-v1").mac(b"client"),
    );
    let secrets: Vec<&[u8]> = vec![
        b"sbx_at.",
        b"sbx_rt_",
        code.as_bytes(),
        state.as_bytes(),
        session_id.as_bytes(),
        SECRET.as_bytes(),
        client_secret.as_bytes(),
    ];
    for file in app.db_files() {
        for secret in &secrets {
            assert!(!file_contains(&file, secret), "{} contains {}", file.display(), String::from_utf8_lossy(secret));
        }
    }
    let logs = app.logs();
    assert!(logs.contains("access token refreshed"), "debug logs were captured");
    for secret in &secrets {
        assert!(
            !logs.contains(std::str::from_utf8(secret).unwrap()),
            "logs contain {}",
            String::from_utf8_lossy(secret)
        );
    }
}

#[tokio::test]
async fn the_memory_store_works_and_forgets_at_restart() {
    let mut app = TestApp::spawn(&[("SESSION_STORE", "memory")]).await;
    let browser = app.client();
    login(&app, &browser).await;
    assert!(home(&app, &browser).await.1.contains("Ava Sandbox"));
    assert!(!app.dir.path().join("data").exists(), "no file for the memory store");
    app.restart(&[]).await;
    assert!(home(&app, &browser).await.1.contains("Login with Fanvue"));
}

/// Writes to the session record (here: starting a reconnect while signed in) must never
/// put a rotated refresh token back: the next refresh would trip Fanvue's reuse detection.
#[tokio::test]
async fn session_writes_racing_a_refresh_never_resurrect_a_dead_refresh_token() {
    let app = TestApp::spawn(&[SHORT_TTL]).await;
    let browser = app.client();
    login(&app, &browser).await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let mixed = (0..12).map(|i| {
        let browser = browser.clone();
        let url = if i % 3 == 0 { app.url("/api/oauth/login") } else { app.url("/api/fanvue/users/me") };
        tokio::spawn(async move { browser.get(url).send().await.unwrap().status() })
    });
    for status in futures_util::future::join_all(mixed).await {
        let status = status.unwrap();
        assert!(status == StatusCode::OK || status == StatusCode::SEE_OTHER, "{status}");
    }
    assert_eq!(app.stat("refreshes").await, 1);
    // The next refresh presents whatever the session holds now: it must be the live token.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let r = browser.get(app.url("/api/fanvue/users/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.stat("refreshes").await, 2);
    assert_eq!(app.stat("reuseDetected").await, 0);
}

/// The session cookie is `__Host-` prefixed, so only this host can set it: a sibling
/// subdomain that plants `fanvue_oauth=<its own signed-in session>` (login fixation into the
/// attacker's account) is ignored, and a victim's own session wins over a planted one.
#[tokio::test]
async fn the_session_cookie_is_host_prefixed_and_an_unprefixed_planted_one_is_ignored() {
    let app = TestApp::spawn(&[]).await;
    let r = app.cookieless().get(app.url("/api/oauth/login")).send().await.unwrap();
    let set_cookie: Vec<String> =
        r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    let cookie = set_cookie.iter().find(|c| c.starts_with("__Host-fanvue_oauth=")).expect("__Host- cookie");
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(attributes.contains(&attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "a __Host- cookie has no Domain: {cookie}");
    assert!(set_cookie.iter().all(|c| !c.starts_with("fanvue_oauth=")), "{set_cookie:?}");

    // The attacker signs in as Bo and plants Bo's session id under the old, unprefixed name.
    let bo_cookie = signed_in_cookie_of(&app, "bo.unsubscribed").await;
    let bo_id = bo_cookie.trim_start_matches(&format!("{COOKIE}="));
    let victim = app.cookieless();
    let page = victim
        .get(app.url("/"))
        .header("cookie", format!("fanvue_oauth={bo_id}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Login with Fanvue") && !page.contains("Bo Sandbox"), "planted cookie ignored: {page}");
    // The same id under the real name is Bo's session (the prefix, not the id, made the difference).
    let page = victim.get(app.url("/")).header("cookie", bo_cookie.clone()).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Bo Sandbox"), "{page}");
    // A victim signed in as Ava keeps her own session beside a planted one.
    let ava = signed_in_cookie(&app).await;
    let page = victim
        .get(app.url("/"))
        .header("cookie", format!("fanvue_oauth={bo_id}; {ava}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Ava Sandbox") && !page.contains("Bo Sandbox"), "{page}");
}
