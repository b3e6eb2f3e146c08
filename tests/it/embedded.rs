//! The embedded surface over HTTP: framing headers, the session-token exchange through the
//! sandbox's creator surface (authorize-on-behalf by default, jwt-bearer when chosen), the
//! partitioned cookie and the bearer fallback, refresh of an embedded session, and the SDK's
//! error codes. The sandbox's authorize half is also driven in process, as the app's server
//! drives it. (The same flow in a real browser, inside the sandbox's iframe, is in
//! `browser.rs`.)

use std::time::Duration;

use crate::harness::*;
use reqwest::StatusCode;

const APP_UUID: &str = fanvue_sandbox::APP_UUID;

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
        .find(|c| c.starts_with("__Host-fanvue_oauth_embedded="))
        .expect("an embedded session cookie, __Host- prefixed");
    for attribute in ["HttpOnly", "SameSite=None", "Secure", "Partitioned", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    // `__Host-` also needs no Domain (and Path=/ exactly): browsers drop the cookie otherwise.
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    assert!(cookie.split(';').any(|a| a.trim() == "Path=/"), "{cookie}");
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
    let r = no_cookies.get(app.url("/")).header("cookie", format!("{COOKIE}={session}")).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("Login with Fanvue"), "an embedded id opens no console");
    let r = no_cookies
        .get(app.url("/api/fanvue/users/me"))
        .header("cookie", format!("{COOKIE}={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Nor is a console session an embedded one.
    let console = signed_in_cookie(&app).await;
    let console_id = console.trim_start_matches(&format!("{COOKIE}="));
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

    let before = (app.stat("tokenRequests").await, app.stat("onBehalfRequests").await);
    let r = exchange(&app, &app.client(), "not-a-session-token").await;
    assert_eq!(error_of(r).await, (StatusCode::UNAUTHORIZED, "invalid_session_token".to_owned()));
    let r = exchange(&app, &app.client(), "").await;
    assert_eq!(error_of(r).await, (StatusCode::BAD_REQUEST, "no_session_token".to_owned()));
    let after = (app.stat("tokenRequests").await, app.stat("onBehalfRequests").await);
    assert_eq!(after, before, "malformed tokens never reach the provider");

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

/// The default exchange: the session token buys a code at the sandbox's authorize half, the
/// code buys tokens with a refresh token, and the embedded session refreshes like a console
/// session when its access token runs out.
#[tokio::test]
async fn the_default_exchange_is_authorize_on_behalf_and_its_session_refreshes() {
    // Tokens live 33 s: 3.5 s after sign-in they are inside the 30 s refresh window. No
    // caches, so that every view calls Fanvue with the session's token.
    let app = TestApp::spawn(&[
        ("SANDBOX_ACCESS_TOKEN_TTL_SECS", "33"),
        ("PROFILE_CACHE_SECS", "0"),
        ("ENTITLEMENT_CACHE_SECS", "0"),
    ])
    .await;
    let token = injected_token(&app, "ava.sandbox", true, "").await;
    let iframe = app.client();
    let r = exchange(&app, &iframe, &token).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.stat("onBehalfRequests").await, 1, "the token went to Fanvue's authorize half");
    assert_eq!(app.stat("codeExchanges").await, 1, "and the code was redeemed at the token endpoint");
    assert_eq!(app.stat("tokenRequests").await, 1, "no jwt-bearer grant");
    let view = iframe.get(app.url("/embedded/view")).send().await.unwrap().text().await.unwrap();
    assert!(view.contains("Hello, Ava Sandbox"), "{view}");
    assert_eq!(app.stat("refreshes").await, 0);

    tokio::time::sleep(Duration::from_millis(3500)).await;
    let r = iframe.get(app.url("/embedded/view")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Hello, Ava Sandbox"));
    assert_eq!(app.stat("refreshes").await, 1, "the embedded session had a refresh token and used it");
    let view = iframe.get(app.url("/embedded/view")).send().await.unwrap().text().await.unwrap();
    assert!(view.contains("Hello, Ava Sandbox"));
    assert_eq!((app.stat("refreshes").await, app.stat("reuseDetected").await), (1, 0), "the rotation was kept");

    // A replayed session token is refused by the authorize half; no code is issued for it.
    let r = exchange(&app, &app.client(), &token).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "invalid_session_token");
    assert_eq!((app.stat("onBehalfRequests").await, app.stat("codeExchanges").await), (2, 1));
    assert!(!app.logs().contains(&token), "the session token is never logged");
}

#[tokio::test]
async fn jwt_bearer_remains_available_when_chosen() {
    let app = TestApp::spawn(&[("EMBEDDED_EXCHANGE", "jwt-bearer")]).await;
    let token = injected_token(&app, "ava.sandbox", true, "").await;
    let iframe = app.client();
    assert_eq!(exchange(&app, &iframe, &token).await.status(), StatusCode::OK);
    let view = iframe.get(app.url("/embedded/view")).send().await.unwrap().text().await.unwrap();
    assert!(view.contains("Hello, Ava Sandbox"), "{view}");
    assert_eq!(app.stat("onBehalfRequests").await, 0, "the authorize half is not used");
    assert_eq!((app.stat("tokenRequests").await, app.stat("codeExchanges").await), (1, 0), "one jwt-bearer grant");

    let r = exchange(&app, &app.client(), &token).await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "invalid_session_token", "single use");
    let unapproved = injected_token(&app, "bo.unsubscribed", false, "").await;
    let r = exchange(&app, &app.client(), &unapproved).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "consent_required");
}

#[test]
fn an_unknown_embedded_exchange_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fanvue-app-starter"))
        .arg("--sandbox")
        .current_dir(dir.path())
        .env_clear()
        .envs([("SESSION_SECRET", SECRET), ("EMBEDDED_EXCHANGE", "authorize_on_behalf")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for needle in ["EMBEDDED_EXCHANGE", "`authorize_on_behalf`", "`authorize-on-behalf`", "`jwt-bearer`"] {
        assert!(stderr.contains(needle), "missing {needle} in:\n{stderr}");
    }
}

/// The sandbox's authorize half and token endpoint, driven in process as the app's server
/// drives them.
mod authorize_half {
    use axum::body::Body;
    use axum::http::{Request, header};
    use base64::Engine;
    use fanvue::scopes::ScopeSet;
    use fanvue_sandbox::{AppSettings, RegisteredClient, SandboxState, Settings, crypto, router};
    use http_body_util::BodyExt;
    use serde_json::{Value, json};
    use sha2::Digest;
    use tower::ServiceExt;

    use super::*;

    const REDIRECT: &str = "https://localhost:3001/api/oauth/callback";
    const SIGNING: &str = "sandbox-test-signing";
    const AVA: &str = fanvue_sandbox::api::USER_UUID;
    const SCOPE: &str = "openid offline_access offline read:self";

    struct Sandbox {
        sb: SandboxState,
        basic: String,
    }

    struct Reply {
        status: StatusCode,
        headers: axum::http::HeaderMap,
        json: Value,
    }

    fn sandbox() -> Sandbox {
        let client = RegisteredClient {
            id: fanvue_sandbox::CLIENT_ID.to_owned(),
            secret: "sandbox-test-client-secret".to_owned(),
            redirect_uris: vec![REDIRECT.to_owned()],
        };
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", client.id, client.secret));
        let settings = Settings::for_app(client, AppSettings::new("https://localhost:3001", ScopeSet::all()));
        Sandbox { sb: SandboxState::new(&settings, "https://127.0.0.1:3002", SIGNING), basic }
    }

    fn pkce() -> (String, String) {
        let verifier = crypto::random_token(32);
        (verifier.clone(), crypto::b64(&sha2::Sha256::digest(verifier.as_bytes())))
    }

    fn form(pairs: &[(&str, &str)]) -> String {
        url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
    }

    /// A session token signed with the sandbox's key, with these claims (to forge the ones
    /// the creator surface never mints).
    fn signed_token(claims: &Value) -> String {
        let key = crypto::derive(SIGNING.as_bytes(), "sandbox-session-token-v1");
        let header = crypto::b64(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = crypto::b64(claims.to_string().as_bytes());
        let mac = crypto::b64(&key.mac(format!("{header}.{payload}").as_bytes()));
        format!("{header}.{payload}.{mac}")
    }

    impl Sandbox {
        fn account(&self, handle: &str) -> &'static str {
            fanvue_sandbox::users::find(handle).unwrap().uuid
        }

        /// What the creator surface injects for `handle` (after approving the app if `approve`).
        fn session_token(&self, handle: &str, approve: bool) -> String {
            let user = self.account(handle);
            if approve {
                self.sb.store.consent(user, self.sb.app.scopes);
            }
            self.sb.store.mint_session_token(&self.sb.issuer, user, 60)
        }

        async fn post(&self, path: &str, body: String, auth: Option<String>) -> Reply {
            let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            if let Some(auth) = auth {
                request = request.header(header::AUTHORIZATION, auth);
            }
            let response = router(self.sb.clone()).oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
            let (status, headers) = (response.status(), response.headers().clone());
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            Reply { status, headers, json: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
        }

        /// The app's request to the authorize half, with `changes` applied (an empty value
        /// removes the parameter).
        async fn authorize(&self, token: &str, challenge: &str, changes: &[(&str, &str)]) -> Reply {
            let mut params: Vec<(&str, &str)> = vec![
                ("client_id", "fanvue-app-starter-sandbox"),
                ("session_token", token),
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("scope", SCOPE),
                ("state", "state-0123456789"),
                ("nonce", "nonce-0123456789"),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
            ];
            for (key, value) in changes {
                params.retain(|(k, _)| k != key);
                if !value.is_empty() {
                    params.push((key, value));
                }
            }
            self.post("/oauth2/authorize-on-behalf", form(&params), None).await
        }

        async fn token(&self, pairs: &[(&str, &str)]) -> Reply {
            self.post("/oauth2/token", form(pairs), Some(format!("Basic {}", self.basic))).await
        }

        async fn redeem(&self, code: &str, verifier: &str, redirect_uri: &str) -> Reply {
            self.token(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("code_verifier", verifier),
                ("redirect_uri", redirect_uri),
            ])
            .await
        }

        /// A fresh code for Ava and the verifier that redeems it.
        async fn code(&self) -> (String, String) {
            let (verifier, challenge) = pkce();
            let reply = self.authorize(&self.session_token("ava.sandbox", true), &challenge, &[]).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
            (reply.json["code"].as_str().unwrap().to_owned(), verifier)
        }

        async fn me(&self, access_token: &str) -> StatusCode {
            let request = Request::get("/api/users/me")
                .header(header::AUTHORIZATION, format!("Bearer {access_token}"))
                .header("x-fanvue-api-version", "2025-06-26")
                .body(Body::empty())
                .unwrap();
            router(self.sb.clone()).oneshot(request).await.unwrap().status()
        }
    }

    #[tokio::test]
    async fn a_code_is_bound_to_the_creator_pkce_and_the_redirect_uri_and_redeemed_once() {
        let sb = sandbox();
        let (verifier, challenge) = pkce();
        let reply = sb.authorize(&sb.session_token("ava.sandbox", true), &challenge, &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
        assert_eq!(reply.json["state"], "state-0123456789", "the state comes back");
        assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
        let code = reply.json["code"].as_str().unwrap();

        let tokens = sb.redeem(code, &verifier, REDIRECT).await;
        assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.json);
        let (at, rt) = (tokens.json["access_token"].as_str().unwrap(), tokens.json["refresh_token"].as_str().unwrap());
        let id_token = tokens.json["id_token"].as_str().unwrap();
        let claims: Value =
            serde_json::from_slice(&crypto::unb64(id_token.split('.').nth(1).unwrap()).unwrap()).unwrap();
        assert_eq!((claims["sub"].as_str(), claims["nonce"].as_str()), (Some(AVA), Some("nonce-0123456789")));
        assert_eq!(sb.me(at).await, StatusCode::OK);
        // Offline access: the refresh token rotates like any other.
        let refreshed = sb.token(&[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
        assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.json);
        let at = refreshed.json["access_token"].as_str().unwrap().to_owned();
        assert_eq!(sb.me(&at).await, StatusCode::OK);

        // One-time: a replay fails and revokes what the code issued.
        let replay = sb.redeem(code, &verifier, REDIRECT).await;
        assert_eq!(replay.json["error"], "invalid_grant");
        assert_eq!(sb.me(&at).await, StatusCode::UNAUTHORIZED, "a replayed code revokes its grant");

        // Only with the verifier whose challenge it carries (a wrong one burns the code).
        let (code, verifier) = sb.code().await;
        let (wrong, _) = pkce();
        assert_eq!(sb.redeem(&code, &wrong, REDIRECT).await.json["error"], "invalid_grant");
        assert_eq!(sb.redeem(&code, &verifier, REDIRECT).await.json["error"], "invalid_grant");
        // Only with the redirect URI it was issued for, exactly.
        let (code, verifier) = sb.code().await;
        let other = format!("{REDIRECT}/");
        assert_eq!(sb.redeem(&code, &verifier, &other).await.json["error"], "invalid_grant");
        // Only by the client, with its secret.
        let (code, verifier) = sb.code().await;
        let body = form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &verifier),
            ("redirect_uri", REDIRECT),
        ]);
        let anonymous = sb.post("/oauth2/token", body, None).await;
        assert_eq!(
            (anonymous.status, anonymous.json["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client"))
        );
    }

    #[tokio::test]
    async fn the_session_token_must_be_fresh_unused_genuine_for_this_app_and_approved() {
        let sb = sandbox();
        let (_, challenge) = pkce();
        let error_of = |reply: Reply| (reply.status, reply.json["error"].as_str().unwrap_or_default().to_owned());
        let refused = |error: &str| (StatusCode::BAD_REQUEST, error.to_owned());

        let token = sb.session_token("ava.sandbox", true);
        assert_eq!(sb.authorize(&token, &challenge, &[]).await.status, StatusCode::OK);
        assert_eq!(
            error_of(sb.authorize(&token, &challenge, &[]).await),
            refused("invalid_session_token"),
            "single use"
        );

        let expired = sb.sb.store.mint_session_token(&sb.sb.issuer, sb.account("ava.sandbox"), -5);
        assert_eq!(error_of(sb.authorize(&expired, &challenge, &[]).await), refused("invalid_session_token"));
        let mut forged = sb.session_token("ava.sandbox", true);
        // Another canonical last character (a 32-byte MAC's last base64url character carries 4 bits:
        // `A` and `E` both decode), so the signature is wrong whatever the token's own was.
        let last = forged.pop();
        forged.push(if last == Some('A') { 'E' } else { 'A' });
        assert_eq!(error_of(sb.authorize(&forged, &challenge, &[]).await), refused("invalid_session_token"));
        let claims = |aud: Value, client_id: &str, sub: &str| {
            let now = fanvue::oauth::tokens::now_unix();
            json!({"sub": sub, "aud": aud, "client_id": client_id, "exp": now + 60, "jti": crypto::random_token(12)})
        };
        let for_the_token_endpoint_only =
            signed_token(&claims(json!(format!("{}/oauth2/token", sb.sb.issuer)), "fanvue-app-starter-sandbox", AVA));
        let audience = json!([format!("{}/oauth2/authorize-on-behalf", sb.sb.issuer)]);
        let for_another_app = signed_token(&claims(audience.clone(), "another-app", AVA));
        let for_nobody =
            signed_token(&claims(audience, "fanvue-app-starter-sandbox", "00000000-0000-4000-8000-000000000000"));
        for token in [&for_the_token_endpoint_only, &for_another_app] {
            assert_eq!(error_of(sb.authorize(token, &challenge, &[]).await), refused("invalid_session_token"));
        }
        assert_eq!(error_of(sb.authorize(&for_nobody, &challenge, &[]).await), refused("login_required"));

        // The creator has not approved the app, or not every scope asked for.
        let unapproved = sb.session_token("bo.unsubscribed", false);
        let consent_required = (StatusCode::FORBIDDEN, "consent_required".to_owned());
        assert_eq!(error_of(sb.authorize(&unapproved, &challenge, &[]).await), consent_required);
        sb.sb.store.consent(sb.account("bo.unsubscribed"), ScopeSet::parse_granted("read:self"));
        let token = sb.session_token("bo.unsubscribed", false);
        let wider = sb.authorize(&token, &challenge, &[("scope", "openid offline read:self read:chat")]).await;
        assert_eq!(error_of(wider), consent_required);
    }

    #[tokio::test]
    async fn the_request_is_checked_before_the_token_is_spent() {
        let sb = sandbox();
        let (_, challenge) = pkce();
        let token = sb.session_token("ava.sandbox", true);
        let error_of = |reply: Reply| reply.json["error"].as_str().unwrap_or_default().to_owned();
        for (changes, error) in [
            (vec![("client_id", "someone-else")], "invalid_client"),
            (vec![("redirect_uri", "https://localhost:3001/api/oauth/callback/")], "invalid_request"),
            (vec![("code_challenge_method", "plain")], "invalid_request"),
            (vec![("code_challenge", "")], "invalid_request"),
            (vec![("state", "short")], "invalid_state"),
            (vec![("response_type", "token")], "unsupported_response_type"),
            (vec![("scope", "openid read:wallet")], "invalid_scope"),
            (vec![("session_token", "")], "invalid_request"),
            (vec![("client_secret", "anything")], "invalid_request"),
        ] {
            assert_eq!(error_of(sb.authorize(&token, &challenge, &changes).await), error, "{changes:?}");
        }
        // The client secret is never for Fanvue's half, even in Basic.
        let body = form(&[("client_id", "fanvue-app-starter-sandbox"), ("session_token", &token)]);
        let with_basic = sb.post("/oauth2/authorize-on-behalf", body, Some(format!("Basic {}", sb.basic))).await;
        assert_eq!(error_of(with_basic), "invalid_request");
        // None of those spent the token.
        assert_eq!(sb.authorize(&token, &challenge, &[]).await.status, StatusCode::OK);
        assert_eq!(sb.sb.store.stats().on_behalf_requests, 11);
    }

    #[tokio::test]
    async fn discovery_advertises_the_authorize_half() {
        let sb = sandbox();
        let request = Request::get("/.well-known/openid-configuration").body(Body::empty()).unwrap();
        let response = router(sb.sb.clone()).oneshot(request).await.unwrap();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let discovery: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            discovery["fanvue_authorize_on_behalf_endpoint"],
            "https://127.0.0.1:3002/oauth2/authorize-on-behalf"
        );
    }
}
