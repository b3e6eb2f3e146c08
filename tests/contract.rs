//! Contract tests: the client, the pages and the sandbox against Fanvue's published API
//! reference (`contract/fanvue-api.json`, derived from the public pages by
//! `scripts/derive-contract`). Nothing here reaches outside the repository.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use fanvue_app_starter::fanvue::contract::{self, Authority};
use fanvue_app_starter::fanvue::endpoints::{ENDPOINTS, Source};
use fanvue_app_starter::scopes::Scope;

fn scope_names(scopes: &[Scope]) -> Vec<String> {
    let mut names: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
    names.sort();
    names
}

#[test]
fn the_scope_table_equals_the_published_scopes_for_every_published_endpoint() {
    let reference = contract::contract().unwrap();
    let mut problems = Vec::new();
    for op in reference.operations() {
        let row =
            ENDPOINTS.iter().find(|e| e.method == op.method && contract::shape(e.pattern) == contract::shape(&op.path));
        let Some(row) = row else {
            problems.push(format!("{} {} ({}) has no row in the endpoint table", op.method, op.path, op.source));
            continue;
        };
        let mut published = op.scopes.clone();
        published.sort();
        if scope_names(row.scopes) != published {
            problems.push(format!(
                "{} {}: the table needs {:?}, the reference says {:?} ({})",
                op.method,
                op.path,
                scope_names(row.scopes),
                published,
                op.source
            ));
        }
        if op.authority == Authority::ApiReference && row.source != Source::Reference {
            problems.push(format!("{} {} is published: mark its row `ep(…)`", op.method, op.path));
        }
        if op.authority == Authority::ApiReference && row.pattern != op.path {
            problems
                .push(format!("{} {}: write the pattern as the reference does ({})", op.method, row.pattern, op.path));
        }
    }
    for row in ENDPOINTS {
        let published = reference
            .published()
            .any(|op| op.method == row.method && contract::shape(&op.path) == contract::shape(row.pattern));
        match row.source {
            Source::Reference if !published => {
                problems.push(format!("{} {} claims the reference but is not in it", row.method, row.pattern))
            }
            Source::Documented(page) | Source::Assumed(page) if page.trim().is_empty() => {
                problems.push(format!("{} {} needs a source", row.method, row.pattern))
            }
            _ => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_scope_of_the_reference_is_a_scope_the_app_knows() {
    let reference = contract::contract().unwrap();
    for op in reference.operations() {
        for scope in &op.scopes {
            assert!(scope.parse::<Scope>().is_ok(), "{} {} needs unknown scope {scope}", op.method, op.path);
        }
    }
}

// ---- response models ------------------------------------------------------------------------

mod models {
    use fanvue_app_starter::entitlements::Entitlement;
    use fanvue_app_starter::fanvue::contract::{self, Operation, resolve};
    use fanvue_app_starter::fanvue::models::*;
    use fanvue_app_starter::fanvue::pagination::{CursorPage, Page};
    use http::Method;
    use serde::Serialize;
    use serde::de::DeserializeOwned;
    use serde_json::{Map, Value, json};

    /// How the generator fills a schema.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Fill {
        /// Every property, lists with one item.
        Full,
        /// Only required properties, empty lists.
        Minimal,
        /// Only required properties, each `null` wherever its schema allows null; lists with
        /// one item so nested nulls are tried too.
        Nulls,
    }

    fn allows_null(schema: &Value) -> bool {
        match schema.get("type") {
            Some(Value::String(t)) => t == "null",
            Some(Value::Array(types)) => types.iter().any(|t| t == "null"),
            _ => schema.get("oneOf").and_then(Value::as_array).is_some_and(|v| v.iter().any(allows_null)),
        }
    }

    fn main_type(schema: &Value) -> Option<&str> {
        match schema.get("type")? {
            Value::String(t) => Some(t.as_str()),
            Value::Array(types) => types.iter().filter_map(Value::as_str).find(|t| *t != "null"),
            _ => None,
        }
    }

    /// Schema-valid instances of `schema` (one per `oneOf` branch).
    fn instances(schema: &Value, components: &Map<String, Value>, fill: Fill, depth: usize) -> Vec<Value> {
        let schema = resolve(schema, components);
        if depth > 12 {
            return vec![Value::Null];
        }
        if fill == Fill::Nulls && allows_null(schema) {
            return vec![Value::Null];
        }
        if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
            return branches.iter().flat_map(|b| instances(b, components, fill, depth + 1)).collect();
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            return values.iter().filter(|v| !v.is_null()).take(1).cloned().collect();
        }
        match main_type(schema) {
            Some("object") | None if schema.get("properties").is_some() || main_type(schema) == Some("object") => {
                let required: Vec<&str> = schema
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let mut variants = vec![Map::new()];
                if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                    for (name, property) in properties {
                        if fill != Fill::Full && !required.contains(&name.as_str()) {
                            continue;
                        }
                        let options = instances(property, components, fill, depth + 1);
                        // Branches multiply: keep every branch of the first variant, the first
                        // branch for the rest (enough to reach every branch once).
                        let mut next = Vec::new();
                        for (i, variant) in variants.iter().enumerate() {
                            for (j, option) in options.iter().enumerate() {
                                if i == 0 || j == 0 {
                                    let mut v = variant.clone();
                                    v.insert(name.clone(), option.clone());
                                    next.push(v);
                                }
                            }
                        }
                        if !next.is_empty() {
                            variants = next;
                        }
                    }
                }
                if fill == Fill::Full
                    && let Some(extra) = schema.get("additionalProperties").filter(|e| e.is_object())
                {
                    let option =
                        instances(extra, components, fill, depth + 1).into_iter().next().unwrap_or(Value::Null);
                    for v in &mut variants {
                        v.insert("extraKey".into(), option.clone());
                    }
                }
                variants.into_iter().map(Value::Object).collect()
            }
            Some("array") => {
                if fill == Fill::Minimal {
                    return vec![json!([])];
                }
                let items = schema.get("items").cloned().unwrap_or(Value::Null);
                instances(&items, components, fill, depth + 1).into_iter().map(|i| json!([i])).collect()
            }
            Some("string") => vec![match schema.get("format").and_then(Value::as_str) {
                Some("uuid") => json!("3fa85f64-5717-4562-b3fc-2c963f66afa6"),
                Some("date-time" | "date") => json!("2026-01-15T10:30:00.000Z"),
                Some("email") => json!("creator@example.com"),
                _ => json!("text"),
            }],
            // Counts and cents: Fanvue writes them as whole numbers (JavaScript never prints `3.0`).
            Some("number" | "integer") => vec![json!(3)],
            Some("boolean") => vec![json!(true)],
            Some("null") => vec![Value::Null],
            _ => vec![json!({})],
        }
    }

    type Decode = fn(&Value) -> Result<Value, String>;

    /// Decodes `value` as `T` and gives back what the model read (serialised again).
    fn decode<T: DeserializeOwned + Serialize>(value: &Value) -> Result<Value, String> {
        let model = serde_json::from_value::<T>(value.clone()).map_err(|e| e.to_string())?;
        serde_json::to_value(&model).map_err(|e| e.to_string())
    }

    /// Every field path of `value`, array indices as `*`: `/data/*/earnings/totalGross`.
    fn field_paths(value: &Value, at: &str, out: &mut std::collections::BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    let path = format!("{at}/{key}");
                    out.insert(path.clone());
                    field_paths(inner, &path, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| field_paths(i, &format!("{at}/*"), out)),
            _ => {}
        }
    }

    /// Every answer the app decodes, with the type it decodes it into. A new
    /// `get_json::<T>(path)` in the app belongs here.
    const MODELS: &[(Method, &str, Decode)] = &[
        (Method::GET, "/users/me", decode::<User>),
        (Method::GET, "/chats", decode::<Page<Chat>>),
        (Method::GET, "/chats/{userUuid}/messages", decode::<Page<Message>>),
        (Method::GET, "/creators/{creatorUserUuid}/chats/{userUuid}/messages", decode::<Page<Message>>),
        (Method::GET, "/chats/lists/smart", decode::<Vec<SmartList>>),
        (Method::GET, "/chats/lists/custom", decode::<Page<CustomList>>),
        (Method::GET, "/followers", decode::<Page<UserSummary>>),
        (Method::GET, "/subscribers", decode::<Page<UserSummary>>),
        (Method::GET, "/insights/earnings", decode::<CursorPage<Earning>>),
        (Method::GET, "/insights/subscribers", decode::<CursorPage<SubscriberDay>>),
        (Method::GET, "/insights/top-spenders", decode::<Page<TopSpender>>),
        (Method::GET, "/creators/{creatorUserUuid}/insights/earnings", decode::<CursorPage<Earning>>),
        (Method::GET, "/creators/{creatorUserUuid}/insights/subscribers", decode::<CursorPage<SubscriberDay>>),
        (Method::GET, "/creators/{creatorUserUuid}/insights/top-spenders", decode::<Page<TopSpender>>),
        (Method::GET, "/media", decode::<Page<Media>>),
        (Method::GET, "/media/{uuid}", decode::<UploadStatus>),
        (Method::GET, "/media/{uuid}", decode::<Media>),
        (Method::POST, "/media/uploads", decode::<UploadSession>),
        (Method::PATCH, "/media/uploads/{uploadId}", decode::<UploadStatus>),
        (Method::GET, "/vault/folders", decode::<Page<Folder>>),
        (Method::GET, "/vault/folders/{folderName}/media", decode::<Page<FolderItem>>),
        (Method::GET, "/posts", decode::<Page<Post>>),
        (Method::GET, "/posts/{uuid}", decode::<Post>),
        (Method::GET, "/tracking-links", decode::<CursorPage<TrackingLink>>),
        (Method::POST, "/tracking-links", decode::<TrackingLink>),
        (Method::GET, "/tracking-links/{uuid}/users", decode::<CursorPage<LinkUser>>),
        (Method::GET, "/creators", decode::<Page<ManagedCreator>>),
        (Method::GET, "/creators/{creatorUserUuid}/chats", decode::<Page<Chat>>),
        (Method::GET, "/creators/{creatorUserUuid}/followers", decode::<Page<UserSummary>>),
        (Method::GET, "/agencies/team-members", decode::<Vec<TeamMember>>),
        (Method::GET, "/apps/{appUuid}/subscription/me", decode::<Entitlement>),
    ];

    fn operation(method: &Method, path: &str) -> &'static Operation {
        contract::contract()
            .unwrap()
            .by_pattern(method, path)
            .unwrap_or_else(|| panic!("{method} {path} is not in the contract"))
    }

    #[test]
    fn every_response_model_reads_every_schema_valid_answer_including_nulls() {
        let mut problems = Vec::new();
        let mut checked = 0;
        for (method, path, decode) in MODELS {
            let op = operation(method, path);
            let schema = op.response_schema.clone().unwrap_or_else(|| panic!("{method} {path} has no schema"));
            // Every field any documented answer can have: a field the model reads must be one
            // of them, or a misnamed field (`gross` for `totalGross`) would silently read as 0.
            let mut documented = std::collections::BTreeSet::new();
            let mut read = std::collections::BTreeSet::new();
            for fill in [Fill::Full, Fill::Minimal, Fill::Nulls] {
                for instance in instances(&schema, &op.components, fill, 0) {
                    assert!(
                        op.response_is_valid(&instance),
                        "the generator made an invalid {fill:?} answer for {method} {path}: {instance}"
                    );
                    checked += 1;
                    match decode(&instance) {
                        Ok(model) if fill == Fill::Full => {
                            field_paths(&instance, "", &mut documented);
                            field_paths(&model, "", &mut read);
                        }
                        Ok(_) => {}
                        Err(error) => problems.push(format!("{method} {path} ({fill:?}): {error}\n    {instance}")),
                    }
                }
            }
            let unknown: Vec<&String> = read.difference(&documented).collect();
            if !unknown.is_empty() {
                problems
                    .push(format!("{method} {path}: the model reads fields the reference does not have: {unknown:?}"));
            }
        }
        assert!(checked > 100, "only {checked} answers were generated");
        assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
    }

    #[test]
    fn tracking_link_earnings_are_read_as_published() {
        // `earnings` is `{totalGross, totalNet}` (cents) or null: a link that earned $12.34 must not
        // show $0.00.
        let op = operation(&Method::GET, "/tracking-links");
        let answer = json!({"data": [{"uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "name": "Bio", "linkUrl": "fv-1",
            "externalSocialPlatform": "instagram", "createdAt": "2026-01-15T10:30:00.000Z", "clicks": 4,
            "earnings": {"totalGross": 1234, "totalNet": 987}}], "nextCursor": null});
        assert!(op.response_is_valid(&answer));
        let page: CursorPage<TrackingLink> = serde_json::from_value(answer).unwrap();
        assert_eq!(page.data[0].earnings.as_ref().map(|e| e.total_gross), Some(1234));
        let old = json!({"data": [{"uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "name": "Bio", "linkUrl": "fv-1",
            "externalSocialPlatform": "instagram", "createdAt": "2026-01-15T10:30:00.000Z", "clicks": 4,
            "earnings": {"gross": 1234, "net": 987}}], "nextCursor": null});
        assert!(!op.response_is_valid(&old), "the old {{gross, net}} shape is not Fanvue's");
    }
}

// ---- requests the client builds -------------------------------------------------------------

mod requests {
    use fanvue_app_starter::fanvue::contract;
    use fanvue_app_starter::fanvue::range::DayRange;
    use http::Method;
    use time::macros::date;

    #[test]
    fn the_insights_range_is_valid_for_the_creator_and_the_agency_routes() {
        let range = DayRange::new(date!(2026 - 10 - 28), date!(2026 - 11 - 26)).unwrap();
        let query: Vec<(String, String)> =
            range.query().into_iter().map(|(k, v)| (k.to_owned(), v)).chain([("size".into(), "50".into())]).collect();
        for path in [
            "/insights/earnings",
            "/insights/subscribers",
            "/insights/top-spenders",
            "/creators/{creatorUserUuid}/insights/earnings",
            "/creators/{creatorUserUuid}/insights/subscribers",
            "/creators/{creatorUserUuid}/insights/top-spenders",
        ] {
            let op = contract::contract().unwrap().by_pattern(&Method::GET, path).unwrap();
            let params = [("creatorUserUuid".to_owned(), "3fa85f64-5717-4562-b3fc-2c963f66afa6".to_owned())];
            let found = op.check_request(&params, &query, None);
            assert!(found.is_clean(), "{path}: {found:?}");
            // What the app sent before: bare dates.
            let bare = [("startDate".to_owned(), "2026-10-28".to_owned())];
            assert!(!op.check_request(&params, &bare, None).invalid.is_empty(), "{path} accepts a bare date");
        }
    }
}

// ---- every page, end to end -------------------------------------------------------------------

mod walk {
    use std::collections::{BTreeSet, VecDeque};

    use reqwest::{Client, StatusCode};

    use super::common::*;

    /// Same-origin page links of `page` (no API routes, no assets, no live streams).
    fn page_links(page: &str) -> Vec<String> {
        page.split("href=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(|h| h.replace("&#38;", "&").replace("&amp;", "&"))
            .filter(|h| h.starts_with('/') && !h.starts_with("//"))
            .filter(|h| !["/api/", "/static/", "/events/stream", "/premium/checkout"].iter().any(|p| h.starts_with(p)))
            .map(|h| h.split('#').next().unwrap_or_default().to_owned())
            .collect()
    }

    async fn post(app: &TestApp, c: &Client, path: &str, form: &[(&str, &str)]) -> StatusCode {
        c.post(app.url(path)).header("origin", app.origin()).form(form).send().await.unwrap().status()
    }

    /// Every page a signed-in creator can reach by following links, and every form once, with
    /// every scope granted: the sandbox checks each call against the published reference and
    /// records anything it does not document; nothing may be recorded.
    #[tokio::test]
    async fn a_creator_walking_every_page_makes_only_calls_the_reference_accepts() {
        let app = TestApp::spawn(&[]).await;
        let c = app.client();
        login(&app, &c).await;

        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::from(["/".to_owned(), "/chats?list=smart:subscribers".into(), "/premium".into()]);
        while let Some(path) = queue.pop_front() {
            // One visit per page shape: `/chats/A` and `/chats/B` are the same page.
            let shape: String = path
                .split(['/', '?', '&', '='])
                .map(|s| if s.len() >= 32 || s.chars().all(|c| c.is_ascii_digit()) { "*" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            if !seen.insert(shape) || seen.len() > 120 {
                continue;
            }
            let r = c.get(app.url(&path)).send().await.unwrap();
            let status = r.status();
            let page = r.text().await.unwrap();
            assert!(status == StatusCode::OK || status == StatusCode::SEE_OTHER, "{path}: {status}\n{page}");
            queue.extend(page_links(&page));
        }
        assert!(seen.len() > 25, "the walk reached only {} pages: {seen:?}", seen.len());

        // Every form once.
        const FAN: &str = "00000fa0-0000-4fa0-8000-000000000000";
        const MEDIA: &str = "0003ed1a-0001-4d1a-8000-000000000001";
        const POST: &str = "00009057-0000-4057-8000-000000000000";
        const LINK: &str = "000071c4-0000-41c4-8000-000000000000";
        const CREATOR: &str = "000c4ea7-0000-4ea7-8000-000000000000";
        for (path, form) in [
            (format!("/chats/{FAN}"), vec![("text", "Thanks!"), ("media", MEDIA), ("price", "9.99")]),
            (format!("/chats/{FAN}/state"), vec![("muted", "true")]),
            (format!("/chats/{FAN}/state"), vec![("read", "false")]),
            ("/posts".into(), vec![("text", "New set"), ("audience", "subscribers"), ("media", MEDIA), ("price", "5")]),
            (format!("/posts/{POST}/edit"), vec![("text", "Edited"), ("audience", "followers-and-subscribers")]),
            ("/links".into(), vec![("name", "Bio link"), ("platform", "instagram")]),
            (format!("/links/{LINK}/delete"), vec![]),
            ("/media/folders".into(), vec![("name", "Walk")]),
            ("/media/folders/Walk/attach".into(), vec![("media", MEDIA)]),
            ("/media/folders/Walk/rename".into(), vec![("name", "Walked")]),
            ("/media/folders/Walked/delete".into(), vec![]),
            ("/agency/invites".into(), vec![("email", "new.member@agency.test")]),
            (format!("/agency/creators/{CREATOR}/chats/{FAN}"), vec![("text", "Hi from the agency")]),
            ("/premium/recheck".into(), vec![("return_to", "/premium")]),
        ] {
            let status = post(&app, &c, &path, &form).await;
            assert_eq!(status, StatusCode::SEE_OTHER, "{path} {form:?}");
        }
        let part =
            reqwest::multipart::Part::bytes(vec![7u8; 300_000]).file_name("a.jpg").mime_str("image/jpeg").unwrap();
        let form = reqwest::multipart::Form::new().text("name", "Walk upload").part("file", part);
        let r = c.post(app.url("/media/upload")).header("origin", app.origin()).multipart(form).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap_or_default());

        let record: serde_json::Value =
            app.cookieless().get(app.sandbox_url("/_sandbox/contract")).send().await.unwrap().json().await.unwrap();
        assert_eq!(record["count"], 0, "calls the reference does not accept: {record:#}");
        assert!(app.stat("apiCalls").await > 40, "the walk called Fanvue");
    }
}
