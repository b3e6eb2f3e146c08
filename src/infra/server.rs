//! The listener: an accept loop of our own on hyper-util, so that each connection can be
//! watched and closed on its own.
//!
//! hyper's HTTP/2 settings bound a connection's streams and ping a silent peer, but nothing in
//! hyper closes an HTTP/2 connection that merely stays open, and axum-server shuts connections
//! down only all together. Here each connection runs in its own task that:
//! - is admitted by a [`ConnectionGate`] (`MAX_CONNECTIONS`, `MAX_CONNECTIONS_PER_IP`) or
//!   closed at once;
//! - finishes its TLS handshake (with the plain-HTTP hint) within [`HANDSHAKE_TIMEOUT`]
//!   ([`crate::infra::tls::accept`]);
//! - counts its requests in progress, from the call until the response body is done or
//!   dropped, so an SSE stream or a slow upload keeps it busy; with none for
//!   `HTTP_IDLE_TIMEOUT_SECS` (before the first request: at most [`HANDSHAKE_TIMEOUT`]) it is
//!   shut down gracefully: HTTP/2 sends GOAWAY, HTTP/1.1 closes between requests;
//! - is shut down the same way on SIGTERM, and the server returns once every connection has
//!   ended or the grace period is over.
//!
//! HTTP/2 connections also get keep-alive pings (`HTTP2_KEEPALIVE_*`: an unanswered ping
//! closes the connection) and at most `HTTP2_MAX_CONCURRENT_STREAMS` streams; HTTP/1.1 keeps
//! its header-read timeout. The peer address reaches handlers as `ConnectInfo<SocketAddr>`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::config::ConnectionLimits;
use crate::infra::rate_limit::{ConnectionGate, ConnectionPermit};
use crate::infra::tls::HANDSHAKE_TIMEOUT;

/// How the listener treats connections.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Connection, stream and idle limits.
    pub limits: ConnectionLimits,
    /// `TRUSTED_PROXIES`: their connections are not capped per IP.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// How long connections get to finish after `shutdown` fires.
    pub grace: Duration,
}

/// Serves `router` on `listener` (HTTPS with `tls`, else plain HTTP) until `shutdown` is
/// cancelled, then gives open connections `options.grace` to finish.
pub async fn serve(
    listener: std::net::TcpListener,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    router: Router,
    options: ServeOptions,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let limits = &options.limits;
    let gate = Arc::new(ConnectionGate::new(
        limits.max_connections,
        limits.max_connections_per_ip,
        options.trusted_proxies.clone(),
    ));
    let acceptor = tls.map(|config| tokio_rustls::TlsAcceptor::from(config.get_inner()));
    let connection = Arc::new(Connection {
        builder: http_builder(limits),
        router,
        idle_timeout: limits.idle_timeout,
        grace: options.grace,
        shutdown: shutdown.clone(),
    });
    let tasks = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, typically: back off instead of spinning.
                    tracing::warn!(%err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let permit = match gate.admit(peer.ip()) {
            Ok(permit) => permit,
            Err(limit) => {
                tracing::debug!(%peer, ?limit, "connection refused: at the connection cap");
                continue;
            }
        };
        let connection = connection.clone();
        let acceptor = acceptor.clone();
        tasks.spawn(async move { connection.run(stream, peer, acceptor, permit).await });
    }
    // New connections are refused from here on; open ones were told to finish.
    drop(listener);
    tasks.close();
    if tokio::time::timeout(options.grace, tasks.wait()).await.is_err() {
        tracing::warn!(open = gate.open(), "connections still open after the shutdown grace period; closing them");
    }
    Ok(())
}

/// hyper's settings for every connection.
fn http_builder(limits: &ConnectionLimits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    // Slowloris: a request's headers must arrive within the handshake timeout.
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HANDSHAKE_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.keepalive_interval))
        .keep_alive_timeout(limits.keepalive_timeout)
        .max_concurrent_streams(limits.max_streams);
    builder
}

/// What every connection task shares.
struct Connection {
    builder: Builder<TokioExecutor>,
    router: Router,
    idle_timeout: Duration,
    grace: Duration,
    shutdown: CancellationToken,
}

impl Connection {
    async fn run(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        tls: Option<tokio_rustls::TlsAcceptor>,
        _permit: ConnectionPermit,
    ) {
        // Without it multi-chunk responses stall ~40 ms (Nagle × delayed ACK).
        let _ = stream.set_nodelay(true);
        match tls {
            None => self.serve_http(stream, peer).await,
            Some(acceptor) => {
                let accepted = tokio::select! {
                    () = self.shutdown.cancelled() => return,
                    accepted = crate::infra::tls::accept(stream, &acceptor) => accepted,
                };
                match accepted {
                    Ok(stream) => self.serve_http(stream, peer).await,
                    Err(err) => tracing::debug!(%peer, %err, "TLS connection not established"),
                }
            }
        }
    }

    async fn serve_http<I>(&self, io: I, peer: SocketAddr)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(Activity::new());
        let service = {
            let (router, activity) = (self.router.clone(), activity.clone());
            hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                let in_progress = activity.started();
                request.extensions_mut().insert(ConnectInfo(peer));
                let answer = router.clone().oneshot(request);
                async move {
                    let response = answer.await.unwrap_or_else(|never: Infallible| match never {});
                    Ok::<_, Infallible>(response.map(|body| TrackedBody { body, _in_progress: in_progress }))
                }
            })
        };
        let connection = self.builder.serve_connection_with_upgrades(TokioIo::new(io), service);
        tokio::pin!(connection);
        // Set once the connection was asked to close: past it, it is dropped.
        let mut close_by: Option<Instant> = None;
        loop {
            tokio::select! {
                ended = connection.as_mut() => {
                    if let Err(err) = ended {
                        tracing::debug!(%peer, %err, "connection ended with an error");
                    }
                    return;
                }
                () = activity.idle(self.idle_timeout), if close_by.is_none() => {
                    crate::infra::metrics::metrics().connection_idle_closed();
                    connection.as_mut().graceful_shutdown();
                    // A peer that ignores GOAWAY, or sits on half a request, does not keep it.
                    close_by = Some(Instant::now() + HANDSHAKE_TIMEOUT);
                }
                () = self.shutdown.cancelled(), if close_by.is_none() => {
                    connection.as_mut().graceful_shutdown();
                    close_by = Some(Instant::now() + self.grace);
                }
                () = sleep_until(close_by), if close_by.is_some() => return,
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// A connection's requests in progress, and since when it has had none.
struct Activity {
    state: Mutex<ActivityState>,
    ended: Notify,
}

struct ActivityState {
    in_progress: usize,
    idle_since: Instant,
    served: bool,
}

impl Activity {
    fn new() -> Self {
        Activity {
            state: Mutex::new(ActivityState { in_progress: 0, idle_since: Instant::now(), served: false }),
            ended: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A request starts; it is in progress until the returned guard is dropped.
    fn started(self: &Arc<Self>) -> InProgress {
        let mut state = self.lock();
        state.in_progress += 1;
        state.served = true;
        InProgress(self.clone())
    }

    /// Resolves once the connection has had no request in progress for `timeout` (before its
    /// first request: for at most [`HANDSHAKE_TIMEOUT`]).
    async fn idle(&self, timeout: Duration) {
        loop {
            // Registered before the state is read, so an end in between is not missed.
            let ended = self.ended.notified();
            let deadline = {
                let state = self.lock();
                let allowed = if state.served { timeout } else { timeout.min(HANDSHAKE_TIMEOUT) };
                (state.in_progress == 0).then(|| state.idle_since + allowed)
            };
            match deadline {
                Some(deadline) if deadline <= Instant::now() => return,
                // Woken early or not, the state is read again: a request may have started.
                Some(deadline) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {}
                        () = ended => {}
                    }
                }
                None => ended.await,
            }
        }
    }
}

/// One request in progress on a connection.
struct InProgress(Arc<Activity>);

impl Drop for InProgress {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.in_progress = state.in_progress.saturating_sub(1);
        if state.in_progress == 0 {
            state.idle_since = Instant::now();
        }
        drop(state);
        self.0.ended.notify_waiters();
    }
}

/// A response body that keeps its request counted as in progress until it is sent or dropped.
struct TrackedBody {
    body: Body,
    _in_progress: InProgress,
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
