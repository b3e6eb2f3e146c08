//! The creator console's pages and actions, end to end against the sandbox: each page shows
//! the sandbox's real data, each is refused (without calling Fanvue) when its scope is
//! missing, and each action changes the sandbox's state or explains what to fix.

use std::time::{Duration, Instant};

use crate::harness::*;
use reqwest::{Client, StatusCode};

/// Undoes askama's escaping of `&` in links.
fn href(raw: &str) -> String {
    raw.replace("&#38;", "&").replace("&amp;", "&")
}

/// The href of the element with `id` in `page`.
fn link_with_id(page: &str, id: &str) -> String {
    let before = page.split(&format!(r#"id="{id}""#)).next().unwrap();
    href(before.rsplit("href=\"").next().unwrap().split('"').next().unwrap())
}

/// The fan the sandbox seeds first (a subscriber with a chat).
const FAN0: &str = "00000fa0-0000-4fa0-8000-000000000000";

async fn get(app: &TestApp, c: &Client, path: &str) -> (StatusCode, String) {
    let r = c.get(app.url(path)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// A form post from the app's own pages (browsers send `Origin` on POST).
async fn post(app: &TestApp, c: &Client, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    c.post(app.url(path)).header("origin", app.origin()).form(form).send().await.unwrap()
}

async fn signed_in(scopes: &str) -> (TestApp, Client) {
    let app = TestApp::spawn(&[("OAUTH_SCOPES", scopes)]).await;
    let browser = app.client();
    login(&app, &browser).await;
    (app, browser)
}

const ALL: &str = "read:self read:chat write:chat read:fan read:insights read:post write:post read:tracking_links write:tracking_links read:media";

#[tokio::test]
async fn the_navigation_shows_only_what_the_grant_allows() {
    let (app, browser) = signed_in("read:self read:fan").await;
    let (_, page) = get(&app, &browser, "/").await;
    assert!(page.contains(r#"<a href="/fans""#));
    assert!(!page.contains(r#"<a href="/chats""#));
}

#[tokio::test]
async fn fans_are_listed_page_by_page() {
    let (app, browser) = signed_in(ALL).await;
    let (status, page) = get(&app, &browser, "/fans").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Leo Rivera"), "a seeded subscriber: {page}");
    assert!(!page.contains("Zoe Rivera"), "a follower is on the other tab");
    let (_, followers) = get(&app, &browser, "/fans?tab=followers").await;
    assert!(followers.contains("Zoe Rivera"));
    assert_eq!(link_with_id(&page, "next-page"), "/fans?tab=subscribers&page=2");
    let (_, second) = get(&app, &browser, "/fans?tab=subscribers&page=2").await;
    assert!(second.contains(r#"id="prev-page""#));
    assert_ne!(page, second);
}

#[tokio::test]
async fn every_page_without_its_scope_says_which_and_does_not_call_fanvue() {
    let (app, browser) = signed_in("read:self").await;
    let before = app.stat("apiCalls").await;
    for (path, scope) in [
        ("/fans", "read:fan"),
        ("/chats", "read:chat"),
        (&format!("/chats/{FAN0}"), "read:chat"),
        ("/posts", "read:post"),
        ("/links", "read:tracking_links"),
        ("/insights", "read:insights"),
        ("/media", "read:media"),
        ("/agency", "read:creator"),
        ("/agency", "read:agency"),
        ("/media/folders/Drafts", "read:media"),
        ("/posts/00009057-0000-4057-8000-000000000000/edit", "read:post"),
        ("/links/000071c4-0000-41c4-8000-000000000000/users", "read:tracking_links"),
        ("/agency/creators/000c4ea7-0000-4ea7-8000-000000000000", "read:creator"),
    ] {
        let (status, page) = get(&app, &browser, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.contains(&format!(r#"<code class="missing-scope">{scope}</code>"#)), "{path}: {page}");
        assert!(page.contains("Builder") && page.contains("OAUTH_SCOPES"), "{path}");
        let reconnect = page.split(r#"id="reconnect" href=""#).nth(1).unwrap_or("").split('"').next().unwrap_or("");
        assert!(reconnect.starts_with("/api/oauth/login?"), "{path} offers a reconnect: {page}");
        assert!(
            reconnect.contains(&format!("scope={}", scope.replace(':', "%3A"))),
            "{path}: the reconnect asks for {scope}"
        );
    }
    assert_eq!(app.stat("apiCalls").await, before, "Fanvue was not called");

    // The reconnect asks Fanvue for the missing scope and comes back to the page.
    let r = browser.get(app.url("/api/oauth/login?scope=read%3Afan&return_to=%2Ffans")).send().await.unwrap();
    assert!(query_of(&location(&r))["scope"].ends_with("read:self read:fan"));
}

#[tokio::test]
async fn write_actions_need_their_write_scope() {
    let (app, browser) = signed_in("read:self read:tracking_links read:post read:chat").await;
    let (_, page) = get(&app, &browser, "/links").await;
    assert!(!page.contains(r#"id="create-link""#), "no form without write:tracking_links");
    let before = app.stat("apiCalls").await;
    for (path, form, scope) in [
        ("/links", vec![("name", "x"), ("platform", "tiktok")], "write:tracking_links"),
        ("/posts", vec![("audience", "subscribers"), ("text", "x")], "write:post"),
        ("/chats/00000fa0-0000-4fa0-8000-000000000000", vec![("text", "x")], "write:chat"),
    ] {
        let r = post(&app, &browser, path, &form).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(r.text().await.unwrap().contains(scope));
    }
    assert_eq!(app.stat("apiCalls").await, before);
}

#[tokio::test]
async fn tracking_links_are_listed_created_paged_and_deleted() {
    let (app, browser) = signed_in(ALL).await;
    let (_, page) = get(&app, &browser, "/links").await;
    assert!(page.contains("Instagram bio") && page.contains("fv-210000"), "{page}");

    let r = post(&app, &browser, "/links", &[("name", "Spring <promo>"), ("platform", "tiktok")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = get(&app, &browser, &location(&r)).await;
    assert!(page.contains("Created “Spring &#60;promo&#62;”") || page.contains("Spring &lt;promo&gt;"), "{page}");
    assert!(page.contains("Spring &#60;promo&#62;</a>") || page.contains("Spring &lt;promo&gt;</a>"));

    // Cursor pagination forward and back.
    let (_, first) = get(&app, &browser, "/links?size=2").await;
    let next = link_with_id(&first, "next-page");
    let (_, second) = get(&app, &browser, &next).await;
    assert!(second.contains("TikTok profile") || second.contains("Instagram bio"), "{second}");
    assert_ne!(first, second);
    let prev = link_with_id(&second, "prev-page");
    let (_, back) = get(&app, &browser, &prev).await;
    assert!(
        back.contains("Spring &#60;promo&#62;") || back.contains("Spring &lt;promo&gt;"),
        "back on the first page: {back}"
    );

    // Who came through a link.
    let link_uuid = page.split("/links/").nth(1).unwrap().split('/').next().unwrap().to_owned();
    let (status, users) = get(&app, &browser, &format!("/links/{link_uuid}/users")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(users.contains("Who came through this link"));

    // Delete the new link.
    let r = post(&app, &browser, &format!("/links/{link_uuid}/delete"), &[]).await;
    assert_eq!(location(&r), "/links?deleted=1");
    let (_, page) = get(&app, &browser, "/links").await;
    assert!(!page.contains("Spring &#60;promo&#62;") && !page.contains("Spring &lt;promo&gt;"));
}

#[tokio::test]
async fn invalid_link_input_is_explained_and_kept() {
    let (app, browser) = signed_in(ALL).await;
    let before = app.stat("apiCalls").await;
    let r = post(&app, &browser, "/links", &[("name", ""), ("platform", "tiktok")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("Give the link a name"), "{page}");
    assert!(page.contains(r#"<option value="tiktok" selected>"#), "the input is kept");
    let r = post(&app, &browser, "/links", &[("name", "Ok"), ("platform", "myspace")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("Choose the platform"));
    // Only the list re-renders called Fanvue; the invalid creates did not.
    assert_eq!(app.stat("apiCalls").await, before + 2);
    let r = post(&app, &browser, "/links/not-a-uuid/delete", &[]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn posts_are_listed_and_created_with_fanvues_rules() {
    let (app, browser) = signed_in(ALL).await;
    let (_, page) = get(&app, &browser, "/posts").await;
    assert!(page.contains("Hey! Loved your last post 😍 #1</p>"), "the seeded first post: {page}");
    assert!(page.contains("$9.00 ·"), "a paid post shows its price as money");

    let r = post(&app, &browser, "/posts", &[("audience", "subscribers"), ("text", "Hello from the test suite")]).await;
    assert_eq!(location(&r), "/posts?created=1");
    let (_, page) = get(&app, &browser, "/posts").await;
    assert!(page.contains("Hello from the test suite"));

    let media = "0003ed1a-0000-4d1a-8000-000000000000";
    let (_, page) = get(&app, &browser, "/posts").await;
    assert!(page.contains(&format!(r#"name="media" value="{media}""#)), "read:media: the form offers the library");
    // A ticked library item and the same UUID typed count once.
    let r = post(
        &app,
        &browser,
        "/posts",
        &[("audience", "subscribers"), ("text", "Paid"), ("media", media), ("media", media), ("price", "9.99")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    let (_, page) = get(&app, &browser, "/posts").await;
    assert!(page.contains("$9.99"));
}

#[tokio::test]
async fn invalid_posts_are_refused_before_fanvue_with_the_input_kept() {
    let (app, browser) = signed_in(ALL).await;
    let r = post(&app, &browser, "/posts", &[("audience", "subscribers"), ("text", "Too cheap"), ("price", "2")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("A price is at least $3.00"), "{page}");
    assert!(
        page.contains(">Too cheap</textarea>") && page.contains(r#"name="price" inputmode="decimal" value="2""#),
        "the input is kept"
    );
    let r =
        post(&app, &browser, "/posts", &[("audience", "subscribers"), ("text", "No media"), ("price", "9.99")]).await;
    assert!(r.text().await.unwrap().contains("A paid post needs at least one media item"));
    // Fanvue's own validation answer (a media UUID it does not know) is shown the same way.
    let r = post(
        &app,
        &browser,
        "/posts",
        &[("audience", "subscribers"), ("text", "x"), ("media", "00000000-0000-4000-8000-000000000000")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("is not in your media library"));
}

#[tokio::test]
async fn chats_list_filter_search_and_a_conversation() {
    let (app, browser) = signed_in(ALL).await;
    let (status, page) = get(&app, &browser, "/chats").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("unread</span>"), "unread counts: {page}");
    assert!(page.contains(r#"id="smart-lists""#), "smart lists with read:fan");
    let (_, unread) = get(&app, &browser, "/chats?filter=unread").await;
    assert!(unread.matches("chat-name").count() < page.matches("chat-name").count());
    let (_, found) = get(&app, &browser, "/chats?search=mia").await;
    assert!(found.contains("Mia"), "{found}");
    let (status, convo) = get(&app, &browser, &format!("/chats/{FAN0}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(convo.contains(r#"class="message-text""#));
    assert!(convo.contains(r#"id="media-picker""#), "media from the vault can be attached");
    let (status, _) = get(&app, &browser, "/chats/not-a-uuid").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_message_is_sent_and_a_chat_muted() {
    let (app, browser) = signed_in(ALL).await;
    let r = post(&app, &browser, &format!("/chats/{FAN0}"), &[("text", "Thanks for subscribing <3")]).await;
    assert_eq!(location(&r), format!("/chats/{FAN0}?sent=1"));
    let (_, convo) = get(&app, &browser, &location(&r)).await;
    assert!(
        convo.contains("Thanks for subscribing &#60;3") || convo.contains("Thanks for subscribing &lt;3"),
        "{convo}"
    );

    let r = post(&app, &browser, &format!("/chats/{FAN0}"), &[("text", "")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("Write a message"));

    let r = post(&app, &browser, &format!("/chats/{FAN0}/state"), &[("muted", "true")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = get(&app, &browser, "/chats?search=mia").await;
    assert!(page.contains(">Muted</span>"), "{page}");
    let r = post(&app, &browser, &format!("/chats/{FAN0}/state"), &[("muted", "maybe")]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn insights_chart_a_range_with_sources_growth_and_top_spenders() {
    let (app, browser) = signed_in(ALL).await;
    let (status, page) = get(&app, &browser, "/insights").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"<svg id="earnings-chart""#) && page.matches("<rect ").count() >= 20, "{page}");
    assert!(page.contains(r#"id="total-gross">$"#));
    assert!(page.contains("<td>Subscription</td>"), "sources are labelled");
    assert!(page.contains(r#"id="top-spenders""#));
    let (_, year) = get(&app, &browser, "/insights?start=2020-01-01&end=2020-01-31").await;
    assert!(year.contains("$0.00"), "an empty range is empty, not an error");
    let (_, bad) = get(&app, &browser, "/insights?start=2026-13-45").await;
    assert!(bad.contains("Dates are written 2026-01-31"));
    let (_, reversed) = get(&app, &browser, "/insights?start=2026-05-01&end=2026-04-01").await;
    assert!(reversed.contains("Choose a start before the end"));
}

/// Fanvue's 429 on a page: the user is told when to retry, and stays signed in.
#[tokio::test]
async fn a_rate_limited_page_says_when_to_retry() {
    // The app's own per-IP limit off, to reach Fanvue's.
    let app =
        TestApp::spawn(&[("OAUTH_SCOPES", ALL), ("RATE_LIMIT_PER_MINUTE", "0"), ("FANVUE_BUDGET_PER_MINUTE", "0")])
            .await;
    let browser = app.client();
    login(&app, &browser).await;
    for _ in 0..200 {
        browser.get(app.url("/api/fanvue/users/me")).send().await.unwrap();
    }
    let (status, page) = get(&app, &browser, "/fans").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("Try again in"), "{page}");
}

const MEDIA_SCOPES: &str = "read:self read:media write:media";

#[tokio::test]
async fn the_media_library_shows_thumbnails_and_folders() {
    let (app, browser) = signed_in(MEDIA_SCOPES).await;
    let (status, page) = get(&app, &browser, "/media").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Beach set 01"), "{page}");
    assert!(
        page.contains(&format!(r#"src="https://127.0.0.1:{}/_sandbox/media/"#, app.sandbox_port)),
        "https thumbnails from the variants"
    );
    assert!(page.contains(">Beach 2026</a>") && page.contains(">Exclusives</a>"));
    let (status, folder) = get(&app, &browser, "/media/folders/Beach%202026").await;
    assert_eq!(status, StatusCode::OK);
    assert!(folder.contains(r#"<h1 id="folder-title">Beach 2026</h1>"#) && folder.contains("Beach set 01"));
}

#[tokio::test]
async fn vault_folders_are_created_renamed_filled_and_deleted() {
    let (app, browser) = signed_in(MEDIA_SCOPES).await;
    let r = post(&app, &browser, "/media/folders", &[("name", "Summer drop")]).await;
    assert_eq!(location(&r), "/media?done=created");
    let (_, page) = get(&app, &browser, "/media").await;
    assert!(page.contains(">Summer drop</a>"));

    let media = "0003ed1a-0001-4d1a-8000-000000000001";
    let r = post(&app, &browser, "/media/folders/Summer%20drop/attach", &[("media", media)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, folder) = get(&app, &browser, "/media/folders/Summer%20drop").await;
    assert!(folder.contains(media));

    let r = post(&app, &browser, "/media/folders/Summer%20drop/rename", &[("name", "Summer 2027")]).await;
    assert_eq!(location(&r), "/media/folders/Summer%202027?done=1");
    let r = post(&app, &browser, "/media/folders/Summer%202027/delete", &[]).await;
    assert_eq!(location(&r), "/media?done=deleted");
    let (_, page) = get(&app, &browser, "/media").await;
    assert!(!page.contains("Summer"));
}

#[tokio::test]
async fn invalid_folder_input_is_explained() {
    let (app, browser) = signed_in(MEDIA_SCOPES).await;
    let r = post(&app, &browser, "/media/folders", &[("name", "a/b")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("no slashes"));
    // Fanvue's 409 for an existing name is shown with the input kept.
    let r = post(&app, &browser, "/media/folders", &[("name", "Drafts")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("already exists") && page.contains(r#"value="Drafts""#), "{page}");
    let r = post(&app, &browser, "/media/folders/Drafts/attach", &[("media", "not-a-uuid")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = post(&app, &browser, "/media/folders/Drafts/attach", &[("media", "00000000-0000-4000-8000-000000000000")])
        .await;
    assert!(r.text().await.unwrap().contains("is not in your media library"));
}

const AGENCY_SCOPES: &str = "read:self read:agency write:agency read:creator read:chat read:fan read:insights";

#[tokio::test]
async fn the_agency_page_lists_creators_and_team_and_acts_as_a_creator() {
    let (app, browser) = signed_in(AGENCY_SCOPES).await;
    let (status, page) = get(&app, &browser, "/agency").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Nova Lane") && page.contains("sam@agency.test"), "{page}");
    let creator = page.split("/agency/creators/").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let (status, acting) = get(&app, &browser, &format!("/agency/creators/{creator}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(acting.contains(r#"id="creator-chats""#) && acting.contains(r#"id="creator-followers""#));
    // Their last 30 days through /creators/{c}/insights/earnings, dates sent as date-times.
    let earnings = acting.split(r#"id="creator-earnings""#).nth(1).expect("the creator's earnings");
    assert!(earnings.contains("<strong>$") && !earnings.contains("<strong>$0.00"), "{earnings}");
    let (status, _) = get(&app, &browser, "/agency/creators/00000000-0000-4000-8000-000000000000").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "Fanvue's 404 for a creator the agency does not manage");
}

#[tokio::test]
async fn a_team_member_is_invited_once() {
    let (app, browser) = signed_in(AGENCY_SCOPES).await;
    let r = post(&app, &browser, "/agency/invites", &[("email", "new.member@agency.test")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = get(&app, &browser, &location(&r)).await;
    assert!(page.contains("Invitation sent."));
    let (_, crafted) = get(&app, &browser, "/agency?invited=Your+account+is+locked").await;
    assert!(!crafted.contains("account is locked"), "notices never echo the query string");
    let r = post(&app, &browser, "/agency/invites", &[("email", "new.member@agency.test")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("already a member or invited"));
    let r = post(&app, &browser, "/agency/invites", &[("email", "nope")]).await;
    assert!(r.text().await.unwrap().contains("Enter the email address"));
}

/// `size` bytes that do not compress: what a photo or video looks like to the server.
fn noise(size: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

async fn upload(app: &TestApp, c: &Client, name: &str, bytes: Vec<u8>, mime: &str) -> reqwest::Response {
    let file = reqwest::multipart::Part::bytes(bytes).file_name("clip.bin").mime_str(mime).unwrap();
    let form = reqwest::multipart::Form::new().text("name", name.to_owned()).part("file", file);
    c.post(app.url("/media/upload")).header("origin", app.origin()).multipart(form).send().await.unwrap()
}

/// 12 MiB → three parts (5 + 5 + 2 MiB) through Fanvue's multipart flow, then ready.
#[tokio::test]
async fn a_multi_part_upload_streams_through_and_becomes_ready() {
    let (app, browser) = signed_in(MEDIA_SCOPES).await;
    let r = upload(&app, &browser, "Twelve megabytes", noise(12 * 1024 * 1024), "video/mp4").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap_or_default());
    let landed = location(&r);
    assert!(landed.contains("status=ready"), "{landed}");
    let (_, page) = get(&app, &browser, &landed).await;
    assert!(page.contains("Uploaded “Twelve megabytes” (ready)"), "{page}");
    assert!(page.contains(r#"<span class="media-name">Twelve megabytes</span>"#), "the sandbox's library has it");
}

/// The server holds one part at a time, not the file: after a 32 MiB upload has set the
/// peak (parts, buffers, the allocator's reserve), a file three times larger barely moves it.
#[tokio::test]
async fn a_large_upload_does_not_sit_in_memory() {
    let (app, browser) = signed_in(MEDIA_SCOPES).await;
    assert!(app.peak_rss_kib() > 0, "/proc/<pid>/status is readable");
    let r = upload(&app, &browser, "Warm-up", noise(32 * 1024 * 1024), "video/mp4").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let before = app.peak_rss_kib();
    let r = upload(&app, &browser, "Big one", noise(96 * 1024 * 1024), "video/mp4").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let grown_mib = (app.peak_rss_kib().saturating_sub(before)) / 1024;
    assert!(grown_mib < 24, "peak memory grew by {grown_mib} MiB more for a file 64 MiB larger");
}

#[tokio::test]
async fn invalid_uploads_are_refused_clearly() {
    let (app, browser) = signed_in(MEDIA_SCOPES).await;
    let r = upload(&app, &browser, "Empty", Vec::new(), "image/png").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("The file is empty"));
    let form = reqwest::multipart::Form::new().text("name", "no file");
    let r = browser.post(app.url("/media/upload")).header("origin", app.origin()).multipart(form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("Choose a file"));
    let (app2, reader) = signed_in("read:self read:media").await;
    let r = upload(&app2, &reader, "x", noise(10), "image/png").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "write:media is needed");
}

#[tokio::test]
async fn a_post_is_edited_with_the_same_rules() {
    let (app, browser) = signed_in(ALL).await;
    let (_, page) = get(&app, &browser, "/posts").await;
    let edit = page
        .split(r#"class="edit-post""#)
        .next()
        .unwrap()
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (status, form) = get(&app, &browser, &edit).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains(r#"id="edit-post""#) && form.contains("</textarea>"));
    let r = post(&app, &browser, &edit, &[("audience", "followers-and-subscribers"), ("text", "Edited text")]).await;
    assert_eq!(location(&r), "/posts?updated=1");
    let (_, page) = get(&app, &browser, "/posts?updated=1").await;
    assert!(page.contains("Post updated.") && page.contains("Edited text"));
    let r = post(&app, &browser, &edit, &[("audience", "nobody"), ("text", "x")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("Choose who can see the post"));
}

#[tokio::test]
async fn chats_show_smart_and_custom_lists_with_read_fan() {
    let (app, browser) = signed_in(ALL).await;
    let (_, page) = get(&app, &browser, "/chats").await;
    assert!(page.contains(r#"id="custom-lists""#) && page.contains("VIP"), "{page}");
    let (app, browser) = signed_in("read:self read:chat").await;
    let (_, page) = get(&app, &browser, "/chats").await;
    assert!(!page.contains(r#"id="smart-lists""#), "no lists without read:fan");
}

#[tokio::test]
async fn mark_read_and_unread_change_the_chat_and_viewing_does_not() {
    let (app, browser) = signed_in(ALL).await;
    let unread_count = |page: &str| page.matches("unread</span>").count();
    let (_, before) = get(&app, &browser, "/chats?filter=unread").await;
    let r = post(&app, &browser, &format!("/chats/{FAN0}/state"), &[("read", "true")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, after) = get(&app, &browser, "/chats?filter=unread").await;
    assert!(unread_count(&after) < unread_count(&before) || !after.contains("Mia"), "marked read");
    post(&app, &browser, &format!("/chats/{FAN0}/state"), &[("read", "false")]).await;
    let (_, page) = get(&app, &browser, &format!("/chats/{FAN0}")).await;
    assert!(page.contains("message-text"));
    let (_, unread) = get(&app, &browser, "/chats?search=mia").await;
    assert!(unread.contains("unread</span>"), "viewing the conversation left it unread: {unread}");
}

#[tokio::test]
async fn insights_refuse_absurd_dates_without_a_500() {
    let (app, browser) = signed_in(ALL).await;
    for query in ["end=9999-12-31", "start=0001-01-01&end=9999-12-31", "start=-5&end=%00"] {
        let (status, page) = get(&app, &browser, &format!("/insights?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
    }
}

#[tokio::test]
async fn editing_a_paid_post_keeps_its_media_and_price() {
    let (app, browser) = signed_in(ALL).await;
    let uuid = "00009057-0000-4057-8000-000000000000"; // seeded: media and $9.00
    let (_, form) = get(&app, &browser, &format!("/posts/{uuid}/edit")).await;
    assert!(form.contains(r#"name="price" inputmode="decimal" value="9.00""#), "{form}");
    let media = form.split(r#"name="media" value=""#).nth(1).unwrap().split('"').next().unwrap().to_owned();
    let r = post(
        &app,
        &browser,
        &format!("/posts/{uuid}/edit"),
        &[("audience", "subscribers"), ("text", "Still paid"), ("media", &media), ("price", "9.00")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = get(&app, &browser, "/posts").await;
    assert!(page.contains("Still paid</p>") && page.contains("$9.00"));
}

#[tokio::test]
async fn chats_can_be_narrowed_to_a_smart_or_custom_list() {
    let (app, browser) = signed_in(ALL).await;
    let count = |page: &str| page.matches(r#"class="chat-name""#).count();
    let (_, all) = get(&app, &browser, "/chats").await;
    let (_, followers) = get(&app, &browser, "/chats?list=smart%3Afollowers").await;
    assert!(count(&followers) < count(&all), "followers only");
    assert!(followers.contains(r#"<option value="smart:followers" selected>"#));
    let vip = all.split(r#"<option value="custom:"#).nth(1).unwrap().split('"').next().unwrap().to_owned();
    let (_, in_list) = get(&app, &browser, &format!("/chats?list=custom%3A{vip}")).await;
    assert!(count(&in_list) >= 1 && count(&in_list) < count(&all), "{in_list}");
    let (status, _) = get(&app, &browser, "/chats?list=custom%3A00000000-0000-4000-8000-000000000000").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "Fanvue's 404 for an unknown list");
}

#[tokio::test]
async fn an_agency_member_replies_as_a_managed_creator() {
    let (app, browser) = signed_in(AGENCY_SCOPES.replace("read:chat", "read:chat write:chat").as_str()).await;
    let (_, agency) = get(&app, &browser, "/agency").await;
    let creator = agency.split("/agency/creators/").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let (_, page) = get(&app, &browser, &format!("/agency/creators/{creator}")).await;
    let form = page.split(r#"" class="row send-as""#).next().unwrap();
    let action = form.rsplit(r#"action=""#).next().unwrap().to_owned();
    assert!(action.starts_with(&format!("/agency/creators/{creator}/chats/")), "{action}");
    let r = post(&app, &browser, &action, &[("text", "Hi, the team here")]).await;
    assert_eq!(location(&r), format!("/agency/creators/{creator}?sent=1"));
    // The chat is the managed creator's (a world of their own in the sandbox), not the agency's.
    let fan = action.rsplit('/').next().unwrap();
    let convo = format!("/api/fanvue/creators/{creator}/chats/{fan}/messages?size=1");
    let convo = browser.get(app.url(&convo)).send().await.unwrap().text().await.unwrap();
    assert!(convo.contains("Hi, the team here"), "the sandbox recorded the creator's message: {convo}");
    let r = post(&app, &browser, &action, &[("text", "")]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

/// Pages reuse the profile for `PROFILE_CACHE_SECS` per session (Fanvue's per-user budget is
/// precious); the JSON proxy forwards every call; a new session asks again.
#[tokio::test]
async fn pages_reuse_the_profile_read_per_session_and_the_proxy_never_does() {
    let app = TestApp::spawn(&[]).await;
    let client = app.client();
    login(&app, &client).await;
    home(&app, &client).await;
    let before = app.stat("apiCalls").await;
    for _ in 0..3 {
        let (status, page) = home(&app, &client).await;
        assert_eq!(status, reqwest::StatusCode::OK);
        assert!(page.contains("Ava Sandbox"));
    }
    assert_eq!(app.stat("apiCalls").await, before, "three home views, no Fanvue call");
    for _ in 0..2 {
        client.get(app.url("/api/fanvue/users/me")).send().await.unwrap();
    }
    assert_eq!(app.stat("apiCalls").await, before + 2, "the proxy forwards every call");
    let other = app.client();
    login(&app, &other).await;
    home(&app, &other).await;
    assert!(app.stat("apiCalls").await > before + 2, "another session reads for itself");

    let uncached = TestApp::spawn(&[("PROFILE_CACHE_SECS", "0")]).await;
    let client = uncached.client();
    login(&uncached, &client).await;
    let before = uncached.stat("apiCalls").await;
    home(&uncached, &client).await;
    home(&uncached, &client).await;
    assert_eq!(uncached.stat("apiCalls").await, before + 2);
}

/// A multipart body sent as it is generated (the test never holds it): `prefix`, then `size`
/// bytes of filler, then `suffix`.
fn streamed_form(prefix: String, size: usize, suffix: String) -> reqwest::Body {
    static FILL: [u8; 64 * 1024] = [b'a'; 64 * 1024];
    let chunks = size / FILL.len();
    let stream = futures_util::stream::iter(
        std::iter::once(bytes::Bytes::from(prefix))
            .chain((0..chunks).map(|_| bytes::Bytes::from_static(&FILL)))
            .chain(std::iter::once(bytes::Bytes::from(suffix)))
            .map(Ok::<_, std::io::Error>),
    );
    reqwest::Body::wrap_stream(stream)
}

const BOUNDARY: &str = "hardening-boundary-7f3a";
const FILE_PART: &str = "\r\n--hardening-boundary-7f3a\r\nContent-Disposition: form-data; name=\"file\"; \
    filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nxyz\r\n--hardening-boundary-7f3a--\r\n";

async fn post_form(app: &TestApp, c: &Client, body: reqwest::Body) -> reqwest::Response {
    c.post(app.url("/media/upload"))
        .header("origin", app.origin())
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Only the file streams: a 200 MB `name` field (or a part header that never ends) is
/// refused after a few KiB, and the server's peak memory stays where it was.
#[tokio::test]
async fn a_huge_form_field_or_part_header_does_not_grow_memory() {
    let (app, browser) = signed_in(MEDIA_SCOPES).await;
    // Warm-up: a normal small upload sets the baseline (buffers, TLS, the allocator's reserve).
    let r = upload(&app, &browser, "Warm-up", noise(64 * 1024), "image/png").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let before = app.peak_rss_kib();

    let name_head = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n");
    let r = post_form(&app, &browser, streamed_form(name_head, 200_000_000, FILE_PART.to_owned())).await;
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    let after_field = app.peak_rss_kib();
    eprintln!("huge name field: {status}, peak RSS {before} KiB -> {after_field} KiB");
    assert!(status == StatusCode::PAYLOAD_TOO_LARGE || status == StatusCode::BAD_REQUEST, "{status}: {text}");
    assert!(text.contains("name"), "says which field: {text}");

    let header_head = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"name\"\r\nX-Pad: ");
    let r = post_form(&app, &browser, streamed_form(header_head, 200_000_000, FILE_PART.to_owned())).await;
    let status = r.status();
    let after_header = app.peak_rss_kib();
    eprintln!("huge part header: {status}, peak RSS {after_field} KiB -> {after_header} KiB");
    assert!(status == StatusCode::PAYLOAD_TOO_LARGE || status == StatusCode::BAD_REQUEST, "{status}");

    let grown_mib = after_header.saturating_sub(before) / 1024;
    assert!(grown_mib <= 6, "peak memory grew by {grown_mib} MiB");
    let r = upload(&app, &browser, "Still fine", noise(64 * 1024), "image/png").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the server still uploads");
}

/// A request body fed through the returned sender, sent as it comes.
fn fed_body() -> (tokio::sync::mpsc::Sender<bytes::Bytes>, reqwest::Body) {
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (Ok::<_, std::io::Error>(chunk), rx))
    });
    (tx, reqwest::Body::wrap_stream(stream))
}

/// One creator cannot hold every upload slot: while Ava's slow upload is in progress her
/// second one is refused (429) and Bo's goes through; when Ava's body stalls it is aborted
/// after UPLOAD_IDLE_TIMEOUT_SECS with a clear 408, and her slot is free again.
#[tokio::test]
async fn one_user_holds_one_upload_slot_and_a_stalled_upload_is_aborted() {
    let app = TestApp::spawn(&[("OAUTH_SCOPES", MEDIA_SCOPES), ("UPLOAD_IDLE_TIMEOUT_SECS", "2")]).await;
    let ava = app.client();
    login(&app, &ava).await;
    let bo = app.client();
    login_as(&app, &bo, "bo.unsubscribed").await;

    let calls = app.stat("apiCalls").await;
    let (tx, body) = fed_body();
    let head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.bin\"\r\n\
         Content-Type: video/mp4\r\n\r\nx"
    );
    tx.send(head.into()).await.unwrap();
    let slow = tokio::spawn(
        ava.post(app.url("/media/upload"))
            .header("origin", app.origin())
            .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
            .body(body)
            .send(),
    );
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let feeder = {
        let tx = tx.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    () = tokio::time::sleep(Duration::from_millis(400)) => {
                        if tx.send(bytes::Bytes::from_static(b"y")).await.is_err() { return; }
                    }
                }
            }
        })
    };
    // The upload is open at Fanvue once its first bytes arrived: Ava's slot is held.
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.stat("apiCalls").await == calls {
        assert!(Instant::now() < deadline, "the slow upload did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let r = upload(&app, &ava, "Second", noise(1024), "image/png").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.text().await.unwrap().contains("already have an upload in progress"));
    let r = upload(&app, &bo, "Bo's", noise(1024), "image/png").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "another creator still uploads");

    // Ava's connection goes quiet (the body stays open, nothing more is sent).
    stop.send(()).unwrap();
    feeder.await.unwrap();
    let stalled_at = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(15), slow).await.unwrap().unwrap().unwrap();
    let waited = stalled_at.elapsed();
    eprintln!("stalled upload answered {} after {waited:?}", r.status());
    assert_eq!(r.status(), StatusCode::REQUEST_TIMEOUT);
    assert!(r.text().await.unwrap().contains("no data arrived for 2 seconds"));
    assert!(waited >= Duration::from_millis(1500) && waited < Duration::from_secs(8), "{waited:?}");
    drop(tx);

    let r = upload(&app, &ava, "After", noise(1024), "image/png").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the slot was freed");
}

/// An error page keeps the navigation while signed in (a 404, a refused scope, a 402), so the
/// creator is never stranded; signed out it offers the login instead.
#[tokio::test]
async fn error_pages_keep_the_navigation_while_signed_in() {
    let app = TestApp::spawn(&[]).await;
    let c = app.client();
    let r = c.get(app.url("/no-such-page")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let signed_out = r.text().await.unwrap();
    assert!(!signed_out.contains("Sign out"), "signed out: no navigation");
    login(&app, &c).await;
    let r = c.get(app.url("/no-such-page")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let page = r.text().await.unwrap();
    assert!(page.contains("Sign out") && page.contains("href=\"/chats\""), "signed in: the navigation:\n{page}");
    let bo = app.client();
    login_as(&app, &bo, "bo.unsubscribed").await;
    let r = bo.get(app.url("/premium")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYMENT_REQUIRED, "Bo has no plan");
    let page = r.text().await.unwrap();
    assert!(page.contains("Sign out") && page.contains("href=\"/premium\""), "the 402 page too:\n{page}");
}
