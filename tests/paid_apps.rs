//! Paid apps: the entitlement check against the sandbox's App Store, signed in as its three
//! accounts (subscribed, unsubscribed, agency member), the checkout deeplink, and a purchase
//! that shows at once because its webhook drops the cached answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use reqwest::StatusCode;

const APP_UUID: &str = fanvue_app_starter::config::SANDBOX_APP_UUID;
const PLAN_UUID: &str = fanvue_app_starter::config::SANDBOX_PLAN_UUID;

async fn premium(app: &TestApp, client: &reqwest::Client, query: &str) -> (StatusCode, String) {
    let r = client.get(app.url(&format!("/premium{query}"))).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
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
async fn an_unsubscribed_creator_is_sent_to_checkout_and_is_in_right_after_paying() {
    let app = TestApp::spawn(&[]).await;
    let client = app.client();
    login_as(&app, &client, "bo.unsubscribed").await;
    let (status, page) = premium(&app, &client, "").await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{page}");
    assert!(page.contains("subscription_required"), "{page}");
    let start = page.find("id=\"error-action\" href=\"").unwrap() + 24;
    let checkout = page[start..start + page[start..].find('"').unwrap()].replace("&#38;", "&");
    assert_eq!(
        checkout,
        app.sandbox_url(&format!("/app-store/{APP_UUID}?plan={PLAN_UUID}&action=checkout")),
        "the deeplink preselects the plan and opens checkout"
    );
    // JSON callers get the same answer as JSON.
    let r = client.get(app.url("/premium")).header("accept", "application/json").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "subscription_required");

    // Checkout at the sandbox's App Store: Fanvue tells the app by webhook.
    let store = app.cookieless();
    let listing = store.get(&checkout).send().await.unwrap().text().await.unwrap();
    assert!(listing.contains("id=\"checkout-form\""), "{listing}");
    let r = store
        .post(app.sandbox_url(&format!("/app-store/{APP_UUID}/checkout")))
        .form(&[("user", "bo.unsubscribed")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // The cached "no plan" (60 s) was dropped by the app.subscription.activated handler.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (status, page) = premium(&app, &client, "").await;
        if status == StatusCode::OK {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still refused after paying: {page}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(app.logs().contains("App Store event"));
}

#[tokio::test]
async fn an_agency_members_plan_covers_the_creators_they_manage_and_no_others() {
    let app = TestApp::spawn(&[]).await;
    let client = app.client();
    login_as(&app, &client, "mia.agency").await;
    let (status, page) = premium(&app, &client, "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let list = &page[page.find("id=\"managed-creators\"").expect("managed creators listed")..];
    let start = list.find("/premium?creator=").unwrap() + 17;
    let managed = &list[start..start + 36];

    let (status, page) = premium(&app, &client, &format!("?creator={managed}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("id=\"premium-acting-for\""), "{page}");

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
