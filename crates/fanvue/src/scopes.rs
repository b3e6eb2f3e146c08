//! OAuth scopes: the seventeen Fanvue defines, parsed once into a typed [`ScopeSet`].
//!
//! Fifteen are on Fanvue's scopes page; `read:experience` and `write:experience` are in the
//! scope map of Fanvue's App Store OpenAPI (`fanvue/app-store-moderation-boilerplate`,
//! `docs/openapi.apps.json`): fan-facing experiences of embedded apps.
//!
//! `Scope::ALL` is the single table of wire names. Everything else (config parsing, the
//! endpoint table, the consent page, the "missing scope" messages) goes through it, so a
//! new scope is one line here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A Fanvue API scope (see Fanvue's docs page "Scopes").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Own profile and account details.
    ReadSelf,
    /// Chats and messages.
    ReadChat,
    /// Create chats and send messages.
    WriteChat,
    /// Fan data (followers, subscribers, lists).
    ReadFan,
    /// Creator profiles; also "act for a managed creator" under `/creators/{uuid}/…`.
    ReadCreator,
    /// Modify creator data; also writes under `/creators/{uuid}/…`.
    WriteCreator,
    /// Media library and vault.
    ReadMedia,
    /// Uploads and vault folder management.
    WriteMedia,
    /// Posts with comments, likes and tips.
    ReadPost,
    /// Create and edit posts.
    WritePost,
    /// Earnings and analytics.
    ReadInsights,
    /// Tracking links and the users they acquired.
    ReadTrackingLinks,
    /// Create and delete tracking links.
    WriteTrackingLinks,
    /// Agency information and team members.
    ReadAgency,
    /// Manage agency team members and invites.
    WriteAgency,
    /// Exchange a fan's experience token for the resolved experience and the fan's identity.
    ReadExperience,
    /// Ask the creator to publish or unpublish a fan-facing experience.
    WriteExperience,
}

impl Scope {
    /// Every scope with its wire name: the only place these strings are written.
    pub const ALL: [(Scope, &'static str); 17] = [
        (Scope::ReadSelf, "read:self"),
        (Scope::ReadChat, "read:chat"),
        (Scope::WriteChat, "write:chat"),
        (Scope::ReadFan, "read:fan"),
        (Scope::ReadCreator, "read:creator"),
        (Scope::WriteCreator, "write:creator"),
        (Scope::ReadMedia, "read:media"),
        (Scope::WriteMedia, "write:media"),
        (Scope::ReadPost, "read:post"),
        (Scope::WritePost, "write:post"),
        (Scope::ReadInsights, "read:insights"),
        (Scope::ReadTrackingLinks, "read:tracking_links"),
        (Scope::WriteTrackingLinks, "write:tracking_links"),
        (Scope::ReadAgency, "read:agency"),
        (Scope::WriteAgency, "write:agency"),
        (Scope::ReadExperience, "read:experience"),
        (Scope::WriteExperience, "write:experience"),
    ];

    /// System scopes the login always asks for, before the app's own. Without
    /// `offline_access`/`offline` Fanvue issues no refresh token.
    pub const SYSTEM: [&'static str; 3] = ["openid", "offline_access", "offline"];

    /// The wire name, e.g. `read:self`.
    pub fn as_str(self) -> &'static str {
        Self::ALL.iter().find(|(scope, _)| *scope == self).map_or("", |(_, name)| name)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown scope name, with the list of valid ones for the message.
#[derive(Debug, thiserror::Error)]
#[error("unknown scope `{0}`; valid scopes are: {valid}", valid = valid_scope_list())]
pub struct UnknownScope(pub String);

fn valid_scope_list() -> String {
    Scope::ALL.map(|(_, name)| name).join(" ")
}

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.iter().find(|(_, name)| *name == s).map(|(scope, _)| *scope).ok_or_else(|| UnknownScope(s.to_owned()))
    }
}

/// A set of scopes, stored as a bit set (cheap to copy and compare).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct ScopeSet(u32);

impl ScopeSet {
    /// The empty set.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// Every scope Fanvue defines.
    pub fn all() -> Self {
        Scope::ALL.iter().map(|(scope, _)| *scope).collect()
    }

    /// Whether `scope` is in the set.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Adds `scope`.
    pub fn insert(&mut self, scope: Scope) {
        self.0 |= scope.bit();
    }

    /// The scopes in either set.
    pub fn union(self, other: ScopeSet) -> ScopeSet {
        ScopeSet(self.0 | other.0)
    }

    /// The scopes of `required` that are not in `self`.
    pub fn missing(self, required: ScopeSet) -> ScopeSet {
        ScopeSet(required.0 & !self.0)
    }

    /// The scopes of `self` that are not in `other`.
    pub fn missing_from(self, other: ScopeSet) -> ScopeSet {
        other.missing(self)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scopes in table order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().map(|(scope, _)| scope).filter(move |scope| self.contains(*scope))
    }

    /// Parses a space- or comma-separated list strictly: an unknown name is an error.
    pub fn parse_strict(list: &str) -> Result<Self, UnknownScope> {
        split_scopes(list).map(str::parse::<Scope>).collect()
    }

    /// Parses a granted `scope` string from a token response leniently: system scopes and
    /// names this version does not know (Fanvue adds scopes over time) are skipped.
    pub fn parse_granted(list: &str) -> Self {
        split_scopes(list).filter_map(|s| s.parse().ok()).collect()
    }

    /// The space-separated wire form, e.g. `read:self read:chat`.
    pub fn to_wire(self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ")
    }
}

fn split_scopes(list: &str) -> impl Iterator<Item = &str> {
    list.split(|c: char| c.is_whitespace() || c == ',').filter(|s| !s.is_empty())
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut set = ScopeSet::empty();
        for scope in iter {
            set.insert(scope);
        }
        set
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(Scope::as_str)).finish()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_wire())
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_wire())
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = String::deserialize(deserializer)?;
        Ok(ScopeSet::parse_granted(&wire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_round_trips_through_its_wire_name() {
        for (scope, name) in Scope::ALL {
            assert_eq!(scope.as_str(), name);
            assert_eq!(name.parse::<Scope>().ok(), Some(scope));
        }
        assert_eq!(ScopeSet::all().iter().count(), 17);
    }

    #[test]
    fn strict_parsing_names_the_unknown_scope_and_lists_valid_ones() {
        let err = ScopeSet::parse_strict("read:self read:everything").err();
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("`read:everything`"), "{message}");
        assert!(message.contains("write:tracking_links"), "{message}");
    }

    #[test]
    fn granted_parsing_skips_system_and_future_scopes() {
        let set = ScopeSet::parse_granted("openid offline_access offline read:self read:experience read:future");
        assert_eq!(set.to_wire(), "read:self read:experience");
    }

    #[test]
    fn missing_reports_only_absent_scopes() {
        let granted = ScopeSet::parse_granted("read:self read:chat");
        let required: ScopeSet = [Scope::ReadChat, Scope::ReadFan].into_iter().collect();
        assert_eq!(granted.missing(required).to_wire(), "read:fan");
    }
}
