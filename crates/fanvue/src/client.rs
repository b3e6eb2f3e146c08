//! [`FanvueClient`]: every Fanvue API call goes through [`FanvueClient::send`].
//!
//! `send` joins the checked path onto the API's base URL, adds `Authorization: Bearer` and
//! `X-Fanvue-API-Version`, relies on the HTTP client's timeouts and redirect policy (give it a
//! client that does not follow redirects: a redirect would carry the bearer token to wherever
//! it points), caps the response size, logs `Deprecation`/`Sunset` warnings, and keeps the
//! rate-limit headers. Typed reads ([`ApiResponse::json`]) and a JSON proxy are thin layers on
//! top.

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use http::{Method, StatusCode};
use oauth2::AccessToken;
use serde::de::DeserializeOwned;
use url::Url;

use crate::endpoints::{self, Lookup};
use crate::scopes::ScopeSet;
use crate::{ApiPath, FanvueError};

/// Largest upstream response body accepted (Fanvue's JSON pages are far smaller).
const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// Response headers worth keeping: passed back by the proxy, read by callers.
pub const KEPT_HEADERS: [&str; 8] = [
    "content-type",
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "deprecation",
    "sunset",
    "x-fanvue-api-next-version",
];

/// One request to the Fanvue API.
#[derive(Debug)]
pub struct ApiRequest {
    /// HTTP method.
    pub method: Method,
    /// Checked path below `API_BASE_URL`.
    pub path: ApiPath,
    /// Raw query string, passed through.
    pub query: Option<String>,
    /// JSON body for POST/PATCH/PUT.
    pub json_body: Option<Bytes>,
}

impl ApiRequest {
    /// A GET without query.
    pub fn get(path: ApiPath) -> Self {
        ApiRequest { method: Method::GET, path, query: None, json_body: None }
    }
}

/// Fanvue's answer, whatever its status.
#[derive(Debug)]
pub struct ApiResponse {
    /// Upstream status.
    pub status: StatusCode,
    /// The [`KEPT_HEADERS`] that were present.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
    /// Scopes the endpoint table lists for the call (for 403 messages).
    pub required: ScopeSet,
}

impl ApiResponse {
    /// `Retry-After` in seconds, when given as a number.
    pub fn retry_after(&self) -> Option<u64> {
        self.headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()
    }

    /// Turns a non-2xx status into its [`FanvueError`].
    pub fn error_for_status(self) -> Result<Self, FanvueError> {
        if self.status.is_success() {
            Ok(self)
        } else {
            Err(FanvueError::from_status(self.status, self.required, self.retry_after(), &self.body))
        }
    }

    /// Decodes a successful JSON body.
    pub fn json<T: DeserializeOwned>(self) -> Result<T, FanvueError> {
        let ok = self.error_for_status()?;
        serde_json::from_slice(&ok.body).map_err(|e| FanvueError::Decode(e.to_string()))
    }
}

/// The Fanvue API client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct FanvueClient {
    http: reqwest::Client,
    base: Url,
    version: HeaderValue,
}

impl FanvueClient {
    /// A client for the API at `base` (e.g. `https://api.fanvue.com`), sending `version` as
    /// `X-Fanvue-API-Version` (e.g. [`crate::API_VERSION`]) over `http`.
    pub fn new(base: Url, version: &str, http: reqwest::Client) -> Result<Self, FanvueError> {
        let version = HeaderValue::from_str(version).map_err(|e| FanvueError::Decode(e.to_string()))?;
        Ok(Self { http, base, version })
    }

    /// Sends one request. Returns Fanvue's answer whatever its status; only transport
    /// failures are errors here (use [`ApiResponse::error_for_status`] for the rest).
    pub async fn send(&self, request: ApiRequest, token: &AccessToken) -> Result<ApiResponse, FanvueError> {
        let required = match endpoints::lookup(&request.method, &request.path) {
            Lookup::Found(endpoint) => endpoint.required(),
            _ => ScopeSet::empty(),
        };
        let mut url = request
            .path
            .join_onto(&self.base)
            .ok_or_else(|| FanvueError::Decode("the API base URL cannot take a path".into()))?;
        url.set_query(request.query.as_deref().filter(|q| !q.is_empty()));
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .bearer_auth(token.secret())
            .header("x-fanvue-api-version", self.version.clone())
            .header(ACCEPT, "application/json");
        if let Some(body) = request.json_body {
            builder = builder.header(CONTENT_TYPE, "application/json").body(body);
        }
        let mut response = builder.send().await.map_err(transport_error)?;
        let status = response.status();
        let headers = kept_headers(response.headers());
        warn_if_deprecated(&headers, &request.path);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(FanvueError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        tracing::debug!(method = %request.method, path = %request.path, %status, "fanvue call");
        Ok(ApiResponse { status, headers, body: Bytes::from(body), required })
    }
}

impl FanvueClient {
    /// PUTs one part of a multipart upload to the presigned storage URL Fanvue handed out, and
    /// returns the part's `ETag` exactly as sent (quotes included; Fanvue needs it back as is).
    /// No bearer token and no API version go to storage: the URL's signature is the credential.
    pub async fn put_part(&self, url: &str, bytes: Bytes) -> Result<String, FanvueError> {
        let url = Url::parse(url).map_err(|e| FanvueError::Decode(format!("part URL: {e}")))?;
        // Plain http only where the API itself is a loopback stand-in (tests); Fanvue's
        // storage is always https.
        let loopback = |u: &Url| matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback(&url) && loopback(&self.base)) {
            return Err(FanvueError::Decode("the part URL is not https".into()));
        }
        // A part is megabytes: give it minutes, not the API calls' seconds.
        let timeout = std::time::Duration::from_secs(300);
        let response = self.http.put(url).timeout(timeout).body(bytes).send().await.map_err(transport_error)?;
        let status = response.status();
        if !status.is_success() {
            return Err(FanvueError::from_status(status, ScopeSet::empty(), None, &[]));
        }
        response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| FanvueError::Decode("storage returned no ETag".into()))
    }
}

fn transport_error(err: reqwest::Error) -> FanvueError {
    if err.is_timeout() {
        FanvueError::Timeout
    } else {
        // `without_url`: query strings can carry user data; keep logs clean.
        FanvueError::Transport(err.without_url().to_string())
    }
}

fn kept_headers(all: &HeaderMap) -> HeaderMap {
    let mut kept = HeaderMap::new();
    for name in KEPT_HEADERS {
        if let Some(value) = all.get(name) {
            kept.insert(HeaderName::from_static(name), value.clone());
        }
    }
    kept
}

fn warn_if_deprecated(headers: &HeaderMap, path: &ApiPath) {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if get("deprecation").is_some() || get("sunset").is_some() {
        tracing::warn!(
            %path,
            deprecation = get("deprecation"),
            sunset = get("sunset"),
            next_version = get("x-fanvue-api-next-version"),
            "Fanvue marks the API version in FANVUE_API_VERSION as deprecated; plan the upgrade"
        );
    }
}
