//! In-process handler tests: the whole `Router` driven with `tower::ServiceExt::oneshot`,
//! against a sandbox served on a real loopback TLS port in the same process.

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use fanvue_app_starter::app::state::AppState;
use fanvue_app_starter::config::Config;
use fanvue_app_starter::{build_app, install_crypto_provider};
use http_body_util::BodyExt;
use tower::ServiceExt;

struct Harness {
    app: Router,
    sandbox: Option<fanvue_sandbox::Running>,
    sandbox_port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The app configured against a sandbox on a free port; `with_sandbox: false` leaves that
/// port closed (Fanvue unreachable).
async fn harness(with_sandbox: bool) -> Harness {
    harness_with(with_sandbox, None).await
}

/// [`harness`], with the API at `api_base` instead of the sandbox's (sign-in stays there).
async fn harness_with(with_sandbox: bool, api_base: Option<String>) -> Harness {
    install_crypto_provider();
    let sandbox_port = free_port();
    let issuer = format!("https://127.0.0.1:{sandbox_port}");
    let mut vars: HashMap<&str, String> = HashMap::from([
        ("OAUTH_CLIENT_ID", "in-process-client".to_owned()),
        ("OAUTH_CLIENT_SECRET", "in-process-secret".to_owned()),
        ("SESSION_SECRET", "in-process-session-secret-0123456789".to_owned()),
        ("SESSION_STORE", "memory".to_owned()),
        ("BASE_URL", "https://localhost:3001".to_owned()),
        ("OAUTH_SCOPES", "read:self read:chat".to_owned()),
        ("OAUTH_ISSUER_BASE_URL", issuer.clone()),
        ("API_BASE_URL", format!("{issuer}/api")),
        // Every page view asks Fanvue (the outage test must see Fanvue go away).
        ("PROFILE_CACHE_SECS", "0".to_owned()),
    ]);
    if let Some(api_base) = api_base {
        vars.insert("API_BASE_URL", api_base);
    }
    let mut config = Config::from_lookup(&|k| vars.get(k).cloned()).unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let material = fanvue_sandbox::TlsPem {
        cert_pem: generated.cert.pem().into_bytes(),
        key_pem: generated.signing_key.serialize_pem().into_bytes(),
    };
    config.api.extra_root_pem = Some(material.cert_pem.clone());
    let sandbox = if with_sandbox {
        let client = fanvue_sandbox::RegisteredClient {
            id: config.oauth.client_id.clone(),
            secret: "in-process-secret".to_owned(),
            redirect_uris: vec![config.oauth.redirect_uri.to_string()],
        };
        let app = fanvue_sandbox::AppSettings::new(&config.origin(), config.oauth.scopes);
        let mut settings = fanvue_sandbox::Settings::for_app(client, app);
        settings.port = sandbox_port;
        settings.tls = Some(material);
        Some(fanvue_sandbox::spawn(settings).await.unwrap())
    } else {
        None
    };
    let app = build_app(AppState::new(config).await.unwrap());
    Harness { app, sandbox, sandbox_port }
}

impl Harness {
    async fn send(&self, request: Request<Body>) -> (Response<Body>, String) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (Response::from_parts(parts, Body::empty()), String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn get(&self, uri: &str, cookie: Option<&str>) -> (Response<Body>, String) {
        let mut request = Request::get(uri);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// Starts a login; returns the session cookie and the authorize URL.
    async fn start_login(&self) -> (String, String) {
        let (response, _) = self.get("/api/oauth/login", None).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        (cookie_of(&response).unwrap(), location(&response))
    }

    /// Consents at the real sandbox over HTTPS; returns the callback path and query.
    async fn consent(&self, authorize: &str) -> String {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tls_danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        let page = client.get(authorize).send().await.unwrap().text().await.unwrap();
        let start = page.find("name=\"challenge\" value=\"").unwrap() + 24;
        let challenge = &page[start..start + page[start..].find('"').unwrap()];
        let r = client
            .post(format!("https://127.0.0.1:{}/oauth2/consent", self.sandbox_port))
            .form(&[("challenge", challenge), ("decision", "allow")])
            .send()
            .await
            .unwrap();
        let callback = r.headers()["location"].to_str().unwrap().to_owned();
        callback.trim_start_matches("https://localhost:3001").to_owned()
    }

    /// A complete login; returns the signed-in session cookie.
    async fn signed_in(&self) -> String {
        let (cookie, authorize) = self.start_login().await;
        let callback = self.consent(&authorize).await;
        let (response, _) = self.get(&callback, Some(&cookie)).await;
        assert_eq!(location(&response), "/");
        cookie_of(&response).unwrap()
    }
}

fn cookie_of(response: &Response<Body>) -> Option<String> {
    response.headers().get_all(header::SET_COOKIE).iter().find_map(|v| {
        let raw = v.to_str().ok()?;
        raw.starts_with("__Host-fanvue_oauth=").then(|| raw.split(';').next().unwrap().to_owned())
    })
}

fn location(response: &Response<Body>) -> String {
    response.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn signed_out_home_offers_a_login_that_breaks_out_of_frames() {
    let h = harness(false).await;
    let (response, body) = h.get("/", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(body.contains(r#"href="/api/oauth/login" target="_top""#));
    assert!(body.contains("read:self read:chat"), "shows what it will ask for");
    assert!(cookie_of(&response).is_none(), "no session for a visit");
}

#[tokio::test]
async fn login_stores_the_pending_login_server_side_and_redirects_to_the_issuer() {
    let h = harness(false).await;
    let (cookie, authorize) = h.start_login().await;
    assert!(authorize.starts_with(&format!("https://127.0.0.1:{}/oauth2/auth?", h.sandbox_port)));
    assert_eq!(cookie.len(), "__Host-fanvue_oauth=".len() + 22);
}

#[tokio::test]
async fn the_proxy_answers_json_and_the_site_answers_pages() {
    let h = harness(false).await;
    let (response, body) = h.get("/api/fanvue/users/me", None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(body.contains(r#""error":"not_signed_in""#), "{body}");
    let (response, body) = h.get("/nowhere", None).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(body.contains("There is no page here."));
    let (response, body) = h.get("/api/fanvue/users/..", None).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(body.contains("dot segment"), "{body}");
}

#[tokio::test]
async fn cross_site_posts_are_refused_before_the_handler() {
    let h = harness(false).await;
    let request =
        Request::post("/api/oauth/logout").header("origin", "https://evil.example").body(Body::empty()).unwrap();
    let (response, body) = h.send(request).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(body.contains("another site"));
    let request =
        Request::post("/api/oauth/logout").header("origin", "https://localhost:3001").body(Body::empty()).unwrap();
    let (response, _) = h.send(request).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "same origin passes");
}

#[tokio::test]
async fn an_unreachable_token_endpoint_gives_a_clear_page() {
    let h = harness(false).await;
    let (cookie, authorize) = h.start_login().await;
    let state = url::Url::parse(&authorize).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let (response, _) = h.get(&format!("/api/oauth/callback?code=abc&state={state}"), Some(&cookie)).await;
    assert_eq!(location(&response), "/?error=oauth_token_exchange_failed");
    let (response, body) = h.get(&location(&response), Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(body.contains("Fanvue did not accept the login"));
}

#[tokio::test]
async fn a_full_login_in_process_then_fanvue_going_down_keeps_the_session() {
    let h = harness(true).await;
    let cookie = h.signed_in().await;
    let (response, body) = h.get("/", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(body.contains("Ava Sandbox"));
    let (response, body) = h.get("/api/fanvue/chats", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK, "read:chat granted: the call went through: {body}");
    let (response, body) = h.get("/api/fanvue/followers", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(body.contains("read:fan"));

    // Fanvue goes away: a friendly error, and the session stays.
    h.sandbox.as_ref().unwrap().stop();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let (response, body) = h.get("/", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(body.contains("Fanvue is not answering right now"), "{body}");
    assert!(body.contains("Sign out"), "still signed in");
    let (_, body) = h.get("/", Some(&cookie)).await;
    assert!(body.contains("Sign out"), "the session survived the upstream failure");
}

/// Behind a TLS-terminating proxy (`TLS_TERMINATED_BY_PROXY=true`) the app speaks plain HTTP,
/// as here in process, yet the browser talks https to `BASE_URL`: the cookie keeps its
/// `__Host-` name and the attributes that prefix needs (`Secure`, `Path=/`, no `Domain`).
#[tokio::test]
async fn the_host_prefixed_cookie_is_set_without_tls_in_front_of_the_app() {
    let h = harness(false).await;
    let (response, _) = h.get("/api/oauth/login", None).await;
    let raw = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-fanvue_oauth="))
        .expect("the session cookie");
    let attributes: Vec<&str> = raw.split(';').map(str::trim).collect();
    assert!(attributes.contains(&"Secure") && attributes.contains(&"Path=/"), "{raw}");
    assert!(!raw.to_ascii_lowercase().contains("domain="), "{raw}");
}

/// A stand-in for Fanvue's API on plain loopback HTTP: `GET /users/me?ct=…` answers a JSON
/// body with `Content-Type: …` as given (a hostile or broken upstream).
async fn upstream_with_any_content_type() -> String {
    async fn me(axum::extract::RawQuery(query): axum::extract::RawQuery) -> axum::response::Response {
        let ct = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .find(|(k, _)| k == "ct")
            .map(|(_, v)| v.into_owned());
        let mut response =
            axum::response::IntoResponse::into_response(r#"{"uuid":"u","handle":"<img src=x onerror=alert(1)>"}"#);
        response.headers_mut().remove(header::CONTENT_TYPE);
        if let Some(ct) = ct {
            response.headers_mut().insert(header::CONTENT_TYPE, ct.parse().unwrap());
        }
        response
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new().route("/users/me", axum::routing::get(me));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://127.0.0.1:{port}")
}

/// The proxy never passes Fanvue's Content-Type through as it came: JSON answers get the
/// proxy's own `application/json` (or `application/problem+json`), anything else, including a
/// type that merely starts like JSON, is inert text; `nosniff` is on every answer.
#[tokio::test]
async fn the_proxy_sets_its_own_content_type_whatever_upstream_says() {
    let h = harness_with(true, Some(upstream_with_any_content_type().await)).await;
    let cookie = h.signed_in().await;
    for (upstream, expected) in [
        ("application/json, text/html", "text/plain; charset=utf-8"),
        ("text/html; charset=utf-8", "text/plain; charset=utf-8"),
        ("application/jsonp", "text/plain; charset=utf-8"),
        ("application/json;text/html", "application/json"),
        ("application/json; charset=utf-8", "application/json"),
        ("Application/JSON", "application/json"),
        ("application/problem+json", "application/problem+json"),
    ] {
        let query: String = url::form_urlencoded::Serializer::new(String::new()).append_pair("ct", upstream).finish();
        let (response, body) = h.get(&format!("/api/fanvue/users/me?{query}"), Some(&cookie)).await;
        assert_eq!(response.status(), StatusCode::OK, "{upstream}: {body}");
        assert!(body.contains("onerror"), "the stand-in's body, relayed: {body}");
        assert_eq!(response.headers()[header::CONTENT_TYPE], expected, "upstream said {upstream}");
        assert_eq!(response.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(response.headers().get_all(header::CONTENT_TYPE).iter().count(), 1);
    }
    let (response, _) = h.get("/api/fanvue/users/me", Some(&cookie)).await;
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/plain; charset=utf-8", "no type: text");
}
