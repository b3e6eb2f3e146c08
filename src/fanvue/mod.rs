//! The typed Fanvue API client.
//!
//! - `contract` (feature `contract`): Fanvue's published API reference as data, with request
//!   and response checks (the sandbox and the contract tests use it);
//! - [`endpoints`]: the one table of every API endpoint and the scopes it needs;
//! - [`path`]: [`ApiPath`], an API path that cannot leave `API_BASE_URL`;
//! - [`client`]: [`FanvueClient::send`], the single function every call goes through;
//! - [`models`]: response types, tolerant of fields and enum values Fanvue adds later;
//! - [`range`]: [`range::DayRange`], the insights date range as the reference wants it;
//! - [`pagination`]: the two list shapes (page/size/hasMore and cursor/nextCursor);
//! - [`error`]: [`FanvueError`], upstream statuses as types.

pub mod client;
#[cfg(feature = "contract")]
pub mod contract;
pub mod endpoints;
pub mod error;
pub mod models;
pub mod pagination;
pub mod path;
pub mod range;

pub use client::{ApiRequest, ApiResponse, FanvueClient};
pub use endpoints::Endpoint;
pub use error::FanvueError;
pub use path::ApiPath;
