//! # fanvue
//!
//! Fanvue's API for Rust programs: the contract (scopes, the endpoint → scope table, response
//! models, the two pagination shapes, typed errors) and the client every call goes through.
//! Nothing here knows about a web framework or sessions, so it serves a server, a worker or a
//! command-line tool alike.
//!
//! ```no_run
//! use fanvue::{ApiPath, ApiRequest, FanvueClient, models::User};
//! # async fn run(token: oauth2::AccessToken) -> Result<(), fanvue::FanvueError> {
//! let base = url::Url::parse("https://api.fanvue.com").map_err(|e| fanvue::FanvueError::Decode(e.to_string()))?;
//! let client = FanvueClient::new(base, fanvue::API_VERSION, reqwest::Client::new())?;
//! let path = ApiPath::parse("/users/me").map_err(|e| fanvue::FanvueError::Decode(e.to_string()))?;
//! let me: User = client.send(ApiRequest::get(path), &token).await?.json()?;
//! println!("signed in as @{}", me.handle);
//! # Ok(()) }
//! ```
//!
//! - [`scopes`]: [`Scope`] and [`ScopeSet`], the one table of scope names;
//! - [`endpoints`]: every endpoint and the scopes it needs (with its source);
//! - [`path`]: [`ApiPath`], an API path that cannot leave the base URL;
//! - [`client`]: [`FanvueClient::send`], the single function every call goes through;
//! - [`models`]: response types, tolerant of fields and enum values Fanvue adds later;
//! - [`pagination`]: the two list shapes (page/size/hasMore and cursor/nextCursor);
//! - [`range`]: [`range::DayRange`], the insights date range as the reference wants it;
//! - [`error`]: [`FanvueError`], upstream statuses as types;
//! - [`oauth`]: signing in with Fanvue (authorization code + PKCE, refresh, revocation, the
//!   embedded apps' exchanges) and [`oauth::TokenSet`];
//! - [`webhooks`]: `X-Fanvue-Signature` verification, typed events, samples;
//! - [`crypto`]: the primitives those formats use (HMAC-SHA256, hex, base64url);
//! - `contract` (feature `contract`): Fanvue's published API reference as data, with request and
//!   response checks (the sandbox and the contract tests use it).

#![deny(missing_docs)]

pub mod client;
#[cfg(feature = "contract")]
pub mod contract;
pub mod crypto;
pub mod endpoints;
pub mod error;
pub mod models;
pub mod oauth;
pub mod pagination;
pub mod path;
pub mod range;
pub mod scopes;
pub mod webhooks;

pub use client::{ApiRequest, ApiResponse, FanvueClient};
pub use endpoints::Endpoint;
pub use error::FanvueError;
pub use path::ApiPath;
pub use scopes::{Scope, ScopeSet};

/// The API version this crate is written against (`X-Fanvue-API-Version`).
pub const API_VERSION: &str = "2025-06-26";
