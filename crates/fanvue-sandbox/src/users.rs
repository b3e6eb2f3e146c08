//! The sandbox's accounts: whom the consent page and the creator surface let you be. Ava is
//! the creator the seeded world belongs to; Bo and Mia exist to try paid-app entitlements:
//! Bo has no plan, Mia is an agency member: her own plan status is `none`, and two of the
//! three creators she manages have an active plan, so the app lets her act for those two.

use serde_json::{Value, json};

/// The seeded creator's UUID.
pub const USER_UUID: &str = "a3c1e6f2-5b7d-4e8a-9c0f-1d2e3f4a5b6c";
/// The seeded creator's handle.
pub const USER_HANDLE: &str = "ava.sandbox";

/// One sandbox account.
#[derive(Clone, Copy, Debug)]
pub struct Account {
    /// UUID (the tokens' `sub`).
    pub uuid: &'static str,
    /// Handle.
    pub handle: &'static str,
    /// Display name.
    pub display_name: &'static str,
    /// Whether it is a creator account.
    pub is_creator: bool,
    /// Whether it is an agency member (access comes from the managed creators' plans).
    pub agency: bool,
    /// Whether it starts with an active plan of the app.
    pub subscribed: bool,
}

/// Every account; the first is the default.
pub const ACCOUNTS: [Account; 3] = [
    Account {
        uuid: USER_UUID,
        handle: USER_HANDLE,
        display_name: "Ava Sandbox",
        is_creator: true,
        agency: false,
        subscribed: true,
    },
    Account {
        uuid: "b0b0b0b0-1c2d-4e3f-8a9b-0c1d2e3f4a5b",
        handle: "bo.unsubscribed",
        display_name: "Bo Sandbox",
        is_creator: true,
        agency: false,
        subscribed: false,
    },
    Account {
        uuid: "3a1a3a1a-6b7c-4d8e-9f0a-1b2c3d4e5f60",
        handle: "mia.agency",
        display_name: "Mia (Agency)",
        is_creator: false,
        agency: true,
        subscribed: false,
    },
];

/// The account with this UUID or handle.
pub fn find(id_or_handle: &str) -> Option<&'static Account> {
    ACCOUNTS.iter().find(|a| a.uuid == id_or_handle || a.handle == id_or_handle)
}

/// The default account (Ava).
pub fn default_account() -> &'static Account {
    &ACCOUNTS[0]
}

/// `GET /users/me` for `uuid` (Ava's is the seeded world's creator).
pub fn profile(uuid: &str, issuer: &str) -> Value {
    let account = find(uuid).unwrap_or(default_account());
    let ava = account.uuid == USER_UUID;
    json!({
        "uuid": account.uuid,
        "email": format!("{}@sandbox.fanvue.test", account.handle.split('.').next().unwrap_or("user")),
        "handle": account.handle,
        "bio": if ava { "Creator in the built-in sandbox. <b>Everything</b> here is seeded test data." } else { "A sandbox account." },
        "displayName": account.display_name,
        "isCreator": account.is_creator,
        "createdAt": "2024-03-14T09:30:00.000Z",
        "updatedAt": null,
        "avatarUrl": format!("{issuer}/_sandbox/avatar.svg"),
        "bannerUrl": null,
        "likesCount": if ava { 5421 } else { 12 },
        "fanCounts": {"followersCount": if ava { 1280 } else { 3 }, "subscribersCount": if ava { 312 } else { 0 }},
        "contentCounts": {"imageCount": 148, "videoCount": 37, "audioCount": 4, "postCount": 96, "payToViewPostCount": 12}
    })
}

/// The cookie by which the sandbox, like Fanvue's own site, remembers who signed in on it
/// (at the consent page or the creator surface's in-shell consent). The App Store checkout
/// pays as that account, as Fanvue's checkout pays as whoever is signed in to Fanvue.
pub const SIGNED_IN_COOKIE: &str = "fanvue_sandbox_account";

/// `Set-Cookie` value that remembers `account` as signed in (host-only, `Lax` so that the
/// app's top-level redirect to the checkout carries it back).
pub fn signed_in_cookie(account: &Account) -> String {
    format!("{SIGNED_IN_COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Lax", account.handle)
}

/// The account the request's cookies say is signed in, if any (an unknown or missing one is
/// nobody: the checkout then asks whom to pay as).
pub fn signed_in(headers: &axum::http::HeaderMap) -> Option<&'static Account> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SIGNED_IN_COOKIE)
        .and_then(|(_, handle)| find(handle))
}
