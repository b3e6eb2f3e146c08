//! Webhooks: the receiver on the real binary (signature checks, dedupe, the live events
//! page, the CLI, the sandbox's deliveries and subscriptions), and persistence across a
//! crash through the library on a real SQLite file.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::harness::*;
use fanvue_app_starter::features::webhooks::signature::header_value;
use fanvue_app_starter::features::webhooks::store::EndpointSecret;
use reqwest::StatusCode;
use secrecy::ExposeSecret;

const SECRET: &str = "test_secret";
/// `fanvue-platform.md` §3.4.
const VECTOR_BODY: &str =
    r#"{"recipientUuid":"f4b2a184-2b4a-4a04-9b70-3c0e0a1caa12","timestamp":"2025-11-06T10:32:50.529Z"}"#;
const VECTOR_HEADER: &str = "t=1700000000,v0=c24c643af2d62ddcf45cf5997afa1424945c52a6ae71a9f8d9c78937a611b2c1";

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn message_body() -> String {
    fanvue_app_starter::features::webhooks::samples::sample("message-received", "2026-05-20T10:00:00.000Z")
        .unwrap()
        .body
        .to_string()
}

async fn post(app: &TestApp, path: &str, signature: Option<&str>, body: &str) -> (StatusCode, serde_json::Value) {
    let mut request =
        app.cookieless().post(app.url(path)).header("content-type", "application/json").body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("x-fanvue-signature", signature);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or_default())
}

/// Ava, the sandbox's creator: the samples are addressed to her.
const AVA: &str = fanvue_app_starter::features::webhooks::samples::CREATOR_UUID;
/// Bo, another sandbox creator.
const BO: &str = "b0b0b0b0-1c2d-4e3f-8a9b-0c1d2e3f4a5b";
/// Ava is the operator.
const AVA_OPERATES: (&str, &str) = ("OPERATOR_USER_UUIDS", AVA);

/// The creator's events page's rows as (id, type, verification, state, deliveries, attempts).
async fn event_rows(app: &TestApp, client: &reqwest::Client) -> Vec<[String; 6]> {
    rows_at(app, client, "/events").await
}

/// The operator view's rows.
async fn operator_rows(app: &TestApp, client: &reqwest::Client) -> Vec<[String; 6]> {
    rows_at(app, client, "/operator/events").await
}

async fn rows_at(app: &TestApp, client: &reqwest::Client, path: &str) -> Vec<[String; 6]> {
    let page = client.get(app.url(path)).send().await.unwrap().text().await.unwrap();
    let body = &page[page.find("id=\"event-rows\"").expect("events table")..];
    let body = &body[..body.find("</tbody>").unwrap()];
    body.split("<tr ")
        .skip(1)
        .map(|row| {
            let attr = |name: &str| {
                let start = row.find(&format!("{name}=\"")).map(|i| i + name.len() + 2).unwrap();
                row[start..start + row[start..].find('"').unwrap()].to_owned()
            };
            let cell = |class: &str| {
                let start = row.find(&format!("class=\"{class}\">")).map(|i| i + class.len() + 9).unwrap();
                row[start..start + row[start..].find('<').unwrap()].to_owned()
            };
            [
                attr("data-id"),
                cell("event-type"),
                attr("data-verification"),
                attr("data-state"),
                cell("event-deliveries"),
                cell("event-attempts"),
            ]
        })
        .collect()
}

async fn wait_for_state(app: &TestApp, client: &reqwest::Client, id: &str, state: &str) -> [String; 6] {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = event_rows(app, client).await;
        if let Some(row) = rows.iter().find(|r| r[0] == id && r[3] == state) {
            return row.clone();
        }
        assert!(Instant::now() < deadline, "event {id} never reached {state}: {rows:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_reference_test_vector_is_accepted_by_the_running_app() {
    // The vector is signed at t=1700000000: widen the tolerance so only the signature counts.
    let app =
        TestApp::spawn(&[("FANVUE_WEBHOOK_SECRET", SECRET), ("FANVUE_WEBHOOK_TOLERANCE_SECS", "2000000000")]).await;
    let (status, body) = post(&app, "/api/webhooks/fanvue/new-subscriber", Some(VECTOR_HEADER), VECTOR_BODY).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["received"], true);
    // One changed byte and the same header no longer verifies.
    let altered = VECTOR_BODY.replace("10:32", "10:33");
    let (status, body) = post(&app, "/api/webhooks/fanvue/new-subscriber", Some(VECTOR_HEADER), &altered).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("signature_mismatch")));
}

#[tokio::test]
async fn refused_deliveries_get_401_with_the_reason_and_are_never_stored() {
    let app = TestApp::spawn(&[("FANVUE_WEBHOOK_SECRET", SECRET), AVA_OPERATES]).await;
    let body = message_body();
    let t = now();
    let good = header_value(SECRET, t, body.as_bytes());
    let v0 = good.split("v0=").nth(1).unwrap().to_owned();
    let cases: Vec<(&str, Option<String>, String, &str)> = vec![
        ("wrong secret", Some(header_value("other_secret", t, body.as_bytes())), body.clone(), "signature_mismatch"),
        ("altered body", Some(good.clone()), body.replace("Loved", "Hated"), "signature_mismatch"),
        ("stale", Some(header_value(SECRET, t - 301, body.as_bytes())), body.clone(), "stale_timestamp"),
        // Well past the 300 s window: the server's clock reads later than `t` by the time it checks
        // (a second on a loaded machine made `t + 301` land inside the window).
        ("future", Some(header_value(SECRET, t + 360, body.as_bytes())), body.clone(), "future_timestamp"),
        ("no header", None, body.clone(), "missing_signature"),
        ("no v0", Some(format!("t={t}")), body.clone(), "malformed_signature"),
        ("no t", Some(format!("v0={v0}")), body.clone(), "malformed_signature"),
        ("github style", Some(format!("sha256={v0}")), body.clone(), "malformed_signature"),
        ("body-only hmac", Some(format!("t={t},v0={}", "0".repeat(64))), body.clone(), "signature_mismatch"),
    ];
    for (what, header, payload, code) in &cases {
        let (status, answer) = post(&app, "/api/webhooks/fanvue/message-received", header.as_deref(), payload).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {answer}");
        assert_eq!(answer["error"], *code, "{what}");
    }
    // Unsigned garbage is refused before it is parsed (401, not 400).
    let (status, _) = post(&app, "/api/webhooks/fanvue", Some(&format!("t={t},v0={v0}")), "{not json").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A typo'd event URL is a 404.
    let (status, _) = post(&app, "/api/webhooks/fanvue/message-recieved", Some(&good), &body).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let client = app.client();
    login(&app, &client).await;
    assert!(event_rows(&app, &client).await.is_empty(), "refused deliveries are not on a creator's page");
    let rows = operator_rows(&app, &client).await;
    assert_eq!(rows.len(), cases.len() + 1, "{rows:?}");
    assert!(rows.iter().all(|r| r[0].is_empty() && r[3] == "rejected"), "nothing refused was stored: {rows:?}");
    for code in
        ["signature_mismatch", "stale_timestamp", "future_timestamp", "missing_signature", "malformed_signature"]
    {
        assert!(rows.iter().any(|r| r[2] == code), "{code} shown: {rows:?}");
    }
    // The valid delivery goes through.
    let (status, answer) = post(&app, "/api/webhooks/fanvue/message-received", Some(&good), &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn a_duplicate_delivery_is_acknowledged_and_handled_once() {
    let app = TestApp::spawn(&[("FANVUE_WEBHOOK_SECRET", SECRET), AVA_OPERATES]).await;
    let body = message_body();
    let first = header_value(SECRET, now(), body.as_bytes());
    let (status, a) = post(&app, "/api/webhooks/fanvue/message-received", Some(&first), &body).await;
    assert_eq!((status, a["duplicate"].as_bool()), (StatusCode::OK, Some(false)));
    // Fanvue's retry: the same body, signed again a little later.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let retry = header_value(SECRET, now(), body.as_bytes());
    let (status, b) = post(&app, "/api/webhooks/fanvue/message-received", Some(&retry), &body).await;
    assert_eq!((status, b["duplicate"].as_bool()), (StatusCode::OK, Some(true)));
    assert_eq!(a["id"], b["id"]);

    let client = app.client();
    login(&app, &client).await;
    let row = wait_for_state(&app, &client, &a["id"].to_string(), "handled").await;
    assert_eq!(row[1], "message-received");
    assert_eq!((row[4].as_str(), row[5].as_str()), ("2", "1"), "two deliveries, one handler run: {row:?}");
    assert_eq!(app.logs().matches("a fan sent a message").count(), 1, "the handler ran once");

    // An envelope on the shared URL is typed by its `type` and deduplicated by its `id`.
    let envelope =
        fanvue_app_starter::features::webhooks::samples::sample("app.payment.succeeded", "2026-05-20T10:00:00.000Z")
            .unwrap();
    let envelope = envelope.body.to_string();
    for duplicate in [false, true] {
        let (status, answer) =
            post(&app, "/api/webhooks/fanvue", Some(&header_value(SECRET, now(), envelope.as_bytes())), &envelope)
                .await;
        assert_eq!((status, answer["duplicate"].as_bool()), (StatusCode::OK, Some(duplicate)));
    }
    // An `app.*` type the App Store webhooks page does not list (a future one) is stored and
    // acknowledged, never refused: a 4xx would only make Fanvue retry it.
    let future = serde_json::json!({"id": "evt_future_1", "type": "app.subscription.activated",
        "timestamp": "2026-05-20T10:00:00.000Z", "data": {"object": "subscription"}})
    .to_string();
    let (status, answer) =
        post(&app, "/api/webhooks/fanvue", Some(&header_value(SECRET, now(), future.as_bytes())), &future).await;
    assert_eq!((status, answer["duplicate"].as_bool()), (StatusCode::OK, Some(false)), "{answer}");
    let rows = event_rows(&app, &client).await;
    assert!(rows.iter().any(|r| r[1] == "app.payment.succeeded"), "Ava bought it: {rows:?}");
    assert!(!rows.iter().any(|r| r[1] == "app.subscription.activated"), "addressed to nobody: {rows:?}");
    let rows = operator_rows(&app, &client).await;
    assert!(rows.iter().any(|r| r[1] == "app.subscription.activated"), "{rows:?}");
}

/// The signature covers `"{t}.{body}"`, not the URL: one signed delivery replayed, header
/// and body unchanged, to every event's URL and the shared one is one event, stored and
/// handled once; every other post is a duplicate of it (not a follower, a tip, a purchase…).
#[tokio::test]
async fn one_signed_body_replayed_to_every_event_url_is_one_event() {
    let app = TestApp::spawn(&[("FANVUE_WEBHOOK_SECRET", SECRET)]).await;
    let body = fanvue_app_starter::features::webhooks::samples::sample("new-follower", "2026-05-20T10:00:00.000Z")
        .unwrap()
        .body
        .to_string();
    let header = header_value(SECRET, now(), body.as_bytes());
    let mut urls: Vec<String> = fanvue_app_starter::features::webhooks::events::PLATFORM_EVENTS
        .iter()
        .map(|(_, slug, _, _)| format!("/api/webhooks/fanvue/{slug}"))
        .collect();
    urls.push("/api/webhooks/fanvue".to_owned());
    // The genuine delivery first, then the replays (the same URL again too).
    urls.rotate_left(2);
    urls.push(urls[0].clone());
    assert!(urls[0].ends_with("/new-follower"), "{urls:?}");
    let mut answers = Vec::new();
    for url in &urls {
        let (status, answer) = post(&app, url, Some(&header), &body).await;
        assert_eq!(status, StatusCode::OK, "{url}: {answer}");
        answers.push(answer);
    }
    assert_eq!(answers[0]["duplicate"], false);
    assert!(answers[1..].iter().all(|a| a["duplicate"] == true), "{answers:?}");
    assert!(answers.iter().all(|a| a["id"] == answers[0]["id"]), "{answers:?}");

    let client = app.client();
    login(&app, &client).await;
    let row = wait_for_state(&app, &client, &answers[0]["id"].to_string(), "handled").await;
    assert_eq!(row[1], "new-follower", "typed by the URL of the first delivery");
    assert_eq!((row[4].clone(), row[5].as_str()), (urls.len().to_string(), "1"), "{row:?}");
    let rows = event_rows(&app, &client).await;
    assert_eq!(rows.len(), 1, "one event stored: {rows:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let handled = app.logs().lines().filter(|l| l.contains("webhook event") && l.contains("type=")).count();
    assert_eq!(handled, 1, "the handler ran once:\n{}", app.logs());
}

/// Reads a server-sent-events response until `done` holds for what was read, or it ends.
async fn read_feed(feed: &mut reqwest::Response, done: impl Fn(&str) -> bool) -> String {
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done(&seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, feed.chunk()).await {
            Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(_) => break,
            Err(_) => panic!("the feed said nothing conclusive in 15 s: {seen}"),
        }
    }
    seen
}

/// A signed delivery of `body` to the shared URL; returns the stored event's id.
async fn deliver(app: &TestApp, body: &serde_json::Value) -> String {
    let body = body.to_string();
    let (status, answer) =
        post(app, "/api/webhooks/fanvue", Some(&header_value(SECRET, now(), body.as_bytes())), &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["id"].to_string()
}

/// A New Follower event for creator `to`.
fn follower_of(to: &str) -> serde_json::Value {
    let mut body: serde_json::Value = serde_json::from_str(
        &fanvue_app_starter::features::webhooks::samples::sample(
            "new-follower",
            &fanvue_app_starter::features::webhooks::samples::now_iso(),
        )
        .unwrap()
        .body
        .to_string(),
    )
    .unwrap();
    body["recipientUuid"] = to.into();
    body["sender"]["uuid"] = fanvue_app_starter::features::webhooks::samples::random_uuid().into();
    body
}

#[tokio::test]
async fn the_operator_view_shows_every_delivery_live_over_server_sent_events() {
    let app = TestApp::spawn(&[("FANVUE_WEBHOOK_SECRET", SECRET), AVA_OPERATES]).await;
    let client = app.client();
    login(&app, &client).await;
    let page = client.get(app.url("/operator/events")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("/static/events.js") && page.contains("/api/webhooks/fanvue/message-received"));
    assert!(page.contains("data-stream=\"/operator/events/stream\""), "{page}");

    let mut stream = client.get(app.url("/operator/events/stream")).send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(stream.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let body = message_body();
    post(&app, "/api/webhooks/fanvue/message-received", Some(&header_value(SECRET, now(), body.as_bytes())), &body)
        .await;
    post(&app, "/api/webhooks/fanvue/message-received", Some("t=1,v0=00"), &body).await;
    let seen =
        read_feed(&mut stream, |s| s.contains("\"state\":\"handled\"") && s.contains("\"state\":\"rejected\"")).await;
    assert!(seen.contains("event: webhook") && seen.contains("\"typeName\":\"message-received\""), "{seen}");
    assert!(seen.contains("\"verification\":\"malformed_signature\""), "{seen}");
    assert!(!seen.contains("audience") && !seen.contains(AVA), "whom it is about stays on the server: {seen}");

    // Signed out, there is no feed.
    let r = app.cookieless().get(app.url("/operator/events/stream")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// Every creator used to see every creator's events. Now a creator sees the events addressed
/// to them, on the page and live; an agency member also those of the creators they manage;
/// nobody but the operator sees refused deliveries or events addressed to no one.
#[tokio::test]
async fn each_creator_sees_only_the_events_addressed_to_them() {
    let app = TestApp::spawn(&[("FANVUE_WEBHOOK_SECRET", SECRET)]).await;
    let (ava, bo, mia) = (app.client(), app.client(), app.client());
    login(&app, &ava).await;
    login_as(&app, &bo, "bo.unsubscribed").await;
    login_as(&app, &mia, "mia.agency").await;
    let managed: serde_json::Value =
        mia.get(app.url("/api/fanvue/creators")).send().await.unwrap().json().await.unwrap();
    let nova = managed["data"][0]["uuid"].as_str().unwrap().to_owned();

    let mut ava_feed = ava.get(app.url("/events/stream")).send().await.unwrap();
    let mut bo_feed = bo.get(app.url("/events/stream")).send().await.unwrap();
    assert_eq!((ava_feed.status(), bo_feed.status()), (StatusCode::OK, StatusCode::OK));

    let to_bo = deliver(&app, &follower_of(BO)).await;
    let checkout_for_bo = {
        let mut envelope: serde_json::Value = serde_json::from_str(
            &fanvue_app_starter::features::webhooks::samples::sample(
                "checkout_link.payment.succeeded",
                "2026-05-20T10:00:00.000Z",
            )
            .unwrap()
            .body
            .to_string(),
        )
        .unwrap();
        envelope["data"]["creator"]["uuid"] = BO.into();
        envelope["data"]["purchaser"]["uuid"] = AVA.into();
        deliver(&app, &envelope).await
    };
    let to_nobody = deliver(&app, &serde_json::json!({"id": "evt_nobody", "type": "future.thing", "data": {}})).await;
    let to_nova = deliver(&app, &follower_of(&nova)).await;
    post(&app, "/api/webhooks/fanvue/new-follower", Some("t=1,v0=00"), "{}").await;
    let to_ava = deliver(&app, &follower_of(AVA)).await;

    // Ava's feed carries her event (pending, then handled) and nothing sent before it to others.
    let handled = |id: &str| {
        format!("\"id\":{id},\"typeName\":\"new-follower\",\"verification\":\"verified\",\"state\":\"handled\"")
    };
    let seen = read_feed(&mut ava_feed, |s| s.contains(&handled(&to_ava))).await;
    for other in [&to_bo, &checkout_for_bo, &to_nobody] {
        assert!(!seen.contains(&format!("\"id\":{other},")), "Ava got event {other}: {seen}");
    }
    assert!(!seen.contains("rejected"), "{seen}");
    // Bo's feed: his two, not Ava's.
    let seen = read_feed(&mut bo_feed, |s| s.contains(&format!("\"id\":{checkout_for_bo},"))).await;
    assert!(seen.contains(&format!("\"id\":{to_bo},")) && !seen.contains(&format!("\"id\":{to_ava},")), "{seen}");

    let ids = |rows: Vec<[String; 6]>| {
        let mut ids: Vec<String> = rows.into_iter().map(|r| r[0].clone()).collect();
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<&String>| {
        v.sort();
        v.into_iter().cloned().collect::<Vec<_>>()
    };
    let ava_rows = ids(event_rows(&app, &ava).await);
    assert!(ava_rows.contains(&to_ava), "{ava_rows:?}");
    for other in [&to_bo, &checkout_for_bo, &to_nobody] {
        assert!(!ava_rows.contains(other), "Ava sees {other}: {ava_rows:?}");
    }
    let bo_rows = ids(event_rows(&app, &bo).await);
    assert!(bo_rows.contains(&to_bo) && bo_rows.contains(&checkout_for_bo), "{bo_rows:?}");
    assert!(!bo_rows.contains(&to_ava) && !bo_rows.contains(&to_nobody), "{bo_rows:?}");
    // Mia manages Nova (and is no creator herself): Nova's event only.
    assert_eq!(ids(event_rows(&app, &mia).await), sorted(vec![&to_nova]));
    let page = mia.get(app.url("/events")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("creator(s) you manage") && !page.contains("event-detail muted\">attempt"), "{page}");
}

/// An event that arrives after the page was rendered but before its feed connected (the page's
/// script is still loading, or the browser is reconnecting) reaches the page all the same:
/// a feed starts with the recent list, then goes live. Before, it was lost until a reload.
#[tokio::test]
async fn an_event_that_arrives_before_the_feed_connects_still_reaches_the_page() {
    let app = TestApp::spawn(&[("FANVUE_WEBHOOK_SECRET", SECRET)]).await;
    let (ava, bo) = (app.client(), app.client());
    login(&app, &ava).await;
    login_as(&app, &bo, "bo.unsubscribed").await;
    let page = ava.get(app.url("/events")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"no-events\""), "{page}");
    let to_ava = deliver(&app, &follower_of(AVA)).await;
    let to_bo = deliver(&app, &follower_of(BO)).await;

    let mut feed = ava.get(app.url("/events/stream")).send().await.unwrap();
    assert_eq!(feed.status(), StatusCode::OK);
    let seen = read_feed(&mut feed, |s| s.contains(&format!("\"id\":{to_ava},"))).await;
    // Worded as the page's rows are, and still only Ava's.
    assert!(seen.contains("\"stateLabel\":") && seen.contains("\"verificationLabel\":\"Verified\""), "{seen}");
    assert!(seen.contains("\"receivedRelative\":\"just now\""), "{seen}");
    assert!(!seen.contains(&format!("\"id\":{to_bo},")), "Ava got Bo's event: {seen}");
}

/// An open feed ends when its session does: at sign-out, and when any request finds the
/// grant revoked at Fanvue; the page is told (`end`) so it stops reconnecting.
#[tokio::test]
async fn an_open_feed_ends_promptly_when_its_session_ends() {
    let app = TestApp::spawn(&[("FANVUE_WEBHOOK_SECRET", SECRET)]).await;
    let ava = app.client();
    login(&app, &ava).await;
    let mut feed = ava.get(app.url("/events/stream")).send().await.unwrap();
    assert_eq!(feed.status(), StatusCode::OK);
    let started = Instant::now();
    let r = ava.post(app.url("/api/oauth/logout")).header("origin", app.origin()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let seen = read_feed(&mut feed, |_| false).await;
    assert!(seen.contains("event: end") && seen.contains("data: signed_out"), "{seen}");
    assert!(started.elapsed() < Duration::from_secs(5), "ended after {:?}", started.elapsed());
    // Nothing addressed to Ava reaches a signed-out browser, and it cannot reconnect.
    let r = ava.get(app.url("/events/stream")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Revoked at Fanvue: the next request that uses the grant ends the session, and its feed.
    let bo = app.client();
    login_as(&app, &bo, "bo.unsubscribed").await;
    let mut feed = bo.get(app.url("/events/stream")).send().await.unwrap();
    app.cookieless().post(app.sandbox_url("/_sandbox/revoke-consent")).send().await.unwrap();
    let r = bo.get(app.url("/api/fanvue/users/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let started = Instant::now();
    let seen = read_feed(&mut feed, |_| false).await;
    assert!(seen.contains("event: end"), "{seen}");
    assert!(started.elapsed() < Duration::from_secs(5), "ended after {:?}", started.elapsed());
}

/// The operator view (every creator's events, refused deliveries, subscriptions) exists only
/// for `OPERATOR_USER_UUIDS`; by default, for nobody.
#[tokio::test]
async fn the_operator_view_is_refused_to_everyone_else() {
    let app = TestApp::spawn(&[AVA_OPERATES]).await;
    let (ava, bo) = (app.client(), app.client());
    login(&app, &ava).await;
    login_as(&app, &bo, "bo.unsubscribed").await;
    for path in ["/operator/events", "/operator/events/stream"] {
        assert_eq!(ava.get(app.url(path)).send().await.unwrap().status(), StatusCode::OK, "{path}");
        assert_eq!(bo.get(app.url(path)).send().await.unwrap().status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(app.cookieless().get(app.url(path)).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    for path in ["/operator/subscriptions", "/operator/subscriptions/whsub_x/delete"] {
        let r = bo.post(app.url(path)).header("origin", app.origin()).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // Bo's own page: no link to the operator view, no delivery URLs, no subscriptions.
    let page = bo.get(app.url("/events")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("/operator/") && !page.contains("id=\"subscribe\""), "{page}");
    assert!(!page.contains("/api/webhooks/fanvue/"), "{page}");
    let page = ava.get(app.url("/events")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"operator-link\""), "{page}");
    // Bo's refused posts made no subscription.
    let page = ava.get(app.url("/operator/events")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"subscribe\"") && !page.contains("/delete\""), "{page}");

    let nobody = TestApp::spawn(&[]).await;
    let ava = nobody.client();
    login(&nobody, &ava).await;
    let r = ava.get(nobody.url("/operator/events")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "no operator unless configured");
}

#[tokio::test]
async fn webhook_send_posts_a_signed_sample_to_the_running_app() {
    let app = TestApp::spawn(&[]).await;
    let cli = |args: &[&str], secret: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_fanvue-app-starter"));
        command.arg("webhook").args(args).current_dir(app.dir.path()).env_clear();
        command.env("PORT", app.port.to_string()).env("SESSION_SECRET", crate::harness::SECRET);
        if let Some(secret) = secret {
            command.env("FANVUE_WEBHOOK_SECRET", secret);
        }
        command.output().unwrap()
    };
    // The sandbox's secret (derived from SESSION_SECRET) and the app's own certificate.
    let out = cli(&["send", "message-received"], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("← 200") && stdout.contains("\"duplicate\":false"), "{stdout}");
    let out = cli(&["send", "app.payment.refunded"], None);
    assert!(out.status.success());

    let out = cli(&["send", "message-received"], Some("not-the-app-secret"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("signature_mismatch"));
    let out = cli(&["send", "no-such-event"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown event"));

    let client = app.client();
    login(&app, &client).await;
    let rows = event_rows(&app, &client).await;
    assert!(rows.iter().any(|r| r[1] == "message-received"), "{rows:?}");
    assert!(rows.iter().any(|r| r[1] == "app.payment.refunded"), "{rows:?}");
}

/// The subscription id in the operator page's delete form.
fn subscription_id(page: &str) -> String {
    let start = page.find("/operator/subscriptions/").expect("a subscription") + "/operator/subscriptions/".len();
    page[start..start + page[start..].find('/').unwrap()].to_owned()
}

#[tokio::test]
async fn the_sandbox_emits_events_and_honours_subscriptions_made_by_the_operator() {
    let app = TestApp::spawn(&[AVA_OPERATES]).await;
    let sandbox = app.cookieless();
    let send = |event: &'static str| {
        sandbox
            .post(app.sandbox_url("/_sandbox/events"))
            .header("accept", "application/json")
            .form(&[("event", event)])
            .send()
    };
    let deliveries: serde_json::Value = send("message-received").await.unwrap().json().await.unwrap();
    assert_eq!(deliveries[0]["status"], 200, "{deliveries}");
    assert!(deliveries[0]["url"].as_str().unwrap().ends_with("/api/webhooks/fanvue/message-received"));

    let client = app.client();
    login(&app, &client).await;
    // The fan's message is in the chats too, unread.
    let chats: serde_json::Value = client.get(app.url("/api/fanvue/chats")).send().await.unwrap().json().await.unwrap();
    assert!(chats.to_string().contains("Loved your last post"), "{chats}");

    // The operator subscribes: Fanvue answers with a signing secret, which no page shows.
    let r = client.post(app.url("/operator/subscriptions")).header("origin", app.origin()).send().await.unwrap();
    let page = r.text().await.unwrap();
    assert!(page.contains("Subscribed.") && !page.contains("whsec_"), "{page}");
    assert!(page.contains("verified with its own signing secret"), "{page}");
    let id = subscription_id(&page);
    let endpoint_url = {
        let start = page.find(&app.url("/api/webhooks/fanvue/s/")).expect("the subscription's own URL");
        page[start..start + page[start..].find('<').unwrap()].to_owned()
    };

    // Now deliveries go to the subscription's own URL, signed with its own secret, and verify.
    let deliveries: serde_json::Value = send("tip-received").await.unwrap().json().await.unwrap();
    assert_eq!(
        (deliveries[0]["status"].as_u64(), deliveries[0]["url"].as_str()),
        (Some(200), Some(endpoint_url.as_str()))
    );
    let rows = event_rows(&app, &client).await;
    assert!(rows.iter().any(|r| r[1] == "tip-received"), "{rows:?}");

    // That URL accepts only that subscription's secret: the app's own is refused there...
    let body = follower_of(AVA).to_string();
    let app_secret = fanvue_sandbox::env::webhook_secret(crate::harness::SECRET);
    let path = endpoint_url.trim_start_matches(&app.origin()).to_owned();
    let (status, answer) = post(&app, &path, Some(&header_value(&app_secret, now(), body.as_bytes())), &body).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("signature_mismatch")));
    // ...and its secret, which the app kept sealed, is refused everywhere else.
    let endpoints = stored_endpoints(&app).await;
    assert_eq!(endpoints.len(), 1);
    let secret = match &endpoints[0].secret {
        EndpointSecret::Own(secret) => secret.expose_secret().to_owned(),
        other => panic!("{other:?}"),
    };
    assert!(secret.starts_with("whsec_") && secret != app_secret, "a secret of its own");
    let signed = header_value(&secret, now(), body.as_bytes());
    for other in ["/api/webhooks/fanvue", "/api/webhooks/fanvue/new-follower"] {
        let (status, _) = post(&app, other, Some(&signed), &body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{other}");
    }
    let (status, _) = post(&app, &path, Some(&signed), &body).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = post(&app, "/api/webhooks/fanvue/s/AAAAAAAAAAAAAAAAAAAAAA", Some(&signed), &body).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no such endpoint");
    for file in app.db_files() {
        assert!(!file_contains(&file, secret.as_bytes()), "the secret in clear in {}", file.display());
    }

    // A second subscription gets another secret (Fanvue: one per subscription).
    let r = client.post(app.url("/operator/subscriptions")).header("origin", app.origin()).send().await.unwrap();
    assert!(r.status().is_success());
    let endpoints = stored_endpoints(&app).await;
    let secrets: std::collections::HashSet<String> = endpoints
        .iter()
        .filter_map(|e| match &e.secret {
            EndpointSecret::Own(s) => Some(s.expose_secret().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!((endpoints.len(), secrets.len()), (2, 2));
    assert!(endpoints.iter().all(|e| e.owner == AVA), "{endpoints:?}");

    let r = client
        .post(app.url(&format!("/operator/subscriptions/{id}/delete")))
        .header("origin", app.origin())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = client.get(app.url("/operator/events")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains(&format!("/operator/subscriptions/{id}/delete")), "{page}");
    // The refused delivery above is listed under the subscription it was sent for.
    assert!(page.contains(&format!("subscription {id}")), "{page}");
    assert_eq!(stored_endpoints(&app).await.len(), 1, "its endpoint and secret are forgotten");
    let (status, _) = post(&app, &path, Some(&signed), &body).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a deleted subscription's URL is gone");
}

/// What the app keeps of its subscriptions, read from its store as it does.
async fn stored_endpoints(app: &TestApp) -> Vec<fanvue_app_starter::features::webhooks::store::Endpoint> {
    use fanvue_app_starter::features::webhooks::store::{EventStore, EventStoreKind};
    let keys = fanvue_app_starter::features::webhooks::at_rest::AtRest::new(crate::harness::SECRET, None);
    let path = app.dir.path().join("data/sessions.db");
    let store = EventStore::open(&EventStoreKind::Sqlite(path), Duration::from_secs(60), keys).await.unwrap();
    store.endpoints().await.unwrap()
}

/// The signing secret Fanvue returns for a new subscription never reaches a browser: the JSON
/// proxy serves none of Fanvue's `/webhooks/…` API (and calls nothing for it), to anyone.
#[tokio::test]
async fn the_proxy_never_hands_out_a_signing_secret() {
    let app = TestApp::spawn(&[AVA_OPERATES]).await;
    let client = app.client();
    login(&app, &client).await;
    let calls = app.stat("apiCalls").await;
    let create = serde_json::json!({"url": app.url("/api/webhooks/fanvue"), "events": ["message.received"]});
    for (method, path) in [
        ("POST", "/api/fanvue/webhooks/subscriptions"),
        ("GET", "/api/fanvue/webhooks/subscriptions"),
        ("POST", "/api/fanvue/%77ebhooks/subscriptions"),
        ("DELETE", "/api/fanvue/webhooks/subscriptions/whsub_x"),
    ] {
        let request = client.request(method.parse().unwrap(), app.url(path)).header("origin", app.origin());
        let r = if method == "POST" { request.json(&create) } else { request }.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {text}");
        assert!(!text.contains("signingSecret") && !text.contains("whsec_"), "{text}");
    }
    assert_eq!(app.stat("apiCalls").await, calls, "Fanvue was not called");
}

/// The library seam: the same store and worker the binary uses, on a real SQLite file.
mod persistence {
    use super::*;
    use fanvue_app_starter::features::webhooks::events::{Event, Kind};
    use fanvue_app_starter::features::webhooks::signature::Verifier;
    use fanvue_app_starter::features::webhooks::store::{EventStoreKind, State, StoredEvent};
    use fanvue_app_starter::features::webhooks::{Handler, WebhookConfig, Webhooks, worker};

    fn config(path: &std::path::Path) -> WebhookConfig {
        with_store(EventStoreKind::Sqlite(path.to_owned()))
    }

    fn with_store(store: EventStoreKind) -> WebhookConfig {
        WebhookConfig {
            verifier: Verifier::new(vec![SECRET.to_owned().into()], Duration::from_secs(300)),
            store,
            worker: worker::Settings {
                handler_timeout: Duration::from_secs(5),
                max_attempts: 3,
                retention: Duration::from_secs(3600),
            },
            at_rest: fanvue_app_starter::features::webhooks::at_rest::AtRest::new(crate::harness::SECRET, None),
        }
    }

    /// Counts calls; fails (or panics) the first `fail_first` of them.
    struct Counting {
        calls: AtomicU32,
        fail_first: u32,
        panic: bool,
    }

    #[async_trait::async_trait]
    impl Handler for Counting {
        async fn handle(&self, event: &Event, _: &StoredEvent) -> Result<(), String> {
            assert_eq!(event.kind(), Kind::MessageReceived);
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n <= self.fail_first {
                if self.panic {
                    panic!("handler bug");
                }
                return Err(format!("attempt {n} failed"));
            }
            Ok(())
        }
    }

    async fn wait_state(webhooks: &Webhooks, id: i64, state: State) -> StoredEvent {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let event = webhooks.store().get(id).await.unwrap().unwrap();
            if event.state == state {
                return event;
            }
            assert!(Instant::now() < deadline, "event stuck in {:?}", event.state);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    #[tokio::test]
    async fn an_event_acknowledged_before_a_crash_is_handled_after_the_restart() {
        let dir = tempfile::tempdir().unwrap();
        crash_and_restart(config(&dir.path().join("data/sessions.db"))).await;
    }

    #[tokio::test]
    async fn an_event_acknowledged_before_a_crash_is_handled_after_the_restart_with_redis() {
        let redis = Redis::start();
        crash_and_restart(with_store(EventStoreKind::Redis(redis.url()))).await;
    }

    async fn crash_and_restart(config: WebhookConfig) {
        let body = message_body();
        let header = header_value(SECRET, now(), body.as_bytes());
        // The process acknowledges the delivery, then dies before its worker runs.
        let id = {
            let webhooks = Webhooks::open(config.clone()).await.unwrap();
            let receipt = webhooks.receive(Some(Kind::MessageReceived), Some(header.as_bytes()), body.as_bytes()).await;
            receipt.unwrap().id
        };
        // A new process on the same store.
        let webhooks = Webhooks::open(config).await.unwrap();
        let handler = Arc::new(Counting { calls: AtomicU32::new(0), fail_first: 0, panic: false });
        let worker = webhooks.start_worker(handler.clone());
        let event = wait_state(&webhooks, id, State::Handled).await;
        assert_eq!((handler.calls.load(Ordering::SeqCst), event.attempts), (1, 1));
        // Fanvue retries the delivery it may think was lost: acknowledged, not handled again.
        let receipt = webhooks.receive(Some(Kind::MessageReceived), Some(header.as_bytes()), body.as_bytes()).await;
        assert!(receipt.unwrap().duplicate);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(handler.calls.load(Ordering::SeqCst), 1);
        worker.abort();
    }

    #[tokio::test]
    async fn a_failing_or_panicking_handler_is_retried_and_then_given_up() {
        let dir = tempfile::tempdir().unwrap();
        let webhooks = Webhooks::open(config(&dir.path().join("events.db"))).await.unwrap();
        let handler = Arc::new(Counting { calls: AtomicU32::new(0), fail_first: 1, panic: true });
        let worker = webhooks.start_worker(handler.clone());
        let body = message_body();
        let header = header_value(SECRET, now(), body.as_bytes());
        let id = webhooks.receive(None, Some(header.as_bytes()), body.as_bytes()).await.unwrap().id;
        let event = wait_state(&webhooks, id, State::Handled).await;
        assert_eq!(event.attempts, 2, "the panic counted as a failed attempt, retried after 2 s");
        worker.abort();

        // Always failing: three attempts (2 s, 4 s apart), then failed with the last error
        // (in Redis this time: both backends behave the same).
        let redis = Redis::start();
        let webhooks = Webhooks::open(with_store(EventStoreKind::Redis(redis.url()))).await.unwrap();
        let handler = Arc::new(Counting { calls: AtomicU32::new(0), fail_first: u32::MAX, panic: false });
        let worker = webhooks.start_worker(handler.clone());
        let body = message_body();
        let header = header_value(SECRET, now(), body.as_bytes());
        let id = webhooks.receive(None, Some(header.as_bytes()), body.as_bytes()).await.unwrap().id;
        let event = wait_state(&webhooks, id, State::Failed).await;
        assert_eq!((event.attempts, event.last_error.as_deref()), (3, Some("attempt 3 failed")));
        assert_eq!(handler.calls.load(Ordering::SeqCst), 3);
        worker.abort();
    }

    /// Bodies hold fans' messages and purchases: sealed in Redis as in SQLite, and each
    /// creator's list holds only events addressed to them.
    #[tokio::test]
    async fn in_redis_bodies_are_sealed_and_events_are_listed_per_creator() {
        let redis = Redis::start();
        let webhooks = Webhooks::open(with_store(EventStoreKind::Redis(redis.url()))).await.unwrap();
        let (ava, bo) = ("a3c1e6f2-5b7d-4e8a-9c0f-1d2e3f4a5b6c", "b0b0b0b0-1c2d-4e3f-8a9b-0c1d2e3f4a5b");
        let mut ids = Vec::new();
        for (recipient, text) in [(ava, "a secret for Ava"), (bo, "a secret for Bo"), (ava, "more for Ava")] {
            let mut body: serde_json::Value = serde_json::from_str(&message_body()).unwrap();
            body["recipientUuid"] = recipient.into();
            body["message"]["text"] = text.into();
            body["messageUuid"] = fanvue_app_starter::features::webhooks::samples::random_uuid().into();
            let body = body.to_string();
            let header = header_value(SECRET, now(), body.as_bytes());
            let receipt = webhooks.receive(None, Some(header.as_bytes()), body.as_bytes()).await.unwrap();
            ids.push(receipt.id);
        }
        let mine = webhooks.store().recent_for(&[ava.to_owned()], 10).await.unwrap();
        assert_eq!(mine.iter().map(|e| e.id).collect::<Vec<_>>(), [ids[2], ids[0]], "Ava's, newest first");
        assert!(String::from_utf8_lossy(&mine[0].body).contains("more for Ava"), "opened on the way out");
        let both = webhooks.store().recent_for(&[bo.to_owned(), ava.to_owned()], 2).await.unwrap();
        assert_eq!(both.iter().map(|e| e.id).collect::<Vec<_>>(), [ids[2], ids[1]]);
        let raw = std::process::Command::new("redis-cli")
            .args(["-p", &redis.port.to_string(), "HGETALL", &format!("fanvue-app-starter:webhook:event:{}", ids[0])])
            .output()
            .unwrap();
        let raw = String::from_utf8_lossy(&raw.stdout);
        assert!(raw.contains(ava) && !raw.contains("a secret for Ava") && !raw.contains("Test User"), "{raw}");
    }

    /// Subscriptions' endpoints and secrets in Redis: sealed, found by id, forgotten with
    /// their subscription; under another SESSION_SECRET the secret is unreadable, not wrong.
    #[tokio::test]
    async fn in_redis_subscription_secrets_are_sealed_and_forgotten_with_their_subscription() {
        use fanvue_app_starter::features::webhooks::store::{Endpoint, EventStore};
        let redis = Redis::start();
        let keys = |secret: &str| fanvue_app_starter::features::webhooks::at_rest::AtRest::new(secret, None);
        let open = |secret: &'static str| {
            let url = redis.url();
            async move { EventStore::open(&EventStoreKind::Redis(url), Duration::from_secs(60), keys(secret)).await }
        };
        let store = open(crate::harness::SECRET).await.unwrap();
        for (id, subscription, secret) in
            [("AAAAAAAAAAAAAAAAAAAAAA", "whsub_1", Some("whsec_first")), ("BBBBBBBBBBBBBBBBBBBBBB", "whsub_2", None)]
        {
            let endpoint = Endpoint {
                id: id.to_owned(),
                subscription_id: subscription.to_owned(),
                owner: AVA.to_owned(),
                events: vec!["message.received".to_owned()],
                created_at: 1,
                secret: secret.map_or(EndpointSecret::App, |s| EndpointSecret::Own(s.to_owned().into())),
            };
            store.put_endpoint(&endpoint).await.unwrap();
        }
        let first = store.endpoint("AAAAAAAAAAAAAAAAAAAAAA").await.unwrap().unwrap();
        assert!(matches!(&first.secret, EndpointSecret::Own(s) if s.expose_secret() == "whsec_first"));
        assert!(!format!("{first:?}").contains("whsec_first"), "redacted in Debug");
        let all = store.endpoints().await.unwrap();
        assert_eq!(all.iter().map(|e| e.subscription_id.as_str()).collect::<Vec<_>>(), ["whsub_1", "whsub_2"]);
        assert!(matches!(all[1].secret, EndpointSecret::App));
        let raw = std::process::Command::new("redis-cli")
            .args([
                "-p",
                &redis.port.to_string(),
                "HGETALL",
                "fanvue-app-starter:webhook:endpoint:AAAAAAAAAAAAAAAAAAAAAA",
            ])
            .output()
            .unwrap();
        assert!(!String::from_utf8_lossy(&raw.stdout).contains("whsec_first"), "sealed in Redis");
        let other = open("another-secret-another-secret-xx").await.unwrap();
        let unreadable = other.endpoint("AAAAAAAAAAAAAAAAAAAAAA").await.unwrap().unwrap();
        assert!(matches!(unreadable.secret, EndpointSecret::Unreadable));
        store.delete_endpoints_of("whsub_1").await.unwrap();
        assert!(store.endpoint("AAAAAAAAAAAAAAAAAAAAAA").await.unwrap().is_none());
        assert_eq!(store.endpoints().await.unwrap().len(), 1);
    }
}
