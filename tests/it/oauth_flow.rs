//! End to end over TLS against the real binary and its sandbox: login, callback, session,
//! logout, and the attacks on them.

use crate::harness::*;
use reqwest::StatusCode;

/// The whole happy path as a browser takes it, and what must hold along the way.
#[tokio::test]
async fn login_shows_the_profile_and_logout_revokes_and_ends_the_session() {
    let app = TestApp::spawn(&[]).await;
    let browser = app.client();

    let (status, page) = home(&app, &browser).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"id="login" href="/api/oauth/login" target="_top""#), "{page}");

    let login = login(&app, &browser).await;
    assert_eq!(login.landed_on, "/");
    let (status, page) = home(&app, &browser).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"<h1 id="display-name">Ava Sandbox</h1>"#), "{page}");
    assert!(page.contains("@ava.sandbox"));
    assert!(page.contains(r#"<dd id="followers">1280</dd>"#));
    assert!(page.contains("<code>read:insights</code>"));
    // Upstream text is escaped (the seeded bio contains markup).
    assert!(page.contains("&#60;b&#62;Everything&#60;/b&#62;") || page.contains("&lt;b&gt;Everything"), "{page}");
    assert!(page.contains(&format!("https://127.0.0.1:{}/_sandbox/avatar.svg", app.sandbox_port)));

    let logout = browser
        .post(app.url("/api/oauth/logout"))
        .header("origin", app.origin())
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&logout), "/");
    assert_eq!(app.stat("revocations").await, 1);
    let (_, page) = home(&app, &browser).await;
    assert!(page.contains("Login with Fanvue"), "signed out after logout");
}

#[tokio::test]
async fn login_redirect_carries_pkce_state_nonce_scopes_and_no_extra_cookies() {
    let app = TestApp::spawn(&[("OAUTH_SCOPES", "read:self read:chat")]).await;
    let browser = app.client();
    let r = browser.get(app.url("/api/oauth/login")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let cookies: Vec<_> = r.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cookies.len(), 1, "pending login lives server-side: one session cookie only");
    let (value, raw) = session_cookie(r.headers()).unwrap();
    for flag in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(raw.contains(flag), "{raw} lacks {flag}");
    }
    assert_eq!(value.len(), 22, "only a 128-bit random id");

    let url = location(&r);
    assert!(url.starts_with(&app.sandbox_url("/oauth2/auth?")));
    let q = query_of(&url);
    assert_eq!(q["scope"], "openid offline_access offline read:self read:chat");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert!(q["state"].len() >= 22);
    assert!(q["nonce"].len() >= 16);
    assert_eq!(q["redirect_uri"], app.url("/api/oauth/callback"));
    assert!(!url.contains("code_verifier"));
}

#[tokio::test]
async fn denying_consent_shows_the_providers_error_on_the_home_page() {
    let app = TestApp::spawn(&[]).await;
    let browser = app.client();
    let (_, challenge) = start_login(&app, &browser, "/api/oauth/login").await;
    let r = consent(&app, &browser, &challenge, "deny").await;
    let callback = location(&r);
    assert_eq!(query_of(&callback)["error"], "access_denied");
    let r = browser.get(&callback).send().await.unwrap();
    let home_url = location(&r);
    assert!(home_url.starts_with("/?error=access_denied"), "{home_url}");
    let page = browser.get(app.url(&home_url)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Access was not granted"));
    assert!(page.contains("Login with Fanvue"));
    assert_eq!(app.stat("tokenRequests").await, 0);
}

/// Anyone can send a browser to the callback with an `error_description` of their choosing
/// (phishing text on our origin). The page shows only our own message for the code, never
/// the description (it goes to the log, bounded), and an unknown code is not echoed either.
#[tokio::test]
async fn provider_error_text_never_reaches_the_page() {
    let app = TestApp::spawn(&[]).await;
    let browser = app.client();
    let planted = "Your account is locked. Call +1-555-0100 or visit evil.example to unlock it";
    let long = format!("{planted} {}", "x".repeat(1000));
    for (error, expected_title, shows_code) in [
        ("access_denied", "Access was not granted", true),
        ("temporarily_unavailable", "Fanvue is busy right now", true),
        ("invalid_request", "Fanvue refused the login request", true),
        ("server_error", "Fanvue had a problem", true),
        ("<script>x</script> Call +1-555-0100", "Login failed", false),
    ] {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("error", error).append_pair("error_description", &long);
        let r = browser.get(app.url(&format!("/api/oauth/callback?{}", query.finish()))).send().await.unwrap();
        let home = location(&r);
        assert!(!home.contains("locked") && !home.contains("555"), "{home}");
        let page = browser.get(app.url(&home)).send().await.unwrap().text().await.unwrap();
        assert!(page.contains(expected_title), "{error}: {page}");
        for leaked in ["locked", "555-0100", "evil.example", "script&gt;x", "<script>x"] {
            assert!(!page.contains(leaked), "{error}: `{leaked}` shown: {page}");
        }
        assert_eq!(page.contains(&format!("<code>{error}</code>")), shows_code, "{error}: {page}");
    }
    // The same text put straight into the home page's own URL is not shown either.
    let r = browser
        .get(app.url("/?error=Your%20account%20is%20locked&error_description=Call%20%2B1-555-0100"))
        .send()
        .await
        .unwrap();
    let page = r.text().await.unwrap();
    assert!(page.contains("Login failed") && !page.contains("locked") && !page.contains("555"), "{page}");
    // The operator can read what Fanvue said in the log, at most 200 characters of it.
    let logs = app.logs();
    assert!(logs.contains(&format!("{planted} xxx")), "the description is logged");
    assert!(!logs.contains(&"x".repeat(300)), "bounded in the log");
}

#[tokio::test]
async fn a_forged_state_gets_no_token_request_and_no_session() {
    let app = TestApp::spawn(&[]).await;
    let browser = app.client();
    let (_, challenge) = start_login(&app, &browser, "/api/oauth/login").await;
    let r = consent(&app, &browser, &challenge, "allow").await;
    let q = query_of(&location(&r));
    let forged = app.url(&format!("/api/oauth/callback?code={}&state=forged-state-value-000000", q["code"]));
    let r = browser.get(&forged).send().await.unwrap();
    assert_eq!(location(&r), "/?error=oauth_state_mismatch");
    assert_eq!(app.stat("tokenRequests").await, 0);
    let (_, page) = home(&app, &browser).await;
    assert!(page.contains("Login with Fanvue"));
}

#[tokio::test]
async fn replaying_a_callback_url_creates_nothing_and_calls_nothing() {
    let app = TestApp::spawn(&[]).await;
    let browser = app.client();
    let login = login(&app, &browser).await;
    assert_eq!(app.stat("tokenRequests").await, 1);

    // Same browser, replayed (back button or history).
    let r = browser.get(&login.callback_url).send().await.unwrap();
    assert_eq!(location(&r), "/?error=oauth_state_mismatch");
    // Another browser that obtained the URL (logs, referrer, shoulder).
    let thief = app.client();
    let r = thief.get(&login.callback_url).send().await.unwrap();
    assert_eq!(location(&r), "/?error=oauth_state_mismatch");
    assert!(session_cookie(r.headers()).is_none_or(|(v, _)| v.is_empty()), "no session for the replay");
    assert_eq!(app.stat("tokenRequests").await, 1, "no token request on replay");
    let (_, page) = home(&app, &thief).await;
    assert!(page.contains("Login with Fanvue"));
    let (_, page) = home(&app, &browser).await;
    assert!(page.contains("Ava Sandbox"), "the real session is unharmed");
}

#[tokio::test]
async fn the_session_id_is_renewed_at_login() {
    let app = TestApp::spawn(&[]).await;
    let browser = app.client();
    let r = browser.get(app.url("/api/oauth/login")).send().await.unwrap();
    let (before, _) = session_cookie(r.headers()).unwrap();
    let page = browser.get(location(&r)).send().await.unwrap().text().await.unwrap();
    let r = consent(&app, &browser, &challenge_of(&page), "allow").await;
    let r = browser.get(location(&r)).send().await.unwrap();
    let (after, _) = session_cookie(r.headers()).expect("a new session cookie at login");
    assert_ne!(before, after);

    // The pre-login id (e.g. planted by an attacker) is worth nothing now.
    let planted = app.cookieless();
    let page = planted
        .get(app.url("/"))
        .header("cookie", format!("{COOKIE}={before}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Login with Fanvue"));
}

#[tokio::test]
async fn return_to_accepts_same_origin_paths_only() {
    let app = TestApp::spawn(&[]).await;
    for (asked, expected) in [
        ("%2Fapi%2Ffanvue%2Fusers%2Fme", "/api/fanvue/users/me"),
        ("%2F%2Fevil.example%2Fphish", "/"),
        ("%2F%5Cevil.example", "/"),
        ("https%3Aevil.example", "/"),
        ("https%3A%2F%2Fevil.example%2F", "/"),
    ] {
        let browser = app.client();
        let login = login_via(&app, &browser, &format!("/api/oauth/login?return_to={asked}")).await;
        assert_eq!(login.landed_on, expected, "return_to={asked}");
    }
}

/// `form_post`: the sandbox's page POSTs cross-site, so a browser withholds the Lax cookie.
/// The app bounces the POST to a top-level GET, which does carry it.
#[tokio::test]
async fn form_post_callback_works_although_the_browser_withholds_the_cookie() {
    let app = TestApp::spawn(&[("OAUTH_RESPONSE_MODE", "form_post")]).await;
    let browser = app.client();
    let (authorize, challenge) = start_login(&app, &browser, "/api/oauth/login").await;
    assert_eq!(query_of(&authorize)["response_mode"], "form_post");
    let page = consent(&app, &browser, &challenge, "allow").await.text().await.unwrap();
    assert!(page.contains(&format!(r#"action="{}""#, app.url("/api/oauth/callback"))), "{page}");
    let field = |name: &str| {
        let start = page.find(&format!(r#"name="{name}" value=""#)).unwrap() + name.len() + 15;
        page[start..start + page[start..].find('"').unwrap()].to_owned()
    };
    let (code, state) = (field("code"), field("state"));

    // The cross-site POST arrives without cookies.
    let r = app
        .cookieless()
        .post(app.url("/api/oauth/callback"))
        .header("origin", "null")
        .form(&[("code", code.as_str()), ("state", state.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let bounce = location(&r);
    assert!(bounce.starts_with("/api/oauth/callback?code="), "{bounce}");
    // The browser follows with a top-level GET, which carries the Lax cookie.
    let r = browser.get(app.url(&bounce)).send().await.unwrap();
    assert_eq!(location(&r), "/");
    let (_, page) = home(&app, &browser).await;
    assert!(page.contains("Ava Sandbox"));
}

#[tokio::test]
async fn a_cross_site_logout_is_refused_and_changes_nothing() {
    let app = TestApp::spawn(&[]).await;
    let browser = app.client();
    login(&app, &browser).await;
    for (name, value) in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site"), ("origin", "null")] {
        let r = browser.post(app.url("/api/oauth/logout")).header(name, value).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(r.text().await.unwrap().contains("another site"));
    }
    let r = browser.post(app.url("/api/oauth/logout")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "no Origin and no Sec-Fetch-Site: no proof of origin");
    assert_eq!(app.stat("revocations").await, 0);
    let (_, page) = home(&app, &browser).await;
    assert!(page.contains("Ava Sandbox"), "still signed in");
}

/// A code that the provider refuses (already used) must end on a clear page, not a 500.
#[tokio::test]
async fn a_refused_token_exchange_gives_a_clear_page() {
    let app = TestApp::spawn(&[]).await;
    let first = app.client();
    let used = login(&app, &first).await;
    let used_code = query_of(&used.callback_url)["code"].clone();

    let second = app.client();
    let (authorize, _) = start_login(&app, &second, "/api/oauth/login").await;
    let state = query_of(&authorize)["state"].clone();
    let r = second.get(app.url(&format!("/api/oauth/callback?code={used_code}&state={state}"))).send().await.unwrap();
    assert_eq!(location(&r), "/?error=oauth_token_exchange_failed");
    let page = second.get(app.url(&location(&r))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Fanvue did not accept the login"));
    // Code replay at the provider revokes what the code issued (RFC 6749 §10.5).
    let r = first.get(app.url("/api/fanvue/users/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// A callback delivered twice at once (double click, a reloading form_post page) must not
/// exchange the code twice: Fanvue treats a second redemption as theft and revokes the grant.
#[tokio::test]
async fn a_callback_delivered_twice_at_once_exchanges_the_code_once() {
    let app = TestApp::spawn(&[]).await;
    let browser = app.client();
    let (_, challenge) = start_login(&app, &browser, "/api/oauth/login").await;
    let callback = location(&consent(&app, &browser, &challenge, "allow").await);
    let hits = (0..6).map(|_| {
        let (browser, url) = (browser.clone(), callback.clone());
        tokio::spawn(async move { location(&browser.get(url).send().await.unwrap()) })
    });
    let landed: Vec<String> = futures_util::future::join_all(hits).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(landed.iter().filter(|l| *l == "/").count(), 1, "{landed:?}");
    assert_eq!(app.stat("tokenRequests").await, 1);
    assert!(home(&app, &browser).await.1.contains("Ava Sandbox"));
}

#[tokio::test]
async fn request_ids_are_minted_by_the_server() {
    let app = TestApp::spawn(&[]).await;
    let r = app.client().get(app.url("/nowhere")).header("x-request-id", "attacker-chosen").send().await.unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(id, "attacker-chosen");
    assert!(!r.text().await.unwrap().contains("attacker-chosen"));
}
