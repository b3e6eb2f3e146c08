//! Infrastructure that knows nothing of web pages, sessions or features: the store connections,
//! one pool per store URL ([`connections`]), key derivation and sealing ([`crypto`]), TTL caches ([`cache`]), the metrics registry ([`metrics`]), rate
//! limits and connection caps ([`rate_limit`]), Redis ([`redis`]), TLS material ([`tls`]) and
//! the listener with its accept loop ([`server`]). It may use `config`, nothing else of the app.

pub mod cache;
pub mod connections;
pub mod crypto;
pub mod metrics;
pub mod rate_limit;
pub mod redis;
pub mod server;
pub mod tls;
