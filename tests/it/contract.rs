//! Contract tests: the client, the pages and the sandbox against Fanvue's published API
//! reference (`crates/fanvue/contract/fanvue-api.json`, derived from the public pages by
//! `scripts/derive-contract`). Nothing here reaches outside the repository.

use fanvue::contract::{self, Authority};
use fanvue::endpoints::{ENDPOINTS, Source};
use fanvue::scopes::Scope;

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
    use fanvue::contract::{self, Operation, resolve};
    use fanvue::models::*;
    use fanvue::pagination::{CursorPage, Page};
    use fanvue_app_starter::auth::entitlement::Entitlement;
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
    use fanvue::contract;
    use fanvue::range::DayRange;
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

    use crate::harness::*;

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
        for page in [
            "*/chats/*",
            "*/insights",
            "*/media/folders/Beach%202026",
            "*/posts/*/edit",
            "*/links/*/users",
            "*/agency/creators/*",
        ] {
            assert!(seen.contains(page), "the walk did not reach {page}: {seen:?}");
        }

        // A fan of the managed creator (each managed creator has fans of their own).
        let act_as = c.get(app.url(&format!("/agency/creators/{CREATOR}"))).send().await.unwrap().text().await.unwrap();
        let send_as = act_as
            .split("action=\"")
            .filter_map(|a| a.split('"').next())
            .find(|a| a.starts_with("/agency/creators/"))
            .unwrap()
            .to_owned();

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
            (send_as, vec![("text", "Hi from the agency")]),
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

// ---- the sandbox against the reference ---------------------------------------------------

mod sandbox {
    //! The sandbox's router in process, signed in with every scope.
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode, header};
    use base64::Engine;
    use fanvue::scopes::{Scope, ScopeSet};
    use fanvue_sandbox::{AppSettings, RegisteredClient, SandboxState, Settings, crypto, router};

    const REDIRECT: &str = "https://localhost:3001/api/oauth/callback";
    use http_body_util::BodyExt;
    use serde_json::Value;
    use sha2::Digest;
    use tower::ServiceExt;

    pub struct Sandbox {
        app: Router,
        token: String,
    }

    pub struct Reply {
        pub status: StatusCode,
        pub body: Vec<u8>,
    }

    impl Reply {
        pub fn json(&self) -> Value {
            serde_json::from_slice(&self.body).unwrap_or(Value::Null)
        }
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.body).into_owned()
        }
    }

    impl Sandbox {
        /// A fresh sandbox (its own seeded world) and an access token with every scope.
        pub async fn start() -> Sandbox {
            // A budget no test run reaches: these tests call every endpoint, some twice.
            let client = RegisteredClient {
                id: fanvue_sandbox::CLIENT_ID.to_owned(),
                secret: "contract-test-client-secret".to_owned(),
                redirect_uris: vec![REDIRECT.to_owned()],
            };
            let mut settings =
                Settings::for_app(client.clone(), AppSettings::new("https://localhost:3001", ScopeSet::all()));
            settings.rate_limit = 100_000;
            let app = router(SandboxState::new(&settings, "https://127.0.0.1:3002", "contract-test-signing"));
            let mut sandbox = Sandbox { app, token: String::new() };
            sandbox.token = sandbox.sign_in(&client).await;
            sandbox
        }

        async fn sign_in(&self, client: &RegisteredClient) -> String {
            let verifier = crypto::random_token(32);
            let challenge = crypto::b64(&sha2::Sha256::digest(verifier.as_bytes()));
            let scope: Vec<&str> =
                ["openid", "offline_access"].into_iter().chain(Scope::ALL.iter().map(|(_, name)| *name)).collect();
            let redirect = REDIRECT;
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("response_type", "code")
                .append_pair("client_id", &client.id)
                .append_pair("redirect_uri", redirect)
                .append_pair("scope", &scope.join(" "))
                .append_pair("state", "state-0123456789")
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256")
                .finish();
            let page = self.raw(Request::get(format!("/oauth2/auth?{query}")).body(Body::empty()).unwrap()).await;
            let page = page.text();
            let start = page.find("name=\"challenge\" value=\"").unwrap() + 24;
            let consent = &page[start..start + page[start..].find('"').unwrap()];
            let request = Request::post("/oauth2/consent")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("challenge={consent}&decision=allow")))
                .unwrap();
            let response = self.app.clone().oneshot(request).await.unwrap();
            let location = response.headers()[header::LOCATION].to_str().unwrap().to_owned();
            let code =
                url::Url::parse(&location).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", client.id, client.secret));
            let form = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "authorization_code")
                .append_pair("code", &code)
                .append_pair("code_verifier", &verifier)
                .append_pair("redirect_uri", redirect)
                .finish();
            let request = Request::post("/oauth2/token")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::AUTHORIZATION, format!("Basic {basic}"))
                .body(Body::from(form))
                .unwrap();
            let reply = self.raw(request).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
            reply.json()["access_token"].as_str().unwrap().to_owned()
        }

        pub async fn raw(&self, request: Request<Body>) -> Reply {
            let response = self.app.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
            Reply { status, body }
        }

        /// An API call: `path` with its query, as Fanvue's clients send it.
        pub async fn api(&self, method: &Method, path: &str, body: Option<&Value>) -> Reply {
            let mut request = Request::builder()
                .method(method)
                .uri(format!("/api{path}"))
                .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
                .header("x-fanvue-api-version", "2025-06-26");
            if body.is_some() {
                request = request.header(header::CONTENT_TYPE, "application/json");
            }
            let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
            self.raw(request.body(body).unwrap()).await
        }

        pub async fn try_get(&self, path: &str) -> Reply {
            self.api(&Method::GET, path, None).await
        }

        pub async fn get(&self, path: &str) -> Value {
            let reply = self.api(&Method::GET, path, None).await;
            assert!(reply.status.is_success(), "GET {path}: {} {}", reply.status, reply.text());
            reply.json()
        }

        /// Stores bytes at a presigned part URL (S3's role); returns the ETag.
        pub async fn put_part(&self, url: &str) -> Result<String, String> {
            let url = url::Url::parse(url).map_err(|_| format!("the part URL is not a URL: {url}"))?;
            let target = format!("{}?{}", url.path(), url.query().unwrap_or_default());
            let request = Request::put(target).body(Body::from(vec![7u8; 1024])).unwrap();
            let response = self.app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            Ok(response.headers()[header::ETAG].to_str().unwrap().to_owned())
        }

        /// `GET /_sandbox/contract`.
        pub async fn violations(&self) -> Value {
            self.raw(Request::get("/_sandbox/contract").body(Body::empty()).unwrap()).await.json()
        }
    }
}

use axum::http::{Method, StatusCode};
use contract::Operation;
use sandbox::Sandbox;
use serde_json::{Value, json};

/// What one endpoint's call needs besides its path: the ETag of the upload part the test put.
#[derive(Default)]
struct Fixture {
    etag: Option<String>,
}

fn first(list: &Value, pointer: &str) -> Result<String, String> {
    let items = list.get("data").unwrap_or(list);
    items
        .as_array()
        .and_then(|a| a.first())
        .and_then(|item| item.pointer(pointer))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("no item with {pointer} in {list}"))
}

fn segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The part of `base` that addresses a creator (`/creators/<uuid>`), or nothing.
fn scope_of(base: &str) -> &str {
    base.strip_prefix("/creators/").map_or("", |rest| &base[..10 + rest.find('/').unwrap_or(rest.len())])
}

/// A value for path parameter `name`, read from the sandbox's own list answers; `base` is the
/// path up to the parameter, already filled in.
async fn fill(sb: &Sandbox, base: &str, name: &str, fixture: &mut Fixture) -> Result<String, String> {
    let literal = base.rsplit('/').next().unwrap_or_default();
    let scope = scope_of(base);
    Ok(match (literal, name) {
        ("creators", _) => first(&sb.get("/creators").await, "/uuid")?,
        ("chats", _) => first(&sb.get(base).await, "/user/uuid")?,
        ("fans", _) => first(&sb.get(&format!("{scope}/subscribers")).await, "/uuid")?,
        ("smart" | "custom" | "templates" | "posts" | "tracking-links", _) => first(&sb.get(base).await, "/uuid")?,
        ("members", _) => first(&sb.get(base.trim_end_matches("/members")).await, "/uuid")?,
        ("messages", _) => {
            let fan = base.trim_end_matches("/messages").rsplit('/').next().unwrap_or_default();
            let page = sb.get(&format!("{base}?size=50")).await;
            let own = page["data"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|m| m["sender"]["uuid"] != fan && m["purchasedAt"].is_null() && m["type"] != "BROADCAST");
            own.and_then(|m| m["uuid"].as_str()).map(str::to_owned).ok_or("no message of the creator's to delete")?
        }
        ("media", "uuid") => first(&sb.get(base).await, "/uuid")?,
        ("media", "mediaUuid") => first(&sb.get(base).await, "/uuid")?,
        ("folders", _) => {
            let folders = sb.get(base).await;
            let full = folders["data"].as_array().into_iter().flatten().find(|f| f["mediaCount"].as_u64() > Some(0));
            segment(full.and_then(|f| f["name"].as_str()).ok_or("no folder with media")?)
        }
        ("uploads", _) => {
            let started = sb
                .api(&Method::POST, base, Some(&json!({"name": "Contract", "filename": "c.jpg", "mediaType": "image"})))
                .await;
            let upload =
                started.json()["uploadId"].as_str().ok_or(format!("POST {base}: {}", started.text()))?.to_owned();
            let url = sb.api(&Method::GET, &format!("{base}/{upload}/parts/1/url"), None).await.text();
            fixture.etag = Some(sb.put_part(&url).await?);
            upload
        }
        ("parts", _) => "1".to_owned(),
        ("apps", _) => fanvue_sandbox::APP_UUID.to_owned(),
        _ => return Err(format!("the test cannot fill {{{name}}} after {base}: teach `fill` where to read one")),
    })
}

/// A fan of the scope's creator who has no chat yet.
async fn fan_without_chat(sb: &Sandbox, scope: &str) -> Result<String, String> {
    let chats = sb.get(&format!("{scope}/chats?size=50")).await;
    let chatting: Vec<&Value> = chats["data"].as_array().into_iter().flatten().map(|c| &c["user"]["uuid"]).collect();
    for audience in ["subscribers", "followers"] {
        let fans = sb.get(&format!("{scope}/{audience}?size=50")).await;
        let free = fans["data"].as_array().into_iter().flatten().map(|f| &f["uuid"]).find(|u| !chatting.contains(u));
        if let Some(uuid) = free.and_then(Value::as_str) {
            return Ok(uuid.to_owned());
        }
    }
    Err("every fan has a chat".to_owned())
}

/// A valid body for `op` (paths under `/creators/{c}` take their creator-less twin's).
async fn body_for(sb: &Sandbox, op: &Operation, path: &str, fixture: &Fixture) -> Result<Value, String> {
    let shape = contract::shape(&op.path);
    let key = shape.strip_prefix("/creators/{}").unwrap_or(&shape);
    let scope = scope_of(path);
    let subscriber = || async { first(&sb.get(&format!("{scope}/subscribers")).await, "/uuid") };
    Ok(match (op.method.as_str(), key) {
        ("POST", "/chats") => json!({"userUuid": fan_without_chat(sb, scope).await?}),
        ("PATCH", "/chats/{}") => json!({"isMuted": false, "nickname": "Contract"}),
        ("POST", "/chats/{}/message") => json!({"text": "Hello from the contract test"}),
        ("POST", "/chats/statuses") => json!({"userUuids": [subscriber().await?]}),
        ("POST", "/chats/mass-messages") => {
            json!({"text": "Hello everyone", "includedLists": {"smartListUuids": ["subscribers"]}})
        }
        ("POST", "/chats/lists/custom") => json!({"name": "Contract list"}),
        ("PATCH", "/chats/lists/custom/{}") => json!({"name": "Contract list, renamed"}),
        ("POST", "/chats/lists/custom/{}/members") => json!({"userUuids": [subscriber().await?]}),
        ("POST", "/media/uploads") => json!({"name": "Contract", "filename": "contract.jpg", "mediaType": "image"}),
        ("PATCH", "/media/uploads/{}") => {
            json!({"parts": [{"PartNumber": 1, "ETag": fixture.etag.clone().ok_or("no part was uploaded")?}]})
        }
        ("POST", "/posts") => json!({"audience": "subscribers", "text": "A post from the contract test"}),
        ("PATCH", "/posts/{}") => json!({"text": "Edited by the contract test"}),
        ("POST", "/tracking-links") => json!({"name": "Contract link", "externalSocialPlatform": "instagram"}),
        ("POST", "/vault/folders") => json!({"name": "Contract folder"}),
        ("PATCH", "/vault/folders/{}") => json!({"name": "Contract folder, renamed"}),
        ("POST", "/vault/folders/{}/media") => json!({"mediaUuids": [first(&sb.get("/media").await, "/uuid")?]}),
        ("POST", "/agencies/invites") => json!({"email": "new.member@agency.test"}),
        ("POST", "/webhooks/subscriptions") => {
            json!({"url": "https://localhost:3001/api/webhooks/fanvue", "events": ["message.received"]})
        }
        _ => return Err(format!("the test has no valid body for {} {}: add one to `body_for`", op.method, op.path)),
    })
}

/// Query parameters worth sending where documented (a range, the variants to sign).
fn query_for(op: &Operation) -> String {
    let now = time::OffsetDateTime::now_utc();
    let stamp = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
    let mut pairs = Vec::new();
    for p in &op.parameters {
        match p.name.as_str() {
            "startDate" => pairs.push(format!("startDate={}", segment(&stamp(now - time::Duration::days(90))))),
            "endDate" => pairs.push(format!("endDate={}", segment(&stamp(now)))),
            "variants" => pairs.push("variants=main,thumbnail".to_owned()),
            _ => {}
        }
    }
    if pairs.is_empty() { String::new() } else { format!("?{}", pairs.join("&")) }
}

/// Calls one endpoint with valid parameters and checks its answer independently.
async fn exercise(sb: &Sandbox, op: &Operation) -> Result<(), String> {
    let mut fixture = Fixture::default();
    let mut path = String::new();
    for part in op.path.trim_start_matches('/').split('/') {
        let value = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) => fill(sb, &path, name, &mut fixture).await?,
            None => part.to_owned(),
        };
        path = format!("{path}/{value}");
    }
    let body = match &op.request_schema {
        Some(_) => Some(body_for(sb, op, &path, &fixture).await?),
        None => None,
    };
    let target = format!("{path}{}", query_for(op));
    let reply = sb.api(&op.method, &target, body.as_ref()).await;
    if !reply.status.is_success() {
        return Err(format!("{} {target}: {} {}", op.method, reply.status, reply.text()));
    }
    let problems = op.check_response(reply.status.as_u16(), &reply.body);
    if !problems.is_empty() {
        return Err(format!("{} {target} ({}):\n  {}", op.method, op.source, problems.join("\n  ")));
    }
    Ok(())
}

#[tokio::test]
async fn every_answer_the_sandbox_gives_for_every_published_endpoint_validates_against_the_published_response_schema() {
    let sb = Sandbox::start().await;
    let reference = contract::contract().unwrap();
    let mut operations: Vec<&Operation> = reference.operations().iter().collect();
    assert!(operations.len() >= 80, "the reference and its guide entries");
    // Deletions last, the deepest first: each removes something no later call needs.
    operations.sort_by_key(|op| {
        let delete = op.method == Method::DELETE;
        (delete, std::cmp::Reverse(if delete { op.path.matches('/').count() } else { 0 }))
    });
    let mut problems = Vec::new();
    for op in operations {
        if let Err(problem) = exercise(&sb, op).await {
            problems.push(problem);
        }
    }
    let violations = sb.violations().await;
    let unexpected: Vec<&Value> = violations["violations"].as_array().unwrap().iter().collect();
    assert!(
        problems.is_empty(),
        "{} endpoints answered against the reference:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(unexpected.is_empty(), "the sandbox recorded contract violations: {unexpected:#?}");
}

#[tokio::test]
async fn the_sandbox_refuses_what_the_reference_refuses_as_fanvue_does() {
    let sb = Sandbox::start().await;
    let errors = |reply: &sandbox::Reply| -> Vec<String> {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
        let list = reply.json()["errors"].as_array().cloned().unwrap_or_else(|| panic!("no errors: {}", reply.text()));
        list.iter().map(|e| e.as_str().unwrap().to_owned()).collect()
    };

    let bare = errors(&sb.try_get("/insights/earnings?startDate=2026-10-28").await);
    assert_eq!(bare, [r#"startDate: "2026-10-28" is not a "date-time""#]);
    let creator = "/creators/000c4ea7-0000-4ea7-8000-000000000000";
    assert_eq!(errors(&sb.try_get(&format!("{creator}/insights/subscribers?endDate=2026-10-28")).await).len(), 1);
    let filter = errors(&sb.try_get("/chats?filter=unread&filter=bogus").await);
    assert!(filter.len() == 1 && filter[0].starts_with("filter/1: \"bogus\" is not one of"), "{filter:?}");
    for size in ["0", "51"] {
        let too = errors(&sb.try_get(&format!("/chats?size={size}")).await);
        assert_eq!(too, ["size must be an integer between 1 and 50"]);
    }
    assert_eq!(errors(&sb.try_get("/insights/earnings?cursor=bm90LWEtY3Vyc29y").await), ["cursor is invalid"]);
    let range =
        errors(&sb.try_get("/insights/top-spenders?startDate=2026-10-28T00:00:00Z&endDate=2026-10-01T00:00:00Z").await);
    assert_eq!(range, ["startDate must be before endDate"]);
    let myspace = json!({"name": "x", "externalSocialPlatform": "myspace"});
    assert_eq!(errors(&sb.api(&Method::POST, "/tracking-links", Some(&myspace)).await).len(), 1);

    let bad_uuid = sb.try_get("/posts/not-a-uuid").await;
    assert_eq!(bad_uuid.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_uuid.json()["message"], r#"uuid "not-a-uuid" is not a valid uuid"#);
    assert_eq!(sb.try_get(&format!("{creator}/chats/nope/messages")).await.status, StatusCode::BAD_REQUEST);
    let unknown_creator = sb.try_get("/creators/000c4ea7-0000-4ea7-8000-00000000ffff/chats").await;
    assert_eq!(unknown_creator.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown_creator.json()["message"], "Creator not found");

    assert_eq!(sb.violations().await["count"], 0, "a refusal is not a violation");
}

#[tokio::test]
async fn what_the_reference_does_not_document_is_served_but_recorded() {
    let sb = Sandbox::start().await;
    let reply = sb.api(&Method::GET, "/chats?size=5&unreadOnly=true", None).await;
    assert_eq!(reply.status, StatusCode::OK, "Fanvue ignores unknown parameters");
    let reply = sb.api(&Method::GET, "/posts", Some(&json!({"page": 2}))).await;
    assert_eq!(reply.status, StatusCode::OK);
    let recorded = sb.violations().await;
    assert_eq!(recorded["count"], 2, "{recorded:#}");
    assert_eq!(
        recorded["violations"][0],
        json!({"method": "GET", "path": "/chats", "kind": "request",
               "message": "query parameter `unreadOnly` is not documented for GET /chats"})
    );
    assert_eq!(recorded["violations"][1]["message"], "GET /posts documents no request body");
    let stats = sb.raw(axum::http::Request::get("/_sandbox/stats").body(axum::body::Body::empty()).unwrap()).await;
    assert_eq!(stats.json()["contract_violations"], 2);
}
