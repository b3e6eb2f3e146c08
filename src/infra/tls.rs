//! TLS: where the certificate comes from, and the HTTPS listener.
//!
//! Certificate lookup, in order:
//! 1. `TLS_CERT_PATH` + `TLS_KEY_PATH` (must exist);
//! 2. `certs/<BASE_URL host>.pem` + `certs/<host>-key.pem`, mkcert's file names;
//! 3. otherwise a self-signed certificate for the host, `localhost` and `127.0.0.1` is
//!    generated into those files (key readable by the owner only) and the log explains how to
//!    get a browser-trusted one with mkcert.
//!
//! [`accept`] is one connection's TLS handshake, run in the connection's own task by the
//! app's listener ([`crate::server`]) with a timeout, so a stalled or garbage-sending client
//! never blocks the accept loop. Plain HTTP sent to the TLS port gets a `400` that says to use
//! https:// ([`PlainHttpHint`]) instead of an unreadable TLS alert. [`serve`] is the simpler
//! axum-server listener the sandbox runs on.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::Router;
use axum_server::Handle;
use axum_server::accept::{Accept, TcpConfigAcceptor, TcpSocketConfig};
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::config::TlsSetting;

/// Installs ring as the process's one rustls crypto provider. Call it before building any
/// TLS client or server (reqwest with `rustls-no-provider` panics otherwise).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A certificate chain and its key, PEM-encoded.
pub struct TlsMaterial {
    /// Certificate chain.
    pub cert_pem: Vec<u8>,
    /// Private key (never logged; `Debug` is not implemented).
    pub key_pem: Vec<u8>,
}

/// Why TLS could not be set up. Each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A configured or found file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// Only one of the certificate and key exists.
    #[error(
        "found {existing} but not {missing}; add the missing file or delete both to have a new self-signed pair generated"
    )]
    HalfPair {
        /// The file that exists.
        existing: String,
        /// The one that does not.
        missing: String,
    },
    /// Writing a generated certificate failed.
    #[error("cannot write the generated certificate to {path}: {reason}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// Generating a certificate failed.
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(String),
    /// The PEM files are not a usable certificate and key.
    #[error("the certificate or key is not usable: {0}")]
    Invalid(String),
}

/// Loads (or generates) the certificate for `setting`; `None` for plain HTTP.
pub fn load_or_generate(setting: &TlsSetting) -> Result<Option<TlsMaterial>, TlsError> {
    match setting {
        TlsSetting::TerminatedByProxy => Ok(None),
        TlsSetting::Files { cert, key } => Ok(Some(TlsMaterial { cert_pem: read(cert)?, key_pem: read(key)? })),
        TlsSetting::Auto { host } => {
            let cert = PathBuf::from("certs").join(format!("{host}.pem"));
            let key = PathBuf::from("certs").join(format!("{host}-key.pem"));
            match (cert.is_file(), key.is_file()) {
                (true, true) => Ok(Some(TlsMaterial { cert_pem: read(&cert)?, key_pem: read(&key)? })),
                (false, false) => generate(host, &cert, &key).map(Some),
                (true, false) => {
                    Err(TlsError::HalfPair { existing: cert.display().to_string(), missing: key.display().to_string() })
                }
                (false, true) => {
                    Err(TlsError::HalfPair { existing: key.display().to_string(), missing: cert.display().to_string() })
                }
            }
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| {
        let reason = if e.kind() == std::io::ErrorKind::PermissionDenied {
            // The usual cause: certificates mounted into the Docker image, which runs as uid 10001,
            // while the key is readable by its owner (you) only.
            format!(
                "{e}; the server's user must be able to read it (in the Docker image that is uid 10001: \
                 `chown 10001 {}`; see docs/operations.md)",
                path.display()
            )
        } else {
            e.to_string()
        };
        TlsError::Read { path: path.to_owned(), reason }
    })
}

fn generate(host: &str, cert_path: &Path, key_path: &Path) -> Result<TlsMaterial, TlsError> {
    let mut names = vec![host.to_owned()];
    for extra in ["localhost", "127.0.0.1"] {
        if !names.iter().any(|n| n == extra) {
            names.push(extra.to_owned());
        }
    }
    let generated = rcgen::generate_simple_self_signed(names.clone()).map_err(|e| TlsError::Generate(e.to_string()))?;
    let material = TlsMaterial {
        cert_pem: generated.cert.pem().into_bytes(),
        key_pem: generated.signing_key.serialize_pem().into_bytes(),
    };
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |e: std::io::Error| TlsError::Write { path, reason: e.to_string() }
    };
    if let Some(dir) = cert_path.parent() {
        std::fs::create_dir_all(dir).map_err(write_err(dir))?;
    }
    write_file(cert_path, &material.cert_pem, 0o644).map_err(write_err(cert_path))?;
    write_file(key_path, &material.key_pem, 0o600).map_err(write_err(key_path))?;
    let list = names.join(" ");
    tracing::warn!(
        cert = %cert_path.display(),
        "generated a self-signed certificate for {list}; browsers will warn about it. \
         For a trusted local certificate: `mkcert -install && mkcert -cert-file certs/{host}.pem -key-file certs/{host}-key.pem {list}`"
    );
    Ok(material)
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)?.write_all(bytes)
}

/// Parses the material into a rustls server configuration (HTTP/2 and HTTP/1.1 via ALPN).
pub async fn rustls_config(material: &TlsMaterial) -> Result<RustlsConfig, TlsError> {
    RustlsConfig::from_pem(material.cert_pem.clone(), material.key_pem.clone())
        .await
        .map_err(|e| TlsError::Invalid(e.to_string()))
}

/// How long a client may take for the TLS handshake, and to send its first request.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts one TLS connection for the app's listener ([`crate::server`]) within
/// [`HANDSHAKE_TIMEOUT`], plain HTTP answered as [`PlainHttpHint`] does.
pub async fn accept(
    mut stream: TcpStream,
    acceptor: &tokio_rustls::TlsAcceptor,
) -> std::io::Result<tokio_rustls::server::TlsStream<TcpStream>> {
    let handshake = async {
        refuse_plain_http(&mut stream).await?;
        acceptor.accept(stream).await
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no TLS handshake in time"))?
}

/// Serves `router` on `listener` with axum-server (HTTPS when `tls` is given) until `handle`
/// shuts it down: the sandbox's listener, and test stand-ins. The app's own listener is
/// [`crate::infra::server::serve`], which adds connection caps and idle timeouts.
pub async fn serve(
    listener: TcpListener,
    tls: Option<RustlsConfig>,
    router: Router,
    handle: Handle<SocketAddr>,
) -> std::io::Result<()> {
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    // TCP_NODELAY: without it multi-chunk responses stall ~40 ms (Nagle × delayed ACK).
    let tcp = TcpConfigAcceptor::new(TcpSocketConfig::new().nodelay(true));
    let mut server = axum_server::from_tcp(listener)?.handle(handle).first_request_timeout(HANDSHAKE_TIMEOUT);
    server.http_builder().http1().header_read_timeout(HANDSHAKE_TIMEOUT);
    match tls {
        Some(config) => {
            let acceptor =
                RustlsAcceptor::new(config).handshake_timeout(HANDSHAKE_TIMEOUT).acceptor(PlainHttpHint { inner: tcp });
            server.acceptor(acceptor).serve(app).await
        }
        None => server.acceptor(tcp).serve(app).await,
    }
}

/// Looks at the first byte of a connection to the TLS port: a TLS client starts with a
/// handshake record (`0x16`); anything else (typically `GET / HTTP/1.1` from an
/// `http://` URL) is answered with a plain-text 400 naming the fix, then closed.
#[derive(Clone, Debug)]
pub struct PlainHttpHint<A> {
    inner: A,
}

const TLS_HANDSHAKE_RECORD: u8 = 0x16;
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
Connection: close\r\nContent-Length: 56\r\n\r\nThis server speaks HTTPS only: use https:// in the URL.\n";

/// `Err` (after answering a 400) when the connection does not start with a TLS handshake.
async fn refuse_plain_http(stream: &mut TcpStream) -> std::io::Result<()> {
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await? == 1 && first[0] != TLS_HANDSHAKE_RECORD {
        let _ = stream.write_all(PLAIN_HTTP_ANSWER).await;
        let _ = stream.shutdown().await;
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "plain HTTP on the TLS port"));
    }
    Ok(())
}

impl<A, S> Accept<TcpStream, S> for PlainHttpHint<A>
where
    A: Accept<TcpStream, S> + Clone + Send + Sync + 'static,
    A::Future: Send,
    S: Send + 'static,
{
    type Stream = A::Stream;
    type Service = A::Service;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<(A::Stream, A::Service)>> + Send>>;

    fn accept(&self, mut stream: TcpStream, service: S) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move {
            // axum-server times the TLS handshake, not this peek: bound it here.
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, refuse_plain_http(&mut stream)).await {
                Ok(Ok(())) => inner.accept(stream, service).await,
                Ok(Err(err)) => Err(err),
                Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no TLS handshake")),
            }
        })
    }
}
