//! Fanvue's published API reference as data, and the checks built on it.
//!
//! `crates/fanvue/contract/fanvue-api.json` is the project's copy of Fanvue's API reference: one entry per
//! endpoint with its method, path, scopes, query and path parameters, JSON request body,
//! success status and response schema, each with the URL of the page it comes from. It is
//! derived from the public pages by `scripts/derive-contract` and never edited by hand;
//! endpoints Fanvue documents only in its guides come from `crates/fanvue/contract/supplement.json` and are
//! marked [`Authority::Guide`].
//!
//! Two kinds of check use it:
//! - [`Operation::check_request`]: the path parameters, query and body a client sends. The
//!   sandbox answers a value the reference refuses (a bare date where a `date-time` is
//!   required, an unknown enum value, a missing required field) with Fanvue's 400, and records
//!   anything the reference does not document (an unknown query parameter, a body where none
//!   is documented) so the contract tests can fail on it;
//! - [`Operation::check_response`]: the status and body of an answer, against the success
//!   status and response schema the reference publishes.
//!
//! Reading notes, where the reference is read rather than copied (the README lists them):
//! - `format: date` in answers: Fanvue's pages are generated from JavaScript `Date` fields,
//!   which Fern writes as `date`, and Fanvue sends date-times there; both forms are accepted.
//! - Query arrays are accepted as repeated keys or as a comma-separated value ("Comma-separated
//!   list of earning sources", the earnings page).
//! - A response documented as an object without any property (the upload part URL) describes
//!   nothing; Fanvue answers it with the URL as plain text, and its body is not checked.
//! - `oneOf` is read as `anyOf`: Fern writes TypeScript unions as `oneOf`, and its branches
//!   overlap (a media item is `{uuid, status}` or the same with every other field, so a ready
//!   item matches both branches and `oneOf` would refuse every one of them).
//! - Path parameters are text read by their schema, as query values are (`partNumber`).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use http::Method;
use jsonschema::Validator;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::ApiPath;

/// The reference, as committed.
const DOCUMENT: &str = include_str!("../contract/fanvue-api.json");

/// Where an entry comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authority {
    /// Fanvue's API reference pages (one OpenAPI block per endpoint).
    ApiReference,
    /// Fanvue's guides or its App Store OpenAPI excerpt (`crates/fanvue/contract/supplement.json`).
    Guide,
}

/// Where a parameter goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// A `{name}` segment of the path.
    Path,
    /// The query string.
    Query,
}

/// One documented parameter.
#[derive(Debug)]
pub struct Parameter {
    /// Its name, e.g. `startDate`.
    pub name: String,
    /// Path or query.
    pub location: Location,
    /// Whether the page marks it required.
    pub required: bool,
    /// Its schema with `$ref`s resolved one level (for converting query text to JSON).
    pub schema: Value,
    /// The page's description (carries constraints such as "1-50").
    pub description: String,
    check: Validator,
}

/// One endpoint of the reference.
#[derive(Debug)]
pub struct Operation {
    /// The page's operation id, e.g. `get-earnings`.
    pub id: String,
    /// HTTP method.
    pub method: Method,
    /// Path pattern as the page writes it, e.g. `/insights/fans/{userUuid}`.
    pub path: String,
    /// Scopes the page lists.
    pub scopes: Vec<String>,
    /// Where the entry comes from.
    pub authority: Authority,
    /// The page's URL.
    pub source: String,
    /// Query and path parameters.
    pub parameters: Vec<Parameter>,
    /// The documented success status (200, 201 or 204), if any.
    pub success_status: Option<u16>,
    /// The JSON request body schema, if the page documents one.
    pub request_schema: Option<Value>,
    /// The success response schema, if the page documents one.
    pub response_schema: Option<Value>,
    /// The components the schemas refer to (`#/components/schemas/…`).
    pub components: Map<String, Value>,
    body_check: Option<Validator>,
    response_check: Option<Validator>,
}

/// What a request check found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RequestFindings {
    /// Values the reference refuses: Fanvue answers these with 400.
    pub invalid: Vec<String>,
    /// Path parameters that are not of their documented format (Fanvue: 400 `{message}`).
    pub invalid_path: Vec<String>,
    /// Things the reference does not document (unknown query parameters, an undocumented body).
    pub undocumented: Vec<String>,
}

impl RequestFindings {
    /// Whether nothing was found.
    pub fn is_clean(&self) -> bool {
        self.invalid.is_empty() && self.invalid_path.is_empty() && self.undocumented.is_empty()
    }
}

/// The whole reference.
#[derive(Debug)]
pub struct Contract {
    operations: Vec<Operation>,
}

static CONTRACT: LazyLock<Result<Contract, String>> = LazyLock::new(|| Contract::parse(DOCUMENT));

/// The committed reference, parsed and compiled once. An `Err` means the committed file is
/// broken (a test catches that before it can ship).
pub fn contract() -> Result<&'static Contract, &'static str> {
    CONTRACT.as_ref().map_err(String::as_str)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDocument {
    endpoints: Vec<RawEndpoint>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEndpoint {
    operation: Option<String>,
    method: String,
    path: String,
    scopes: Vec<String>,
    authority: String,
    source: Option<String>,
    parameters: Vec<RawParameter>,
    request_body: Option<Value>,
    success: Option<RawSuccess>,
    components: Map<String, Value>,
}

#[derive(Deserialize)]
struct RawParameter {
    name: String,
    #[serde(rename = "in")]
    location: String,
    required: bool,
    schema: Value,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
struct RawSuccess {
    status: u16,
    schema: Option<Value>,
}

/// A date (`2026-01-31`) or a date-time: what Fanvue sends in fields typed `format: date`.
fn date_or_date_time(value: &str) -> bool {
    let date = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(value, &date).is_ok()
        || time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339).is_ok()
}

impl Contract {
    /// Parses and compiles a reference document.
    pub fn parse(document: &str) -> Result<Self, String> {
        let raw: RawDocument = serde_json::from_str(document).map_err(|e| format!("contract: {e}"))?;
        let operations = raw.endpoints.into_iter().map(Operation::compile).collect::<Result<Vec<_>, _>>()?;
        Ok(Contract { operations })
    }

    /// Every endpoint, in path order.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// The endpoints of Fanvue's API reference pages (not the guides).
    pub fn published(&self) -> impl Iterator<Item = &Operation> {
        self.operations.iter().filter(|op| op.authority == Authority::ApiReference)
    }

    /// The endpoint for `method` and `path`, most specific pattern first (`/chats/unread`
    /// before `/chats/{userUuid}`), with the path parameters' values by name.
    pub fn find(&self, method: &Method, path: &ApiPath) -> Option<(&Operation, Vec<(String, String)>)> {
        self.operations
            .iter()
            .filter(|op| op.method == *method)
            .filter_map(|op| op.match_path(path).map(|(score, params)| (score, op, params)))
            .max_by_key(|(score, ..)| *score)
            .map(|(_, op, params)| (op, params))
    }

    /// The endpoint whose pattern is `pattern` (parameter names ignored), for `method`.
    pub fn by_pattern(&self, method: &Method, pattern: &str) -> Option<&Operation> {
        let wanted = shape(pattern);
        self.operations.iter().find(|op| op.method == *method && shape(&op.path) == wanted)
    }
}

/// A pattern with its parameter names erased: `/chats/{userUuid}` → `/chats/{}`.
pub fn shape(pattern: &str) -> String {
    pattern.split('/').map(|s| if s.starts_with('{') { "{}" } else { s }).collect::<Vec<_>>().join("/")
}

fn compile(schema: &Value, components: &Map<String, Value>) -> Result<Validator, String> {
    // The schema with the components beside it, so `#/components/schemas/X` resolves.
    let mut root = match schema {
        Value::Object(map) => map.clone(),
        other => return Err(format!("a schema must be an object, found {other}")),
    };
    root.insert("components".into(), serde_json::json!({ "schemas": components }));
    let mut root = Value::Object(root);
    unions_as_any_of(&mut root);
    jsonschema::options()
        .should_validate_formats(true)
        .with_format("date", date_or_date_time)
        .build(&root)
        .map_err(|e| e.to_string())
}

/// Fern's `oneOf` unions, read as `anyOf` (see the module's reading notes).
fn unions_as_any_of(node: &mut Value) {
    match node {
        Value::Object(map) => {
            if let Some(branches) = map.remove("oneOf") {
                map.insert("anyOf".into(), branches);
            }
            map.values_mut().for_each(unions_as_any_of);
        }
        Value::Array(items) => items.iter_mut().for_each(unions_as_any_of),
        _ => {}
    }
}

/// An object schema with no property and nothing required documents nothing.
fn describes_nothing(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("object")
        && schema.get("properties").and_then(Value::as_object).is_none_or(Map::is_empty)
        && schema.get("required").is_none()
        && schema.get("additionalProperties").is_none()
}

impl Operation {
    fn compile(raw: RawEndpoint) -> Result<Self, String> {
        let context = format!("{} {}", raw.method, raw.path);
        let method = Method::from_bytes(raw.method.as_bytes()).map_err(|e| format!("{context}: {e}"))?;
        let components = raw.components;
        let parameters = raw
            .parameters
            .into_iter()
            .map(|p| {
                let location = match p.location.as_str() {
                    "path" => Location::Path,
                    "query" => Location::Query,
                    other => return Err(format!("{context}: parameter {} is in `{other}`", p.name)),
                };
                let check = compile(&p.schema, &components).map_err(|e| format!("{context} {}: {e}", p.name))?;
                let schema = resolve(&p.schema, &components).clone();
                Ok(Parameter {
                    name: p.name,
                    location,
                    required: p.required,
                    schema,
                    description: p.description,
                    check,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let body_check = raw.request_body.as_ref().map(|s| compile(s, &components)).transpose()?;
        let (success_status, response_schema) = match raw.success {
            Some(success) => (Some(success.status), success.schema),
            None => (None, None),
        };
        let response_check = response_schema
            .as_ref()
            .filter(|s| !describes_nothing(s))
            .map(|s| compile(s, &components))
            .transpose()
            .map_err(|e| format!("{context} response: {e}"))?;
        Ok(Operation {
            id: raw.operation.unwrap_or_default(),
            method,
            path: raw.path,
            scopes: raw.scopes,
            authority: if raw.authority == "guide" { Authority::Guide } else { Authority::ApiReference },
            source: raw.source.unwrap_or_default(),
            parameters,
            success_status,
            request_schema: raw.request_body,
            response_schema,
            components,
            body_check,
            response_check,
        })
    }

    /// The number of literal segments when `path` fits this pattern, and the parameters.
    fn match_path(&self, path: &ApiPath) -> Option<(usize, Vec<(String, String)>)> {
        let pattern: Vec<&str> = self.path.trim_start_matches('/').split('/').collect();
        if pattern.len() != path.len() {
            return None;
        }
        let mut literals = 0;
        let mut params = Vec::new();
        for (want, got) in pattern.iter().zip(path.segments()) {
            match want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                Some(name) => params.push((name.to_owned(), got.to_owned())),
                None if *want == got => literals += 1,
                None => return None,
            }
        }
        Some((literals, params))
    }

    /// Checks a request: path parameters (by name), query pairs (repeatable keys kept) and the
    /// raw body (`None` or empty: no body).
    pub fn check_request(
        &self,
        path_params: &[(String, String)],
        query: &[(String, String)],
        body: Option<&[u8]>,
    ) -> RequestFindings {
        let mut found = RequestFindings::default();
        for param in self.parameters.iter().filter(|p| p.location == Location::Path) {
            let Some((_, value)) = path_params.iter().find(|(name, _)| *name == param.name) else {
                found.invalid_path.push(format!("{} is missing from the path", param.name));
                continue;
            };
            // A segment is text, read by its schema as a query value is (`partNumber` is a number).
            let read = query_value(&param.schema, &self.components, &[value.as_str()]);
            if !read.is_ok_and(|v| param.check.is_valid(&v)) {
                let text = Value::String(value.clone());
                found.invalid_path.push(format!("{} {text} is not a valid {}", param.name, describe(&param.schema)));
            }
        }
        let mut by_name: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (key, value) in query {
            by_name.entry(key.as_str()).or_default().push(value.as_str());
        }
        for param in self.parameters.iter().filter(|p| p.location == Location::Query) {
            match by_name.remove(param.name.as_str()) {
                None if param.required => found.invalid.push(format!("{} is required", param.name)),
                None => {}
                Some(values) => match query_value(&param.schema, &self.components, &values) {
                    Err(message) => found.invalid.push(format!("{} {message}", param.name)),
                    Ok(value) => {
                        for error in param.check.iter_errors(&value) {
                            found.invalid.push(format!("{}{}: {error}", param.name, error.instance_path()));
                        }
                    }
                },
            }
        }
        for name in by_name.keys() {
            found
                .undocumented
                .push(format!("query parameter `{name}` is not documented for {} {}", self.method, self.path));
        }
        let body = body.filter(|b| !b.is_empty());
        match (&self.body_check, body) {
            (Some(check), Some(bytes)) => match serde_json::from_slice::<Value>(bytes) {
                Ok(json) => {
                    for error in check.iter_errors(&json) {
                        let at = error.instance_path().to_string();
                        found.invalid.push(if at.is_empty() { error.to_string() } else { format!("{at}: {error}") });
                    }
                }
                Err(_) => found.invalid.push("the body must be valid JSON".into()),
            },
            (Some(_), None) if self.method != Method::GET && self.method != Method::DELETE => {
                found.invalid.push("a JSON body is required".into());
            }
            (None, Some(_)) => {
                found.undocumented.push(format!("{} {} documents no request body", self.method, self.path))
            }
            _ => {}
        }
        found
    }

    /// Checks a 2xx answer against the documented success status and response schema.
    /// Returns what does not match (empty: it matches).
    pub fn check_response(&self, status: u16, body: &[u8]) -> Vec<String> {
        let mut problems = Vec::new();
        if !(200..300).contains(&status) {
            return problems;
        }
        if let Some(documented) = self.success_status
            && documented != status
        {
            problems.push(format!("answered {status}; the reference documents {documented}"));
        }
        if status == 204 {
            if !body.is_empty() {
                problems.push("a 204 answer must have no body".into());
            }
            return problems;
        }
        if let Some(check) = &self.response_check {
            match serde_json::from_slice::<Value>(body) {
                Ok(json) => problems.extend(check.iter_errors(&json).map(|e| {
                    let at = e.instance_path().to_string();
                    format!("{}: {e}", if at.is_empty() { "/" } else { &at })
                })),
                Err(_) => problems.push("the answer is not JSON".into()),
            }
        }
        problems
    }

    /// Whether a value is valid for this endpoint's documented response schema.
    pub fn response_is_valid(&self, value: &Value) -> bool {
        self.response_check.as_ref().is_none_or(|check| check.is_valid(value))
    }
}

/// `schema`, or what its `$ref` points to.
pub fn resolve<'a>(schema: &'a Value, components: &'a Map<String, Value>) -> &'a Value {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .and_then(|name| components.get(name))
        .unwrap_or(schema)
}

/// The first non-null type a schema names.
fn main_type(schema: &Value) -> Option<&str> {
    match schema.get("type")? {
        Value::String(t) => Some(t.as_str()),
        Value::Array(types) => types.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

fn describe(schema: &Value) -> String {
    match (schema.get("format").and_then(Value::as_str), schema.get("enum")) {
        (Some(format), _) => format.to_owned(),
        (None, Some(values)) => format!("value ({values})"),
        _ => main_type(schema).unwrap_or("value").to_owned(),
    }
}

/// The JSON value a query parameter's text stands for, by its schema: numbers and booleans
/// parsed, arrays from repeated keys or comma-separated values.
fn query_value(schema: &Value, components: &Map<String, Value>, values: &[&str]) -> Result<Value, String> {
    let scalar = |schema: &Value, text: &str| -> Result<Value, String> {
        match main_type(resolve(schema, components)) {
            Some("integer") => {
                text.parse::<i64>().map(Value::from).map_err(|_| format!("must be a whole number, not `{text}`"))
            }
            Some("number") => text
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .and_then(|n| {
                    if n.fract() == 0.0 && n.abs() < 1e15 {
                        // Whole numbers stay integers, as JSON would write them.
                        Some(Value::from(n as i64))
                    } else {
                        serde_json::Number::from_f64(n).map(Value::Number)
                    }
                })
                .ok_or_else(|| format!("must be a number, not `{text}`")),
            Some("boolean") => match text {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(format!("must be true or false, not `{text}`")),
            },
            _ => Ok(Value::String(text.to_owned())),
        }
    };
    let schema = resolve(schema, components);
    if main_type(schema) == Some("array") {
        let items = schema.get("items").unwrap_or(&Value::Null);
        let mut out = Vec::new();
        for text in values.iter().flat_map(|v| v.split(',')).filter(|v| !v.is_empty()) {
            out.push(scalar(items, text)?);
        }
        return Ok(Value::Array(out));
    }
    match values {
        [one] => scalar(schema, one),
        _ => Err("is given more than once".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(method: Method, path: &str) -> &'static Operation {
        let contract = contract().unwrap();
        contract.find(&method, &ApiPath::parse(path).unwrap()).unwrap().0
    }

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_committed_reference_loads_with_every_published_endpoint() {
        let contract = contract().unwrap();
        assert_eq!(contract.published().count(), 73);
        assert!(contract.operations().iter().all(|op| op.source.starts_with("https://")), "every entry has a source");
    }

    #[test]
    fn literal_segments_win_and_parameters_are_named() {
        let (found, params) =
            contract().unwrap().find(&Method::GET, &ApiPath::parse("/chats/unread").unwrap()).unwrap();
        assert_eq!(found.path, "/chats/unread");
        assert!(params.is_empty());
        let (found, params) = contract()
            .unwrap()
            .find(&Method::GET, &ApiPath::parse("/insights/fans/00000fa0-0001-4fa0-8000-000000000001").unwrap())
            .unwrap();
        assert_eq!(found.path, "/insights/fans/{userUuid}");
        assert_eq!(params[0].0, "userUuid");
    }

    #[test]
    fn insights_dates_must_be_date_times() {
        let earnings = op(Method::GET, "/insights/earnings");
        let bare = earnings.check_request(&[], &q(&[("startDate", "2026-10-28")]), None);
        assert_eq!(bare.invalid.len(), 1, "{bare:?}");
        let full =
            earnings.check_request(&[], &q(&[("startDate", "2026-10-28T00:00:00Z"), ("source", "tip,post")]), None);
        assert!(full.is_clean(), "{full:?}");
        let bad_source = earnings.check_request(&[], &q(&[("source", "tips")]), None);
        assert_eq!(bad_source.invalid.len(), 1, "{bad_source:?}");
        let unknown = earnings.check_request(&[], &q(&[("from", "x")]), None);
        assert_eq!(unknown.undocumented.len(), 1);
    }

    #[test]
    fn bodies_and_path_parameters_are_checked() {
        let link = op(Method::POST, "/tracking-links");
        assert!(link.check_request(&[], &[], Some(br#"{"name":"x","externalSocialPlatform":"instagram"}"#)).is_clean());
        let bad = link.check_request(&[], &[], Some(br#"{"name":"x","externalSocialPlatform":"myspace"}"#));
        assert_eq!(bad.invalid.len(), 1, "{bad:?}");
        let fan = op(Method::GET, "/insights/fans/abc");
        let found = fan.check_request(&[("userUuid".into(), "abc".into())], &[], None);
        assert_eq!(found.invalid_path.len(), 1, "{found:?}");
    }

    #[test]
    fn answers_are_checked_against_status_and_schema() {
        let unread = op(Method::GET, "/chats/unread");
        let problems =
            unread.check_response(200, br#"{"unreadChatsCount":1,"unreadMessagesCount":2,"unreadNotifications":{}}"#);
        assert!(!problems.is_empty(), "required counters are missing");
        let link = op(Method::POST, "/tracking-links");
        assert!(link.check_response(200, b"{}").iter().any(|p| p.contains("documents 201")));
        let part = op(Method::GET, "/media/uploads/u/parts/1/url");
        assert!(part.check_response(200, b"https://storage.example/part").is_empty(), "documents nothing");
    }

    #[test]
    fn overlapping_union_branches_match_and_path_numbers_are_read_as_numbers() {
        let media = op(Method::GET, "/media/00000000-0000-4000-8000-000000000000");
        let ready =
            br#"{"uuid":"00000000-0000-4000-8000-000000000000","status":"ready","createdAt":"2026-01-05T10:00:00.000Z",
            "caption":null,"name":"x","mediaType":"image","recommendedPrice":null}"#;
        assert!(media.check_response(200, ready).is_empty(), "{:?}", media.check_response(200, ready));
        let part = op(Method::GET, "/media/uploads/u/parts/1/url");
        let params = |n: &str| [("uploadId".to_owned(), "u".to_owned()), ("partNumber".to_owned(), n.to_owned())];
        assert!(part.check_request(&params("1"), &[], None).is_clean());
        assert_eq!(part.check_request(&params("one"), &[], None).invalid_path.len(), 1);
    }
}
