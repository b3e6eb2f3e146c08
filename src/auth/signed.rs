//! [`Signed`]: the extractor a signed-in page starts with. It carries the session and its
//! tokens (of the kind of session the route's [`Api`] serves: console or embedded), and
//! [`Signed::require`] is the scope gate, checked before any call to Fanvue.
//!
//! ```ignore
//! async fn page(State(state): State<Console>, signed: Signed, params: Params) -> Result<Response, AppError> {
//!     let (session, tokens) = signed.require(&[Scope::ReadFan])?;
//!     …
//! }
//! ```

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use tower_sessions::Session;

use crate::auth::Api;
use crate::web::error::AppError;
use fanvue::oauth::TokenSet;
use fanvue::scopes::Scope;

/// A request's signed-in session and its tokens; without a sign-in the request is answered
/// with the "sign in" page (401).
#[derive(Debug)]
pub struct Signed {
    /// The session.
    pub session: Session,
    /// Its tokens, as stored (a call through [`Api`] refreshes them when due).
    pub tokens: TokenSet,
}

impl Signed {
    /// The session and its tokens if the grant has every scope in `needed`; otherwise the
    /// "missing scope" page (403), and Fanvue is not called.
    pub fn require(self, needed: &[Scope]) -> Result<(Session, TokenSet), AppError> {
        crate::auth::upstream::require_scopes(self.tokens.scopes, needed.iter().copied().collect())?;
        Ok((self.session, self.tokens))
    }
}

impl<S> FromRequestParts<S> for Signed
where
    Api: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::Internal("the session layer is missing".into()))?;
        let tokens = Api::from_ref(state).tokens.current(&session).await?.ok_or(AppError::NotSignedIn)?;
        Ok(Signed { session, tokens })
    }
}
