//! Several instances sharing sessions in a real Redis (`redis-server`, started here on a free
//! port): sign in on one instance and continue on another, exactly one refresh at Fanvue
//! however the requests are spread, nothing readable in Redis, and surviving a Redis restart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::*;
use reqwest::StatusCode;

/// Instance A runs the sandbox; instance B joins it. Same folder, secret and Redis.
async fn two_instances(redis: &Redis, extra: &[(&str, &str)]) -> (TestApp, TestApp) {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let store = redis.url();
    let mut env = vec![("SESSION_STORE", store.as_str())];
    env.extend_from_slice(extra);
    let a = TestApp::spawn_in(dir.clone(), Listeners::new(), &env).await;
    let join = a.sandbox_url("");
    let mut env_b = env.clone();
    env_b.push(("SANDBOX_JOIN", join.as_str()));
    let b = TestApp::spawn_in(dir, Listeners::joining(a.sandbox_port), &env_b).await;
    (a, b)
}

#[tokio::test]
async fn sign_in_on_one_instance_and_continue_on_another() {
    let redis = Redis::start();
    let (a, b) = two_instances(&redis, &[]).await;
    let browser = a.client();
    login(&a, &browser).await;
    // The cookie is for `localhost` whatever the port: the same browser reaches B.
    let (status, page) = home(&b, &browser).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Ava Sandbox"), "B serves A's session: {page}");
    let r = browser.post(b.url("/api/oauth/logout")).header("origin", b.origin()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(home(&a, &browser).await.1.contains("Login with Fanvue"), "signed out everywhere");
}

#[tokio::test]
async fn requests_spread_over_two_instances_cause_exactly_one_refresh() {
    let redis = Redis::start();
    // A slow token endpoint keeps both instances' refresh attempts in flight together.
    let (a, b) = two_instances(&redis, &[("SANDBOX_ACCESS_TOKEN_TTL_SECS", "33"), ("SANDBOX_LATENCY_MS", "300")]).await;
    let browser = a.client();
    login(&a, &browser).await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let requests = (0..24).map(|i| {
        let browser = browser.clone();
        let url = if i % 2 == 0 { a.url("/api/fanvue/users/me") } else { b.url("/api/fanvue/users/me") };
        tokio::spawn(async move { browser.get(url).send().await.unwrap().status() })
    });
    for status in futures_util::future::join_all(requests).await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
    assert_eq!(a.stat("refreshes").await, 1, "one refresh at Fanvue for both instances");
    assert_eq!(a.stat("reuseDetected").await, 0);
}

#[tokio::test]
async fn nothing_in_redis_is_readable() {
    let redis = Redis::start();
    let (a, _b) = two_instances(&redis, &[]).await;
    let browser = a.client();
    let login = login(&a, &browser).await;
    let code = query_of(&login.callback_url)["code"].clone();
    let dump = redis.dump();
    assert!(dump.contains("fanvue-app-starter:session:"), "the sessions are there: {dump}");
    for secret in ["sbx_at.", "sbx_rt_", code.as_str(), "read:self"] {
        assert!(!dump.contains(secret), "Redis holds {secret} in clear");
    }
}

#[tokio::test]
async fn a_redis_outage_gives_quick_503s_and_heals_by_itself() {
    let mut redis = Redis::start();
    let (a, _b) = two_instances(&redis, &[]).await;
    let browser = a.client();
    login(&a, &browser).await;
    redis.stop();

    let started = Instant::now();
    let (status, page) = home(&a, &browser).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{page}");
    assert!(page.contains("session store is unavailable"));
    assert!(started.elapsed() < Duration::from_secs(5), "bounded: {:?}", started.elapsed());
    let r = browser.get(a.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);

    redis.launch();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = browser.get(a.url("/readyz")).send().await.unwrap();
        if r.status() == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, page) = home(&a, &browser).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Ava Sandbox"), "the session Redis kept is still there");
}

#[tokio::test]
async fn the_fanvue_budget_is_shared_by_the_instances() {
    let redis = Redis::start();
    let (a, b) = two_instances(&redis, &[("FANVUE_BUDGET_PER_MINUTE", "4")]).await;
    let browser = a.client();
    login(&a, &browser).await;
    for (i, app) in [&a, &b, &a, &b].iter().enumerate() {
        let r = browser.get(app.url("/api/fanvue/users/me")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "call {i}");
    }
    let r = browser.get(b.url("/api/fanvue/users/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "the fifth call, on either instance");
}

/// The shared budget is GCRA in Redis, like the in-process limit: a burst up to the limit,
/// then one more per interval; the key expires once the burst has refilled.
#[tokio::test]
async fn the_shared_budget_is_a_gcra_limit_in_redis() {
    use fanvue_app_starter::infra::redis::RedisStore;
    use governor::Quota;
    use std::num::NonZeroU32;

    let redis = Redis::start();
    let store = RedisStore::new(
        fanvue_app_starter::infra::connections::Connections::default().redis(&redis.url()).await.unwrap(),
    );
    let interval = Duration::from_millis(300);
    let quota = Quota::with_period(interval).unwrap().allow_burst(NonZeroU32::new(3).unwrap());
    for i in 0..3 {
        assert_eq!(store.gcra("budget:u1", quota).await.unwrap(), Ok(()), "request {i} of the burst");
    }
    let wait = store.gcra("budget:u1", quota).await.unwrap().unwrap_err();
    assert!(wait > Duration::from_millis(200) && wait <= interval, "{wait:?}");
    assert_eq!(store.gcra("budget:u2", quota).await.unwrap(), Ok(()), "per key");
    let ttl = redis.cli(&["PTTL", "fanvue-app-starter:gcra:budget:u1"]);
    let ttl: u64 = ttl.trim().parse().unwrap();
    assert!(ttl > 0 && ttl <= 900, "expires once the burst has refilled: {ttl} ms");

    tokio::time::sleep(wait + Duration::from_millis(20)).await;
    assert_eq!(store.gcra("budget:u1", quota).await.unwrap(), Ok(()), "one came back");
    assert!(store.gcra("budget:u1", quota).await.unwrap().is_err(), "only one");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(redis.cli(&["EXISTS", "fanvue-app-starter:gcra:budget:u1"]).trim(), "0", "expired");
    for i in 0..3 {
        assert_eq!(store.gcra("budget:u1", quota).await.unwrap(), Ok(()), "a whole burst again ({i})");
    }
}

/// Rotating SESSION_SECRET with SESSION_SECRET_PREVIOUS signs no one out, and moves the
/// records in Redis to the new secret as they are used.
#[tokio::test]
async fn rotating_the_session_secret_keeps_everyone_signed_in() {
    let redis = Redis::start();
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let store = redis.url();
    let mut app = TestApp::spawn_in(dir, Listeners::new(), &[("SESSION_STORE", store.as_str())]).await;
    let browser = app.client();
    login(&app, &browser).await;
    let before = redis.dump();

    let new_secret = "the-next-session-secret-0123456789abcdef";
    app.restart(&[("SESSION_SECRET", new_secret), ("SESSION_SECRET_PREVIOUS", SECRET)]).await;
    assert!(home(&app, &browser).await.1.contains("Ava Sandbox"), "still signed in during the rotation");
    let after = redis.dump();
    assert_ne!(before, after, "the record moved under the new secret");

    app.restart(&[("SESSION_SECRET", new_secret), ("SESSION_SECRET_PREVIOUS", "")]).await;
    assert!(home(&app, &browser).await.1.contains("Ava Sandbox"), "still signed in once the old secret is gone");
}

/// Webhook events live in the sessions' Redis: Fanvue's retry of a delivery that reached A
/// lands on B and is recognised as a duplicate, and only one instance handles the event,
/// whichever worker claims it.
#[tokio::test]
async fn a_webhook_retried_on_another_instance_is_handled_once() {
    use fanvue_app_starter::features::webhooks::signature::header_value;
    let redis = Redis::start();
    let secret = "shared-webhook-secret";
    let (a, b) = two_instances(&redis, &[("FANVUE_WEBHOOK_SECRET", secret)]).await;
    let body = fanvue_app_starter::features::webhooks::samples::sample("message-received", "2026-05-20T10:00:00.000Z")
        .unwrap()
        .body
        .to_string();
    let mut answers = Vec::new();
    for (i, app) in [&a, &b, &a, &b].into_iter().enumerate() {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let r = app
            .cookieless()
            .post(app.url("/api/webhooks/fanvue/message-received"))
            .header("x-fanvue-signature", header_value(secret, t + i as i64, body.as_bytes()))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        answers.push(r.json::<serde_json::Value>().await.unwrap());
    }
    assert_eq!(answers.iter().filter(|a| a["duplicate"] == false).count(), 1, "{answers:?}");
    assert!(answers.iter().all(|x| x["id"] == answers[0]["id"]));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let handled =
            a.logs().matches("a fan sent a message").count() + b.logs().matches("a fan sent a message").count();
        if handled == 1 {
            break;
        }
        assert!(handled < 2, "handled twice");
        assert!(Instant::now() < deadline, "never handled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Both instances' events pages show it, handled, with its four deliveries.
    let browser = a.client();
    login(&a, &browser).await;
    for app in [&a, &b] {
        let page = browser.get(app.url("/events")).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("data-state=\"handled\"") && page.contains("class=\"event-deliveries\">4<"), "{page}");
    }
    assert!(!redis.dump().contains("ory_at") && redis.dump().contains("message-received"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let total = a.logs().matches("a fan sent a message").count() + b.logs().matches("a fan sent a message").count();
    assert_eq!(total, 1);
}
