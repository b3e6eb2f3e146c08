//! Operating the app: readiness, metrics (and who may read them), JSON logs.

use crate::harness::*;
use reqwest::StatusCode;

#[tokio::test]
async fn readyz_reports_the_session_store() {
    let app = TestApp::spawn(&[]).await;
    let r = app.client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["sessionStore"], "ok");
}

#[tokio::test]
async fn metrics_count_requests_upstream_calls_and_sessions() {
    let app = TestApp::spawn(&[]).await;
    let browser = app.client();
    login(&app, &browser).await;
    home(&app, &browser).await;
    let text = browser.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains(r#"http_requests_total{route="/",status="200"}"#), "{text}");
    assert!(text.contains(r#"http_request_duration_seconds_bucket{route="/",le="+Inf"}"#));
    assert!(text.contains(r#"fanvue_upstream_requests_total{endpoint="/users/me",status="200"} 1"#), "{text}");
    assert!(text.contains("fanvue_sessions_created_total 1"));
    assert!(!text.contains("sbx_"), "no token in metrics");
}

#[tokio::test]
async fn metrics_need_the_token_when_one_is_set() {
    let app = TestApp::spawn(&[("METRICS_TOKEN", "a-long-metrics-token-123")]).await;
    let c = app.client();
    assert_eq!(c.get(app.url("/metrics")).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let wrong = c.get(app.url("/metrics")).bearer_auth("a-long-metrics-token-999").send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let ok = c.get(app.url("/metrics")).bearer_auth("a-long-metrics-token-123").send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(ok.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
}

#[tokio::test]
async fn json_logs_have_one_object_per_line_with_the_request_id() {
    let app = TestApp::spawn(&[("LOG_FORMAT", "json")]).await;
    let browser = app.client();
    login(&app, &browser).await;
    let r = browser.get(app.url("/nowhere")).send().await.unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let logs = app.logs();
    let lines: Vec<serde_json::Value> =
        logs.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(lines.iter().any(|l| l["span"]["request_id"] == id.as_str() && l["fields"]["status"] == 404), "{logs}");
    assert!(!logs.contains("sbx_at.") && !logs.contains("sbx_rt_"));
}

#[test]
fn a_bad_log_format_is_a_clear_error() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fanvue-app-starter"))
        .arg("--sandbox")
        .env_clear()
        .env("LOG_FORMAT", "xml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LOG_FORMAT"));
}

/// `RUST_LOG=` (empty, as a copied `.env.example` has it, also under Docker's `--env-file`)
/// counts as unset: the default filter, so the "open https://…" line and the request log
/// still appear.
#[tokio::test]
async fn an_empty_rust_log_is_the_default_filter() {
    let app = TestApp::spawn(&[("RUST_LOG", "")]).await;
    let c = app.cookieless();
    assert_eq!(c.get(app.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);
    let logs = app.logs();
    assert!(logs.contains("open https://"), "the start-up line is logged:\n{logs}");
}

#[tokio::test]
async fn login_and_proxy_calls_are_limited_per_client_ip() {
    let app = TestApp::spawn(&[("RATE_LIMIT_PER_MINUTE", "5")]).await;
    let c = app.cookieless();
    for _ in 0..5 {
        assert_eq!(c.get(app.url("/api/oauth/login")).send().await.unwrap().status(), StatusCode::SEE_OTHER);
    }
    let r = c.get(app.url("/api/fanvue/users/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=12).contains(&wait), "the next request is due within 60/5 s, not at the end of a minute: {wait}");
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "rate_limited");
    assert_eq!(c.get(app.url("/")).send().await.unwrap().status(), StatusCode::OK, "pages are not limited");
    let metrics = c.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("http_rate_limited_total 1"), "{metrics}");
    // A client cannot dodge the limit by typing X-Forwarded-For (no trusted proxy configured).
    let r = c.get(app.url("/api/oauth/login")).header("x-forwarded-for", "203.0.113.9").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    let app = TestApp::spawn(&[("RATE_LIMIT_PER_MINUTE", "2"), ("TRUSTED_PROXIES", "127.0.0.1,::1")]).await;
    let c = app.cookieless();
    for client in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        for _ in 0..2 {
            let r = c.get(app.url("/api/oauth/login")).header("x-forwarded-for", client).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{client}");
        }
    }
    let r = c.get(app.url("/api/oauth/login")).header("x-forwarded-for", "203.0.113.1").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_healthcheck_flag_reports_a_running_server() {
    let app = TestApp::spawn(&[]).await;
    let check = |port: u16| {
        std::process::Command::new(env!("CARGO_BIN_EXE_fanvue-app-starter"))
            .arg("--healthcheck")
            .env_clear()
            .env("PORT", port.to_string())
            .status()
            .unwrap()
    };
    assert!(check(app.port).success());
    assert!(!check(free_port()).success(), "nothing listening: unhealthy");
}

/// The app keeps under Fanvue's 200 requests a minute per user: past its own budget it
/// answers 429 itself and Fanvue is not called.
#[tokio::test]
async fn the_per_user_fanvue_budget_is_kept_without_calling_fanvue() {
    let app = TestApp::spawn(&[("FANVUE_BUDGET_PER_MINUTE", "5")]).await;
    let browser = app.client();
    login(&app, &browser).await;
    let before = app.stat("apiCalls").await;
    for _ in 0..5 {
        assert_eq!(browser.get(app.url("/api/fanvue/users/me")).send().await.unwrap().status(), StatusCode::OK);
    }
    let r = browser.get(app.url("/api/fanvue/users/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    assert!(!r.headers().contains_key("x-ratelimit-remaining"), "the app's own answer, not Fanvue's");
    assert_eq!(app.stat("apiCalls").await, before + 5, "Fanvue was not called for the sixth");
    // A managed creator's routes have their own bucket, as at Fanvue.
    let creator = browser
        .get(app.url("/api/fanvue/creators/000c4ea7-0000-4ea7-8000-000000000000/followers"))
        .send()
        .await
        .unwrap();
    assert_eq!(creator.status(), StatusCode::OK);
}

const TOKEN: &str = "a-long-metrics-token-123";

/// Behind a TLS-terminating proxy every client arrives from the proxy (here over loopback):
/// the loopback rule would make metrics public, so METRICS_TOKEN is required there, and
/// /readyz tells the public only whether it is ready.
#[tokio::test]
async fn behind_a_tls_terminating_proxy_metrics_need_the_token() {
    let proxied = [
        ("TLS_TERMINATED_BY_PROXY", "true"),
        ("BASE_URL", "https://app.example.com"),
        ("TRUSTED_PROXIES", "127.0.0.1"),
    ];
    let app = TestApp::spawn(&proxied).await;
    let c = app.cookieless();
    let r = c.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "the proxy's own loopback address is not enough");
    assert!(r.text().await.unwrap().contains("TLS_TERMINATED_BY_PROXY"), "says why");
    let r = c.get(app.url("/metrics")).header("x-forwarded-for", "203.0.113.9").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a client of the proxy");
    let body: serde_json::Value = c.get(app.url("/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ready"}), "no details for the public");
    assert!(app.logs().contains("METRICS_TOKEN is not"), "the start-up log says so");

    let mut with_token = proxied.to_vec();
    with_token.push(("METRICS_TOKEN", TOKEN));
    let app = TestApp::spawn(&with_token).await;
    let c = app.cookieless();
    assert_eq!(c.get(app.url("/metrics")).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let r = c.get(app.url("/metrics")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value =
        c.get(app.url("/readyz")).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["sessionStore"], "ok", "details for a caller allowed to read metrics");
}

/// Without a token, "a client on this host" is the client the rate limits see: a request
/// relayed by a trusted proxy on this host counts as the forwarded client, not as loopback.
#[tokio::test]
async fn a_same_host_proxy_does_not_make_metrics_public() {
    let app = TestApp::spawn(&[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let c = app.cookieless();
    let r = c.get(app.url("/metrics")).header("x-forwarded-for", "203.0.113.9").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a remote client relayed by the local proxy");
    let body: serde_json::Value =
        c.get(app.url("/readyz")).header("x-forwarded-for", "203.0.113.9").send().await.unwrap().json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ready"}));
    assert_eq!(c.get(app.url("/metrics")).send().await.unwrap().status(), StatusCode::OK, "a scraper on this host");
}

/// A failing store: the public learns only "unavailable"; the reason is in the log and shown
/// to the holder of METRICS_TOKEN.
#[tokio::test]
async fn readyz_keeps_the_failure_reason_for_the_log_and_operators() {
    let mut redis = Redis::start();
    let store = redis.url();
    let app = TestApp::spawn(&[("SESSION_STORE", store.as_str()), ("METRICS_TOKEN", TOKEN)]).await;
    redis.stop();
    let c = app.cookieless();
    let r = c.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "unavailable"}), "which store failed, and why, is not public");
    let r = c.get(app.url("/readyz")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = r.json().await.unwrap();
    let reason = body["sessionStore"].as_str().unwrap_or_default().to_owned();
    assert!(!reason.is_empty() && reason != "ok", "{body}");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(app.logs().contains("not ready: the session store does not answer"), "{}", app.logs());
}
