//! The performance suite: how close the app sits to the cost of calling the upstream
//! directly. `scripts/bench` (installs `wrk` when missing) or `cargo bench --bench suite`.
//!
//! It builds the release binary (cargo does, for benches), starts a minimal upstream stand-in
//! in this process (plain HTTP on loopback, answering instantly: OAuth auto-approve, token,
//! `GET /users/me`), starts the app against it over TLS, signs in, and drives load with `wrk`
//! (a separate process, one thread, loopback only, `BENCH_SECONDS` per scenario, default 10):
//!
//! Scenarios: (1) the upstream called directly, (2) the same call through
//! `/api/fanvue/users/me`, (3) the signed-in home page, (4) `GET /api/oauth/login`, (5) a
//! static file, (6) the home page under 256 connections, (7) new TLS connections
//! (`Connection: close`: handshakes/s).
//!
//! Also printed: resident memory idle and at peak, exec to first response, binary size,
//! ratios to the direct call, session-store operations per request, and how many upstream
//! connections the proxy opened. `UPDATE_BENCHMARKS=1` writes the run to `BENCHMARKS.md`.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../tests/it/harness.rs"]
mod common;

use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::RawQuery;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

const USER_JSON: &str = r#"{"uuid":"a3c1e6f2-5b7d-4e8a-9c0f-1d2e3f4a5b6c","email":"bench@example.test","handle":"bench.creator","bio":"A creator for the benchmark.","displayName":"Bench Creator","isCreator":true,"createdAt":"2024-03-14T09:30:00.000Z","updatedAt":null,"avatarUrl":null,"bannerUrl":null,"likesCount":5421,"fanCounts":{"followersCount":1280,"subscribersCount":312},"contentCounts":{"imageCount":148,"videoCount":37,"audioCount":4,"postCount":96,"payToViewPostCount":12}}"#;

/// Counts what reaches the stand-in: requests, and connections (distinct client ports).
#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    http2: AtomicU64,
    peers: std::sync::Mutex<std::collections::HashSet<std::net::SocketAddr>>,
}

impl Counters {
    fn connections(&self) -> u64 {
        self.peers.lock().unwrap().len() as u64
    }
}

/// The upstream stand-in: HTTPS like Fanvue (HTTP/2 and HTTP/1.1 by ALPN), with the app's
/// own TLS listener code, on its own thread and runtime (it must not borrow the app's).
/// Returns its port and the PEM of its certificate.
fn start_upstream(counters: Arc<Counters>) -> (u16, String) {
    let generated = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let material = fanvue_app_starter::infra::tls::TlsMaterial {
        cert_pem: generated.cert.pem().into_bytes(),
        key_pem: generated.signing_key.serialize_pem().into_bytes(),
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let pem = String::from_utf8(material.cert_pem.clone()).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let count = counters.clone();
            let app = Router::new()
                .route("/oauth2/auth", get(authorize))
                .route("/oauth2/token", post(token))
                .route("/oauth2/revoke", post(|| async { StatusCode::OK }))
                .route("/api/users/me", get(me))
                .layer(axum::middleware::from_fn(move |req: axum::extract::Request, next: axum::middleware::Next| {
                    count.requests.fetch_add(1, Ordering::Relaxed);
                    if req.version() == axum::http::Version::HTTP_2 {
                        count.http2.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Some(peer) = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>() {
                        count.peers.lock().unwrap().insert(peer.0);
                    }
                    next.run(req)
                }));
            let tls = fanvue_app_starter::infra::tls::rustls_config(&material).await.unwrap();
            fanvue_app_starter::infra::tls::serve(listener, Some(tls), app, axum_server::Handle::new()).await.unwrap();
        });
    });
    (port, pem)
}

/// Auto-approves: straight back to the app with a code and its state.
async fn authorize(RawQuery(query): RawQuery) -> Response {
    let params: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    let target = format!(
        "{}?code=bench-code&state={}",
        params.get("redirect_uri").cloned().unwrap_or_default(),
        params.get("state").cloned().unwrap_or_default()
    );
    (StatusCode::FOUND, [(header::LOCATION, target)]).into_response()
}

async fn token() -> Response {
    let body = r#"{"access_token":"bench-access-token","token_type":"bearer","expires_in":86400,"refresh_token":"bench-refresh-token","scope":"openid offline_access offline read:self"}"#;
    ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], body).into_response()
}

async fn me() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], USER_JSON).into_response()
}

/// One wrk run's figures.
#[derive(Clone, Debug, Default)]
struct Run {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    requests: u64,
    errors: u64,
}

fn parse_duration_us(text: &str) -> f64 {
    let text = text.trim();
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1_000.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1_000_000.0)
    } else {
        (text, 1.0)
    };
    number.trim().parse::<f64>().unwrap_or(0.0) * factor
}

fn wrk(url: &str, connections: u32, seconds: u64, headers: &[String]) -> Run {
    let mut command = Command::new("wrk");
    command.args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", "--timeout", "5s"]);
    for h in headers {
        command.args(["-H", h]);
    }
    let out = command.arg(url).output().expect("wrk not found: run scripts/bench, or apt-get install wrk");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut run = Run::default();
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("50%"), Some(v)) => run.p50_us = parse_duration_us(v),
            (Some("99%"), Some(v)) => run.p99_us = parse_duration_us(v),
            (Some("Requests/sec:"), Some(v)) => run.rps = v.parse().unwrap_or(0.0),
            (Some(n), Some("requests")) => run.requests = n.parse().unwrap_or(0),
            (Some("Non-2xx"), _) => run.errors += line.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0),
            (Some("Socket"), Some("errors:")) => {
                run.errors += line
                    .split(',')
                    .filter_map(|part| part.split_whitespace().last().and_then(|n| n.parse::<u64>().ok()))
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    assert!(run.requests > 0, "wrk produced no figures:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    run
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or(0)
}

struct App {
    child: Child,
    port: u16,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the app and returns it with the time from exec to its first 200 on `/healthz`.
async fn start_app(dir: &std::path::Path, port: u16, upstream: u16) -> (App, Duration) {
    let ca = dir.join("upstream-ca.pem");
    let origin = format!("https://localhost:{port}");
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_fanvue-app-starter"))
        .current_dir(dir)
        .env_clear()
        .envs([
            ("PORT", port.to_string()),
            ("BIND_ADDRESS", "127.0.0.1".into()),
            ("BASE_URL", origin.clone()),
            ("OAUTH_CLIENT_ID", "bench".into()),
            ("OAUTH_CLIENT_SECRET", "bench-secret".into()),
            ("OAUTH_SCOPES", "read:self".into()),
            ("OAUTH_ISSUER_BASE_URL", format!("https://127.0.0.1:{upstream}")),
            ("API_BASE_URL", format!("https://127.0.0.1:{upstream}/api")),
            ("UPSTREAM_CA_FILE", ca.display().to_string()),
            ("SESSION_SECRET", "bench-session-secret-0123456789abcdef".into()),
            // Measure the server, not the abuse limits or the per-user Fanvue budget.
            ("RATE_LIMIT_PER_MINUTE", "0".into()),
            ("FANVUE_BUDGET_PER_MINUTE", "0".into()),
            // wrk is one address standing in for 256 clients: the per-address connection cap
            // (64 by default) would refuse most of scenario 6.
            ("MAX_CONNECTIONS_PER_IP", "1024".into()),
            ("RUST_LOG", "warn".into()),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // A fresh connection per probe, as a load balancer's first health check would be.
    let probe = common::client_builder().timeout(Duration::from_millis(500)).build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = probe.get(format!("{origin}/healthz")).send().await
            && r.status() == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "the app did not start");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    (App { child, port }, started.elapsed())
}

async fn metric(origin: &str, name: &str) -> f64 {
    let client = common::client_builder().build().unwrap();
    let text = client.get(format!("{origin}/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn ms(us: f64) -> String {
    if us >= 1000.0 { format!("{:.2} ms", us / 1000.0) } else { format!("{us:.0} µs") }
}

#[tokio::main]
async fn main() {
    fanvue_app_starter::install_crypto_provider();
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let counters = Arc::new(Counters::default());
    let (upstream, upstream_pem) = start_upstream(counters.clone());
    let binary = std::fs::metadata(env!("CARGO_BIN_EXE_fanvue-app-starter")).map(|m| m.len()).unwrap_or(0);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("upstream-ca.pem"), upstream_pem).unwrap();
    let port = common::free_port();

    // First start generates the certificate; the measured starts find it.
    drop(start_app(dir.path(), port, upstream).await);
    let mut starts = Vec::new();
    for _ in 0..5 {
        let (app, took) = start_app(dir.path(), port, upstream).await;
        starts.push(took);
        drop(app);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    starts.sort();
    let start_median = starts[starts.len() / 2];
    let (app, _) = start_app(dir.path(), port, upstream).await;
    let origin = format!("https://localhost:{}", app.port);
    let pid = app.child.id();

    // Sign in through the stand-in, as a browser does (keeping the cookie by hand: wrk needs it).
    let client = common::client_builder().build().unwrap();
    let r = client.get(format!("{origin}/api/oauth/login")).send().await.unwrap();
    let pending = format!("{}={}", common::COOKIE, common::session_cookie(r.headers()).unwrap().0);
    let r = client.get(common::location(&r)).send().await.unwrap();
    let r = client.get(common::location(&r)).header(header::COOKIE, &pending).send().await.unwrap();
    let cookie = format!("{}={}", common::COOKIE, common::session_cookie(r.headers()).expect("signed in").0);
    let home = client.get(format!("{origin}/")).header(header::COOKIE, &cookie).send().await.unwrap();
    let home = home.text().await.unwrap();
    assert!(home.contains("Bench Creator"), "not signed in: {home}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = rss_kib(pid, "VmRSS:");

    let cookie_header = format!("Cookie: {cookie}");
    let bearer = "Authorization: Bearer bench-access-token".to_owned();
    println!(
        "suite: {seconds} s per scenario, wrk 1 thread, loopback; app on {origin}, upstream stand-in on https://127.0.0.1:{upstream}"
    );

    let direct_url = format!("https://127.0.0.1:{upstream}/api/users/me");
    let proxy_url = format!("{origin}/api/fanvue/users/me");
    // Unloaded (one connection): what the proxy adds to one call.
    let direct_one = wrk(&direct_url, 1, seconds, std::slice::from_ref(&bearer));
    let proxy_one = wrk(&proxy_url, 1, seconds, std::slice::from_ref(&cookie_header));
    let direct = wrk(&direct_url, 32, seconds, &[bearer]);
    let (conns_before, reqs_before, h2_before) =
        (counters.connections(), counters.requests.load(Ordering::Relaxed), counters.http2.load(Ordering::Relaxed));
    let proxy = wrk(&proxy_url, 32, seconds, std::slice::from_ref(&cookie_header));
    let upstream_conns = counters.connections() - conns_before;
    let upstream_reqs = counters.requests.load(Ordering::Relaxed) - reqs_before;
    let upstream_h2 = counters.http2.load(Ordering::Relaxed) - h2_before;

    let (loads_before, saves_before) = (
        metric(&origin, "session_store_operations_total{op=\"load\"}").await,
        metric(&origin, "session_store_operations_total{op=\"save\"}").await,
    );
    let reqs_before_home = counters.requests.load(Ordering::Relaxed);
    let page = wrk(&format!("{origin}/"), 32, seconds, std::slice::from_ref(&cookie_header));
    let home_upstream = counters.requests.load(Ordering::Relaxed) - reqs_before_home;
    let loads = metric(&origin, "session_store_operations_total{op=\"load\"}").await - loads_before;
    let saves = metric(&origin, "session_store_operations_total{op=\"save\"}").await - saves_before;

    let login = wrk(&format!("{origin}/api/oauth/login"), 32, seconds, &[]);
    let static_file = wrk(&format!("{origin}/static/app.css"), 32, seconds, &[]);
    let crowded = wrk(&format!("{origin}/"), 256, seconds, std::slice::from_ref(&cookie_header));
    let handshakes = wrk(&format!("{origin}/healthz"), 32, seconds, &["Connection: close".to_owned()]);
    let peak_rss = rss_kib(pid, "VmHWM:");

    let mut report = String::new();
    let _ = writeln!(report, "| Scenario | requests/s | p50 | p99 | errors |");
    let _ = writeln!(report, "|---|---:|---:|---:|---:|");
    for (name, run) in [
        ("1a. upstream called directly, one connection", &direct_one),
        ("2a. same call through the proxy, one connection", &proxy_one),
        ("1. upstream called directly (HTTPS, 32 conns)", &direct),
        ("2. same call through `/api/fanvue/users/me` (HTTPS, 32 conns)", &proxy),
        ("3. signed-in home page `/` (HTTPS, 32 conns)", &page),
        ("4. `GET /api/oauth/login` (HTTPS, 32 conns)", &login),
        ("5. static file `/static/app.css` (HTTPS, 32 conns)", &static_file),
        ("6. home page under 256 connections", &crowded),
        ("7. new TLS connection per request (handshakes/s)", &handshakes),
    ] {
        let _ =
            writeln!(report, "| {name} | {:.0} | {} | {} | {} |", run.rps, ms(run.p50_us), ms(run.p99_us), run.errors);
    }
    let _ = writeln!(report);
    let _ = writeln!(report, "| Figure | Value |");
    let _ = writeln!(report, "|---|---:|");
    let rows = [
        ("proxy p50 added over direct, one connection", ms(proxy_one.p50_us - direct_one.p50_us)),
        ("proxy p50 added over direct, 32 connections", ms(proxy.p50_us - direct.p50_us)),
        ("throughput proxy / direct", format!("{:.0} %", 100.0 * proxy.rps / direct.rps)),
        ("throughput home page / direct", format!("{:.0} %", 100.0 * page.rps / direct.rps)),
        (
            "throughput static file / direct (the floor: no upstream work)",
            format!("{:.0} %", 100.0 * static_file.rps / direct.rps),
        ),
        ("resident memory, idle (signed in)", format!("{:.1} MB", idle_rss as f64 / 1024.0)),
        ("resident memory, peak (all scenarios)", format!("{:.1} MB", peak_rss as f64 / 1024.0)),
        (
            "exec to first response (certificate present, median of 5)",
            format!("{:.1} ms", start_median.as_secs_f64() * 1000.0),
        ),
        ("release binary size", format!("{:.1} MB", binary as f64 / 1_000_000.0)),
        ("session-store reads per home page", format!("{:.2}", loads / page.requests.max(1) as f64)),
        ("session-store writes per home page", format!("{:.3}", saves / page.requests.max(1) as f64)),
        ("upstream calls during the home-page run (profile cached per session)", home_upstream.to_string()),
        ("upstream connections opened by the proxy run", format!("{upstream_conns} for {upstream_reqs} requests")),
        ("proxy run's upstream requests over HTTP/2", format!("{upstream_h2} of {upstream_reqs}")),
    ];
    for (name, value) in rows {
        let _ = writeln!(report, "| {name} | {value} |");
    }
    // The targets of issue 6, checked against this run.
    let added_us = proxy_one.p50_us - direct_one.p50_us;
    let reads = loads / page.requests.max(1) as f64;
    let targets = [
        ("proxy p50 added (one connection) ≤ 150 µs", ms(added_us), added_us <= 150.0),
        (
            "proxy throughput ≥ 50 % of direct",
            format!("{:.0} %", 100.0 * proxy.rps / direct.rps),
            proxy.rps * 2.0 >= direct.rps,
        ),
        ("home page ≥ 5,000 requests/s", format!("{:.0}/s", page.rps), page.rps >= 5000.0),
        (
            "256 connections: 0 errors, p99 < 50 ms",
            format!("{} errors, p99 {}", crowded.errors, ms(crowded.p99_us)),
            crowded.errors == 0 && crowded.p99_us < 50_000.0,
        ),
        ("resident memory idle ≤ 30 MB", format!("{:.1} MB", idle_rss as f64 / 1024.0), idle_rss <= 30 * 1024),
        ("resident memory peak ≤ 80 MB", format!("{:.1} MB", peak_rss as f64 / 1024.0), peak_rss <= 80 * 1024),
        (
            "start to first response ≤ 100 ms",
            format!("{:.1} ms", start_median.as_secs_f64() * 1000.0),
            start_median <= Duration::from_millis(100),
        ),
        (
            "≤ 1 session-store read per request, no write unless changed",
            format!("{reads:.2} reads, {saves} writes"),
            reads <= 1.0 && saves == 0.0,
        ),
        (
            "upstream connections reused, HTTP/2",
            format!("{upstream_conns} new, {upstream_h2}/{upstream_reqs} HTTP/2"),
            upstream_conns == 0 && upstream_h2 == upstream_reqs,
        ),
    ];
    let _ = writeln!(report);
    let _ = writeln!(report, "| Target | This run | Met |");
    let _ = writeln!(report, "|---|---:|:---:|");
    for (target, value, met) in targets {
        let _ = writeln!(report, "| {target} | {value} | {} |", if met { "yes" } else { "**no**" });
    }
    println!("\n{report}");
    if std::env::var_os("UPDATE_BENCHMARKS").is_some() {
        let machine = machine_description();
        let body = format!(
            "# Benchmarks\n\nOne run of `scripts/bench` (`cargo bench --bench suite`, {seconds} s per scenario), {date}.\n\n\
             Machine: {machine}. The app, the upstream stand-in and `wrk` (one thread) share these cores, so absolute \
             figures are lower than on a machine of its own; the ratios to the direct call are what to compare.\n\n\
             The direct call is the stand-in answering over HTTPS (HTTP/1.1 from `wrk`); the app calls it over HTTP/2. \
             Proxy throughput cannot reach half of the direct call's here: a static file served from memory, with no \
             upstream work, is the floor of what terminating TLS and HTTP costs (see its ratio below). The README \
             discusses the figures.\n\n{report}",
            date = time::OffsetDateTime::now_utc().date(),
        );
        std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/BENCHMARKS.md"), body).unwrap();
        println!("wrote BENCHMARKS.md");
    }
}

fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:").map(|v| v.trim().to_owned()))
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned();
    format!("{cores} cores ({cpu}), {mem} memory, Linux {kernel}")
}
