//! Test harness: starts the real binary (`--sandbox`) on free ports in a temporary folder,
//! and drives it the way a browser would (cookie jar, no automatic redirects).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::{Client, Response, StatusCode};

/// A free TCP port on loopback (bound, read, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The listening sockets a [`TestApp`] is started on, bound here and handed to the binary
/// (`LISTEN_FDS`, as systemd does). The harness keeps them for the app's whole life, restarts
/// included, so no other test (or program) can take a port between its choice and its use.
pub struct Listeners {
    app: Arc<TcpListener>,
    /// `Err(port)`: the app joins the sandbox someone else runs on `port` (`SANDBOX_JOIN`).
    sandbox: Result<Arc<TcpListener>, u16>,
}

impl Listeners {
    /// A port for the app and one for its sandbox.
    pub fn new() -> Listeners {
        Listeners { app: Arc::new(bind_any()), sandbox: Ok(Arc::new(bind_any())) }
    }

    /// A port for the app, which uses the sandbox already listening on `sandbox_port`.
    pub fn joining(sandbox_port: u16) -> Listeners {
        Listeners { app: Arc::new(bind_any()), sandbox: Err(sandbox_port) }
    }

    pub fn app_port(&self) -> u16 {
        self.app.local_addr().unwrap().port()
    }

    fn sandbox_port(&self) -> u16 {
        match &self.sandbox {
            Ok(listener) => listener.local_addr().unwrap().port(),
            Err(port) => *port,
        }
    }

    /// Hands the sockets to `command` as fds 3 (and 4), with `LISTEN_FDS`.
    pub fn hand_to(&self, command: &mut Command) {
        use command_fds::{CommandFdExt, FdMapping};
        let owned = |listener: &TcpListener| std::os::fd::OwnedFd::from(listener.try_clone().unwrap());
        let mut mappings = vec![FdMapping { parent_fd: owned(&self.app), child_fd: 3 }];
        if let Ok(sandbox) = &self.sandbox {
            mappings.push(FdMapping { parent_fd: owned(sandbox), child_fd: 4 });
        }
        command.env("LISTEN_FDS", mappings.len().to_string());
        command.fd_mappings(mappings).unwrap();
    }
}

fn bind_any() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

/// One running app + sandbox process.
pub struct TestApp {
    pub port: u16,
    pub sandbox_port: u16,
    pub dir: Arc<tempfile::TempDir>,
    pub env: HashMap<String, String>,
    listeners: Listeners,
    child: Option<Child>,
    log: PathBuf,
}

/// The session cookie's default name.
pub const COOKIE: &str = "__Host-fanvue_oauth";

/// A fixed secret so restarts keep sessions in tests that want that.
pub const SECRET: &str = "test-session-secret-0123456789abcdef";

impl TestApp {
    /// Starts with the defaults plus `env`.
    pub async fn spawn(env: &[(&str, &str)]) -> TestApp {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        Self::spawn_in(dir, Listeners::new(), env).await
    }

    /// Starts in `dir` (which may hold an earlier instance's state) on `listeners`.
    pub async fn spawn_in(dir: Arc<tempfile::TempDir>, listeners: Listeners, env: &[(&str, &str)]) -> TestApp {
        let (port, sandbox_port) = (listeners.app_port(), listeners.sandbox_port());
        let mut vars: HashMap<String, String> = HashMap::new();
        vars.insert("PORT".into(), port.to_string());
        vars.insert("SANDBOX_PORT".into(), sandbox_port.to_string());
        vars.insert("BIND_ADDRESS".into(), "127.0.0.1".into());
        vars.insert("RUST_LOG".into(), "info".into());
        vars.insert("SESSION_SECRET".into(), SECRET.into());
        for (k, v) in env {
            vars.insert((*k).into(), (*v).into());
        }
        let log = dir.path().join(format!("server-{port}-{}.log", rand_suffix()));
        let mut app = TestApp { port, sandbox_port, dir, env: vars, listeners, child: None, log };
        app.start();
        app.wait_ready().await;
        app
    }

    fn start(&mut self) {
        let log = std::fs::File::create(&self.log).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_fanvue-app-starter"));
        command
            .arg("--sandbox")
            .current_dir(self.dir.path())
            .env_clear()
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.listeners.hand_to(&mut command);
        self.child = Some(command.spawn().unwrap());
    }

    async fn wait_ready(&mut self) {
        let client = self.client();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = client.get(self.url("/healthz")).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("server exited with {status}:\n{}", self.logs());
            }
            assert!(Instant::now() < deadline, "server did not become ready:\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn origin(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    /// The app's URL for `path`: https, or plain http on 127.0.0.1 with
    /// `TLS_TERMINATED_BY_PROXY=true` (the test then plays the proxy).
    pub fn url(&self, path: &str) -> String {
        if self.env.get("TLS_TERMINATED_BY_PROXY").is_some_and(|v| v == "true") {
            format!("http://127.0.0.1:{}{path}", self.port)
        } else {
            format!("{}{path}", self.origin())
        }
    }

    pub fn sandbox_url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.sandbox_port)
    }

    /// A browser-like client: cookie jar, no automatic redirects.
    pub fn client(&self) -> Client {
        client_builder().cookie_store(true).build().unwrap()
    }

    /// A client without cookies (what a browser sends cross-site with SameSite=Lax).
    pub fn cookieless(&self) -> Client {
        client_builder().build().unwrap()
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn stats(&self) -> serde_json::Value {
        self.cookieless().get(self.sandbox_url("/_sandbox/stats")).send().await.unwrap().json().await.unwrap()
    }

    pub async fn stat(&self, name: &str) -> u64 {
        self.stats().await[name].as_u64().unwrap()
    }

    /// Sends SIGTERM and waits for the exit status. Async, so that this runtime keeps
    /// serving its clients' connections (an HTTP/2 client must answer the server's GOAWAY).
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "no exit after SIGTERM");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops and starts again in the same folder and ports, with `env` changes.
    pub async fn restart(&mut self, env: &[(&str, &str)]) {
        self.terminate().await;
        for (k, v) in env {
            self.env.insert((*k).into(), (*v).into());
        }
        self.start();
        self.wait_ready().await;
    }

    /// The server process's peak resident memory so far, in KiB (Linux `VmHWM`).
    pub fn peak_rss_kib(&self) -> u64 {
        let pid = self.child.as_ref().map(Child::id).unwrap_or_default();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
            .unwrap_or(0)
    }

    pub fn db_files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.dir.path().join("data")).unwrap().map(|e| e.unwrap().path()).collect()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
}

pub fn client_builder() -> reqwest::ClientBuilder {
    fanvue_app_starter::install_crypto_provider();
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // The app's and the sandbox's certificates are self-signed.
        .tls_danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(30))
}

pub fn location(response: &Response) -> String {
    response.headers().get("location").unwrap().to_str().unwrap().to_owned()
}

pub fn query_of(url: &str) -> HashMap<String, String> {
    let parsed = reqwest::Url::parse(url).unwrap();
    parsed.query_pairs().into_owned().collect()
}

/// The session cookie set by a response, if any: (value, full header).
pub fn session_cookie(headers: &HeaderMap) -> Option<(String, String)> {
    headers.get_all("set-cookie").iter().find_map(|v| {
        let raw = v.to_str().ok()?.to_owned();
        let value = raw.strip_prefix(COOKIE)?.strip_prefix('=')?.split(';').next()?.to_owned();
        Some((value, raw))
    })
}

/// What one login produced.
pub struct Login {
    pub authorize_url: String,
    pub callback_url: String,
    pub landed_on: String,
}

/// Starts a login and returns the sandbox's consent challenge and the authorize URL.
pub async fn start_login(app: &TestApp, client: &Client, path: &str) -> (String, String) {
    let r = client.get(app.url(path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
    let authorize = location(&r);
    let page = client.get(&authorize).send().await.unwrap().text().await.unwrap();
    (authorize, challenge_of(&page))
}

pub fn challenge_of(page: &str) -> String {
    let start = page.find("name=\"challenge\" value=\"").expect("consent page") + 24;
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

/// Answers the consent page; returns the sandbox's response.
pub async fn consent(app: &TestApp, client: &Client, challenge: &str, decision: &str) -> Response {
    client
        .post(app.sandbox_url("/oauth2/consent"))
        .form(&[("challenge", challenge), ("decision", decision)])
        .send()
        .await
        .unwrap()
}

/// A whole query-mode login: login → consent (Allow) → callback → landing page.
pub async fn login_via(app: &TestApp, client: &Client, path: &str) -> Login {
    let (authorize_url, challenge) = start_login(app, client, path).await;
    let r = consent(app, client, &challenge, "allow").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let callback_url = location(&r);
    let r = client.get(&callback_url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "callback: {}", r.text().await.unwrap_or_default());
    Login { authorize_url, callback_url, landed_on: location(&r) }
}

/// A whole login as one of the sandbox's accounts (`ava.sandbox`, `bo.unsubscribed`,
/// `mia.agency`), chosen on the consent page.
pub async fn login_as(app: &TestApp, client: &Client, account: &str) {
    let (_, challenge) = start_login(app, client, "/api/oauth/login").await;
    let r = client
        .post(app.sandbox_url("/oauth2/consent"))
        .form(&[("challenge", challenge.as_str()), ("decision", "allow"), ("user", account)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = client.get(location(&r)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "callback: {}", r.text().await.unwrap_or_default());
}

pub async fn login(app: &TestApp, client: &Client) -> Login {
    login_via(app, client, "/api/oauth/login").await
}

pub async fn home(app: &TestApp, client: &Client) -> (StatusCode, String) {
    let r = client.get(app.url("/")).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

pub fn file_contains(path: &Path, needle: &[u8]) -> bool {
    let bytes = std::fs::read(path).unwrap_or_default();
    bytes.windows(needle.len()).any(|w| w == needle)
}

/// Sends raw bytes over TLS (trusting the app's generated certificate) and returns what
/// came back, so tests can send what no well-behaved HTTP client would (`..` paths, NULs).
pub async fn raw_https(app: &TestApp, request: &[u8]) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tls = tls_from(app, [127, 0, 0, 1], std::net::SocketAddr::from(([127, 0, 0, 1], app.port)), &[]).await?;
    tls.write_all(request).await?;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut out)).await;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// A raw `GET path` with `Connection: close`, plus optional extra header lines.
pub async fn raw_get(app: &TestApp, path: &str, extra: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost:{}\r\n{extra}Connection: close\r\n\r\n", app.port);
    raw_https(app, request.as_bytes()).await.unwrap()
}

/// The status code of a raw response.
pub fn raw_status(response: &str) -> u16 {
    response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// The Cookie header of a signed-in session (the sandbox's default account), via a login.
pub async fn signed_in_cookie(app: &TestApp) -> String {
    signed_in_cookie_of(app, "ava.sandbox").await
}

/// The Cookie header of a session signed in as `account` (`ava.sandbox`, `bo.unsubscribed`,
/// `mia.agency`), via a login.
pub async fn signed_in_cookie_of(app: &TestApp, account: &str) -> String {
    let browser = app.cookieless();
    let r = browser.get(app.url("/api/oauth/login")).send().await.unwrap();
    let (id, _) = session_cookie(r.headers()).unwrap();
    let cookie = format!("{COOKIE}={id}");
    let page = browser.get(location(&r)).send().await.unwrap().text().await.unwrap();
    let r = browser
        .post(app.sandbox_url("/oauth2/consent"))
        .form(&[("challenge", challenge_of(&page).as_str()), ("decision", "allow"), ("user", account)])
        .send()
        .await
        .unwrap();
    let r = browser.get(location(&r)).header("cookie", &cookie).send().await.unwrap();
    let (id, _) = session_cookie(r.headers()).unwrap();
    format!("{COOKIE}={id}")
}

/// A `redis-server` on a free port, persisting to its own folder (so a restart keeps data).
pub struct Redis {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Redis {
    /// Starts one on a free port. The port is free when asked for, yet another program may bind
    /// it before redis-server does: then redis-server exits, and another port is tried.
    pub fn start() -> Redis {
        let mut redis = Redis { port: free_port(), dir: tempfile::tempdir().unwrap(), child: None };
        for _ in 0..5 {
            if redis.try_launch() {
                return redis;
            }
            redis.port = free_port();
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// Starts it again on its port (after [`Redis::stop`]).
    pub fn launch(&mut self) {
        assert!(self.try_launch(), "redis-server did not start again on port {}", self.port);
    }

    /// Starts redis-server and waits until it answers; `false` when it exited (port taken).
    fn try_launch(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--appendonly", "yes", "--save", ""])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server not found: install Debian's redis-server (scripts/test does)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(child) = self.child.as_mut()
                && child.try_wait().unwrap().is_some()
            {
                self.child = None;
                return false;
            }
            // Answering is not enough: it must be this folder's server, not another's.
            let dir = Command::new("redis-cli").args(["-p", &self.port.to_string(), "config", "get", "dir"]).output();
            if dir.is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(&*self.dir.path().to_string_lossy())) {
                return true;
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Every key and value in Redis, as text.
    pub fn dump(&self) -> String {
        let keys = self.cli(&["--scan"]);
        let mut all = keys.clone();
        for key in keys.lines() {
            all.push_str(&self.cli(&["GET", key]));
        }
        all
    }

    /// What `redis-cli` prints for one command.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli").args(["-p", &self.port.to_string()]).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A TLS connection to `target` (the app, or a relay in front of it) trusting the app's
/// generated certificate, from the loopback address `source` (127.0.0.2, 127.0.0.3… act as
/// other clients), offering `alpn`.
pub async fn tls_from(
    app: &TestApp,
    source: [u8; 4],
    target: std::net::SocketAddr,
    alpn: &[&[u8]],
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    use rustls::pki_types::pem::PemObject;
    fanvue_app_starter::install_crypto_provider();
    let pem = app.dir.path().join("certs/localhost.pem");
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(&pem).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(std::net::SocketAddr::from((source, 0)))?;
    let tcp = socket.connect(target).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp);
    tokio::time::timeout(Duration::from_secs(10), tls).await.map_err(|_| std::io::ErrorKind::TimedOut)?
}

/// An HTTP/2 connection to the app from `source`: the request handle and the connection's
/// task, which ends when the server closes the connection (`Ok` after a GOAWAY).
pub async fn h2_from(
    app: &TestApp,
    source: [u8; 4],
) -> std::io::Result<(h2::client::SendRequest<bytes::Bytes>, tokio::task::JoinHandle<Result<(), h2::Error>>)> {
    h2_via(app, source, std::net::SocketAddr::from(([127, 0, 0, 1], app.port))).await
}

/// [`h2_from`] through `target` (a relay).
pub async fn h2_via(
    app: &TestApp,
    source: [u8; 4],
    target: std::net::SocketAddr,
) -> std::io::Result<(h2::client::SendRequest<bytes::Bytes>, tokio::task::JoinHandle<Result<(), h2::Error>>)> {
    let tls = tls_from(app, source, target, &[b"h2"]).await?;
    let (send, connection) = h2::client::handshake(tls).await.map_err(std::io::Error::other)?;
    Ok((send, tokio::spawn(connection)))
}

/// [`h2_from`], keeping every byte the server sent (HTTP/2 frames, once TLS is off them).
pub async fn h2_recorded(
    app: &TestApp,
) -> (
    h2::client::SendRequest<bytes::Bytes>,
    tokio::task::JoinHandle<Result<(), h2::Error>>,
    Arc<std::sync::Mutex<Vec<u8>>>,
) {
    let target = std::net::SocketAddr::from(([127, 0, 0, 1], app.port));
    let tls = tls_from(app, [127, 0, 0, 1], target, &[b"h2"]).await.unwrap();
    let received = Arc::new(std::sync::Mutex::new(Vec::new()));
    let io = Recording { inner: tls, received: received.clone() };
    let (send, connection) = h2::client::handshake(io).await.unwrap();
    (send, tokio::spawn(connection), received)
}

/// The error codes of the GOAWAY frames among HTTP/2 frames sent by a server.
pub fn goaway_codes(frames: &[u8]) -> Vec<u32> {
    let mut codes = Vec::new();
    let mut rest = frames;
    while rest.len() >= 9 {
        let length = u32::from_be_bytes([0, rest[0], rest[1], rest[2]]) as usize;
        let (kind, payload) = (rest[3], &rest[9..]);
        if payload.len() < length {
            break;
        }
        if kind == 0x7 && length >= 8 {
            codes.push(u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]]));
        }
        rest = &payload[length..];
    }
    codes
}

/// A stream that keeps a copy of what is read from it.
struct Recording<T> {
    inner: T,
    received: Arc<std::sync::Mutex<Vec<u8>>>,
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Recording<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let fresh = buf.filled()[before..].to_vec();
        self.received.lock().unwrap().extend_from_slice(&fresh);
        polled
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Recording<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Sends a request with `headers` on an HTTP/2 connection; `body: None` leaves the request
/// body open (the returned stream sends it).
pub async fn h2_send(
    send: &mut h2::client::SendRequest<bytes::Bytes>,
    app: &TestApp,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&'static [u8]>,
) -> (h2::client::ResponseFuture, h2::SendStream<bytes::Bytes>) {
    let mut request = http::Request::builder().method(method).uri(app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let ready = send.clone().ready().await.unwrap();
    *send = ready;
    let end = body.is_some_and(<[u8]>::is_empty);
    let (response, mut stream) = send.send_request(request.body(()).unwrap(), end).unwrap();
    if let Some(bytes) = body.filter(|b| !b.is_empty()) {
        stream.send_data(bytes::Bytes::from_static(bytes), true).unwrap();
    }
    (response, stream)
}

/// `GET path` on an HTTP/2 connection: the status.
pub async fn h2_get(send: &mut h2::client::SendRequest<bytes::Bytes>, app: &TestApp, path: &str) -> u16 {
    let (response, _) = h2_send(send, app, "GET", path, &[], Some(b"")).await;
    let response = tokio::time::timeout(Duration::from_secs(10), response).await.unwrap().unwrap();
    let status = response.status().as_u16();
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    status
}

/// The value of an unlabelled sample in the app's `/metrics` (read from loopback; retried for
/// a while when the connection is refused, e.g. at a connection cap that is being freed).
pub async fn metric(app: &TestApp, name: &str) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        match app.cookieless().get(app.url("/metrics")).send().await {
            Ok(r) => break r.text().await.unwrap(),
            Err(err) => assert!(Instant::now() < deadline, "/metrics: {err}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}
