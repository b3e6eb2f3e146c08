//! The app's side of signing in with Fanvue: the login, callback and logout routes
//! ([`routes`]), where to go afterwards ([`return_to`]), and a signed-in session's tokens
//! with their single-flight refresh ([`session_tokens`]). The OAuth client itself (PKCE,
//! exchange, refresh, revocation) is the `fanvue` crate's ([`fanvue::oauth`]).

pub mod return_to;
pub mod routes;
pub mod session_tokens;

pub use fanvue::oauth::*;
pub use return_to::ReturnTo;
