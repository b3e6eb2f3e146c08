//! Every Fanvue API endpoint and the scopes it needs: the only place paths meet scopes.
//!
//! The proxy refuses any request not in this table before calling Fanvue, and refuses with
//! 403 (naming the scope) when the session's grant lacks a scope listed here. The sandbox
//! enforces the same table.
//!
//! Each row says where it comes from ([`Source`]). Rows of Fanvue's API reference
//! (`crates/fanvue/contract/fanvue-api.json`) must equal the published method, path and scopes, and
//! `tests/contract.rs` checks every one of them; patterns use the reference's parameter
//! names. Rows Fanvue documents elsewhere name the page; rows no page documents say why they
//! are believed to exist. Per-creator routes (`/creators/{creatorUserUuid}/…`) need
//! `read:creator`/`write:creator` in addition to the resource scope.

use http::Method;

use crate::ApiPath;
use crate::scopes::{Scope, ScopeSet};
use Scope::*;

/// Where a row of the table comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Fanvue's API reference (`crates/fanvue/contract/fanvue-api.json`): checked against it by the tests.
    Reference,
    /// A Fanvue page outside the API reference (a guide, a newer or older reference page).
    Documented(&'static str),
    /// No Fanvue page we could read documents it; why we believe it exists.
    Assumed(&'static str),
}

/// One API endpoint: method, path pattern (`{name}` matches one segment), scopes, source.
#[derive(Debug)]
pub struct Endpoint {
    /// HTTP method.
    pub method: Method,
    /// Path pattern, e.g. `/chats/{userUuid}/messages`.
    pub pattern: &'static str,
    /// Every scope the token must carry.
    pub scopes: &'static [Scope],
    /// Where the row comes from.
    pub source: Source,
}

impl Endpoint {
    /// The required scopes as a set.
    pub fn required(&self) -> ScopeSet {
        self.scopes.iter().copied().collect()
    }

    /// Number of literal segments if `path` matches the pattern (more literals = more
    /// specific, so `/media/bulk` beats `/media/{uuid}`).
    fn match_score(&self, path: &ApiPath) -> Option<usize> {
        let pattern = self.pattern.trim_start_matches('/').split('/');
        if pattern.clone().count() != path.len() {
            return None;
        }
        let mut literals = 0;
        for (want, got) in pattern.zip(path.segments()) {
            if want.starts_with('{') {
                continue;
            }
            if want != got {
                return None;
            }
            literals += 1;
        }
        Some(literals)
    }
}

/// A row of Fanvue's API reference.
const fn ep(method: Method, pattern: &'static str, scopes: &'static [Scope]) -> Endpoint {
    Endpoint { method, pattern, scopes, source: Source::Reference }
}

/// A row documented on another Fanvue page.
const fn doc(method: Method, pattern: &'static str, scopes: &'static [Scope], page: &'static str) -> Endpoint {
    Endpoint { method, pattern, scopes, source: Source::Documented(page) }
}

/// A row no page documents.
const fn assumed(method: Method, pattern: &'static str, scopes: &'static [Scope], why: &'static str) -> Endpoint {
    Endpoint { method, pattern, scopes, source: Source::Assumed(why) }
}

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PATCH: Method = Method::PATCH;
const PUT: Method = Method::PUT;
const DELETE: Method = Method::DELETE;

const AR: &str = "https://api.fanvue.com/docs/api-reference";
const DEV: &str = "https://api.dev.fanvue.com/docs/api-reference";

/// The endpoint table.
pub static ENDPOINTS: &[Endpoint] = &[
    // A. Self, account, apps, notifications
    ep(GET, "/users/me", &[ReadSelf]),
    doc(GET, "/users/account", &[ReadSelf], DEV),
    doc(GET, "/notifications", &[ReadSelf], DEV),
    doc(
        GET,
        "/apps/{appUuid}/subscription-status",
        &[ReadSelf],
        "https://api.fanvue.com/docs/app-store/app-subscriptions",
    ),
    doc(GET, "/apps/{appUuid}/subscription/me", &[ReadSelf], "https://api.fanvue.com/docs/app-store/app-subscriptions"),
    doc(
        GET,
        "/apps",
        &[],
        "fanvue/app-store-moderation-boilerplate docs/openapi.apps.json (excerpt of Fanvue's OpenAPI)",
    ),
    doc(
        GET,
        "/apps/{appUuid}",
        &[],
        "fanvue/app-store-moderation-boilerplate docs/openapi.apps.json (excerpt of Fanvue's OpenAPI)",
    ),
    // B. Chats and messages
    ep(GET, "/chats", &[ReadChat]),
    ep(POST, "/chats", &[WriteChat]),
    ep(PATCH, "/chats/{userUuid}", &[WriteChat]),
    ep(GET, "/chats/unread", &[ReadChat]),
    ep(POST, "/chats/statuses", &[ReadChat]),
    ep(GET, "/chats/{userUuid}/media", &[ReadChat]),
    ep(GET, "/chats/{userUuid}/messages", &[ReadChat]),
    doc(POST, "/chats/messages/batch", &[ReadChat], AR),
    ep(POST, "/chats/{userUuid}/message", &[WriteChat]),
    ep(DELETE, "/chats/{userUuid}/messages/{messageUuid}", &[WriteChat]),
    ep(POST, "/chats/mass-messages", &[WriteChat]),
    doc(
        GET,
        "/chats/mass-messages",
        &[ReadChat],
        "https://api.fanvue.com/docs/api-reference/reference/chat-messages/list-mass-messages",
    ),
    ep(GET, "/chats/templates", &[ReadChat]),
    ep(GET, "/chats/templates/{templateUuid}", &[ReadChat]),
    ep(GET, "/chats/lists/smart", &[ReadChat, ReadFan]),
    ep(GET, "/chats/lists/smart/{uuid}", &[ReadChat, ReadFan]),
    ep(GET, "/chats/lists/custom", &[ReadChat, ReadFan]),
    ep(POST, "/chats/lists/custom", &[WriteChat]),
    ep(GET, "/chats/lists/custom/{uuid}", &[ReadChat, ReadFan]),
    ep(PATCH, "/chats/lists/custom/{uuid}", &[WriteChat]),
    ep(DELETE, "/chats/lists/custom/{uuid}", &[WriteChat]),
    ep(POST, "/chats/lists/custom/{uuid}/members", &[WriteChat]),
    ep(DELETE, "/chats/lists/custom/{uuid}/members/{userUuid}", &[WriteChat]),
    assumed(POST, "/chats/{userUuid}/typing", &[WriteChat], "third-party clients call it; scope as for sending"),
    assumed(GET, "/chats/automated-messages", &[ReadChat], "third-party clients; scope as for reading chats"),
    assumed(GET, "/chats/automated-messages/{trigger}", &[ReadChat], "third-party clients; scope as for reading chats"),
    assumed(PUT, "/chats/automated-messages/{trigger}", &[WriteChat], "third-party clients; scope as for sending"),
    assumed(DELETE, "/chats/automated-messages/{trigger}", &[WriteChat], "third-party clients; scope as for sending"),
    // C. Fans and insights
    ep(GET, "/followers", &[ReadFan]),
    ep(GET, "/subscribers", &[ReadFan]),
    ep(GET, "/insights/earnings", &[ReadInsights]),
    ep(GET, "/insights/subscribers", &[ReadInsights]),
    assumed(GET, "/insights/spending", &[ReadInsights], "named on the API overview page as a cursor list"),
    ep(GET, "/insights/top-spenders", &[ReadInsights, ReadFan]),
    doc(
        GET,
        "/insights/fans",
        &[ReadInsights, ReadFan],
        "https://api.fanvue.com/docs/api-reference/get-fan-insights-in-bulk (scope as the single-fan route)",
    ),
    ep(GET, "/insights/fans/{userUuid}", &[ReadInsights, ReadFan]),
    // D. Media, uploads, vault
    ep(GET, "/media", &[ReadMedia]),
    doc(GET, "/media/bulk", &[ReadMedia], "https://api.fanvue.com/docs/api-reference/get-bulk-media-by-uuids"),
    ep(GET, "/media/{uuid}", &[ReadMedia]),
    ep(POST, "/media/uploads", &[WriteMedia]),
    ep(GET, "/media/uploads/{uploadId}/parts/{partNumber}/url", &[WriteMedia]),
    ep(PATCH, "/media/uploads/{uploadId}", &[WriteMedia]),
    ep(GET, "/vault/folders", &[ReadMedia]),
    ep(POST, "/vault/folders", &[WriteMedia]),
    ep(GET, "/vault/folders/{folderName}", &[ReadMedia]),
    ep(PATCH, "/vault/folders/{folderName}", &[WriteMedia]),
    ep(DELETE, "/vault/folders/{folderName}", &[WriteMedia]),
    ep(GET, "/vault/folders/{folderName}/media", &[ReadMedia]),
    ep(POST, "/vault/folders/{folderName}/media", &[WriteMedia]),
    ep(DELETE, "/vault/folders/{folderName}/media/{mediaUuid}", &[WriteMedia]),
    // E. Posts
    ep(GET, "/posts", &[ReadPost]),
    ep(POST, "/posts", &[WritePost]),
    ep(GET, "/posts/{uuid}", &[ReadPost]),
    doc(PATCH, "/posts/{uuid}", &[WritePost], "https://api.fanvue.com/docs/api-reference/update-a-post"),
    ep(GET, "/posts/{uuid}/comments", &[ReadPost]),
    ep(GET, "/posts/{uuid}/likes", &[ReadPost]),
    ep(GET, "/posts/{uuid}/tips", &[ReadPost]),
    // F. Tracking links
    ep(GET, "/tracking-links", &[ReadTrackingLinks]),
    ep(POST, "/tracking-links", &[WriteTrackingLinks]),
    ep(DELETE, "/tracking-links/{uuid}", &[WriteTrackingLinks]),
    doc(
        GET,
        "/tracking-links/{uuid}/users",
        &[ReadTrackingLinks],
        "https://api.dev.fanvue.com/docs/api-reference/list-users-for-a-tracking-link",
    ),
    // G. Agency: acting for a managed creator, and agency-wide
    ep(GET, "/creators", &[ReadCreator]),
    ep(GET, "/creators/{creatorUserUuid}/chats", &[ReadCreator, ReadChat]),
    ep(POST, "/creators/{creatorUserUuid}/chats", &[ReadCreator, WriteChat]),
    doc(
        PATCH,
        "/creators/{creatorUserUuid}/chats/{userUuid}",
        &[ReadCreator, WriteChat],
        "Inoue-AI/Fanvue-Python-SDK docs-endpoints.md (generated from Fanvue's llms.txt)",
    ),
    ep(GET, "/creators/{creatorUserUuid}/chats/{userUuid}/messages", &[ReadCreator, ReadChat]),
    ep(POST, "/creators/{creatorUserUuid}/chats/{userUuid}/message", &[ReadCreator, WriteChat]),
    ep(GET, "/creators/{creatorUserUuid}/chats/{userUuid}/media", &[ReadCreator, ReadChat]),
    ep(POST, "/creators/{creatorUserUuid}/chats/mass-messages", &[ReadCreator, WriteChat, ReadFan]),
    ep(GET, "/creators/{creatorUserUuid}/chats/lists/smart", &[ReadCreator, ReadChat, ReadFan]),
    ep(GET, "/creators/{creatorUserUuid}/chats/lists/smart/{uuid}", &[ReadCreator, ReadChat, ReadFan]),
    ep(GET, "/creators/{creatorUserUuid}/chats/lists/custom", &[ReadCreator, ReadChat, ReadFan]),
    ep(GET, "/creators/{creatorUserUuid}/chats/lists/custom/{uuid}", &[ReadCreator, ReadChat, ReadFan]),
    ep(GET, "/creators/{creatorUserUuid}/followers", &[ReadCreator, ReadFan]),
    ep(GET, "/creators/{creatorUserUuid}/subscribers", &[ReadCreator, ReadFan]),
    ep(GET, "/creators/{creatorUserUuid}/insights/earnings", &[ReadCreator, ReadInsights]),
    ep(GET, "/creators/{creatorUserUuid}/insights/subscribers", &[ReadCreator, ReadInsights]),
    ep(GET, "/creators/{creatorUserUuid}/insights/top-spenders", &[ReadCreator, ReadInsights, ReadFan]),
    ep(GET, "/creators/{creatorUserUuid}/media", &[ReadCreator, ReadMedia]),
    ep(GET, "/creators/{creatorUserUuid}/media/{uuid}", &[ReadCreator, ReadMedia]),
    doc(
        POST,
        "/creators/{creatorUserUuid}/media/uploads",
        &[WriteCreator, WriteMedia],
        "https://api.fanvue.com/docs/api-reference/reference/agencies/create-creator-upload-session",
    ),
    ep(GET, "/creators/{creatorUserUuid}/media/uploads/{uploadId}/parts/{partNumber}/url", &[WriteCreator, WriteMedia]),
    ep(PATCH, "/creators/{creatorUserUuid}/media/uploads/{uploadId}", &[WriteCreator, WriteMedia]),
    assumed(
        GET,
        "/creators/{creatorUserUuid}/vault/folders",
        &[ReadCreator, ReadMedia],
        "a third-party design spec quoting Fanvue's live OpenAPI",
    ),
    assumed(
        GET,
        "/creators/{creatorUserUuid}/vault/folders/{folderName}/media",
        &[ReadCreator, ReadMedia],
        "a third-party design spec quoting Fanvue's live OpenAPI",
    ),
    ep(POST, "/creators/{creatorUserUuid}/posts", &[WriteCreator, WritePost]),
    doc(
        PATCH,
        "/creators/{creatorUserUuid}/posts/{uuid}",
        &[WriteCreator, WritePost],
        "https://api.fanvue.com/docs/api-reference/reference/agencies/update-creator-post",
    ),
    ep(GET, "/creators/{creatorUserUuid}/tracking-links", &[ReadCreator, ReadTrackingLinks]),
    doc(
        POST,
        "/creators/{creatorUserUuid}/tracking-links",
        &[WriteCreator, WriteTrackingLinks],
        "https://api.fanvue.com/docs/api-reference/reference/agencies/create-creator-tracking-link",
    ),
    ep(DELETE, "/creators/{creatorUserUuid}/tracking-links/{uuid}", &[WriteCreator, WriteTrackingLinks]),
    doc(
        GET,
        "/agencies/team-members",
        &[ReadAgency],
        "https://api.fanvue.com/docs/api-reference/reference/agencies/list-team-members",
    ),
    doc(
        PUT,
        "/agencies/team-members/{userUuid}",
        &[WriteAgency],
        "https://api.fanvue.com/docs/api-reference/update-team-member",
    ),
    doc(POST, "/agencies/invites", &[WriteAgency], "https://api.fanvue.com/docs/api-reference/invite-a-team-member"),
    assumed(
        GET,
        "/agencies/subscribers",
        &[ReadAgency, ReadCreator],
        "documented without a scope; third-party clients send these",
    ),
    assumed(
        GET,
        "/agencies/subscribers-history",
        &[ReadAgency, ReadCreator],
        "documented without a scope; as /agencies/subscribers",
    ),
    assumed(
        GET,
        "/agencies/earnings",
        &[ReadAgency, ReadInsights],
        "documented without a scope; agency earnings are insights",
    ),
    // H. Webhook subscriptions
    doc(POST, "/webhooks/subscriptions", &[ReadCreator], "https://api.fanvue.com/docs/checkout/configuring"),
    doc(GET, "/webhooks/subscriptions", &[ReadCreator], "https://api.fanvue.com/docs/checkout/configuring"),
    assumed(
        DELETE,
        "/webhooks/subscriptions/{subscriptionId}",
        &[ReadCreator],
        "Fanvue's Zapier app unsubscribes through the API",
    ),
];

/// What the table says about a method and path.
#[derive(Debug)]
pub enum Lookup {
    /// A known endpoint.
    Found(&'static Endpoint),
    /// The path is known, but not with this method.
    MethodNotAllowed,
    /// Not a Fanvue endpoint.
    Unknown,
}

/// Finds the most specific endpoint for `method` and `path`.
pub fn lookup(method: &Method, path: &ApiPath) -> Lookup {
    let best = |candidates: &mut dyn Iterator<Item = &'static Endpoint>| {
        candidates
            .filter_map(|e| e.match_score(path).map(|score| (score, e)))
            .max_by_key(|(score, _)| *score)
            .map(|(_, e)| e)
    };
    // HEAD is answered like GET, as HTTP allows.
    let wanted = if method == Method::HEAD { &Method::GET } else { method };
    if let Some(found) = best(&mut ENDPOINTS.iter().filter(|e| e.method == *wanted)) {
        return Lookup::Found(found);
    }
    if best(&mut ENDPOINTS.iter()).is_some() { Lookup::MethodNotAllowed } else { Lookup::Unknown }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(method: Method, path: &str) -> Option<&'static str> {
        match lookup(&method, &ApiPath::parse(path).unwrap()) {
            Lookup::Found(e) => Some(e.pattern),
            _ => None,
        }
    }

    #[test]
    fn literal_segments_win_over_parameters() {
        assert_eq!(find(GET, "/media/bulk"), Some("/media/bulk"));
        assert_eq!(find(GET, "/media/8b6f"), Some("/media/{uuid}"));
        assert_eq!(find(GET, "/chats/unread"), Some("/chats/unread"));
        assert_eq!(find(POST, "/chats/messages/batch"), Some("/chats/messages/batch"));
    }

    #[test]
    fn unknown_paths_and_methods_are_told_apart() {
        assert!(matches!(lookup(&DELETE, &ApiPath::parse("/users/me").unwrap()), Lookup::MethodNotAllowed));
        assert!(matches!(lookup(&GET, &ApiPath::parse("/oauth2/token").unwrap()), Lookup::Unknown));
        assert!(matches!(lookup(&GET, &ApiPath::parse("/users/me/extra").unwrap()), Lookup::Unknown));
    }

    #[test]
    fn every_row_is_well_formed_and_unique() {
        for (i, a) in ENDPOINTS.iter().enumerate() {
            assert!(a.pattern.starts_with('/') && !a.pattern.ends_with('/'), "{}", a.pattern);
            for b in &ENDPOINTS[i + 1..] {
                assert!(!(a.method == b.method && a.pattern == b.pattern), "duplicate {} {}", a.method, a.pattern);
            }
        }
        let creators = ENDPOINTS.iter().filter(|e| e.pattern.starts_with("/creators/"));
        for e in creators {
            assert!(
                e.scopes.contains(&ReadCreator) || e.scopes.contains(&WriteCreator),
                "{} needs a creator scope",
                e.pattern
            );
        }
    }
}
