//! Why the app could not start: one error for the whole start-up (configuration, the
//! certificate, the stores, the listener), each message saying what to fix. `main` prints it
//! and exits non-zero; the state builder ([`super::state`]) and the server ([`super::serve`])
//! both return it.

use std::net::SocketAddr;

use crate::config::ConfigError;
use crate::infra::tls;

/// Why the server could not start. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad or missing configuration.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The certificate could not be loaded or generated.
    #[error("TLS: {0}")]
    Tls(#[from] tls::TlsError),
    /// The session store could not be opened.
    #[error("{0}")]
    Store(#[from] crate::auth::store::StoreError),
    /// The port is taken or not allowed.
    #[error("cannot listen on {addr}: {reason}. Stop whatever uses the port or set PORT (and BASE_URL) to another one")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        reason: String,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}
