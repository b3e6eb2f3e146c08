//! The web layer every feature builds on: the one error type of the request path and its
//! mapping to HTTP ([`error`]), page rendering, navigation, pagination and form parsing
//! ([`page`]), generic middleware ([`middleware`]) and the static files ([`assets`]). It may
//! use `config` and `infra`; it names no route of a feature.

pub mod assets;
pub mod error;
pub mod format;
pub mod middleware;
pub mod page;

pub use error::{AppError, ErrorAction, ErrorReport};
