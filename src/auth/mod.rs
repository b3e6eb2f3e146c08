//! Who is signed in, and what they may do: the sealed session store and the token vault
//! ([`store`]), a session's tokens with their single-flight refresh ([`tokens`]), calls to
//! Fanvue for a session with its scope gate ([`upstream::Api`]), the extractor a signed-in page
//! starts with ([`Signed`]), the paid-plan check
//! ([`entitlement`]), where to go after a login ([`return_to`]) and what a failed login says
//! ([`login_codes`]). The OAuth client itself (PKCE, exchange, refresh, revocation) is the
//! `fanvue` crate's ([`fanvue::oauth`]).
//!
//! Sits above `config`, `infra` and `web`; knows no feature.

pub mod entitlement;
pub mod login_codes;
pub mod return_to;
pub mod signed;
pub mod store;
pub mod tokens;
pub mod upstream;

pub use return_to::ReturnTo;
pub use signed::Signed;
pub use upstream::Api;
