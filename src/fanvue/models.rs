//! Response types. Every field Fanvue marks optional is an `Option`, unknown fields are
//! ignored, and nothing uses `deny_unknown_fields`: Fanvue adds fields and enum values over
//! time, and a new one must not break a page.

use serde::{Deserialize, Serialize};

/// `GET /users/me`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The user's UUID.
    pub uuid: String,
    /// Public handle (without `@`).
    pub handle: String,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Email (private to the user).
    #[serde(default)]
    pub email: Option<String>,
    /// Profile text.
    #[serde(default)]
    pub bio: Option<String>,
    /// Whether the account is a creator.
    #[serde(default)]
    pub is_creator: bool,
    /// Avatar URL (signed or public; only shown when https).
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// Banner URL.
    #[serde(default)]
    pub banner_url: Option<String>,
    /// Likes received.
    #[serde(default)]
    pub likes_count: Option<u64>,
    /// Follower and subscriber counts.
    #[serde(default)]
    pub fan_counts: Option<FanCounts>,
    /// Content counts.
    #[serde(default)]
    pub content_counts: Option<ContentCounts>,
    /// Account creation time (ISO 8601).
    #[serde(default)]
    pub created_at: Option<String>,
}

/// Follower and subscriber counts.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FanCounts {
    /// Followers.
    #[serde(default)]
    pub followers_count: u64,
    /// Subscribers.
    #[serde(default)]
    pub subscribers_count: u64,
}

/// Content counts.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentCounts {
    /// Images.
    #[serde(default)]
    pub image_count: u64,
    /// Videos.
    #[serde(default)]
    pub video_count: u64,
    /// Audio files.
    #[serde(default)]
    pub audio_count: u64,
    /// Posts.
    #[serde(default)]
    pub post_count: u64,
    /// Pay-to-view posts.
    #[serde(default)]
    pub pay_to_view_post_count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_and_missing_optionals_are_tolerated() {
        let user: User = serde_json::from_str(
            r#"{"uuid":"u","handle":"h","isCreator":true,"somethingNew":{"x":1},"fanCounts":{"followersCount":3}}"#,
        )
        .unwrap();
        assert_eq!(user.fan_counts.map(|c| c.followers_count), Some(3));
        assert!(user.avatar_url.is_none());
    }
}
