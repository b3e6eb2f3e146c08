//! Trading the session token Fanvue injects into the iframe for OAuth tokens.
//!
//! Fanvue documents two designs (`fanvue-platform.md` §1.8): the RFC 7523 **jwt-bearer**
//! grant its engineers' code uses (the token is a 60-second single-use assertion, posted to
//! `/oauth2/token` with the app's client credentials), and a "delegated authorize-on-behalf"
//! flow whose wire protocol is not public yet. [`SessionTokenExchange`] is the seam: the
//! starter ships [`JwtBearer`]; the other variant is one more implementation of the trait,
//! chosen in [`crate::state::AppState::new`], with nothing else changing.

use async_trait::async_trait;

use super::EmbedError;
use crate::oauth::tokens::now_unix;
use crate::oauth::{OAuthClient, OAuthError, TokenSet};

/// Path of Fanvue's authorize half of the delegated authorize-on-behalf flow under
/// `OAUTH_ISSUER_BASE_URL` (assumed: Fanvue's is not public); the sandbox serves it.
pub const AUTHORIZE_ON_BEHALF_PATH: &str = "/oauth2/authorize-on-behalf";

/// Turns an injected session token into tokens for the creator it names.
#[async_trait]
pub trait SessionTokenExchange: Send + Sync + std::fmt::Debug + 'static {
    /// Exchanges `session_token`, once. Errors say whether reopening the app
    /// ([`EmbedError::InvalidSessionToken`]) or approving it ([`EmbedError::ConsentRequired`])
    /// fixes it.
    async fn exchange(&self, session_token: &str) -> Result<TokenSet, EmbedError>;
}

/// The jwt-bearer grant (RFC 7523) at the provider's token endpoint.
#[derive(Clone, Debug)]
pub struct JwtBearer {
    oauth: OAuthClient,
}

impl JwtBearer {
    /// Uses the app's OAuth client (its credentials authenticate the exchange).
    pub fn new(oauth: OAuthClient) -> Self {
        Self { oauth }
    }
}

/// A session token worth sending: a compact JWS (three base64url parts), of a sane size.
/// Anything else is refused without a call to the provider.
pub fn looks_like_session_token(token: &str) -> bool {
    (16..=4096).contains(&token.len())
        && token.split('.').count() == 3
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

#[async_trait]
impl SessionTokenExchange for JwtBearer {
    async fn exchange(&self, session_token: &str) -> Result<TokenSet, EmbedError> {
        if !looks_like_session_token(session_token) {
            return Err(EmbedError::InvalidSessionToken);
        }
        match self.oauth.jwt_bearer(session_token, now_unix()).await {
            Ok(tokens) => Ok(tokens),
            Err(OAuthError::InvalidGrant(_)) => Err(EmbedError::InvalidSessionToken),
            Err(OAuthError::Rejected { code, .. }) if matches!(code.as_str(), "consent_required" | "access_denied") => {
                Err(EmbedError::ConsentRequired)
            }
            Err(OAuthError::Rejected { code, .. }) if matches!(code.as_str(), "invalid_request" | "token_inactive") => {
                Err(EmbedError::InvalidSessionToken)
            }
            Err(other) => Err(EmbedError::Provider(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_compact_jws_shaped_tokens_are_sent() {
        assert!(looks_like_session_token("eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl"));
        assert!(!looks_like_session_token(""));
        assert!(!looks_like_session_token("not-a-jwt-at-all-here"));
        assert!(!looks_like_session_token("a.b.c<script>alert(1)</script>"));
        assert!(!looks_like_session_token(&format!("a.b.{}", "c".repeat(5000))));
    }
}
