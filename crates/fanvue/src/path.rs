//! API paths that cannot escape `API_BASE_URL`.
//!
//! The proxy takes a path from the browser. Before it can reach the upstream URL it is split
//! into segments and each is percent-decoded and checked: no empty segments (`//host`), no
//! `.`/`..` (also when encoded as `%2e`), no encoded `/` or `\`, no NUL or control
//! characters. The upstream URL is then built by pushing the decoded segments onto the base
//! URL, which re-encodes them, so what Fanvue receives is exactly what was checked.

use std::fmt;

use percent_encoding::percent_decode_str;

/// Longest path accepted, in bytes.
const MAX_LEN: usize = 1024;

/// A checked API path such as `/chats/7b1e…/messages`, held as decoded segments.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiPath {
    segments: Vec<String>,
}

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid API path: {0}")]
pub struct PathError(pub &'static str);

impl ApiPath {
    /// Parses a raw (still percent-encoded) path that starts with `/`.
    pub fn parse(raw: &str) -> Result<Self, PathError> {
        if raw.len() > MAX_LEN {
            return Err(PathError("too long"));
        }
        let rest = raw.strip_prefix('/').ok_or(PathError("must start with /"))?;
        if rest.is_empty() {
            return Err(PathError("empty"));
        }
        let segments = rest.split('/').map(decode_segment).collect::<Result<Vec<_>, _>>()?;
        Ok(ApiPath { segments })
    }

    /// The decoded segments.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().map(String::as_str)
    }

    /// Number of segments.
    pub fn len(&self) -> usize {
        self.segments.len()
    }

    /// Always false: a parsed path has at least one segment.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Joins the path onto `base`, keeping the base's own path (e.g. a `/v0` prefix).
    pub fn join_onto(&self, base: &url::Url) -> Option<url::Url> {
        let mut url = base.clone();
        url.path_segments_mut().ok()?.pop_if_empty().extend(&self.segments);
        Some(url)
    }
}

/// Whether `s` is a UUID (8-4-4-4-12 hex digits), as Fanvue's ids are.
pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn decode_segment(raw: &str) -> Result<String, PathError> {
    if raw.is_empty() {
        return Err(PathError("empty segment"));
    }
    let decoded = percent_decode_str(raw).decode_utf8().map_err(|_| PathError("segment is not UTF-8"))?;
    if decoded == "." || decoded == ".." {
        return Err(PathError("dot segment"));
    }
    if decoded.chars().any(|c| c == '/' || c == '\\' || c.is_control()) {
        return Err(PathError("encoded separator or control character"));
    }
    Ok(decoded.into_owned())
}

impl fmt::Display for ApiPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for segment in &self.segments {
            write!(f, "/{segment}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ApiPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiPath({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_paths_parse_and_join_under_the_base() {
        let base = url::Url::parse("https://127.0.0.1:3002/api").unwrap();
        let path = ApiPath::parse("/vault/folders/My%20Folder/media").unwrap();
        assert_eq!(path.segments().nth(2), Some("My Folder"));
        assert_eq!(
            path.join_onto(&base).unwrap().as_str(),
            "https://127.0.0.1:3002/api/vault/folders/My%20Folder/media"
        );
    }

    #[test]
    fn escapes_are_refused() {
        for bad in [
            "",
            "/",
            "users/me",
            "//evil.example/x",
            "/../oauth2/token",
            "/users/../../x",
            "/%2e%2e/x",
            "/%2E./x",
            "/.",
            "/a/%2f/b",
            "/a%2Fb",
            "/a%5cb",
            "/a\\b",
            "/a%00b",
            "/a/",
            "/a%0d%0aX: y",
            "/%ff",
        ] {
            assert!(ApiPath::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(ApiPath::parse(&format!("/{}", "a".repeat(2000))).is_err());
    }

    #[test]
    fn an_absolute_url_as_path_stays_under_the_base() {
        // `/https:` is an odd but harmless segment: it can only ever be a path segment.
        let base = url::Url::parse("https://api.fanvue.com").unwrap();
        let joined = ApiPath::parse("/https:/evil.example").unwrap().join_onto(&base).unwrap();
        assert_eq!(joined.as_str(), "https://api.fanvue.com/https:/evil.example");
        let one = ApiPath::parse("/https:%2F%2Fevil.example");
        assert!(one.is_err());
        let odd = ApiPath::parse("/http:evil.example").unwrap().join_onto(&base).unwrap();
        assert_eq!(odd.host_str(), Some("api.fanvue.com"));
    }
}
