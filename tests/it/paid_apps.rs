//! Paid apps: the entitlement check against the sandbox's App Store, signed in as its three
//! accounts (subscribed, unsubscribed, agency member), the checkout deeplink, and a purchase
//! that shows when the user comes back, although app subscriptions send no webhook.

use crate::harness::*;
use reqwest::StatusCode;

const APP_UUID: &str = fanvue_sandbox::APP_UUID;
const PLAN_UUID: &str = fanvue_sandbox::PLAN_UUID;
/// The seeded agency's third creator, whose plan is not active (the first two are).
const UNCOVERED_CREATOR: &str = "000c4ea7-0002-4ea7-8000-000000000002";

async fn premium(app: &TestApp, client: &reqwest::Client, query: &str) -> (StatusCode, String) {
    let r = client.get(app.url(&format!("/premium{query}"))).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// The `href` of the element with `id`.
fn href_of(page: &str, id: &str) -> String {
    let at = page.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in {page}"));
    let start = at + page[at..].find("href=\"").unwrap() + 6;
    page[start..start + page[start..].find('"').unwrap()].replace("&#38;", "&").replace("&amp;", "&")
}

/// Pays at the sandbox's App Store as `account` (the deeplink's checkout form).
async fn pay(app: &TestApp, account: &str) {
    let r = app
        .cookieless()
        .post(app.sandbox_url(&format!("/app-store/{APP_UUID}/checkout")))
        .form(&[("user", account)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_subscribed_creator_reaches_the_paid_page() {
    let app = TestApp::spawn(&[]).await;
    let client = app.client();
    login_as(&app, &client, "ava.sandbox").await;
    let (status, page) = premium(&app, &client, "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("id=\"premium-status\"") && page.contains("<strong>active</strong>"), "{page}");
    assert!(!page.contains("managed-creators"));
    // Cached per session: a second view does not ask Fanvue again.
    let calls = app.stat("apiCalls").await;
    premium(&app, &client, "").await;
    assert_eq!(app.stat("apiCalls").await, calls);
}

#[tokio::test]
async fn an_unsubscribed_creator_checks_out_and_is_let_in_on_coming_back_without_any_webhook() {
    // A long cache, so only the checkout mark can explain the new answer.
    let app = TestApp::spawn(&[("ENTITLEMENT_CACHE_SECS", "600")]).await;
    let client = app.client();
    login_as(&app, &client, "bo.unsubscribed").await;
    let (status, page) = premium(&app, &client, "").await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{page}");
    assert!(page.contains("subscription_required"), "{page}");
    assert!(page.contains("check again"), "the 402 page offers to check again: {page}");
    // JSON callers get the same answer as JSON.
    let r = client.get(app.url("/premium")).header("accept", "application/json").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "subscription_required");

    // "Subscribe" goes through the app, which marks the session, then to Fanvue's deeplink.
    let subscribe = href_of(&page, "error-action-1");
    assert_eq!(subscribe, "/premium/checkout?return_to=/premium");
    let r = client.get(app.url(&subscribe)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let checkout = location(&r);
    assert_eq!(
        checkout,
        app.sandbox_url(&format!("/app-store/{APP_UUID}?plan={PLAN_UUID}&action=checkout")),
        "the deeplink preselects the plan and opens checkout"
    );
    let listing = app.cookieless().get(&checkout).send().await.unwrap().text().await.unwrap();
    assert!(listing.contains("id=\"checkout-form\""), "{listing}");
    pay(&app, "bo.unsubscribed").await;

    // Back in the app: the first request asks Fanvue again (no webhook came, the cache holds
    // "no plan" for 10 minutes) and lets Bo in.
    let (status, page) = premium(&app, &client, "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(!app.logs().contains("App Store event"), "app subscriptions send no webhook");
    // Once in, the answer is cached again.
    let calls = app.stat("apiCalls").await;
    premium(&app, &client, "").await;
    assert_eq!(app.stat("apiCalls").await, calls);
}

#[tokio::test]
async fn check_again_reads_the_plan_of_a_purchase_made_outside_the_apps_checkout_link() {
    let app = TestApp::spawn(&[("ENTITLEMENT_CACHE_SECS", "600")]).await;
    let client = app.client();
    login_as(&app, &client, "bo.unsubscribed").await;
    assert_eq!(premium(&app, &client, "").await.0, StatusCode::PAYMENT_REQUIRED);
    // Bo subscribes from Fanvue directly: the app's cached "no plan" still stands.
    pay(&app, "bo.unsubscribed").await;
    assert_eq!(premium(&app, &client, "").await.0, StatusCode::PAYMENT_REQUIRED, "cached for 10 minutes");
    // "I've subscribed — check again" (a same-origin form post).
    let r = client
        .post(app.url("/premium/recheck"))
        .header("origin", app.origin())
        .form(&[("return_to", "/premium")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/premium");
    assert_eq!(premium(&app, &client, "").await.0, StatusCode::OK);
    // The return path is a same-origin path only.
    let r = client
        .post(app.url("/premium/recheck"))
        .header("origin", app.origin())
        .form(&[("return_to", "https://evil.example/")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/");
}

#[tokio::test]
async fn an_agency_member_is_covered_per_managed_creator() {
    let app = TestApp::spawn(&[]).await;
    let client = app.client();
    login_as(&app, &client, "mia.agency").await;
    let (status, page) = premium(&app, &client, "").await;
    assert_eq!(status, StatusCode::OK, "two of her three creators are covered: {page}");
    assert!(page.contains("Your own account has no plan"), "her own status is none: {page}");
    let list = &page[page.find("id=\"managed-creators\"").expect("covered creators listed")..];
    let list = &list[..list.find("</ul>").unwrap()];
    assert_eq!(list.matches("/premium?creator=").count(), 2, "{list}");
    assert!(list.contains("Nova Lane"), "named from /creators: {list}");
    assert!(!list.contains(UNCOVERED_CREATOR), "{list}");
    let start = list.find("/premium?creator=").unwrap() + 17;
    let covered = &list[start..start + 36];

    let (status, page) = premium(&app, &client, &format!("?creator={covered}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("id=\"premium-acting-for\""), "{page}");

    let (status, _) = premium(&app, &client, &format!("?creator={UNCOVERED_CREATOR}")).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "a managed creator without a plan is not covered");
    let stranger = "0000aaaa-1111-4222-8333-444455556666";
    let (status, _) = premium(&app, &client, &format!("?creator={stranger}")).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "a creator outside the agency is not covered");
    let (status, _) = premium(&app, &client, "?creator=not-a-uuid").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn signed_out_users_are_asked_to_sign_in_first() {
    let app = TestApp::spawn(&[]).await;
    let (status, page) = premium(&app, &app.cookieless(), "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("Login with Fanvue"));
}
