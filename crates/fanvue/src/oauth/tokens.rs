//! The tokens a session holds, and when they need refreshing.

use oauth2::{AccessToken, RefreshToken};
use serde::{Deserialize, Serialize};

use crate::scopes::ScopeSet;

/// Refresh an access token this many seconds before it expires, so a request never
/// reaches Fanvue with a token that dies in flight.
pub const REFRESH_SKEW_SECS: i64 = 30;

/// The tokens of one signed-in session. `Debug` redacts them (oauth2's secret types);
/// at rest they are sealed with the rest of the session record.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenSet {
    /// Bearer token for the Fanvue API.
    pub access_token: AccessToken,
    /// Single-use refresh token (Fanvue rotates it on every refresh).
    pub refresh_token: Option<RefreshToken>,
    /// Unix time (seconds) at which the access token expires.
    pub expires_at: i64,
    /// The scopes Fanvue granted (may be fewer than requested).
    pub scopes: ScopeSet,
    /// The Fanvue user's UUID (the id_token's `sub`), when Fanvue sent one.
    #[serde(default)]
    pub user: Option<String>,
}

impl TokenSet {
    /// Whether the access token expires within [`REFRESH_SKEW_SECS`] of `now`.
    pub fn needs_refresh(&self, now: i64) -> bool {
        now >= self.expires_at - REFRESH_SKEW_SECS
    }
}

/// Current Unix time in seconds.
pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_is_due_thirty_seconds_before_expiry_and_debug_is_redacted() {
        let tokens = TokenSet {
            access_token: AccessToken::new("ory_at_x".into()),
            refresh_token: Some(RefreshToken::new("ory_rt_y".into())),
            expires_at: 1_000,
            scopes: ScopeSet::empty(),
            user: None,
        };
        assert!(!tokens.needs_refresh(969));
        assert!(tokens.needs_refresh(970));
        let debug = format!("{tokens:?}");
        assert!(!debug.contains("ory_at_x") && !debug.contains("ory_rt_y"), "{debug}");
    }
}
