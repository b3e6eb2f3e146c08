//! Where to send the user after login: same-origin relative paths only.
//!
//! `?return_to=` is attacker-controlled (anyone can send a victim a login link), so it is
//! parsed once into a [`ReturnTo`] that can only hold a path on this app's origin. Anything
//! else (`//host`, `/\host`, `https:host`, absolute URLs, control characters) falls back
//! to `/`: an open redirect after a real Fanvue login would be a phishing gift.

use serde::{Deserialize, Serialize};
use url::Url;

/// A validated same-origin path (with optional query), e.g. `/chats?page=2`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnTo(String);

const MAX_LEN: usize = 2048;

impl ReturnTo {
    /// The home page.
    pub fn home() -> Self {
        ReturnTo("/".to_owned())
    }

    /// Parses `raw`; anything that is not a plain same-origin path gives `/`.
    pub fn parse(raw: Option<&str>) -> Self {
        raw.and_then(Self::checked).unwrap_or_else(Self::home)
    }

    fn checked(raw: &str) -> Option<Self> {
        let plain_path = raw.len() <= MAX_LEN
            && raw.starts_with('/')
            && !raw.starts_with("//")
            && !raw.contains('\\')
            && !raw.chars().any(|c| c.is_control() || c.is_whitespace());
        if !plain_path {
            return None;
        }
        // Belt and braces: resolve against a dummy origin the way a browser would and
        // insist the origin did not change.
        let base = Url::parse("https://app.invalid/").ok()?;
        let resolved = base.join(raw).ok()?;
        (resolved.origin() == base.origin()).then(|| ReturnTo(raw.to_owned()))
    }

    /// The path to put in `Location`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_paths_are_kept() {
        for ok in ["/", "/chats", "/chats?page=2&x=%2F%2F", "/a/b#frag", "/https://x"] {
            assert_eq!(ReturnTo::parse(Some(ok)).as_str(), ok);
        }
    }

    #[test]
    fn everything_that_could_leave_the_origin_falls_back_to_home() {
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https:evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "/\t/evil.example",
            "/\n/evil.example",
            " /x",
            "evil",
            "",
        ] {
            assert_eq!(ReturnTo::parse(Some(bad)), ReturnTo::home(), "{bad:?}");
        }
        assert_eq!(ReturnTo::parse(Some(&format!("/{}", "a".repeat(5000)))), ReturnTo::home());
        assert_eq!(ReturnTo::parse(None), ReturnTo::home());
    }
}
