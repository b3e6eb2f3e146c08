//! What every page shares: rendering a template ([`render`]), the navigation and its one
//! table of sections ([`SECTIONS`]), the error page, the pager over Fanvue's two pagination
//! styles, lenient query/form parsing ([`Params`]) and small value formatters.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::web::error::{AppError, ErrorReport};
use fanvue::scopes::{Scope, ScopeSet};

/// Renders a template, turning a render failure into a logged 500 (never a panic, never
/// the error text in the page).
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => AppError::Internal(format!("template: {err}")).into_response(),
    }
}

/// The console's sections and the scopes each needs: the one table the navigation, the
/// gates and the README's "scope → page → source file" table follow.
pub const SECTIONS: [(&str, &str, &[Scope]); 9] = [
    ("/chats", "Chats", &[Scope::ReadChat]),
    ("/fans", "Fans", &[Scope::ReadFan]),
    ("/insights", "Insights", &[Scope::ReadInsights]),
    ("/media", "Media", &[Scope::ReadMedia]),
    ("/posts", "Posts", &[Scope::ReadPost]),
    ("/links", "Tracking links", &[Scope::ReadTrackingLinks]),
    ("/agency", "Agency", &[Scope::ReadAgency, Scope::ReadCreator]),
    ("/events", "Events", &[Scope::ReadSelf]),
    ("/premium", "Premium", &[Scope::ReadSelf]),
];

/// The navigation bar.
pub struct Nav {
    /// Whether to show "Sign out".
    pub signed_in: bool,
    /// Sections the grant allows.
    pub links: Vec<NavLink>,
}

/// One navigation entry.
pub struct NavLink {
    /// Target.
    pub href: &'static str,
    /// Text.
    pub label: &'static str,
    /// Whether it is the current section.
    pub active: bool,
}

impl Nav {
    /// For a visitor who is not signed in.
    pub fn signed_out() -> Self {
        Nav { signed_in: false, links: Vec::new() }
    }

    /// The sections `granted` allows, `active` highlighted.
    pub fn for_scopes(granted: ScopeSet, active: &str) -> Self {
        let links = SECTIONS
            .iter()
            .filter(|(_, _, needs)| needs.iter().all(|s| granted.contains(*s)))
            .map(|(href, label, _)| NavLink { href, label, active: *href == active })
            .collect();
        Nav { signed_in: true, links }
    }
}

/// `templates/pages/error.html`, filled by [`crate::web::middleware`]'s error rendering.
#[derive(Template)]
#[template(path = "pages/error.html")]
pub struct ErrorPage<'a> {
    /// The navigation (empty: error pages are rendered without the session).
    pub nav: Nav,
    /// HTTP status.
    pub status: u16,
    /// Status text.
    pub title: &'a str,
    /// What happened.
    pub report: &'a ErrorReport,
    /// The request id, to quote in support requests.
    pub request_id: &'a str,
    /// Login (or reconnect) link that comes back to the page that failed.
    pub login_href: String,
    /// The page that failed, when it may be returned to (a same-origin page path).
    pub return_to: Option<String>,
}

impl<'a> ErrorPage<'a> {
    /// The page for `report` on a request to `path`.
    pub fn new(status: StatusCode, report: &'a ErrorReport, request_id: &'a str, path: &str) -> Self {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for scope in &report.scopes {
            query.append_pair("scope", scope);
        }
        let return_to = (path.starts_with('/') && !path.starts_with("/api/")).then(|| path.to_owned());
        if let Some(path) = &return_to {
            query.append_pair("return_to", path);
        }
        ErrorPage {
            nav: Nav::signed_out(),
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error"),
            report,
            request_id,
            login_href: format!("/api/oauth/login?{}", query.finish()),
            return_to,
        }
    }
}

/// Previous/next links over either of Fanvue's pagination styles.
#[derive(Debug, Default)]
pub struct Pager {
    /// Link to the previous page.
    pub prev: Option<String>,
    /// Link to the next page.
    pub next: Option<String>,
}

/// At most this many earlier cursors are remembered for "previous".
const MAX_TRAIL: usize = 20;

impl Pager {
    /// Page-based lists (`page`, `hasMore`). `keep` holds the page's other query parameters.
    pub fn pages(path: &str, page: u32, has_more: bool, keep: &[(&str, &str)]) -> Self {
        let link = |n: u32| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.extend_pairs(keep.iter().filter(|(_, v)| !v.is_empty()));
            q.append_pair("page", &n.to_string());
            format!("{path}?{}", q.finish())
        };
        Pager { prev: (page > 1).then(|| link(page - 1)), next: has_more.then(|| link(page + 1)) }
    }

    /// Cursor-based lists (`nextCursor`): going back needs the cursors seen so far, carried
    /// in the link as a short `trail` instead of loading everything.
    pub fn cursors(
        path: &str,
        trail: &[String],
        current: Option<&str>,
        next: Option<&str>,
        keep: &[(&str, &str)],
    ) -> Self {
        let link = |cursor: Option<&str>, trail: &[String]| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.extend_pairs(keep.iter().filter(|(_, v)| !v.is_empty()));
            if let Some(cursor) = cursor {
                q.append_pair("cursor", cursor);
            }
            if !trail.is_empty() {
                q.append_pair("trail", &trail.join(","));
            }
            format!("{path}?{}", q.finish())
        };
        let prev = current.map(|_| match trail.split_last() {
            Some((last, rest)) => link(Some(last.as_str()).filter(|c| *c != "-"), rest),
            None => link(None, &[]),
        });
        let next = next.map(|n| {
            let mut longer: Vec<String> = trail.iter().rev().take(MAX_TRAIL - 1).rev().cloned().collect();
            longer.push(current.unwrap_or("-").to_owned());
            link(Some(n), &longer)
        });
        Pager { prev, next }
    }
}

/// Parses a `trail` query value into cursors (bounded).
pub fn parse_trail(raw: Option<&str>) -> Vec<String> {
    raw.unwrap_or("")
        .split(',')
        .filter(|c| !c.is_empty() && c.len() <= 512)
        .take(MAX_TRAIL)
        .map(str::to_owned)
        .collect()
}

/// A parsed query string or form body: first value wins, junk ignored. As an extractor, the
/// request's query string (never a rejection: a malformed pair is skipped).
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Params {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Params::parse(parts.uri.query().unwrap_or("").as_bytes()))
    }
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` bytes.
    pub fn parse(raw: &[u8]) -> Self {
        Params(url::form_urlencoded::parse(raw).into_owned().collect())
    }

    /// The first value of `key`, trimmed; empty counts as absent.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    /// `page` as a number ≥ 1 (1 when absent or invalid).
    pub fn page(&self) -> u32 {
        self.get("page").and_then(|p| p.parse().ok()).filter(|p| *p >= 1).unwrap_or(1)
    }
}

/// `value` if it is a UUID; otherwise a 400 saying it is not a `what` (ids from URLs go into
/// Fanvue paths, so they are checked before any call).
pub fn require_uuid(value: &str, what: &str) -> Result<(), AppError> {
    if is_uuid(value) { Ok(()) } else { Err(AppError::BadRequest(format!("That is not a {what}."))) }
}

/// Whether `s` is a UUID (8-4-4-4-12 hex digits).
pub fn is_uuid(s: &str) -> bool {
    fanvue::path::is_uuid(s)
}

/// Money in minor units (cents) as `$12.34` (refunds as `-$1.50`).
pub fn money(cents: impl Into<i128>) -> String {
    let cents: i128 = cents.into();
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}${}.{:02}", abs / 100, abs % 100)
}

/// A price typed in dollars (`9`, `9.5`, `9.99`) as cents; `None` when it is not a price.
pub fn parse_price(input: &str) -> Option<u64> {
    let input = input.trim().trim_start_matches('$');
    let (whole, frac) = input.split_once('.').unwrap_or((input, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let cents: u64 = format!("{frac:0<2}").parse().ok()?;
    whole.parse::<u64>().ok()?.checked_mul(100)?.checked_add(cents)
}

/// An `https` URL to use as `img src`, or nothing: anything else would be mixed content or worse.
pub fn https_only(url: Option<&str>) -> Option<String> {
    url.filter(|u| u.starts_with("https://")).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_parsed_as_cents_and_shown_as_money() {
        assert_eq!(parse_price("9"), Some(900));
        assert_eq!(parse_price("$9.5"), Some(950));
        assert_eq!(parse_price("12.34"), Some(1234));
        for bad in ["", "abc", "1.234", "-3", "1,00", ".5"] {
            assert_eq!(parse_price(bad), None, "{bad}");
        }
        assert_eq!(money(123456u64), "$1234.56");
        assert_eq!(money(-150i64), "-$1.50");
    }

    #[test]
    fn cursor_pager_goes_forward_and_back() {
        let first = Pager::cursors("/links", &[], None, Some("c1"), &[]);
        assert!(first.prev.is_none());
        assert_eq!(first.next.as_deref(), Some("/links?cursor=c1&trail=-"));
        let trail = parse_trail(Some("-"));
        let second = Pager::cursors("/links", &trail, Some("c1"), Some("c2"), &[]);
        assert_eq!(second.prev.as_deref(), Some("/links?"));
        assert_eq!(second.next.as_deref(), Some("/links?cursor=c2&trail=-%2Cc1"));
        let third = Pager::cursors("/links", &parse_trail(Some("-,c1")), Some("c2"), None, &[]);
        assert_eq!(third.prev.as_deref(), Some("/links?cursor=c1&trail=-"));
        assert!(third.next.is_none());
    }

    #[test]
    fn uuids_are_recognised() {
        assert!(is_uuid("00000fa0-0001-4fa0-8000-000000000001"));
        assert!(!is_uuid("../../etc"));
        assert!(!is_uuid("00000fa0-0001-4fa0-8000-00000000000"));
    }
}
