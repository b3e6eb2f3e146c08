//! A real browser (Debian's headless Chromium through chromedriver) signs in through the
//! sandbox. Unlike an HTTP client, Chromium enforces `SameSite=Lax` on the sandbox's
//! cross-site `form_post`, follows redirects across origins, and runs the page's CSP.
//!
//! Needs `chromium` and `chromium-driver` (`.ci/run` installs them). Set
//! `SKIP_BROWSER_TESTS=1` to skip these tests on a machine without them.

use std::process::Stdio;
use std::time::Duration;

use crate::harness::*;
use fantoccini::{Client, ClientBuilder, Locator};

struct Browser {
    client: Client,
    _driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

/// The browsers' time zone: UTC+5:45 all year (no daylight saving), so every local time
/// differs from UTC in its minutes.
const BROWSER_TIME_ZONE: &str = "Asia/Kathmandu";

/// `datetime` (RFC 3339) as the browser's zone shows it in a tooltip's "h:mm": e.g. `6:31`.
fn local_clock(datetime: &str) -> String {
    let at = time::OffsetDateTime::parse(datetime, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{datetime:?} is not RFC 3339: {e}"))
        .to_offset(time::UtcOffset::from_hms(5, 45, 0).unwrap());
    let hour = match at.hour() % 12 {
        0 => 12,
        h => h,
    };
    format!("{hour}:{:02}", at.minute())
}

async fn browser() -> Option<Browser> {
    browser_with(serde_json::json!({})).await
}

/// A browser whose profile has these preferences (e.g. cookie blocking).
async fn browser_with(prefs: serde_json::Value) -> Option<Browser> {
    if std::env::var_os("SKIP_BROWSER_TESTS").is_some() {
        eprintln!("SKIP_BROWSER_TESTS is set: skipping the browser test");
        return None;
    }
    let port = free_port();
    let driver = tokio::process::Command::new("chromedriver")
        .arg(format!("--port={port}"))
        // The browser lives in a zone 5:45 ahead of UTC (Chromium takes it from TZ), as most
        // creators do not live in UTC: a time shown in UTC instead of local time shows up.
        .env("TZ", BROWSER_TIME_ZONE)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver not found: install Debian's chromium and chromium-driver (see .ci/run), or set SKIP_BROWSER_TESTS=1");
    let profile = tempfile::tempdir().unwrap();
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
        &format!("--user-data-dir={}", profile.path().display()),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert("acceptInsecureCerts".into(), true.into());
    caps.insert("goog:chromeOptions".into(), serde_json::json!({ "args": args, "prefs": prefs }));
    let url = format!("http://127.0.0.1:{port}");
    let mut last = None;
    for _ in 0..100 {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => {
                return Some(Browser { client, _driver: driver, _profile: profile });
            }
            Err(err) => last = Some(err),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("could not start a browser session: {last:?}");
}

async fn text_of(client: &Client, css: &str) -> String {
    client
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
        .text()
        .await
        .unwrap()
}

async fn sign_in_and_out(response_mode: &str) {
    let Some(browser) = browser().await else { return };
    let app = TestApp::spawn(&[("OAUTH_RESPONSE_MODE", response_mode)]).await;
    let c = &browser.client;

    c.goto(&app.url("/")).await.unwrap();
    c.find(Locator::Id("login")).await.unwrap().click().await.unwrap();
    // The sandbox's consent page, on another site.
    let allow = c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Id("allow")).await.unwrap();
    assert!(c.current_url().await.unwrap().as_str().starts_with(&app.sandbox_url("/oauth2/auth")));
    assert!(text_of(c, "#requested-scopes").await.contains("read:self"));
    allow.click().await.unwrap();

    assert_eq!(text_of(c, "#display-name").await, "Ava Sandbox");
    assert_eq!(text_of(c, "#followers").await, "1280");
    assert_eq!(c.current_url().await.unwrap().as_str(), app.url("/"));
    assert_eq!(app.stat("codeExchanges").await, 1);
    if response_mode == "form_post" {
        // Chromium withheld the Lax cookie on the cross-site POST, so the app bounced it
        // to a GET (which carried the cookie) instead of failing the state check.
        let logs = app.logs();
        assert!(logs.contains("method=POST path=/api/oauth/callback"), "{logs}");
        assert!(logs.contains("method=GET path=/api/oauth/callback"), "{logs}");
    }

    c.find(Locator::Css("form[action='/api/oauth/logout'] button")).await.unwrap().click().await.unwrap();
    assert_eq!(text_of(c, "#login").await, "Login with Fanvue");
    assert_eq!(app.stat("revocations").await, 1);
    browser.client.close().await.unwrap();
}

#[tokio::test]
async fn chromium_signs_in_with_query_response_mode_and_signs_out() {
    sign_in_and_out("query").await;
}

/// With `form_post`, Chromium POSTs the code cross-site without the session cookie; the
/// app must still complete the login.
#[tokio::test]
async fn chromium_signs_in_with_form_post_response_mode_and_signs_out() {
    sign_in_and_out("form_post").await;
}

/// Signs in through the sandbox with every scope the console uses (query mode).
async fn signed_in_browser(env: &[(&str, &str)]) -> Option<(Browser, TestApp)> {
    let browser = browser().await?;
    let app = TestApp::spawn(env).await;
    let c = &browser.client;
    c.goto(&app.url("/")).await.unwrap();
    c.find(Locator::Id("login")).await.unwrap().click().await.unwrap();
    c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Id("allow")).await.unwrap().click().await.unwrap();
    assert_eq!(text_of(c, "#display-name").await, "Ava Sandbox");
    Some((browser, app))
}

async fn fill(c: &Client, css: &str, text: &str) {
    let field = c.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

#[tokio::test]
async fn chromium_sends_a_chat_message() {
    let Some((browser, app)) = signed_in_browser(&[]).await else { return };
    let c = &browser.client;
    c.goto(&app.url("/chats")).await.unwrap();
    c.find(Locator::Css("a.chat-name")).await.unwrap().click().await.unwrap();
    fill(c, "#send-message textarea[name=text]", "Hello from Chromium!").await;
    c.find(Locator::Css("#send-message button[type=submit]")).await.unwrap().click().await.unwrap();
    assert_eq!(text_of(c, "#notice").await, "Message sent.");
    // Oldest to newest, as a chat reads: the message just sent is the last one.
    assert_eq!(text_of(c, "#messages li:last-child .message-text").await, "Hello from Chromium!");
    browser.client.close().await.unwrap();
}

#[tokio::test]
async fn chromium_creates_a_post() {
    let Some((browser, app)) = signed_in_browser(&[]).await else { return };
    let c = &browser.client;
    c.goto(&app.url("/posts")).await.unwrap();
    fill(c, "#create-post textarea[name=text]", "A post written in Chromium").await;
    c.find(Locator::Css("#create-post button[type=submit]")).await.unwrap().click().await.unwrap();
    assert_eq!(text_of(c, "#notice").await, "Post created.");
    assert_eq!(text_of(c, "#posts li .post-text").await, "A post written in Chromium");
    browser.client.close().await.unwrap();
}

/// The progress bar moves while the file streams to Fanvue (slowed here by the sandbox's
/// latency so the page can be watched), then the library shows the new item.
#[tokio::test]
async fn chromium_uploads_a_file_with_progress() {
    let Some((browser, app)) = signed_in_browser(&[("SANDBOX_LATENCY_MS", "400")]).await else { return };
    let c = &browser.client;
    let file = app.dir.path().join("holiday.mp4");
    std::fs::write(&file, vec![7u8; 11 * 1024 * 1024]).unwrap();
    c.goto(&app.url("/media")).await.unwrap();
    fill(c, "#upload input[name=name]", "Holiday clip").await;
    c.find(Locator::Id("upload-file")).await.unwrap().send_keys(file.to_str().unwrap()).await.unwrap();
    c.find(Locator::Id("upload-button")).await.unwrap().click().await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..200 {
        let value = c
            .execute("var p = document.getElementById('upload-progress'); return p ? p.value : -1;", vec![])
            .await
            .unwrap();
        match value.as_f64() {
            Some(v) if v >= 0.0 => seen.push(v),
            _ => break, // navigated to the result page
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(seen.iter().any(|v| *v > 0.0), "the progress bar moved: {seen:?}");
    let notice = text_of(c, "#notice").await;
    assert!(notice.starts_with("Uploaded “Holiday clip”"), "{notice}");
    assert!(text_of(c, "#library").await.contains("Holiday clip"));
    browser.client.close().await.unwrap();
}

/// Screenshots of the main pages for the README: written to `docs/screenshots/` when
/// `UPDATE_SCREENSHOTS=1`, else to `target/screenshots/` (so every run exercises it).
#[tokio::test]
async fn chromium_screenshots_the_main_pages() {
    let Some((browser, app)) = signed_in_browser(&[]).await else { return };
    let c = &browser.client;
    let dir = if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
    } else {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots")
    };
    std::fs::create_dir_all(&dir).unwrap();
    for event in ["message-received", "new-subscriber", "app.payment.succeeded"] {
        let sandbox = app.cookieless().post(app.sandbox_url("/_sandbox/events"));
        sandbox.header("accept", "application/json").form(&[("event", event)]).send().await.unwrap();
    }
    let forged = app.cookieless().post(app.url("/api/webhooks/fanvue/tip-received"));
    forged.header("x-fanvue-signature", "t=1,v0=00").body("{}").send().await.unwrap();
    for (name, path, marker) in [
        ("home", "/".to_owned(), "#profile"),
        ("chats", "/chats".to_owned(), "#chats"),
        ("conversation", "/chats/00000fa0-0000-4fa0-8000-000000000000".to_owned(), "#messages"),
        ("fans", "/fans".to_owned(), "#fans"),
        ("insights", "/insights".to_owned(), "#earnings-chart"),
        ("media", "/media".to_owned(), "#library"),
        ("posts", "/posts".to_owned(), "#posts"),
        ("links", "/links".to_owned(), "#links"),
        ("agency", "/agency".to_owned(), "#creators"),
        ("events", "/events".to_owned(), "#event-rows tr[data-state='handled']"),
        ("premium", "/premium".to_owned(), "#premium-status"),
    ] {
        c.goto(&app.url(&path)).await.unwrap();
        c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css(marker)).await.unwrap();
        if name == "conversation" {
            // A conversation is read at its end: the newest messages and the composer.
            c.execute("window.scrollTo(0, document.body.scrollHeight); return 0", vec![]).await.unwrap();
        }
        let png = c.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{name}");
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
    // The app inside the sandbox's creator surface (Ava approved the app when she signed in).
    let app_uuid = fanvue_sandbox::APP_UUID;
    c.goto(&app.sandbox_url(&format!("/app-store/{app_uuid}/creator-surface"))).await.unwrap();
    let frame = c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Id("app-frame")).await.unwrap();
    frame.enter_frame().await.unwrap();
    text_of(c, "#embedded-view h1").await;
    c.enter_parent_frame().await.unwrap();
    std::fs::write(dir.join("embedded.png"), c.screenshot().await.unwrap()).unwrap();
    browser.client.close().await.unwrap();
}

/// The embedded flow as a creator meets it: Fanvue's surface (the sandbox's, on another
/// site) asks for consent in its shell, then frames the app with a session token; the app's
/// script trades it and shows the creator's view. Returns how the session was carried.
async fn embedded_flow(prefs: serde_json::Value) -> Option<(String, bool)> {
    let browser = browser_with(prefs).await?;
    let app = TestApp::spawn(&[]).await;
    let c = &browser.client;
    let app_uuid = fanvue_sandbox::APP_UUID;
    c.goto(&app.sandbox_url(&format!("/app-store/{app_uuid}/creator-surface?as=ava.sandbox"))).await.unwrap();
    c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Id("approve")).await.unwrap().click().await.unwrap();
    let frame = c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Id("app-frame")).await.unwrap();
    frame.enter_frame().await.unwrap();
    assert_eq!(text_of(c, "#embedded-view h1").await, "Hello, Ava Sandbox");
    let carrier = text_of(c, "#session-carrier").await;
    // Whether this profile lets the framed (third-party) page keep an unpartitioned cookie:
    // shows the cookie setting is really in force.
    let probe =
        "document.cookie = 'probe=1; SameSite=None; Secure; Path=/'; return document.cookie.includes('probe=1')";
    let unpartitioned = c.execute(probe, vec![]).await.unwrap().as_bool().unwrap();
    eprintln!("embedded session carried by: {carrier}; unpartitioned third-party cookies allowed: {unpartitioned}");
    // The token is gone from the frame's address once traded.
    let url: String = c.execute("return location.href", vec![]).await.unwrap().as_str().unwrap().to_owned();
    assert_eq!(url, app.url("/embedded"));
    c.enter_parent_frame().await.unwrap();
    assert_eq!(app.stat("onBehalfRequests").await, 1, "one code from Fanvue's authorize half");
    assert_eq!(app.stat("tokenRequests").await, 1, "redeemed once");
    browser.client.close().await.unwrap();
    Some((carrier, unpartitioned))
}

#[tokio::test]
async fn chromium_runs_the_embedded_app_inside_the_sandboxes_creator_surface() {
    // Chromium's default (headless, 2026) already refuses unpartitioned third-party cookies;
    // whatever it does, the partitioned one is what carries the session.
    if let Some((carrier, _)) = embedded_flow(serde_json::json!({})).await {
        assert_eq!(carrier, "a partitioned cookie");
    }
}

/// Third-party cookies blocked (Chrome's setting, Safari's default): the partitioned cookie
/// (CHIPS) is still allowed, or the header carries the session; either way the app works.
#[tokio::test]
async fn chromium_runs_the_embedded_app_with_third_party_cookies_blocked() {
    let prefs = serde_json::json!({ "profile.cookie_controls_mode": 1, "profile.block_third_party_cookies": true });
    if let Some((carrier, unpartitioned)) = embedded_flow(prefs).await {
        assert!(!unpartitioned, "this profile blocks third-party cookies");
        assert!(carrier == "a partitioned cookie" || carrier.starts_with("the Authorization header"), "{carrier}");
    }
}

/// Every cookie blocked: only the bearer header can carry the session.
#[tokio::test]
async fn chromium_runs_the_embedded_app_with_every_cookie_blocked() {
    let prefs = serde_json::json!({ "profile.default_content_setting_values.cookies": 2 });
    if let Some((carrier, unpartitioned)) = embedded_flow(prefs).await {
        assert!(!unpartitioned);
        assert!(carrier.starts_with("the Authorization header"), "{carrier}");
    }
}

/// The SDK's two errors, as the creator sees them inside the frame.
#[tokio::test]
async fn chromium_shows_consent_required_and_invalid_session_token_inside_the_frame() {
    let Some(browser) = browser().await else { return };
    let app = TestApp::spawn(&[]).await;
    let c = &browser.client;
    let app_uuid = fanvue_sandbox::APP_UUID;
    for (query, code, title) in [
        ("as=bo.unsubscribed&force=1", "consent_required", "Approve the app first"),
        ("as=ava.sandbox&force=1&stale=1", "invalid_session_token", "This session expired"),
    ] {
        c.goto(&app.sandbox_url(&format!("/app-store/{app_uuid}/creator-surface?{query}"))).await.unwrap();
        let frame = c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Id("app-frame")).await.unwrap();
        frame.enter_frame().await.unwrap();
        let status = c
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Css(&format!("#embedded-status[data-code='{code}']")))
            .await
            .unwrap_or_else(|e| panic!("{code} not shown: {e}"));
        assert_eq!(status.attr("data-state").await.unwrap().as_deref(), Some("error"));
        assert_eq!(text_of(c, "#embedded-title").await, title);
        assert!(!text_of(c, "#embedded-message").await.is_empty());
        c.enter_parent_frame().await.unwrap();
    }
    browser.client.close().await.unwrap();
}

/// The events page updates itself: a delivery made while it is open appears, then turns
/// `handled`, without a reload.
#[tokio::test]
async fn chromium_sees_webhook_events_arrive_live() {
    let Some((browser, app)) = signed_in_browser(&[]).await else { return };
    let c = &browser.client;
    c.goto(&app.url("/events")).await.unwrap();
    text_of(c, "#no-events").await;
    let sent = app
        .cookieless()
        .post(app.sandbox_url("/_sandbox/events"))
        .header("accept", "application/json")
        .form(&[("event", "new-follower")])
        .send()
        .await
        .unwrap();
    assert!(sent.status().is_success());
    // The sandbox answers 200 with its delivery records, whether or not the app took them.
    let deliveries = sent.text().await.unwrap();
    let row = match c
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("#event-rows tr[data-state='handled'][data-verification='verified']"))
        .await
    {
        Ok(row) => row,
        Err(e) => {
            let rows = c.find(Locator::Id("event-rows")).await.unwrap().html(false).await.unwrap_or_default();
            let logs = app.logs();
            let tail: Vec<&str> = logs.lines().rev().take(30).collect();
            panic!(
                "the delivery did not appear live ({e}); sandbox deliveries: {deliveries}\nrows: {rows}\n\
                 app log, newest first:\n{}",
                tail.join("\n")
            );
        }
    };
    assert_eq!(row.find(Locator::Css(".event-type")).await.unwrap().text().await.unwrap(), "new-follower");
    assert!(c.find(Locator::Id("no-events")).await.is_err(), "the empty-list note went away");
    // Words, not the stored values, and the time as the server renders it: relative, with the
    // exact local time as its tooltip.
    // (data-state and the words are set together, so the row found above already has them.)
    assert_eq!(row.find(Locator::Css(".event-state")).await.unwrap().text().await.unwrap(), "Handled");
    assert_eq!(row.find(Locator::Css(".event-verification")).await.unwrap().text().await.unwrap(), "Verified");
    let stamp = row.find(Locator::Css(".event-received time")).await.unwrap();
    assert_eq!(stamp.text().await.unwrap(), "just now");
    let (datetime, title) =
        (stamp.attr("datetime").await.unwrap().unwrap(), stamp.attr("title").await.unwrap().unwrap());
    assert!(title.contains(&local_clock(&datetime)), "{title:?} is not {datetime} in {BROWSER_TIME_ZONE}");
    // Reloaded, the row is the server's: the same words, and its UTC tooltip made local.
    c.goto(&app.url("/events")).await.unwrap();
    assert_eq!(text_of(c, "#event-rows tr[data-state='handled'] .event-state").await, "Handled");
    let stamp = c.find(Locator::Css("#event-rows tr[data-state='handled'] .event-received time")).await.unwrap();
    let (datetime, title) =
        (stamp.attr("datetime").await.unwrap().unwrap(), stamp.attr("title").await.unwrap().unwrap());
    assert!(!title.ends_with("UTC") && title.contains(&local_clock(&datetime)), "{title:?} for {datetime}");
    // Signed out (from this page's own origin, as another tab would): the feed ends and the
    // page says so instead of reconnecting.
    c.execute("fetch('/api/oauth/logout', {method: 'POST', redirect: 'manual'}); return true;", vec![]).await.unwrap();
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#feed-ended:not([hidden])"))
        .await
        .expect("the page says its feed ended");
    browser.client.close().await.unwrap();
}

/// The widths the console must fit: a phone, a tablet and a desktop.
const WIDTHS: [u32; 3] = [375, 768, 1280];

/// axe-core's source (`tests/browser-deps`, installed by `npm ci` in scripts/test).
fn axe_source() -> String {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser-deps/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{}: {e}; run `npm ci --prefix tests/browser-deps` (scripts/test does)", path.display())
    })
}

/// Resizes the window so that the page's viewport (not the window) is `width` wide.
async fn set_viewport(c: &Client, width: u32, height: u32) {
    c.set_window_size(width, height).await.unwrap();
    let inner = c.execute("return window.innerWidth", vec![]).await.unwrap().as_u64().unwrap_or(0) as u32;
    if inner != width && inner > 0 {
        c.set_window_size(width + (width.saturating_sub(inner)), height).await.unwrap();
    }
}

/// Nav items (by href, and "sign out") and whether each is visible on screen now.
const NAV_ITEMS: &str = r#"
const seen = {};
const visible = el => {
  const r = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  // checkVisibility also sees what a closed <details> hides (content-visibility).
  const shown = el.checkVisibility ? el.checkVisibility({ visibilityProperty: true, opacityProperty: true }) : true;
  return shown && r.width > 0 && r.height > 0 && r.left >= 0 && r.right <= window.innerWidth + 1 && style.visibility !== 'hidden';
};
for (const el of document.querySelectorAll('header nav a[href], header form[action="/api/oauth/logout"] button')) {
  const key = el.tagName === 'BUTTON' ? 'sign out' : el.getAttribute('href');
  seen[key] = (seen[key] || false) || visible(el);
}
return seen;
"#;

/// Runs axe-core on the page; returns its serious and critical violations, one line each.
const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ['violations'] }).then(r => done(
  r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' — ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))
)).catch(e => done(['axe failed: ' + e]));
"#;

/// axe-core's serious and critical violations on the current page, each prefixed by `at`.
async fn axe_violations(c: &Client, axe: &str, at: &str) -> Vec<String> {
    c.execute(&format!("{axe}\n;return 0"), vec![]).await.unwrap();
    let violations = c.execute_async(AXE_RUN, vec![]).await.unwrap();
    violations.as_array().into_iter().flatten().map(|v| format!("{at}: {}", v.as_str().unwrap_or_default())).collect()
}

/// A Chrome DevTools Protocol command through chromedriver's `goog/cdp/execute`: emulating the
/// system's dark mode in the same browser, rather than starting (and signing in) another.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: serde_json::Value,
}

impl Cdp {
    fn dark_mode() -> Self {
        let dark = serde_json::json!({ "features": [{ "name": "prefers-color-scheme", "value": "dark" }] });
        Cdp { cmd: "Emulation.setEmulatedMedia", params: dark }
    }
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = serde_json::json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// The `href` of the first `css` on the page at `list`.
async fn href_in(c: &Client, app: &TestApp, list: &str, css: &str) -> String {
    c.goto(&app.url(list)).await.unwrap();
    let link = c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css(css)).await.unwrap();
    link.attr("href").await.unwrap().unwrap_or_else(|| panic!("{css} on {list} has no href"))
}

/// Every console page at a phone's, a tablet's and a desktop's width, in one signed-in
/// browser and one app (so the whole check costs one sign-in): nothing wider than the
/// screen, every navigation item reachable (directly or through the menu), and no serious
/// or critical accessibility violation as axe-core judges them. With `UPDATE_SCREENSHOTS=1`
/// the phone views are written to `docs/screenshots/phone/`.
#[tokio::test]
async fn chromium_every_console_page_fits_every_width_and_passes_axe() {
    let Some((browser, app)) = signed_in_browser(&[]).await else { return };
    let c = &browser.client;
    let axe = axe_source();
    let phone_dir = std::env::var_os("UPDATE_SCREENSHOTS")
        .map(|_| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots/phone"));
    if let Some(dir) = &phone_dir {
        std::fs::create_dir_all(dir).unwrap();
    }
    for event in ["message-received", "new-subscriber"] {
        let sandbox = app.cookieless().post(app.sandbox_url("/_sandbox/events"));
        sandbox.header("accept", "application/json").form(&[("event", event)]).send().await.unwrap();
    }

    // The pages behind a list are found through the list, as a user finds them.
    let folder = href_in(c, &app, "/media", "a.folder-name").await;
    let post_edit = href_in(c, &app, "/posts", "a.edit-post").await;
    let link_users = href_in(c, &app, "/links", "a.link-name").await;
    let act_as = href_in(c, &app, "/agency", "a.creator-name").await;
    let pages: Vec<(&str, String)> = vec![
        ("home", "/".into()),
        ("chats", "/chats".into()),
        ("conversation", "/chats/00000fa0-0000-4fa0-8000-000000000000".into()),
        ("fans", "/fans".into()),
        ("insights", "/insights".into()),
        ("media", "/media".into()),
        ("folder", folder),
        ("posts", "/posts".into()),
        ("post-edit", post_edit),
        ("links", "/links".into()),
        ("link-users", link_users),
        ("agency", "/agency".into()),
        ("act-as", act_as),
        ("events", "/events".into()),
        ("premium", "/premium".into()),
        ("not-found", "/no-such-page".into()),
    ];

    let mut problems = Vec::new();
    for width in WIDTHS {
        set_viewport(c, width, if width < 700 { 812 } else { 900 }).await;
        for (name, path) in &pages {
            c.goto(&app.url(path)).await.unwrap();
            c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css("main")).await.unwrap();
            let at = format!("{name} ({path}) at {width}px");

            let widths =
                c.execute("return [document.documentElement.scrollWidth, window.innerWidth]", vec![]).await.unwrap();
            let (scroll, inner) = (widths[0].as_u64().unwrap_or(0), widths[1].as_u64().unwrap_or(0));
            if scroll > inner {
                problems.push(format!("{at}: the page is {scroll}px wide in a {inner}px window"));
            }

            let mut nav = c.execute(NAV_ITEMS, vec![]).await.unwrap();
            let hidden = |nav: &serde_json::Value| nav.as_object().is_some_and(|m| m.values().any(|v| v != true));
            if hidden(&nav) {
                // Collapsed: open the menu the way a user would, then look again.
                if let Ok(summary) = c.find(Locator::Css("header details > summary")).await {
                    summary.click().await.unwrap();
                    nav = c.execute(NAV_ITEMS, vec![]).await.unwrap();
                }
            }
            if hidden(&nav) {
                problems.push(format!("{at}: navigation items out of reach: {nav}"));
            }
            if let (Some(dir), 375) = (&phone_dir, width) {
                if *name == "home" {
                    c.execute("document.querySelector('header details').open = true; return 0", vec![]).await.unwrap();
                    std::fs::write(dir.join("menu.png"), c.screenshot().await.unwrap()).unwrap();
                }
                // A conversation is read at its end, where the newest message and the composer are.
                let scroll =
                    if *name == "conversation" { "window.scrollTo(0, document.body.scrollHeight);" } else { "" };
                let close = "document.querySelectorAll('header details[open]').forEach(d => d.open = false);";
                c.execute(&format!("{close}{scroll} return 0"), vec![]).await.unwrap();
                std::fs::write(dir.join(format!("{name}.png")), c.screenshot().await.unwrap()).unwrap();
            }

            problems.extend(axe_violations(c, &axe, &at).await);
        }
    }

    // The dark palette (prefers-color-scheme: dark) must keep its contrast too.
    c.issue_cmd(Cdp::dark_mode()).await.unwrap();
    for width in [375, 1280] {
        set_viewport(c, width, if width < 700 { 812 } else { 900 }).await;
        for (name, path) in &pages {
            c.goto(&app.url(path)).await.unwrap();
            c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css("main")).await.unwrap();
            if let (Some(dir), 375, "conversation" | "insights") = (&phone_dir, width, *name) {
                std::fs::write(dir.join(format!("{name}-dark.png")), c.screenshot().await.unwrap()).unwrap();
            }
            problems.extend(axe_violations(c, &axe, &format!("{name} ({path}) at {width}px, dark")).await);
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));

    // The menu opens from the keyboard (Enter on its summary), and Sign out is then in reach.
    set_viewport(c, 375, 812).await;
    c.goto(&app.url("/")).await.unwrap();
    let summary = c.find(Locator::Css("header details > summary")).await.unwrap();
    assert!(!c.find(Locator::Id("sign-out-menu")).await.unwrap().is_displayed().await.unwrap());
    summary.send_keys("\u{E007}").await.unwrap();
    assert!(c.find(Locator::Id("sign-out-menu")).await.unwrap().is_displayed().await.unwrap(), "Enter opened the menu");
    set_viewport(c, 1280, 900).await;

    // Deleting asks first, without JavaScript: the red Delete only opens the question.
    c.goto(&app.url("/links")).await.unwrap();
    let first = c.find(Locator::Css("#links tbody tr .link-name")).await.unwrap().text().await.unwrap();
    let confirm = c.find(Locator::Css("#links tbody tr details.confirm")).await.unwrap();
    let yes = confirm.find(Locator::Css("form button")).await.unwrap();
    assert!(!yes.is_displayed().await.unwrap(), "the real delete button is hidden until asked");
    confirm.find(Locator::Css("summary")).await.unwrap().click().await.unwrap();
    yes.click().await.unwrap();
    assert_eq!(text_of(c, "#notice").await, "Link deleted.");
    assert!(!text_of(c, "#links").await.contains(&first), "{first} is gone");
    browser.client.close().await.unwrap();
}
