//! The HTTPS listener and the process: certificates, hostile clients, headers, static
//! files, graceful shutdown, and configuration errors at start-up.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::*;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn a_self_signed_certificate_is_generated_once_and_reused() {
    let mut app = TestApp::spawn(&[]).await;
    let cert = app.dir.path().join("certs/localhost.pem");
    let key = app.dir.path().join("certs/localhost-key.pem");
    let first = std::fs::read(&cert).unwrap();
    assert!(first.starts_with(b"-----BEGIN CERTIFICATE-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(app.logs().contains("mkcert"), "the log says how to get a trusted certificate");
    app.restart(&[]).await;
    assert_eq!(std::fs::read(&cert).unwrap(), first, "reused, not regenerated");
    // The listener really serves that certificate for localhost.
    let response = raw_get(&app, "/healthz", "").await;
    assert_eq!(raw_status(&response), 200);
}

#[tokio::test]
async fn hostile_clients_do_not_stop_the_server() {
    let app = TestApp::spawn(&[]).await;
    let addr = ("127.0.0.1", app.port);

    // A client that connects and never sends a byte must not block others.
    let _stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let r = app.client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(2), "served while a handshake is stalled");

    // Plain HTTP on the TLS port: a clean failure for that connection only.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut buf)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&buf);
    assert!(answer.starts_with("HTTP/1.1 400 Bad Request") && answer.contains("use https://"), "{answer}");

    // Garbage that looks like the start of a TLS record, then junk: the handshake fails,
    // the connection is closed (with a TLS alert or nothing), and nothing else is affected.
    let mut garbage = tokio::net::TcpStream::connect(addr).await.unwrap();
    garbage.write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 0x00, 0x13, 0x37]).await.unwrap();
    garbage.write_all(&[0u8; 4096]).await.unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), garbage.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "the server closed the garbage connection");
    assert!(buf.is_empty() || buf[0] == 0x15, "a TLS alert or nothing: {buf:?}");

    // Malformed HTTP inside TLS, a huge query string, a broken cookie.
    let junk = raw_https(&app, b"\x00\x01 NOT HTTP\r\n\r\n").await.unwrap_or_default();
    assert!(junk.is_empty() || raw_status(&junk) == 400, "{junk}");
    let huge = raw_get(&app, &format!("/?error={}", "x".repeat(200_000)), "").await;
    let status = raw_status(&huge);
    assert!((200..500).contains(&status) || huge.is_empty(), "{status}");
    let cookie = raw_get(
        &app,
        "/",
        "Cookie: __Host-fanvue_oauth=%%%;;==garbage; __Host-fanvue_oauth=AAAAAAAAAAAAAAAAAAAAAA\r\n",
    )
    .await;
    assert_eq!(raw_status(&cookie), 200, "a malformed session cookie is just no session");
    let control = raw_get(&app, "/", "Cookie: __Host-fanvue_oauth=\u{7f}\u{1}\r\n").await;
    assert_eq!(raw_status(&control), 400);
    let nonsense = raw_get(&app, "/api/oauth/callback?code=%ZZ&state=%00%ff&&&=&error_description", "").await;
    assert_eq!(raw_status(&nonsense), 303, "{nonsense}");

    let r = app.client().get(app.url("/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "still serving");
}

#[tokio::test]
async fn pages_carry_security_headers_and_errors_are_pages_with_a_request_id() {
    let app = TestApp::spawn(&[]).await;
    let r = app.client().get(app.url("/")).send().await.unwrap();
    let h = r.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert_eq!(h["cache-control"], "no-store");
    assert!(h.contains_key("x-request-id"));

    let r = app.client().get(app.url("/no/such/page")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let page = r.text().await.unwrap();
    assert!(page.contains(&format!(r#"<code id="request-id">{id}</code>"#)), "{page}");
    let r = app.client().get(app.url("/api/oauth/logout")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "logout is POST only");
}

#[tokio::test]
async fn static_files_are_built_in() {
    let app = TestApp::spawn(&[]).await;
    for (path, content_type) in [
        ("/static/app.css", "text/css; charset=utf-8"),
        ("/static/logo.svg", "image/svg+xml"),
        ("/favicon.ico", "image/svg+xml"),
    ] {
        let r = app.client().get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.headers()["content-type"], content_type);
        assert!(r.headers()["cache-control"].to_str().unwrap().contains("max-age"));
    }
    for path in ["/static/..%2fCargo.toml", "/static/../Cargo.toml", "/static/%2e%2e/Cargo.toml", "/static/nope.css"] {
        let response = raw_get(&app, path, "").await;
        assert_eq!(raw_status(&response), 404, "{path}: {response}");
    }
}

/// Fanvue answers in 1.5 s here, so the page is still in flight when SIGTERM arrives.
#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_and_exits_zero() {
    let mut app = TestApp::spawn(&[("SANDBOX_LATENCY_MS", "1500")]).await;
    let browser = app.client();
    login(&app, &browser).await;
    let in_flight = {
        let browser = browser.clone();
        let url = app.url("/");
        tokio::spawn(async move {
            let r = browser.get(url).send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let status = app.terminate().await;
    assert!(status.success(), "exit status {status}");
    assert!(started.elapsed() >= Duration::from_millis(500), "it waited for the request");
    let (code, page) = in_flight.await.unwrap();
    assert_eq!(code, StatusCode::OK);
    assert!(page.contains("Ava Sandbox"), "the in-flight page completed");
    assert!(app.logs().contains("shut down cleanly"));
}

fn run_binary(env: &[(&str, &str)], args: &[&str]) -> (i32, String) {
    run_binary_with_dotenv(None, env, args)
}

/// The binary in a fresh folder holding `.env` with `dotenv` (when given).
fn run_binary_with_dotenv(dotenv: Option<&str>, env: &[(&str, &str)], args: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    if let Some(contents) = dotenv {
        std::fs::write(dir.path().join(".env"), contents).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_fanvue-app-starter"))
        .args(args)
        .current_dir(dir.path())
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn configuration_errors_name_the_variable_and_the_fix() {
    let (code, err) = run_binary(&[], &[]);
    assert_eq!(code, 1);
    for needle in ["OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET", "SESSION_SECRET", "openssl rand -hex 32", ".env.example"] {
        assert!(err.contains(needle), "missing {needle} in:\n{err}");
    }
    assert!(err.contains("cargo run -- --sandbox"), "nothing configured: the sandbox is suggested:\n{err}");

    let base = [("OAUTH_CLIENT_ID", "id"), ("OAUTH_CLIENT_SECRET", "secret")];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        base.iter().chain(extra.iter()).copied().collect()
    };
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[("SESSION_SECRET", "short")], "at least 32"),
        (&[("SESSION_SECRET", SECRET), ("OAUTH_SCOPES", "read:self read:everything")], "read:everything"),
        (&[("SESSION_SECRET", SECRET), ("OAUTH_ISSUER_BASE_URL", "http://auth.example.com")], "OAUTH_ISSUER_BASE_URL"),
        (
            &[("SESSION_SECRET", SECRET), ("TLS_CERT_PATH", "/nope.pem"), ("TLS_KEY_PATH", "/nope-key.pem")],
            "TLS_CERT_PATH",
        ),
        (&[("SESSION_SECRET", SECRET), ("PORT", "http")], "PORT"),
        (&[("SESSION_SECRET", SECRET), ("OAUTH_RESPONSE_MODE", "fragment")], "OAUTH_RESPONSE_MODE"),
    ];
    for (extra, needle) in cases {
        let (code, err) = run_binary(&with(extra), &[]);
        assert_eq!(code, 1, "{extra:?}");
        assert!(err.contains(needle), "{needle} not in:\n{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let (code, err) = run_binary(&[], &["--bogus"]);
    assert_eq!(code, 2);
    assert!(err.contains("--sandbox"));
}

/// A `.env` line that is not `KEY=value` (the example once called the scope list
/// "space-separated") is named by its number and key, with how to write it; its value, which
/// may be a secret, is never printed.
#[test]
fn a_broken_env_line_is_named_with_its_number_and_how_to_fix_it() {
    let dotenv = "# comment\nOAUTH_CLIENT_ID=id\nOAUTH_SCOPES=read:self read:media\nOAUTH_CLIENT_SECRET=s3cr3t-value\n";
    let (code, err) = run_binary_with_dotenv(Some(dotenv), &[], &[]);
    assert_eq!(code, 1, "{err}");
    for needle in [".env line 3", "OAUTH_SCOPES", "commas", "quotes"] {
        assert!(err.contains(needle), "missing {needle} in:\n{err}");
    }
    assert!(!err.contains("read:media") && !err.contains("s3cr3t"), "no value is printed:\n{err}");
    // Written as the example now says (commas), it is read.
    let fixed = dotenv.replace("read:self read:media", "read:self,read:media");
    let (code, err) = run_binary_with_dotenv(Some(&fixed), &[], &[]);
    assert_eq!(code, 1, "still unconfigured otherwise: {err}");
    assert!(!err.contains(".env line") && err.contains("SESSION_SECRET"), "{err}");
}

#[test]
fn a_taken_port_is_a_clear_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let sandbox = free_port().to_string();
    let (code, err) =
        run_binary(&[("PORT", &port), ("BIND_ADDRESS", "127.0.0.1"), ("SANDBOX_PORT", &sandbox)], &["--sandbox"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot listen") && err.contains("PORT"), "{err}");
}

#[tokio::test]
async fn plain_http_mode_serves_behind_a_tls_terminating_proxy() {
    let listeners = Listeners::new();
    let port = listeners.app_port();
    let dir = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_fanvue-app-starter"));
    command
        .arg("--sandbox")
        .current_dir(dir.path())
        .env_clear()
        .envs([
            ("PORT", port.to_string()),
            ("BIND_ADDRESS", "127.0.0.1".into()),
            ("TLS_TERMINATED_BY_PROXY", "true".into()),
            ("BASE_URL", "https://app.example.com".into()),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    listeners.hand_to(&mut command);
    let mut child = tokio::process::Command::from(command).kill_on_drop(true).spawn().unwrap();
    let client = client_builder().build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let response = loop {
        if let Ok(r) = client.get(format!("http://127.0.0.1:{port}/api/oauth/login")).send().await {
            break r;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (_, cookie) = session_cookie(response.headers()).unwrap();
    assert!(cookie.contains("Secure"), "cookies stay Secure: the public URL is https");
    assert!(!dir.path().join("certs/app.example.com.pem").exists(), "no certificate for the app");
    child.kill().await.unwrap();
}

const LOCAL: [u8; 4] = [127, 0, 0, 1];

/// HTTP/2 over TLS: after one request and nothing more, the server sends GOAWAY and closes
/// the connection once HTTP_IDLE_TIMEOUT_SECS have passed (2 s here; margin 4 s).
#[tokio::test]
async fn an_idle_http2_connection_is_closed_with_goaway() {
    let app = TestApp::spawn(&[("HTTP_IDLE_TIMEOUT_SECS", "2")]).await;
    let (mut h2, connection, received) = h2_recorded(&app).await;
    assert_eq!(h2_get(&mut h2, &app, "/healthz").await, 200);
    assert!(goaway_codes(&received.lock().unwrap()).is_empty(), "no GOAWAY while in use");
    let idle_from = Instant::now();
    // The client's own end may race the server's close (a broken pipe): only that it ended counts.
    let ended = tokio::time::timeout(Duration::from_secs(15), connection).await;
    let waited = idle_from.elapsed();
    eprintln!("idle HTTP/2 connection closed after {waited:?}");
    assert!(matches!(ended, Ok(Ok(_))), "closed: {ended:?}");
    assert!(waited >= Duration::from_millis(1500) && waited < Duration::from_secs(6), "{waited:?}");
    let codes = goaway_codes(&received.lock().unwrap());
    assert!(!codes.is_empty() && codes.iter().all(|c| *c == 0), "GOAWAY with NO_ERROR first: {codes:?}");
    assert!(h2.ready().await.is_err(), "no new request on a closed connection");
    assert!(metric(&app, "http_connections_idle_closed_total").await >= 1);
}

/// A connection that is busy is not idle: a request body trickling in for longer than the
/// idle timeout, then a server-sent-event stream held open, keep it; once the stream is
/// dropped the connection is closed within the timeout.
#[tokio::test]
async fn a_long_request_or_stream_keeps_its_connection() {
    let app = TestApp::spawn(&[("HTTP_IDLE_TIMEOUT_SECS", "2")]).await;
    let cookie = signed_in_cookie(&app).await;
    let (mut h2, connection) = h2_from(&app, LOCAL).await.unwrap();
    let origin = app.origin();

    // A slow upload: 5 s of body, a byte every 250 ms.
    let headers = [("origin", origin.as_str()), ("content-type", "application/json")];
    let (response, mut body) = h2_send(&mut h2, &app, "POST", "/api/fanvue/users/me", &headers, None).await;
    body.send_data(bytes::Bytes::from_static(b"{\"a\":\""), false).unwrap();
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        body.send_data(bytes::Bytes::from_static(b"x"), false).unwrap();
    }
    body.send_data(bytes::Bytes::from_static(b"\"}"), true).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), response).await.unwrap().unwrap();
    assert!(response.status().is_client_error(), "answered after its body (signed out): {}", response.status());
    assert!(!connection.is_finished(), "not cut while the body was arriving");

    // A live feed held open for 5 s.
    let (response, _) =
        h2_send(&mut h2, &app, "GET", "/events/stream", &[("cookie", cookie.as_str())], Some(b"")).await;
    let feed = tokio::time::timeout(Duration::from_secs(10), response).await.unwrap().unwrap();
    assert_eq!(feed.status(), 200);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!connection.is_finished(), "not cut while the feed is open");
    assert_eq!(h2_get(&mut h2, &app, "/healthz").await, 200, "the same connection still serves");

    drop(feed);
    let idle_from = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(15), connection).await;
    eprintln!("closed {:?} after the feed ended", idle_from.elapsed());
    assert!(ended.is_ok() && idle_from.elapsed() < Duration::from_secs(6));
}

/// More connections from one address than MAX_CONNECTIONS_PER_IP are closed at once; another
/// address is served meanwhile, and a closed connection frees its place.
#[tokio::test]
async fn connections_are_capped_per_client_address() {
    let app = TestApp::spawn(&[("MAX_CONNECTIONS_PER_IP", "3")]).await;
    let crowd = [127, 0, 0, 2];
    let mut held = Vec::new();
    for _ in 0..3 {
        let (mut h2, connection) = h2_from(&app, crowd).await.unwrap();
        assert_eq!(h2_get(&mut h2, &app, "/healthz").await, 200);
        held.push((h2, connection));
    }
    let refused = match h2_from(&app, crowd).await {
        Ok((mut h2, _)) => h2.clone().ready().await.is_err() || h2_try_get(&mut h2, &app).await.is_none(),
        Err(_) => true,
    };
    assert!(refused, "a fourth connection from 127.0.0.2 is closed");
    assert_eq!(metric(&app, "http_connections_refused_total{limit=\"per_ip\"}").await, 1);

    let (mut other, _) = h2_from(&app, [127, 0, 0, 3]).await.unwrap();
    assert_eq!(h2_get(&mut other, &app, "/healthz").await, 200, "another address is unaffected");
    assert_eq!(app.client().get(app.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);

    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok((mut h2, _)) = h2_from(&app, crowd).await
            && h2_try_get(&mut h2, &app).await == Some(200)
        {
            break;
        }
        assert!(Instant::now() < deadline, "the closed connection's place was not freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// MAX_CONNECTIONS caps the instance whoever connects.
#[tokio::test]
async fn connections_are_capped_in_total() {
    let app = TestApp::spawn(&[("MAX_CONNECTIONS", "4")]).await;
    // Only the metrics request's own connection is left from start-up.
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&app, "http_connections_open").await > 1 {
        assert!(Instant::now() < deadline, "start-up connections did not close");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut held = Vec::new();
    for source in [[127, 0, 0, 2], [127, 0, 0, 2], [127, 0, 0, 3], [127, 0, 0, 3]] {
        let (mut h2, connection) = h2_from(&app, source).await.unwrap();
        assert_eq!(h2_get(&mut h2, &app, "/healthz").await, 200);
        held.push((h2, connection));
    }
    let refused = match h2_from(&app, [127, 0, 0, 4]).await {
        Ok((mut h2, _)) => h2_try_get(&mut h2, &app).await.is_none(),
        Err(_) => true,
    };
    assert!(refused, "a fifth connection is closed, from any address");
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok((mut h2, _)) = h2_from(&app, [127, 0, 0, 4]).await
            && h2_try_get(&mut h2, &app).await == Some(200)
        {
            break;
        }
        assert!(Instant::now() < deadline, "the closed connection's place was not freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(held);
    assert!(metric(&app, "http_connections_refused_total{limit=\"total\"}").await >= 1);
}

/// `GET /healthz`, or `None` when the connection is gone.
async fn h2_try_get(h2: &mut h2::client::SendRequest<bytes::Bytes>, app: &TestApp) -> Option<u16> {
    let ready = tokio::time::timeout(Duration::from_secs(5), h2.clone().ready()).await.ok()?.ok()?;
    *h2 = ready;
    let request = http::Request::get(app.url("/healthz")).body(()).ok()?;
    let (response, _) = h2.send_request(request, true).ok()?;
    let response = tokio::time::timeout(Duration::from_secs(5), response).await.ok()?.ok()?;
    Some(response.status().as_u16())
}

/// HTTP2_MAX_CONCURRENT_STREAMS is advertised, and a stream past it waits for one to end (h2
/// queues it; a client that ignored the setting would get REFUSED_STREAM).
#[tokio::test]
async fn streams_per_connection_are_capped() {
    let app = TestApp::spawn(&[("HTTP2_MAX_CONCURRENT_STREAMS", "2")]).await;
    let (mut h2, _connection) = h2_from(&app, LOCAL).await.unwrap();
    assert_eq!(h2_get(&mut h2, &app, "/healthz").await, 200);
    assert_eq!(h2.current_max_send_streams(), 2, "the server's SETTINGS_MAX_CONCURRENT_STREAMS");

    let origin = app.origin();
    let headers = [("origin", origin.as_str()), ("content-type", "application/json")];
    let (first, mut first_body) = h2_send(&mut h2, &app, "POST", "/api/fanvue/users/me", &headers, None).await;
    let (_second, _second_body) = h2_send(&mut h2, &app, "POST", "/api/fanvue/users/me", &headers, None).await;
    let request = http::Request::get(app.url("/healthz")).body(()).unwrap();
    let mut third = match tokio::time::timeout(Duration::from_secs(2), h2.clone().ready()).await {
        Ok(ready) => Box::pin(ready.unwrap().send_request(request, true).unwrap().0),
        Err(_) => panic!("the client could not even queue a third stream"),
    };
    assert!(
        tokio::time::timeout(Duration::from_secs(2), &mut third).await.is_err(),
        "a third stream is not served while two are open"
    );
    first_body.send_data(bytes::Bytes::from_static(b"{}"), true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), first).await.unwrap().unwrap();
    let third = tokio::time::timeout(Duration::from_secs(10), third).await.unwrap().unwrap();
    assert_eq!(third.status(), 200, "served once a stream ended");
}

/// A peer that stops answering (a dead client, a cut network) is found by the HTTP/2 pings
/// and its connection closed, even with a request in progress.
#[tokio::test]
async fn a_dead_peer_is_detected_by_keepalive_pings() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn(&[("HTTP2_KEEPALIVE_INTERVAL_SECS", "1"), ("HTTP2_KEEPALIVE_TIMEOUT_SECS", "1")]).await;
    // A relay that can go silent: past `frozen` nothing reaches the server and what the server
    // sends is read and dropped, as with a peer gone without a FIN.
    let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay_addr = relay.local_addr().unwrap();
    let frozen = Arc::new(AtomicBool::new(false));
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<Instant>();
    let app_port = app.port;
    let relay_task = {
        let frozen = frozen.clone();
        tokio::spawn(async move {
            let (client, _) = relay.accept().await.unwrap();
            let server = tokio::net::TcpStream::connect(("127.0.0.1", app_port)).await.unwrap();
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            let up_frozen = frozen.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n) = client_read.read(&mut buf).await {
                    if n == 0 || up_frozen.load(Ordering::SeqCst) {
                        break;
                    }
                    if server_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                // Keep the server's side open: a dead peer sends no FIN.
                std::future::pending::<()>().await;
                drop(server_write);
            });
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match server_read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) if !frozen.load(Ordering::SeqCst) => {
                        let _ = client_write.write_all(&buf[..n]).await;
                    }
                    Ok(_) => {}
                }
            }
            let _ = closed_tx.send(Instant::now());
        })
    };
    let (mut h2, _connection) = h2_via(&app, LOCAL, relay_addr).await.unwrap();
    assert_eq!(h2_get(&mut h2, &app, "/healthz").await, 200);
    let origin = app.origin();
    let headers = [("origin", origin.as_str()), ("content-type", "application/json")];
    let (_in_progress, _body) = h2_send(&mut h2, &app, "POST", "/api/fanvue/users/me", &headers, None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    frozen.store(true, Ordering::SeqCst);
    let silent_from = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(15), closed_rx).await;
    let after = closed.map(|at| at.unwrap().duration_since(silent_from));
    eprintln!("the server closed the silent connection after {after:?}");
    assert!(after.as_ref().is_ok_and(|d| *d < Duration::from_secs(8)), "not closed by the pings: {after:?}");
    relay_task.abort();
}

/// The SQLite database (sessions and webhook events) and its -wal/-shm files are the owner's
/// only, whether created now or left by an older install with wider permissions.
#[cfg(unix)]
#[tokio::test]
async fn the_data_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let app = TestApp::spawn(&[]).await;
    login(&app, &app.client()).await;
    let files = app.db_files();
    let names: Vec<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for expected in ["sessions.db", "sessions.db-wal", "sessions.db-shm"] {
        assert!(names.iter().any(|n| n == expected), "{expected} in {names:?}");
    }
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    assert_eq!(mode(&app.dir.path().join("data")), 0o700);

    // An older install's world-readable files are tightened at start.
    let dir = Arc::new(tempfile::tempdir().unwrap());
    std::fs::create_dir(dir.path().join("data")).unwrap();
    for name in ["sessions.db", "sessions.db-wal"] {
        let path = dir.path().join("data").join(name);
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let app = TestApp::spawn_in(dir, Listeners::new(), &[]).await;
    for file in app.db_files() {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
}
