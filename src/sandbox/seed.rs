//! The sandbox's seeded world: a creator with fans, chats, posts, tracking links, a year of
//! earnings, media and an agency. Deterministic (a fixed pseudo-random sequence), dated
//! relative to start-up so date filters and charts look current.

#![allow(missing_docs, reason = "record fields mirror the names of Fanvue's JSON; each record type is documented")]

use serde::Serialize;
use time::{Duration, OffsetDateTime, format_description::well_known::Rfc3339};

/// Deterministic pseudo-random numbers (xorshift), so every run seeds the same world.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A UUID-shaped id from a namespace number and an index (stable across runs).
pub fn uuid(namespace: u32, index: u32) -> String {
    format!("{namespace:08x}-{:04x}-4{:03x}-8000-{index:012x}", index & 0xffff, namespace & 0xfff)
}

/// ISO 8601 with milliseconds and `Z`, as Fanvue writes timestamps.
pub fn iso(at: OffsetDateTime) -> String {
    at.replace_nanosecond(0).ok().and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default().replace('Z', ".000Z")
}

/// A fan of the seeded creator.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fan {
    pub uuid: String,
    pub handle: String,
    pub display_name: String,
    pub nickname: Option<String>,
    pub is_top_spender: bool,
    pub avatar_url: Option<String>,
    pub registered_at: String,
    #[serde(skip)]
    pub subscriber: bool,
}

/// One chat message.
#[derive(Clone, Debug)]
pub struct Message {
    pub uuid: String,
    pub text: Option<String>,
    pub sent_at: OffsetDateTime,
    pub from_creator: bool,
    pub media_uuids: Vec<String>,
    pub price: Option<u64>,
    pub kind: &'static str,
    pub is_read: bool,
}

/// A chat with one fan (Fanvue names a chat by the counterpart's UUID).
#[derive(Clone, Debug)]
pub struct Chat {
    pub fan: usize,
    pub is_read: bool,
    pub is_muted: bool,
    pub nickname: Option<String>,
    /// Oldest first.
    pub messages: Vec<Message>,
    pub created_at: OffsetDateTime,
}

/// A post.
#[derive(Clone, Debug)]
pub struct Post {
    pub uuid: String,
    pub created_at: OffsetDateTime,
    pub text: Option<String>,
    pub price: Option<u64>,
    pub audience: String,
    pub media_uuids: Vec<String>,
    pub publish_at: Option<String>,
    pub likes: u64,
    pub comments: u64,
    pub tips: u64,
    pub tips_gross: u64,
}

/// A tracking link and the fans it brought.
#[derive(Clone, Debug)]
pub struct Link {
    pub uuid: String,
    pub name: String,
    pub link_url: String,
    pub platform: String,
    pub created_at: OffsetDateTime,
    pub clicks: u64,
    pub earnings_gross: Option<u64>,
    /// (fan index, clicked at, subscribed?)
    pub users: Vec<(usize, OffsetDateTime, bool)>,
}

/// One earnings transaction.
#[derive(Clone, Debug)]
pub struct Earning {
    pub at: OffsetDateTime,
    pub gross: u64,
    pub source: &'static str,
    pub fan: usize,
}

/// A media item of the library.
#[derive(Clone, Debug)]
pub struct Media {
    pub uuid: String,
    pub name: String,
    pub media_type: &'static str,
    pub created_at: OffsetDateTime,
    pub status: &'static str,
    /// Until then an uploaded item reports `processing`.
    pub ready_at: Option<OffsetDateTime>,
    /// Size of an uploaded item.
    pub size: u64,
}

/// A multipart upload in progress.
#[derive(Clone, Debug)]
pub struct Upload {
    pub media_uuid: String,
    pub name: String,
    pub media_type: &'static str,
    /// part number → (ETag, size)
    pub parts: std::collections::BTreeMap<u32, (String, u64)>,
    pub completed: bool,
}

/// A vault folder.
#[derive(Clone, Debug)]
pub struct Folder {
    pub name: String,
    pub created_at: OffsetDateTime,
    pub media: Vec<String>,
}

/// A creator the agency manages.
#[derive(Clone, Debug)]
pub struct Creator {
    pub uuid: String,
    pub handle: String,
    pub display_name: String,
    pub role: &'static str,
}

/// An agency team member.
#[derive(Clone, Debug)]
pub struct TeamMember {
    pub uuid: String,
    pub email: String,
    pub display_name: String,
    pub is_admin: bool,
}

/// Everything the sandbox API serves and changes.
#[derive(Clone, Debug)]
pub struct World {
    pub fans: Vec<Fan>,
    pub chats: Vec<Chat>,
    pub posts: Vec<Post>,
    pub links: Vec<Link>,
    pub earnings: Vec<Earning>,
    pub media: Vec<Media>,
    pub folders: Vec<Folder>,
    pub creators: Vec<Creator>,
    pub team: Vec<TeamMember>,
    pub invites: Vec<String>,
    pub uploads: std::collections::HashMap<String, Upload>,
    pub next_id: u32,
}

const FIRST: [&str; 16] = [
    "Mia", "Leo", "Zoe", "Kai", "Ivy", "Noah", "Luna", "Eli", "Ruby", "Finn", "Nora", "Owen", "Isla", "Theo", "Maya",
    "Jude",
];
const LAST: [&str; 8] = ["Rivera", "Chen", "Okafor", "Novak", "Silva", "Haddad", "Larsen", "Moreau"];
const LINES: [&str; 10] = [
    "Hey! Loved your last post 😍",
    "When is the next live stream?",
    "Thank you so much for the support!",
    "Can you do a behind-the-scenes set?",
    "Sent you a tip for the new video",
    "That outfit was amazing",
    "Good morning from Lisbon ☀️",
    "Any plans for the weekend?",
    "Just subscribed, so excited!",
    "I'll be there for the next drop",
];
const SOURCES: [&str; 5] = ["subscription", "tip", "message", "post", "renewal"];

impl World {
    /// The seeded world, dated relative to `now`.
    pub fn seed(now: OffsetDateTime, asset_base: &str) -> World {
        let mut rng = Rng(0x5eed_f4a7_0b5e_0001);
        let fans: Vec<Fan> = (0..48u32)
            .map(|i| {
                // Unique names: each block of 16 first names gets its own family name.
                let (first, last) = (FIRST[i as usize % 16], LAST[(i as usize / 16 * 3) % 8]);
                Fan {
                    uuid: uuid(0xfa0, i),
                    handle: format!("{}.{}{}", first.to_lowercase(), last.to_lowercase(), i),
                    display_name: format!("{first} {last}"),
                    nickname: (i % 7 == 0).then(|| format!("{first} VIP")),
                    is_top_spender: i % 9 == 0,
                    avatar_url: Some(format!("{asset_base}/_sandbox/avatar.svg")),
                    registered_at: iso(now - Duration::days(30 + i64::from(i) * 7)),
                    subscriber: i % 3 != 2,
                }
            })
            .collect();
        let chats = (0..14usize)
            .map(|c| {
                let count = 4 + rng.below(24) as usize;
                let start = now - Duration::days(c as i64 * 3 + 1) - Duration::hours(count as i64);
                let messages = (0..count)
                    .map(|m| {
                        let from_creator = m % 2 == 1;
                        let paid = from_creator && rng.chance(12);
                        Message {
                            uuid: uuid(0xc4a7_0000 + c as u32, m as u32),
                            text: Some(LINES[rng.below(10) as usize].to_owned()),
                            sent_at: start + Duration::minutes(m as i64 * 47),
                            from_creator,
                            media_uuids: Vec::new(),
                            price: paid.then(|| 500 + rng.below(20) * 100),
                            kind: if paid {
                                "SINGLE_RECIPIENT"
                            } else if m == 0 {
                                "AUTOMATED_NEW_SUBSCRIBER"
                            } else {
                                "SINGLE_RECIPIENT"
                            },
                            is_read: !(c % 4 == 0 && m + 2 >= count && !from_creator),
                        }
                    })
                    .collect::<Vec<_>>();
                Chat { fan: c * 3, is_read: c % 4 != 0, is_muted: c == 5, nickname: None, messages, created_at: start }
            })
            .collect();
        let media: Vec<Media> = (0..30u32)
            .map(|i| Media {
                uuid: uuid(0x3ed1a, i),
                name: format!("{} {:02}", ["Beach set", "Studio", "Backstage", "Travel diary"][i as usize % 4], i + 1),
                media_type: if i % 5 == 4 { "video" } else { "image" },
                created_at: now - Duration::days(i64::from(i) * 5 + 2),
                status: "ready",
                ready_at: None,
                size: 0,
            })
            .collect();
        let posts = (0..26u32)
            .map(|i| {
                let has_media = i % 3 != 2;
                Post {
                    uuid: uuid(0x9057, i),
                    created_at: now - Duration::days(i64::from(i) * 4 + 1),
                    text: Some(format!("{} #{}", LINES[i as usize % 10], i + 1)),
                    price: (has_media && i % 5 == 0).then_some(900),
                    audience: if i % 2 == 0 { "subscribers" } else { "followers-and-subscribers" }.to_owned(),
                    media_uuids: if has_media { vec![media[i as usize % 30].uuid.clone()] } else { Vec::new() },
                    publish_at: None,
                    likes: 20 + rng.below(400),
                    comments: rng.below(60),
                    tips: rng.below(12),
                    tips_gross: rng.below(12) * 500,
                }
            })
            .collect();
        let links = [
            ("Instagram bio", "instagram"),
            ("TikTok profile", "tiktok"),
            ("Reddit launch post", "reddit"),
            ("YouTube description", "youtube"),
            ("X pinned post", "twitter"),
            ("Snapchat story", "snapchat"),
        ]
        .iter()
        .enumerate()
        .map(|(i, (name, platform))| {
            let users = (0..(3 + i * 2))
                .map(|u| ((i * 5 + u * 3) % fans.len(), now - Duration::days((i * 9 + u * 2) as i64), u % 2 == 0))
                .collect();
            Link {
                uuid: uuid(0x71c4, i as u32),
                name: (*name).to_owned(),
                link_url: format!("fv-{}", 210_000 + i * 731),
                platform: (*platform).to_owned(),
                created_at: now - Duration::days(200 - i as i64 * 25),
                clicks: 150 + rng.below(4000),
                earnings_gross: (i % 3 != 2).then(|| 2_000 + rng.below(90_000)),
                users,
            }
        })
        .collect();
        let mut earnings = Vec::new();
        for day in 0..365i64 {
            for _ in 0..(1 + rng.below(4)) {
                earnings.push(Earning {
                    at: now - Duration::days(day) - Duration::minutes(rng.below(1440) as i64),
                    gross: [999, 500, 1_500, 900, 999][rng.below(5) as usize] + rng.below(4) * 250,
                    source: SOURCES[rng.below(5) as usize],
                    fan: rng.below(48) as usize,
                });
            }
        }
        earnings.sort_by_key(|e| std::cmp::Reverse(e.at));
        let folders = vec![
            Folder {
                name: "Beach 2026".into(),
                created_at: now - Duration::days(60),
                media: media.iter().step_by(4).map(|m| m.uuid.clone()).collect(),
            },
            Folder {
                name: "Exclusives".into(),
                created_at: now - Duration::days(30),
                media: media.iter().skip(1).step_by(5).map(|m| m.uuid.clone()).collect(),
            },
            Folder { name: "Drafts".into(), created_at: now - Duration::days(3), media: Vec::new() },
        ];
        let creators = [("Nova Lane", "nova.lane"), ("Kit Summers", "kit.summers"), ("Ash Moreno", "ash.moreno")]
            .iter()
            .enumerate()
            .map(|(i, (name, handle))| Creator {
                uuid: uuid(0xc4ea7, i as u32),
                handle: (*handle).into(),
                display_name: (*name).into(),
                role: if i == 0 { "ADMIN" } else { "CHATTER" },
            })
            .collect();
        let team = [
            ("Sam Patel", "sam@agency.test", true),
            ("Jo Kim", "jo@agency.test", false),
            ("Alex Ruiz", "alex@agency.test", false),
        ]
        .iter()
        .enumerate()
        .map(|(i, (name, email, admin))| TeamMember {
            uuid: uuid(0x7ea, i as u32),
            email: (*email).into(),
            display_name: (*name).into(),
            is_admin: *admin,
        })
        .collect();
        World {
            fans,
            chats,
            posts,
            links,
            earnings,
            media,
            folders,
            creators,
            team,
            invites: Vec::new(),
            uploads: std::collections::HashMap::new(),
            next_id: 1,
        }
    }

    /// A new UUID for something created through the API.
    pub fn new_uuid(&mut self, namespace: u32) -> String {
        self.next_id += 1;
        uuid(namespace, self.next_id)
    }

    /// The fan with this UUID.
    pub fn fan_index(&self, uuid: &str) -> Option<usize> {
        self.fans.iter().position(|f| f.uuid == uuid)
    }
}
