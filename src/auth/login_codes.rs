//! What a login can end with: the error codes the app puts in `/?error=` after a failed
//! callback, the provider's own codes, and the words the home page shows for each. Only a code
//! from this table is ever echoed: anything else in the query is text from whoever made the link.

/// Error codes the app itself puts in `/?error=`.
pub mod codes {
    /// The callback's `state` matched no login in progress (forged, replayed or expired).
    pub const STATE_MISMATCH: &str = "oauth_state_mismatch";
    /// The token endpoint refused the code or could not be reached.
    pub const TOKEN_EXCHANGE_FAILED: &str = "oauth_token_exchange_failed";
    /// The grant died; sign in again.
    pub const REAUTH_REQUIRED: &str = "reauth_required";
    /// The callback had neither `code` nor `error`.
    pub const BAD_CALLBACK: &str = "oauth_bad_callback";
    /// The provider sent an error code this app does not know.
    pub const PROVIDER_ERROR: &str = "oauth_provider_error";
}

/// What the home page says for each error code: ours, and the provider's from RFC 6749 §4.1.2.1
/// and OpenID Connect Core §3.1.2.6 (what Hydra sends). `(code, title, message)`.
const MESSAGES: [(&str, &str, &str); 16] = [
    (
        codes::STATE_MISMATCH,
        "Login could not be completed",
        "The login link was already used, expired, or was not started here. Start again with “Login with Fanvue”.",
    ),
    (
        codes::TOKEN_EXCHANGE_FAILED,
        "Fanvue did not accept the login",
        "The authorization code could not be exchanged for tokens. Check OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET and OAUTH_REDIRECT_URI, then try again.",
    ),
    (
        codes::REAUTH_REQUIRED,
        "Please sign in again",
        "Your Fanvue connection ended (it was revoked, or refreshed elsewhere). Sign in again to continue.",
    ),
    (
        codes::BAD_CALLBACK,
        "Login could not be completed",
        "Fanvue's answer was incomplete. Start again with “Login with Fanvue”.",
    ),
    (
        "access_denied",
        "Access was not granted",
        "You chose not to allow this app. You can try again whenever you like.",
    ),
    (
        "invalid_scope",
        "The app asked for scopes it may not use",
        "OAUTH_SCOPES must only list scopes ticked for this app in Fanvue's Builder.",
    ),
    (
        "invalid_request",
        "Fanvue refused the login request",
        "The login request was malformed or incomplete (for example a redirect URI Fanvue does not know). Check OAUTH_REDIRECT_URI against the Builder, then try again.",
    ),
    (
        "unauthorized_client",
        "This app may not sign you in this way",
        "Fanvue does not allow this app to use this kind of login. Check the app's settings in Fanvue's Builder.",
    ),
    (
        "unsupported_response_type",
        "Fanvue refused the login request",
        "Fanvue does not support the kind of login this app asked for. Check the app's settings in Fanvue's Builder.",
    ),
    ("login_required", "Fanvue needs you to sign in", "Start again with “Login with Fanvue”."),
    ("consent_required", "Fanvue needs your consent", "Start again with “Login with Fanvue” and allow the app."),
    ("interaction_required", "Fanvue needs you to sign in", "Start again with “Login with Fanvue”."),
    ("account_selection_required", "Fanvue needs you to choose an account", "Start again with “Login with Fanvue”."),
    (
        "temporarily_unavailable",
        "Fanvue is busy right now",
        "Fanvue's sign-in service is temporarily unavailable. Try again in a few minutes.",
    ),
    ("server_error", "Fanvue had a problem", "Fanvue's sign-in service failed. Try again in a few minutes."),
    (codes::PROVIDER_ERROR, "Login failed", "Fanvue reported an error during login. Try again in a few minutes."),
];

/// The known code `code` is, if any (its `'static` spelling, safe to echo).
pub fn known_code(code: &str) -> Option<&'static str> {
    MESSAGES.iter().find(|(known, ..)| *known == code).map(|(known, ..)| *known)
}

/// `(code, title, message)` for a known `code`.
pub fn describe(code: &str) -> Option<(&'static str, &'static str, &'static str)> {
    MESSAGES.iter().find(|(known, ..)| *known == code).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_per_code() {
        let codes: std::collections::HashSet<&str> = MESSAGES.iter().map(|(code, ..)| *code).collect();
        assert_eq!(codes.len(), MESSAGES.len());
        assert_eq!(known_code("access_denied"), Some("access_denied"));
        assert_eq!(known_code("Call +1-555-0100"), None);
    }
}
