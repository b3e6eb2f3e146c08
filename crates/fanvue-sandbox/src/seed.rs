//! The sandbox's seeded world: a creator with fans, chats, posts, templates, lists, tracking
//! links, a year of earnings, media and an agency whose managed creators each have a smaller
//! world of their own. Deterministic (a fixed pseudo-random sequence), dated relative to
//! start-up so date filters and charts look current.
//!
//! Ids are UUID-shaped and stable: `uuid(namespace, index)`. The index carries the world it
//! belongs to in its bits 24–30 (0: the signed-in creator, 1…: the managed creators), and ids
//! made through the API set bit 31 ([`CREATED`]), so a created id never equals a seeded one.

#![allow(missing_docs, reason = "record fields mirror the names of Fanvue's JSON; each record type is documented")]

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

/// The index bit of ids created through the API (seeded ids never set it).
pub const CREATED: u32 = 0x8000_0000;

/// A UUID-shaped id from a namespace number and an index (stable across runs).
pub fn uuid(namespace: u32, index: u32) -> String {
    format!("{namespace:08x}-{:04x}-4{:03x}-8000-{index:012x}", index & 0xffff, namespace & 0xfff)
}

/// ISO 8601 with milliseconds and `Z`, as Fanvue writes timestamps.
pub fn iso(at: OffsetDateTime) -> String {
    at.replace_nanosecond(0).ok().and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default().replace('Z', ".000Z")
}

/// A fan of the world's creator.
#[derive(Clone, Debug)]
pub struct Fan {
    pub uuid: String,
    pub handle: String,
    pub display_name: String,
    pub nickname: Option<String>,
    /// Among the creator's biggest spenders (the top of their earnings).
    pub is_top_spender: bool,
    pub avatar_url: Option<String>,
    pub registered_at: OffsetDateTime,
    /// Subscribed now (otherwise following).
    pub subscriber: bool,
    /// When the current (or, for an expired one, the last) subscription started.
    pub subscribed_at: Option<OffsetDateTime>,
    /// A subscriber whose subscription renews.
    pub auto_renew: bool,
    /// A subscriber on a free trial.
    pub free_trial: bool,
    /// A follower whose subscription ran out.
    pub expired: bool,
    /// Whether the creator can message them (some fans turn messages off).
    pub contactable: bool,
    /// Online now, as `/chats/statuses` and the `online` filter tell.
    pub online: bool,
    /// When an offline fan was last seen.
    pub last_seen: OffsetDateTime,
}

impl Fan {
    /// When the fan was last seen, as of `now` (an online fan is being seen now).
    pub fn last_seen_at(&self, now: OffsetDateTime) -> OffsetDateTime {
        if self.online { now } else { self.last_seen }
    }
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
    /// When the fan bought a paid message.
    pub purchased_at: Option<OffsetDateTime>,
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

/// A post. Its likes, comments and tips are derived from the counters ([`Post::tip`] …), so
/// the lists and the counters always agree.
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

impl Post {
    /// The gross of the `k`-th tip on this post (cents).
    pub fn tip(&self, k: u64) -> u64 {
        500 + (u64::from(self.uuid.as_bytes().last().copied().unwrap_or(0)) + k) % 4 * 250
    }
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

/// A saved message template.
#[derive(Clone, Debug)]
pub struct Template {
    pub uuid: String,
    pub text: Option<String>,
    pub price: Option<u64>,
    pub media_uuids: Vec<String>,
    pub folder_name: Option<String>,
}

/// A custom list of fans.
#[derive(Clone, Debug)]
pub struct CustomList {
    pub uuid: String,
    pub name: String,
    pub created_at: OffsetDateTime,
    /// Fan indexes, in the order they were added.
    pub members: Vec<usize>,
}

/// A creator the agency manages, with the world the agency acts on for them.
#[derive(Clone, Debug)]
pub struct Creator {
    pub uuid: String,
    pub handle: String,
    pub display_name: String,
    pub role: &'static str,
    pub world: Box<World>,
}

/// An agency team member.
#[derive(Clone, Debug)]
pub struct TeamMember {
    pub uuid: String,
    pub email: String,
    pub display_name: String,
    pub is_admin: bool,
}

/// Everything the sandbox API serves and changes for one creator.
#[derive(Clone, Debug)]
pub struct World {
    /// The creator this world belongs to.
    pub owner_uuid: String,
    pub owner_handle: String,
    /// When it was seeded: derived dates (likes, comments) are spread up to here.
    pub seeded_at: OffsetDateTime,
    pub fans: Vec<Fan>,
    pub chats: Vec<Chat>,
    pub posts: Vec<Post>,
    pub links: Vec<Link>,
    pub earnings: Vec<Earning>,
    pub media: Vec<Media>,
    pub folders: Vec<Folder>,
    pub templates: Vec<Template>,
    pub lists: Vec<CustomList>,
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
/// A seeded template: text, folder, price, and which library items (by index) it sends.
type TemplateSeed = (&'static str, Option<&'static str>, Option<u64>, &'static [usize]);

const TEMPLATES: [TemplateSeed; 6] = [
    ("Welcome to my page! 💕 So happy to have you here.", Some("Welcome"), None, &[]),
    ("Thanks for subscribing! Here's a little gift 🎁", Some("Welcome"), None, &[0]),
    ("The full beach set, just for you 🌊", Some("PPV"), Some(1500), &[0, 4]),
    ("Behind the scenes of today's shoot", Some("PPV"), Some(900), &[1]),
    ("Good morning! ☀️ What are you up to today?", None, None, &[]),
    ("Haven't heard from you in a while, everything ok?", Some("Re-engage"), None, &[]),
];
const LISTS: [(&str, i64); 3] = [("VIP", 40), ("Birthday this month", 20), ("Lisbon meetup", 5)];
/// How many of the biggest spenders are marked `isTopSpender`.
const TOP_SPENDERS: usize = 5;

/// Who a world belongs to, and how big it is.
struct Owner<'a> {
    tenant: u32,
    uuid: &'a str,
    handle: &'a str,
    fans: u32,
}

impl World {
    /// The signed-in creator's world, dated relative to `now`, with the agency's creators.
    pub fn seed(now: OffsetDateTime, asset_base: &str) -> World {
        let owner = Owner { tenant: 0, uuid: crate::users::USER_UUID, handle: crate::users::USER_HANDLE, fans: 48 };
        let mut world = World::seed_for(&owner, now, asset_base);
        world.creators = [("Nova Lane", "nova.lane"), ("Kit Summers", "kit.summers"), ("Ash Moreno", "ash.moreno")]
            .iter()
            .zip(1u32..)
            .map(|((name, handle), tenant)| {
                let uuid = uuid(0xc4ea7, tenant - 1);
                let owner = Owner { tenant, uuid: &uuid, handle, fans: 16 + tenant * 8 };
                let world = Box::new(World::seed_for(&owner, now, asset_base));
                Creator {
                    uuid: uuid.clone(),
                    handle: (*handle).into(),
                    display_name: (*name).into(),
                    role: if tenant == 1 { "ADMIN" } else { "CHATTER" },
                    world,
                }
            })
            .collect();
        world.team = [
            ("Sam Patel", "sam@agency.test", true),
            ("Jo Kim", "jo@agency.test", false),
            ("Alex Ruiz", "alex@agency.test", false),
        ]
        .iter()
        .zip(0u32..)
        .map(|((name, email, admin), i)| TeamMember {
            uuid: uuid(0x7ea, i),
            email: (*email).into(),
            display_name: (*name).into(),
            is_admin: *admin,
        })
        .collect();
        world
    }

    fn seed_for(owner: &Owner<'_>, now: OffsetDateTime, asset_base: &str) -> World {
        let base = owner.tenant << 24;
        let id = |namespace: u32, i: u32| uuid(namespace, base | i);
        let mut rng = Rng(0x5eed_f4a7_0b5e_0001 ^ (u64::from(owner.tenant) << 40));
        let fan_count = owner.fans as usize;
        let mut fans: Vec<Fan> = (0..owner.fans)
            .map(|i| {
                // Unique names: each block of 16 first names gets its own family name.
                let n = i as usize + owner.tenant as usize * 5;
                let (first, last) = (FIRST[n % 16], LAST[(i as usize / 16 * 3 + owner.tenant as usize) % 8]);
                let subscriber = i % 3 != 2;
                let expired = !subscriber && i % 2 == 0;
                Fan {
                    uuid: id(0xfa0, i),
                    handle: format!("{}.{}{}", first.to_lowercase(), last.to_lowercase(), i),
                    display_name: format!("{first} {last}"),
                    nickname: (i % 7 == 0).then(|| format!("{first} VIP")),
                    is_top_spender: false,
                    avatar_url: Some(format!("{asset_base}/_sandbox/avatar.svg")),
                    registered_at: now - Duration::days(30 + i64::from(i) * 7),
                    subscriber,
                    subscribed_at: (subscriber || expired).then(|| now - Duration::days(3 + i64::from(i * 11 % 200))),
                    auto_renew: subscriber && i % 4 != 1,
                    free_trial: subscriber && i % 10 == 4,
                    expired,
                    contactable: i + 2 < owner.fans,
                    online: i % 5 == 0,
                    last_seen: now - Duration::minutes(37 * i64::from(i) + 10),
                }
            })
            .collect();
        let media: Vec<Media> = (0..30u32)
            .map(|i| Media {
                uuid: id(0x3ed1a, i),
                name: format!("{} {:02}", ["Beach set", "Studio", "Backstage", "Travel diary"][i as usize % 4], i + 1),
                media_type: if i % 5 == 4 { "video" } else { "image" },
                created_at: now - Duration::days(i64::from(i) * 5 + 2),
                status: "ready",
                ready_at: None,
                size: 0,
            })
            .collect();
        let chat_count = (fan_count / 3).min(14);
        let chats = (0..chat_count)
            .map(|c| {
                let count = 4 + rng.below(24) as usize;
                let start = now - Duration::days(c as i64 * 3 + 1) - Duration::hours(count as i64);
                let messages = (0..count)
                    .map(|m| {
                        let from_creator = m % 2 == 1;
                        let paid = from_creator && rng.chance(12);
                        let sent_at = start + Duration::minutes(m as i64 * 47);
                        // A paid message carries media (as Fanvue requires); some free ones do too.
                        let media_uuids = if paid || (from_creator && m % 6 == 3) {
                            vec![media[(c * 7 + m) % media.len()].uuid.clone()]
                        } else {
                            Vec::new()
                        };
                        Message {
                            uuid: id(0xc4a7_0000 + c as u32, m as u32),
                            text: Some(LINES[rng.below(10) as usize].to_owned()),
                            sent_at,
                            from_creator,
                            media_uuids,
                            price: paid.then(|| 500 + rng.below(20) * 100),
                            kind: if m == 0 { "AUTOMATED_NEW_SUBSCRIBER" } else { "SINGLE_RECIPIENT" },
                            is_read: !(c % 4 == 0 && m + 2 >= count && !from_creator),
                            purchased_at: (paid && m % 4 == 1).then(|| sent_at + Duration::minutes(20)),
                        }
                    })
                    .collect::<Vec<_>>();
                Chat { fan: c * 3, is_read: c % 4 != 0, is_muted: c == 5, nickname: None, messages, created_at: start }
            })
            .collect();
        let posts = (0..26u32)
            .map(|i| {
                let has_media = i % 3 != 2;
                let likes = 3 + rng.below(400) % (owner.fans.saturating_sub(3).max(1) as u64);
                let comments = rng.below(60);
                let tips = rng.below(12);
                let _ = rng.below(12); // kept so the rest of the sequence seeds as before
                let mut post = Post {
                    uuid: id(0x9057, i),
                    created_at: now - Duration::days(i64::from(i) * 4 + 1),
                    text: Some(format!("{} #{}", LINES[i as usize % 10], i + 1)),
                    price: (has_media && i % 5 == 0).then_some(900),
                    audience: if i % 2 == 0 { "subscribers" } else { "followers-and-subscribers" }.to_owned(),
                    media_uuids: if has_media { vec![media[i as usize % 30].uuid.clone()] } else { Vec::new() },
                    publish_at: None,
                    likes,
                    comments,
                    tips,
                    tips_gross: 0,
                };
                post.tips_gross = (0..tips).map(|k| post.tip(k)).sum();
                post
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
                .map(|u| ((i * 5 + u * 3) % fan_count, now - Duration::days((i * 9 + u * 2) as i64), u % 2 == 0))
                .collect();
            Link {
                uuid: id(0x71c4, i as u32),
                name: (*name).to_owned(),
                link_url: format!("fv-{}", 210_000 + owner.tenant as usize * 10_000 + i * 731),
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
                    fan: rng.below(owner.fans.into()) as usize,
                });
            }
        }
        earnings.sort_by_key(|e| std::cmp::Reverse(e.at));
        let mut totals = vec![0u64; fan_count];
        for e in &earnings {
            totals[e.fan] += e.gross;
        }
        let mut ranked: Vec<usize> = (0..fan_count).collect();
        ranked.sort_by_key(|i| std::cmp::Reverse(totals[*i]));
        for i in ranked.into_iter().take(TOP_SPENDERS) {
            fans[i].is_top_spender = true;
        }
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
        let templates = TEMPLATES
            .iter()
            .zip(0u32..)
            .map(|((text, folder, price, items), i)| Template {
                uuid: id(0x7e41, i),
                text: Some((*text).to_owned()),
                price: *price,
                media_uuids: items.iter().map(|m| media[*m].uuid.clone()).collect(),
                folder_name: folder.map(str::to_owned),
            })
            .collect();
        let lists = LISTS
            .iter()
            .zip(0u32..)
            .map(|((name, age), i)| CustomList {
                uuid: id(0x1157, i),
                name: (*name).to_owned(),
                created_at: now - Duration::days(*age),
                members: (0..fan_count)
                    .filter(|f| match i {
                        0 => f % 7 == 0 || fans[*f].is_top_spender,
                        1 => f % 13 == 3,
                        _ => f % 11 == 2,
                    })
                    .collect(),
            })
            .collect();
        World {
            owner_uuid: owner.uuid.to_owned(),
            owner_handle: owner.handle.to_owned(),
            seeded_at: now,
            fans,
            chats,
            posts,
            links,
            earnings,
            media,
            folders,
            templates,
            lists,
            creators: Vec::new(),
            team: Vec::new(),
            invites: Vec::new(),
            uploads: std::collections::HashMap::new(),
            next_id: CREATED | base,
        }
    }

    /// A new UUID for something created through the API: never one the seed gave out, nor
    /// one another world creates.
    pub fn new_uuid(&mut self, namespace: u32) -> String {
        self.next_id += 1;
        uuid(namespace, self.next_id)
    }

    /// The fan with this UUID.
    pub fn fan_index(&self, uuid: &str) -> Option<usize> {
        self.fans.iter().position(|f| f.uuid == uuid)
    }

    /// The world of the managed creator with this UUID.
    pub fn creator_world(&mut self, uuid: &str) -> Option<&mut World> {
        self.creators.iter_mut().find(|c| c.uuid == uuid).map(|c| &mut *c.world)
    }

    /// An upload in progress here or in a managed creator's world (presigned part URLs do not
    /// say whose it is).
    pub fn upload_mut(&mut self, id: &str) -> Option<&mut Upload> {
        if self.uploads.contains_key(id) {
            return self.uploads.get_mut(id);
        }
        self.creators.iter_mut().find_map(|c| c.world.upload_mut(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_creators_have_worlds_of_their_own_with_distinct_ids() {
        let world = World::seed(OffsetDateTime::now_utc(), "https://sandbox.test");
        let nova = &world.creators[0].world;
        assert_eq!(nova.owner_uuid, world.creators[0].uuid);
        assert!(nova.fans.iter().all(|f| world.fan_index(&f.uuid).is_none()));
        assert!(nova.posts.iter().all(|p| world.posts.iter().all(|q| q.uuid != p.uuid)));
        assert_eq!(world.fans[0].uuid, "00000fa0-0000-4fa0-8000-000000000000", "the first world keeps its ids");
    }

    /// Every seeded id of `world` and of the worlds of the creators it manages.
    fn seeded(world: &World, ids: &mut std::collections::HashSet<String>) {
        ids.extend(world.fans.iter().map(|f| f.uuid.clone()));
        ids.extend(world.chats.iter().flat_map(|c| c.messages.iter().map(|m| m.uuid.clone())));
        ids.extend(world.posts.iter().map(|p| p.uuid.clone()));
        ids.extend(world.links.iter().map(|l| l.uuid.clone()));
        ids.extend(world.media.iter().map(|m| m.uuid.clone()));
        ids.extend(world.templates.iter().map(|t| t.uuid.clone()));
        ids.extend(world.lists.iter().map(|l| l.uuid.clone()));
        ids.extend(world.team.iter().map(|t| t.uuid.clone()));
        for creator in &world.creators {
            ids.insert(creator.uuid.clone());
            seeded(&creator.world, ids);
        }
    }

    /// Issue 13: a new upload got the UUID of "Travel diary 04", and Edit on seeded post #5
    /// opened a new post, because created ids counted from 1 like seeded ones. Every
    /// namespace the API creates in, in every world, more ids than any world seeds.
    #[test]
    fn ids_created_in_any_world_never_equal_a_seeded_one() {
        let mut world = World::seed(OffsetDateTime::now_utc(), "https://sandbox.test");
        let mut ids = std::collections::HashSet::new();
        seeded(&world, &mut ids);
        let namespaces = [0x3ed1a, 0x9057, 0x71c4, 0x1157, 0x1e7, 0x5e4d, 0x3a55];
        let mut create = |w: &mut World| {
            for ns in namespaces {
                for _ in 0..300 {
                    let id = w.new_uuid(ns);
                    // Never a seeded id, nor one created before (in this world or another).
                    assert!(ids.insert(id.clone()), "{id} was given out already");
                }
            }
        };
        for creator in &mut world.creators {
            create(&mut creator.world);
        }
        create(&mut world);
    }

    #[test]
    fn counters_agree_with_what_they_count() {
        let world = World::seed(OffsetDateTime::now_utc(), "https://sandbox.test");
        for post in &world.posts {
            assert!(post.likes as usize <= world.fans.len(), "a fan likes a post once");
            assert_eq!(post.tips_gross, (0..post.tips).map(|k| post.tip(k)).sum::<u64>());
        }
        let paid = world.chats.iter().flat_map(|c| &c.messages).filter(|m| m.price.is_some());
        assert!(paid.clone().count() > 0 && paid.clone().all(|m| !m.media_uuids.is_empty()));
        assert_eq!(world.fans.iter().filter(|f| f.is_top_spender).count(), TOP_SPENDERS);
    }
}
