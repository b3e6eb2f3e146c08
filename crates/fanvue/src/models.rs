//! Response types. Every field Fanvue marks optional is an `Option`, unknown fields are
//! ignored, and nothing uses `deny_unknown_fields`: Fanvue adds fields and enum values over
//! time, and a new one must not break a page.

use serde::{Deserialize, Deserializer, Serialize};

/// `null` or missing → the type's default. Fanvue sends `null` for fields its schema marks
/// optional, and a `null` count or name must not fail a whole page.
fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

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
    #[serde(default, deserialize_with = "null_as_default")]
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
    #[serde(default, deserialize_with = "null_as_default")]
    pub followers_count: u64,
    /// Subscribers.
    #[serde(default, deserialize_with = "null_as_default")]
    pub subscribers_count: u64,
}

/// Content counts.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentCounts {
    /// Images.
    #[serde(default, deserialize_with = "null_as_default")]
    pub image_count: u64,
    /// Videos.
    #[serde(default, deserialize_with = "null_as_default")]
    pub video_count: u64,
    /// Audio files.
    #[serde(default, deserialize_with = "null_as_default")]
    pub audio_count: u64,
    /// Posts.
    #[serde(default, deserialize_with = "null_as_default")]
    pub post_count: u64,
    /// Pay-to-view posts.
    #[serde(default, deserialize_with = "null_as_default")]
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

/// A fan as lists show them (followers, subscribers, chat counterparts, link users).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSummary {
    /// UUID.
    pub uuid: String,
    /// Handle.
    #[serde(default, deserialize_with = "null_as_default")]
    pub handle: String,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The creator's nickname for this fan.
    #[serde(default)]
    pub nickname: Option<String>,
    /// Among the creator's top spenders.
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_top_spender: bool,
    /// Avatar URL.
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// Registration time.
    #[serde(default)]
    pub registered_at: Option<String>,
}

impl UserSummary {
    /// Nickname, else display name, else handle.
    pub fn name(&self) -> &str {
        self.nickname.as_deref().or(self.display_name.as_deref()).unwrap_or(&self.handle)
    }
}

/// `GET /chats` item.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Chat {
    /// The other person (a chat is named by their UUID).
    pub user: UserSummary,
    /// Whether everything was read.
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_read: bool,
    /// Muted.
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_muted: bool,
    /// Unread messages from the fan.
    #[serde(default, deserialize_with = "null_as_default")]
    pub unread_messages_count: u64,
    /// Time of the last message.
    #[serde(default)]
    pub last_message_at: Option<String>,
    /// The last message.
    #[serde(default)]
    pub last_message: Option<LastMessage>,
}

/// The last message of a chat.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastMessage {
    /// Text.
    #[serde(default)]
    pub text: Option<String>,
    /// Message type; an open set (Fanvue adds values).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// A chat message.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// UUID.
    pub uuid: String,
    /// Text.
    #[serde(default)]
    pub text: Option<String>,
    /// Sent at.
    #[serde(default)]
    pub sent_at: Option<String>,
    /// Sender.
    pub sender: MessageParty,
    /// Media attached.
    #[serde(default, deserialize_with = "null_as_default")]
    pub media_uuids: Vec<String>,
    /// Message type; an open set (Fanvue adds values).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// `{"USD": {"price": cents}}` for pay-to-view messages.
    #[serde(default)]
    pub pricing: Option<serde_json::Value>,
    /// Read by the recipient.
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_read: bool,
}

impl Message {
    /// The price in cents, if the message is pay-to-view.
    pub fn price(&self) -> Option<u64> {
        self.pricing.as_ref()?.get("USD")?.get("price")?.as_u64()
    }
}

/// Sender or recipient of a message.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct MessageParty {
    /// UUID.
    pub uuid: String,
    /// Handle.
    #[serde(default, deserialize_with = "null_as_default")]
    pub handle: String,
}

/// A post.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Post {
    /// UUID.
    pub uuid: String,
    /// Created at.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Text.
    #[serde(default)]
    pub text: Option<String>,
    /// Price in cents (pay-to-view).
    #[serde(default)]
    pub price: Option<u64>,
    /// `subscribers` or `followers-and-subscribers` (open set).
    #[serde(default)]
    pub audience: Option<String>,
    /// Scheduled publication.
    #[serde(default)]
    pub publish_at: Option<String>,
    /// Media.
    #[serde(default, deserialize_with = "null_as_default")]
    pub media_uuids: Vec<String>,
    /// Likes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub likes_count: u64,
    /// Comments.
    #[serde(default, deserialize_with = "null_as_default")]
    pub comments_count: u64,
    /// Tips.
    #[serde(default)]
    pub tips: Option<Tips>,
}

/// Tips of a post.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tips {
    /// Number of tips.
    #[serde(default, deserialize_with = "null_as_default")]
    pub count: u64,
    /// Gross total in cents.
    #[serde(default, deserialize_with = "null_as_default")]
    pub total_gross: i64,
}

/// A tracking link.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackingLink {
    /// UUID.
    pub uuid: String,
    /// Name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// Short code, e.g. `fv-123`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub link_url: String,
    /// Platform (open set).
    #[serde(default)]
    pub external_social_platform: Option<String>,
    /// Created at.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Clicks.
    #[serde(default, deserialize_with = "null_as_default")]
    pub clicks: u64,
    /// Acquisition counts.
    #[serde(default)]
    pub engagement: Option<Engagement>,
    /// Earnings through the link; `null` when it earned nothing yet.
    #[serde(default)]
    pub earnings: Option<LinkEarnings>,
}

/// Acquisition counts of a link.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Engagement {
    /// Subscribers acquired.
    #[serde(default, deserialize_with = "null_as_default")]
    pub acquired_subscribers: u64,
    /// Followers acquired.
    #[serde(default, deserialize_with = "null_as_default")]
    pub acquired_followers: u64,
}

/// What a tracking link earned, in cents (`earnings` of the tracking-link pages).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkEarnings {
    /// Gross.
    #[serde(default, deserialize_with = "null_as_default")]
    pub total_gross: i64,
    /// Net (after Fanvue's fee).
    #[serde(default, deserialize_with = "null_as_default")]
    pub total_net: i64,
}

/// A user acquired through a tracking link.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkUser {
    /// The fan.
    #[serde(flatten)]
    pub user: UserSummary,
    /// When they clicked.
    #[serde(default)]
    pub clicked_at: Option<String>,
    /// `subscriber`, `follower`, … (open set).
    #[serde(default)]
    pub status: Option<String>,
}

/// One earnings transaction (`GET /insights/earnings`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Earning {
    /// When.
    pub date: String,
    /// Gross in cents.
    #[serde(default, deserialize_with = "null_as_default")]
    pub gross: i64,
    /// Net in cents.
    #[serde(default, deserialize_with = "null_as_default")]
    pub net: i64,
    /// Source (open set).
    #[serde(default)]
    pub source: Option<String>,
}

/// A top spender (`GET /insights/top-spenders`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopSpender {
    /// Gross in cents.
    #[serde(default, deserialize_with = "null_as_default")]
    pub gross: i64,
    /// Net in cents.
    #[serde(default, deserialize_with = "null_as_default")]
    pub net: i64,
    /// The fan.
    pub user: UserSummary,
}

/// A media item (`GET /media`). URLs come only through `variants`, signed and short-lived:
/// keep the UUID, never the URL.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Media {
    /// UUID.
    pub uuid: String,
    /// `created`, `processing`, `ready`, `error` (open set).
    #[serde(default)]
    pub status: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// `image`, `video`, `audio`, `document` (open set).
    #[serde(default)]
    pub media_type: Option<String>,
    /// Created at.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Renditions asked for with `variants=`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub variants: Vec<MediaVariant>,
}

impl Media {
    /// The URL of variant `kind`, if it was asked for and exists.
    pub fn variant_url(&self, kind: &str) -> Option<&str> {
        self.variants.iter().find(|v| v.variant_type == kind).and_then(|v| v.url.as_deref())
    }
}

/// One rendition of a media item.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaVariant {
    /// `main`, `thumbnail`, `blurred`, … (open set).
    #[serde(default, deserialize_with = "null_as_default")]
    pub variant_type: String,
    /// Signed URL.
    #[serde(default)]
    pub url: Option<String>,
}

/// A vault folder.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Folder {
    /// Name (its identifier).
    pub name: String,
    /// Created at.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Items in it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub media_count: u64,
}

/// An item of a vault folder (`GET /vault/folders/{folderName}/media`): no status and no
/// renditions, only what identifies it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderItem {
    /// UUID.
    pub uuid: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Created at.
    #[serde(default)]
    pub created_at: Option<String>,
    /// `image`, `video`, `audio`, `document` (open set).
    #[serde(default)]
    pub media_type: Option<String>,
}

/// An agency team member.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamMember {
    /// UUID.
    pub uuid: String,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Agency admin.
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_admin: bool,
    /// Creators they may act for.
    #[serde(default, deserialize_with = "null_as_default")]
    pub creator_access: Vec<serde_json::Value>,
}

/// A creator the agency manages (`GET /creators`).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ManagedCreator {
    /// The creator.
    #[serde(flatten)]
    pub user: UserSummary,
    /// The caller's role for them (open set).
    #[serde(default)]
    pub role: Option<String>,
}

/// A webhook subscription (`GET /webhooks/subscriptions`). Its signing secret is returned only
/// by the create call and is not part of this type.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSubscription {
    /// Subscription id.
    #[serde(alias = "uuid")]
    pub id: String,
    /// Where events are delivered.
    pub url: String,
    /// Event type names (`message.received`…).
    #[serde(default, deserialize_with = "null_as_default")]
    pub events: Vec<String>,
    /// ISO 8601.
    #[serde(default)]
    pub created_at: Option<String>,
}

/// A custom fan list (`GET /chats/lists/custom`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomList {
    /// UUID.
    pub uuid: String,
    /// Name.
    pub name: String,
    /// Members.
    #[serde(default, deserialize_with = "null_as_default")]
    pub members_count: u64,
}

/// A smart fan list (`GET /chats/lists/smart`): Fanvue's own lists, by id.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SmartList {
    /// Its id, e.g. `subscribers` (an open set).
    pub uuid: String,
    /// Name.
    pub name: String,
    /// Members.
    #[serde(default, deserialize_with = "null_as_default")]
    pub count: u64,
}

/// One day of subscriber growth (`GET /insights/subscribers`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriberDay {
    /// The day (ISO 8601).
    pub date: String,
    /// Subscribers at the end of the day.
    #[serde(default, deserialize_with = "null_as_default")]
    pub total: i64,
    /// New that day.
    #[serde(default, deserialize_with = "null_as_default")]
    pub new_subscribers_count: u64,
    /// Cancelled that day.
    #[serde(default, deserialize_with = "null_as_default")]
    pub cancelled_subscribers_count: u64,
}

/// A started multipart upload (`POST /media/uploads`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadSession {
    /// The media item being created.
    pub media_uuid: String,
    /// The upload's id.
    pub upload_id: String,
    /// Part size Fanvue asks for. Not in the reference (third-party clients see it in newer
    /// answers); the app falls back to 8 MiB without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_size: Option<usize>,
}

/// A media item's processing state (`PATCH /media/uploads/{uploadId}`, `GET /media/{uuid}`).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct UploadStatus {
    /// `created`, `processing`, `ready`, `error` (open set).
    #[serde(default)]
    pub status: Option<String>,
}
