//! Every Fanvue API endpoint and the scopes it needs: the only place paths meet scopes.
//!
//! The proxy refuses any request not in this table before calling Fanvue, and refuses with
//! 403 (naming the scope) when the session's grant lacks a scope listed here. The sandbox
//! enforces the same table. Source: `fanvue-platform.md` §2.7 (Fanvue's API reference);
//! rows marked "assumed" had no documented scope and follow the nearest documented route.
//! Per-creator routes (`/creators/{creatorUserUuid}/…`) need `read:creator`/`write:creator`
//! in addition to the resource scope.

use http::Method;

use super::ApiPath;
use crate::scopes::{Scope, ScopeSet};
use Scope::*;

/// One API endpoint: method, path pattern (`{name}` matches one segment) and scopes.
#[derive(Debug)]
pub struct Endpoint {
    /// HTTP method.
    pub method: Method,
    /// Path pattern, e.g. `/chats/{userUuid}/messages`.
    pub pattern: &'static str,
    /// Every scope the token must carry.
    pub scopes: &'static [Scope],
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

const fn ep(method: Method, pattern: &'static str, scopes: &'static [Scope]) -> Endpoint {
    Endpoint { method, pattern, scopes }
}

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PATCH: Method = Method::PATCH;
const PUT: Method = Method::PUT;
const DELETE: Method = Method::DELETE;

/// The endpoint table.
pub static ENDPOINTS: &[Endpoint] = &[
    // A. Self, account, apps, notifications
    ep(GET, "/users/me", &[ReadSelf]),
    ep(GET, "/users/account", &[ReadSelf]),
    ep(GET, "/notifications", &[ReadSelf]),
    ep(GET, "/apps/{appUuid}/subscription-status", &[ReadSelf]),
    ep(GET, "/apps/{appUuid}/subscription/me", &[ReadSelf]),
    ep(GET, "/apps", &[]),
    ep(GET, "/apps/{appUuid}", &[]),
    // B. Chats and messages
    ep(GET, "/chats", &[ReadChat]),
    ep(POST, "/chats", &[WriteChat]),
    ep(PATCH, "/chats/{userUuid}", &[WriteChat]),
    ep(GET, "/chats/unread", &[ReadChat]),
    ep(POST, "/chats/statuses", &[ReadChat]),
    ep(GET, "/chats/{userUuid}/media", &[ReadChat]),
    ep(GET, "/chats/{userUuid}/messages", &[ReadChat]),
    ep(POST, "/chats/messages/batch", &[ReadChat]),
    ep(POST, "/chats/{userUuid}/message", &[WriteChat]),
    ep(DELETE, "/chats/{userUuid}/messages/{messageUuid}", &[WriteChat]),
    ep(POST, "/chats/mass-messages", &[WriteChat, ReadFan]),
    ep(GET, "/chats/mass-messages", &[ReadChat]),
    ep(GET, "/chats/templates", &[ReadChat]),
    ep(GET, "/chats/templates/{templateUuid}", &[ReadChat]),
    ep(GET, "/chats/lists/smart", &[ReadChat, ReadFan]),
    ep(GET, "/chats/lists/smart/{listId}", &[ReadChat, ReadFan]),
    ep(GET, "/chats/lists/custom", &[ReadChat, ReadFan]),
    ep(POST, "/chats/lists/custom", &[WriteChat]),
    ep(GET, "/chats/lists/custom/{listUuid}", &[ReadChat, ReadFan]),
    ep(PATCH, "/chats/lists/custom/{listUuid}", &[WriteChat]),
    ep(DELETE, "/chats/lists/custom/{listUuid}", &[WriteChat]),
    ep(POST, "/chats/lists/custom/{listUuid}/members", &[WriteChat]),
    ep(DELETE, "/chats/lists/custom/{listUuid}/members/{userUuid}", &[WriteChat]),
    ep(POST, "/chats/{userUuid}/typing", &[WriteChat]), // assumed
    ep(GET, "/chats/automated-messages", &[ReadChat]),  // assumed
    ep(GET, "/chats/automated-messages/{trigger}", &[ReadChat]), // assumed
    ep(PUT, "/chats/automated-messages/{trigger}", &[WriteChat]), // assumed
    ep(DELETE, "/chats/automated-messages/{trigger}", &[WriteChat]), // assumed
    // C. Fans and insights
    ep(GET, "/followers", &[ReadFan]),
    ep(GET, "/subscribers", &[ReadFan]),
    ep(GET, "/insights/earnings", &[ReadInsights]),
    ep(GET, "/insights/subscribers", &[ReadInsights]),
    ep(GET, "/insights/spending", &[ReadInsights]),
    ep(GET, "/insights/top-spenders", &[ReadInsights, ReadFan]),
    ep(GET, "/insights/fans", &[ReadInsights, ReadFan]), // assumed, as the single-fan route
    ep(GET, "/insights/fans/{userUuid}", &[ReadInsights, ReadFan]),
    // D. Media, uploads, vault
    ep(GET, "/media", &[ReadMedia]),
    ep(GET, "/media/bulk", &[ReadMedia]),
    ep(GET, "/media/{mediaUuid}", &[ReadMedia]),
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
    ep(GET, "/posts/{postUuid}", &[ReadPost]),
    ep(PATCH, "/posts/{postUuid}", &[WritePost]),
    ep(GET, "/posts/{postUuid}/comments", &[ReadPost]),
    ep(GET, "/posts/{postUuid}/likes", &[ReadPost]),
    ep(GET, "/posts/{postUuid}/tips", &[ReadPost]),
    // F. Tracking links
    ep(GET, "/tracking-links", &[ReadTrackingLinks]),
    ep(POST, "/tracking-links", &[WriteTrackingLinks]),
    ep(DELETE, "/tracking-links/{linkUuid}", &[WriteTrackingLinks]),
    ep(GET, "/tracking-links/{linkUuid}/users", &[ReadTrackingLinks]),
    // G. Agency: acting for a managed creator, and agency-wide
    ep(GET, "/creators", &[ReadCreator]),
    ep(GET, "/creators/{creatorUuid}/chats", &[ReadCreator, ReadChat]),
    ep(POST, "/creators/{creatorUuid}/chats", &[ReadCreator, WriteChat]),
    ep(PATCH, "/creators/{creatorUuid}/chats/{userUuid}", &[ReadCreator, WriteChat]),
    ep(GET, "/creators/{creatorUuid}/chats/{userUuid}/messages", &[ReadCreator, ReadChat]),
    ep(POST, "/creators/{creatorUuid}/chats/{userUuid}/message", &[ReadCreator, WriteChat]),
    ep(GET, "/creators/{creatorUuid}/chats/{userUuid}/media", &[ReadCreator, ReadChat]),
    ep(POST, "/creators/{creatorUuid}/chats/mass-messages", &[ReadCreator, WriteChat, ReadFan]),
    ep(GET, "/creators/{creatorUuid}/chats/lists/smart", &[ReadCreator, ReadChat, ReadFan]),
    ep(GET, "/creators/{creatorUuid}/chats/lists/smart/{listId}", &[ReadCreator, ReadChat, ReadFan]),
    ep(GET, "/creators/{creatorUuid}/chats/lists/custom", &[ReadCreator, ReadChat, ReadFan]),
    ep(GET, "/creators/{creatorUuid}/chats/lists/custom/{listUuid}", &[ReadCreator, ReadChat, ReadFan]),
    ep(GET, "/creators/{creatorUuid}/followers", &[ReadCreator, ReadFan]),
    ep(GET, "/creators/{creatorUuid}/subscribers", &[ReadCreator, ReadFan]),
    ep(GET, "/creators/{creatorUuid}/insights/earnings", &[ReadCreator, ReadInsights]),
    ep(GET, "/creators/{creatorUuid}/insights/subscribers", &[ReadCreator, ReadInsights]),
    ep(GET, "/creators/{creatorUuid}/insights/top-spenders", &[ReadCreator, ReadInsights, ReadFan]),
    ep(GET, "/creators/{creatorUuid}/media", &[ReadCreator, ReadMedia]),
    ep(GET, "/creators/{creatorUuid}/media/{mediaUuid}", &[ReadCreator, ReadMedia]),
    ep(POST, "/creators/{creatorUuid}/media/uploads", &[WriteCreator, WriteMedia]),
    ep(GET, "/creators/{creatorUuid}/media/uploads/{uploadId}/parts/{partNumber}/url", &[WriteCreator, WriteMedia]),
    ep(PATCH, "/creators/{creatorUuid}/media/uploads/{uploadId}", &[WriteCreator, WriteMedia]),
    ep(GET, "/creators/{creatorUuid}/vault/folders", &[ReadCreator, ReadMedia]),
    ep(GET, "/creators/{creatorUuid}/vault/folders/{folderName}/media", &[ReadCreator, ReadMedia]),
    ep(POST, "/creators/{creatorUuid}/posts", &[WriteCreator, WritePost]),
    ep(PATCH, "/creators/{creatorUuid}/posts/{postUuid}", &[WriteCreator, WritePost]),
    ep(GET, "/creators/{creatorUuid}/tracking-links", &[ReadCreator, ReadTrackingLinks]),
    ep(POST, "/creators/{creatorUuid}/tracking-links", &[WriteCreator, WriteTrackingLinks]),
    ep(DELETE, "/creators/{creatorUuid}/tracking-links/{linkUuid}", &[WriteCreator, WriteTrackingLinks]),
    ep(GET, "/agencies/team-members", &[ReadAgency]),
    ep(PUT, "/agencies/team-members/{userUuid}", &[WriteAgency]),
    ep(POST, "/agencies/invites", &[WriteAgency]),
    ep(GET, "/agencies/subscribers", &[ReadAgency, ReadCreator]), // assumed
    ep(GET, "/agencies/subscribers-history", &[ReadAgency, ReadCreator]), // assumed
    ep(GET, "/agencies/earnings", &[ReadAgency, ReadInsights]),   // assumed
    // H. Webhook subscriptions
    ep(POST, "/webhooks/subscriptions", &[ReadCreator]),
    ep(GET, "/webhooks/subscriptions", &[ReadCreator]),
    ep(DELETE, "/webhooks/subscriptions/{subscriptionId}", &[ReadCreator]), // assumed
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
        assert_eq!(find(GET, "/media/8b6f"), Some("/media/{mediaUuid}"));
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
