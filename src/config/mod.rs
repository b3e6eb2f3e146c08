//! Configuration: every environment variable read once, into types, at start-up.
//!
//! Names follow the official Next.js starter so its `.env` can be brought over. Values come
//! from the process environment and `.env` (loaded by `main` through dotenvy); an empty value
//! counts as unset. Every problem is collected and reported together, each naming the variable
//! and how to fix it, so a newcomer fixes their `.env` in one pass. Nothing below this module
//! reads the environment.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use fanvue::scopes::ScopeSet;

/// Minimum length of `SESSION_SECRET`, in characters.
pub const MIN_SECRET_LEN: usize = 32;

/// The session cookie's default name. `__Host-` makes the browser accept the cookie only from
/// this exact host, over https, with `Path=/` and no `Domain`: a sibling subdomain (or a page
/// on plain http) cannot plant a session cookie of that name, which would otherwise log the
/// victim into the attacker's account (login fixation).
pub const DEFAULT_SESSION_COOKIE_NAME: &str = "__Host-fanvue_oauth";

/// The whole configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// OAuth client settings.
    pub oauth: OAuthConfig,
    /// Fanvue REST API settings.
    pub api: ApiConfig,
    /// Public origin of this app, e.g. `https://my-fanvue-app.dev:3001`.
    pub base_url: Url,
    /// Session cookie and store.
    pub session: SessionConfig,
    /// Listener settings.
    pub server: ServerConfig,
    /// `METRICS_TOKEN`: bearer token for `/metrics` (and `/readyz` details); unset, only a client
    /// on this host may read them, and nobody with `TLS_TERMINATED_BY_PROXY`.
    pub metrics_token: Option<SecretString>,
    /// `RATE_LIMIT_PER_MINUTE`: requests per client IP per minute to `/api/oauth/*` and
    /// `/api/fanvue/*` (0 turns the limit off).
    pub rate_limit_per_minute: u32,
    /// `TRUSTED_PROXIES`: addresses whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// `FANVUE_BUDGET_PER_MINUTE`: Fanvue calls per user (and per managed creator) a minute
    /// before the app answers 429 itself (Fanvue allows 200); 0 turns it off.
    pub fanvue_budget_per_minute: u32,
    /// Media upload limits.
    pub uploads: UploadLimits,
    /// Webhook receiving: secrets, tolerance, event store, worker.
    pub webhooks: WebhooksConfig,
    /// `OPERATOR_USER_UUIDS`: the Fanvue users (lower-case UUIDs, as `GET /users/me` names
    /// them) who run this app: they see every creator's webhook events, refused deliveries and
    /// the subscriptions (`/operator/events`). Empty by default: nobody.
    pub operators: Vec<String>,
    /// Embedding in Fanvue (iframe).
    pub embed: EmbedConfig,
    /// Paid apps: the App Store entitlement check.
    pub app_store: AppStoreConfig,
}

/// Embedding in Fanvue's iframe.
#[derive(Clone, Debug)]
pub struct EmbedConfig {
    /// `FANVUE_PLATFORM_URL`: origins allowed to frame `/embedded` (`frame-ancestors`),
    /// default `https://www.fanvue.com`; space- or comma-separated.
    pub platform_origins: Vec<String>,
    /// `EMBEDDED_SESSION_COOKIE_NAME`, default `{SESSION_COOKIE_NAME}_embedded`
    /// (`__Host-fanvue_oauth_embedded`).
    pub cookie_name: String,
    /// `EMBEDDED_EXCHANGE` (and `FANVUE_EMBED_AUTHORIZE_URL`): how the injected session token
    /// becomes OAuth tokens.
    pub exchange: EmbedExchange,
}

/// How an embedded app trades Fanvue's injected session token for tokens
/// (the embedded feature carries it out).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmbedExchange {
    /// `authorize-on-behalf` (default): Fanvue's documented delegated flow. The session token
    /// goes to Fanvue's authorize half at `authorize_url` (`FANVUE_EMBED_AUTHORIZE_URL`,
    /// default `{OAUTH_ISSUER_BASE_URL}/oauth2/authorize-on-behalf`, an assumption: the path is
    /// not public), which answers with a code the app redeems with its secret and PKCE verifier.
    AuthorizeOnBehalf {
        /// Where the authorize half is.
        authorize_url: Url,
    },
    /// `jwt-bearer`: the session token as an RFC 7523 assertion at the token endpoint.
    JwtBearer,
}

/// Paid apps (Fanvue App Store).
#[derive(Clone, Debug)]
pub struct AppStoreConfig {
    /// `FANVUE_APP_UUID`: the app's UUID in Fanvue's Builder; unset, paid routes explain
    /// how to set it.
    pub app_uuid: Option<String>,
    /// `FANVUE_APP_PLAN_UUID`: the plan the checkout deeplink preselects.
    pub plan_uuid: Option<String>,
    /// `FANVUE_APP_STORE_URL`: the app's listing, default
    /// `{first FANVUE_PLATFORM_URL}/app-store/{FANVUE_APP_UUID}`.
    pub listing_url: Option<Url>,
    /// `ENTITLEMENT_CACHE_SECS`: how long a subscription check is reused per session.
    pub cache_ttl: Duration,
}

impl AppStoreConfig {
    /// Where a user without a plan is sent: the listing, plan preselected, checkout opened.
    pub fn checkout_url(&self) -> Option<Url> {
        let mut url = self.listing_url.clone()?;
        if let Some(plan) = &self.plan_uuid {
            url.query_pairs_mut().append_pair("plan", plan).append_pair("action", "checkout");
        }
        Some(url)
    }
}

pub use fanvue::oauth::{OAuthConfig, ResponseMode};

/// Fanvue REST API settings.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// `API_BASE_URL` without a trailing slash.
    pub base_url: Url,
    /// `FANVUE_API_VERSION`, sent as `X-Fanvue-API-Version` on every call.
    pub version: String,
    /// `UPSTREAM_TIMEOUT_SECS`: total time allowed for one upstream call.
    pub timeout: Duration,
    /// Extra PEM roots the HTTP client trusts, besides the system's: `UPSTREAM_CA_FILE`, and
    /// the sandbox's self-signed certificate.
    pub extra_root_pem: Option<Vec<u8>>,
    /// `PROFILE_CACHE_SECS`: how long pages reuse a session's profile read (`0`: never).
    pub profile_cache_ttl: Duration,
}

/// Session settings.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// `SESSION_SECRET`: the master key for sealing sessions (redacted in `Debug`).
    pub secret: SecretString,
    /// `SESSION_SECRET_PREVIOUS`: the secret being rotated out; records sealed with it are
    /// re-sealed with `SESSION_SECRET` as they are used.
    pub previous_secret: Option<SecretString>,
    /// `SESSION_COOKIE_NAME`, default [`DEFAULT_SESSION_COOKIE_NAME`].
    pub cookie_name: String,
    /// `SESSION_STORE`.
    pub store: StoreKind,
    /// `SESSION_TTL_HOURS`: a session unused for this long expires.
    pub ttl: Duration,
}

/// Webhook receiving, as configured (the webhooks feature builds its verifier and sealing
/// keys from it).
#[derive(Clone, Debug)]
pub struct WebhooksConfig {
    /// `FANVUE_WEBHOOK_SECRET` then `FANVUE_WEBHOOK_SECRET_PREVIOUS` (redacted in `Debug`).
    pub secrets: Vec<SecretString>,
    /// `FANVUE_WEBHOOK_TOLERANCE_SECS`: how old a signature's timestamp may be.
    pub tolerance: Duration,
    /// `WEBHOOK_STORE`, by default the session store.
    pub store: StoreKind,
    /// `WEBHOOK_HANDLER_TIMEOUT_SECS`.
    pub handler_timeout: Duration,
    /// `WEBHOOK_MAX_ATTEMPTS`.
    pub max_attempts: u32,
    /// `WEBHOOK_RETENTION_DAYS`.
    pub retention: Duration,
}

/// Where sessions (and, by default, webhook events) are kept: the one store URL type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// A SQLite file (created with its folder when missing).
    Sqlite(PathBuf),
    /// Process memory: lost at restart, one instance only.
    Memory,
    /// Redis, shared by every instance (`redis://…` or `rediss://…`).
    Redis(String),
}

/// Listener settings.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// `BIND_ADDRESS`, default `0.0.0.0`.
    pub bind: IpAddr,
    /// `PORT`, default 3001.
    pub port: u16,
    /// How TLS is provided.
    pub tls: TlsSetting,
    /// Connection, stream and idle limits of the listener.
    pub limits: ConnectionLimits,
}

/// What one client, and all of them, may hold open (see README, "Operating it").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// `HTTP_IDLE_TIMEOUT_SECS`: a connection with no request in progress for this long is
    /// closed (HTTP/2 with GOAWAY), default 60.
    pub idle_timeout: Duration,
    /// `HTTP2_KEEPALIVE_INTERVAL_SECS`: an HTTP/2 connection is pinged this often, default 30.
    pub keepalive_interval: Duration,
    /// `HTTP2_KEEPALIVE_TIMEOUT_SECS`: a ping unanswered this long closes the connection (a
    /// dead peer), default 20.
    pub keepalive_timeout: Duration,
    /// `HTTP2_MAX_CONCURRENT_STREAMS`: requests in flight on one HTTP/2 connection, default 100.
    pub max_streams: u32,
    /// `MAX_CONNECTIONS`: open connections for the whole instance, default 1024.
    pub max_connections: usize,
    /// `MAX_CONNECTIONS_PER_IP`: open connections per client address (IPv6: per /64), default
    /// 64. Connections from `TRUSTED_PROXIES` count against `MAX_CONNECTIONS` only.
    pub max_connections_per_ip: usize,
}

/// Limits of `POST /media/upload`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadLimits {
    /// `UPLOAD_SLOTS`: uploads streaming at once on this instance (each holds one part in
    /// memory), default 4.
    pub slots: usize,
    /// `UPLOAD_SLOTS_PER_USER`: of those, how many one Fanvue user may hold, default 1.
    pub slots_per_user: usize,
    /// `UPLOAD_IDLE_TIMEOUT_SECS`: an upload whose body sends nothing for this long is aborted
    /// and its slot freed, default 60.
    pub idle_timeout: Duration,
}

/// How the listener gets TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsSetting {
    /// Certificate and key from these PEM files (must exist).
    Files {
        /// Certificate chain.
        cert: PathBuf,
        /// Private key.
        key: PathBuf,
    },
    /// `certs/<host>.pem` and `certs/<host>-key.pem`, generated self-signed when missing.
    Auto {
        /// The `BASE_URL` host the certificate is named after.
        host: String,
    },
    /// `TLS_TERMINATED_BY_PROXY=true`: plain HTTP for a TLS-terminating proxy in front.
    TerminatedByProxy,
}

/// One configuration problem: which variable, what is wrong, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The variable's name.
    pub var: &'static str,
    /// What is wrong with it.
    pub message: String,
}

/// Every problem found in the configuration.
#[derive(Debug, Clone)]
pub struct ConfigError(pub Vec<Problem>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "configuration error ({} problem(s)):", self.0.len())?;
        for problem in &self.0 {
            writeln!(f, "  - {}: {}", problem.var, problem.message)?;
        }
        write!(f, "Set these in .env (copy .env.example) or the environment; see docs/configuration.md.")?;
        // Nothing of Fanvue's configured at all: most likely a first run, which needs none.
        if self.0.iter().any(|p| p.var == "OAUTH_CLIENT_ID") {
            write!(
                f,
                "\nJust trying it out? `cargo run -- --sandbox` runs against the built-in sandbox with no configuration."
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Reads variables through a lookup function, treating empty values as unset and
/// collecting problems instead of stopping at the first.
struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<Problem>,
}

impl Reader<'_> {
    fn get(&self, var: &str) -> Option<String> {
        (self.lookup)(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    fn problem(&mut self, var: &'static str, message: impl Into<String>) {
        self.problems.push(Problem { var, message: message.into() });
    }

    fn required(&mut self, var: &'static str, fix: &str) -> String {
        self.get(var).unwrap_or_else(|| {
            self.problem(var, format!("is not set; {fix}"));
            String::new()
        })
    }

    /// A whole number of at least 1.
    fn at_least_one(&mut self, var: &'static str, default: u64, unit: &str) -> u64 {
        let value: u64 = self.parsed(var, default, &format!("a whole number of {unit}"));
        if value == 0 {
            self.problem(var, format!("must be at least 1 (unset it for the default, {default})"));
            return default;
        }
        value
    }

    fn secs(&mut self, var: &'static str, default: u64) -> Duration {
        Duration::from_secs(self.at_least_one(var, default, "seconds"))
    }

    fn count(&mut self, var: &'static str, default: usize, unit: &str) -> usize {
        usize::try_from(self.at_least_one(var, default as u64, unit)).unwrap_or(default)
    }

    fn parsed<T: std::str::FromStr>(&mut self, var: &'static str, default: T, expected: &str) -> T {
        match self.get(var) {
            None => default,
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                self.problem(var, format!("`{raw}` is not {expected}"));
                default
            }),
        }
    }

    /// An absolute URL, https unless its host is loopback (for plain-HTTP test stand-ins).
    fn upstream_url(&mut self, var: &'static str, default: &str) -> Url {
        let raw = self.get(var).unwrap_or_else(|| default.to_owned());
        let url = self.url(var, &raw);
        if url.scheme() == "http" && !is_loopback(&url) {
            self.problem(
                var,
                format!("`{raw}` uses http://; use https:// (plain http is allowed only for loopback hosts such as 127.0.0.1)"),
            );
        }
        url
    }

    /// An absolute https URL without query or fragment, trailing slash removed.
    fn url(&mut self, var: &'static str, raw: &str) -> Url {
        match Url::parse(raw) {
            Ok(mut url)
                if matches!(url.scheme(), "http" | "https")
                    && url.host().is_some()
                    && url.query().is_none()
                    && url.fragment().is_none() =>
            {
                let trimmed = url.path().trim_end_matches('/').to_owned();
                url.set_path(&trimmed);
                url
            }
            _ => {
                self.problem(
                    var,
                    format!("`{raw}` is not an absolute http(s) URL without query, e.g. https://example.com"),
                );
                fallback_url()
            }
        }
    }

    fn https_url(&mut self, var: &'static str, raw: &str) -> Url {
        let url = self.url(var, raw);
        if url.scheme() != "https" {
            self.problem(
                var,
                format!("`{raw}` must use https:// (session cookies are Secure; browsers drop them over http)"),
            );
        }
        url
    }
}

fn fallback_url() -> Url {
    // A constant that always parses; only used to keep going after a reported problem.
    Url::parse("https://invalid.example").unwrap_or_else(|_| unreachable_url())
}

#[expect(clippy::unwrap_used, reason = "a literal URL known to parse")]
fn unreachable_url() -> Url {
    Url::parse("https://localhost").unwrap()
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl Config {
    /// Reads the configuration from the process environment (after `.env` was loaded).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|var| std::env::var(var).ok())
    }

    /// Reads the configuration through `lookup`: the environment, a map in tests, or the
    /// environment seen through the sandbox (`--sandbox`, which supplies the provider's
    /// settings and defaults for the rest).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut r = Reader { lookup, problems: Vec::new() };
        let port: u16 = r.parsed("PORT", 3001, "a port number (0-65535)");
        let bind: IpAddr =
            r.parsed("BIND_ADDRESS", IpAddr::from([0, 0, 0, 0]), "an IP address such as 0.0.0.0 or 127.0.0.1");

        let base_raw = r.get("BASE_URL").unwrap_or_else(|| "https://my-fanvue-app.dev:3001".to_owned());
        let base_url = r.https_url("BASE_URL", &base_raw);
        if base_url.path() != "" && base_url.path() != "/" {
            r.problem("BASE_URL", "must be an origin without a path, e.g. https://my-fanvue-app.dev:3001");
        }

        let redirect_raw =
            r.get("OAUTH_REDIRECT_URI").unwrap_or_else(|| format!("{}/api/oauth/callback", origin(&base_url)));
        let redirect_uri = redirect_uri(&mut r, &redirect_raw, &base_url);

        let client_id =
            r.required("OAUTH_CLIENT_ID", "copy the Client ID of your app in Fanvue's Builder (Developer area)");
        let client_secret = SecretString::from(r.required(
            "OAUTH_CLIENT_SECRET",
            "copy the Client Secret shown once when the app was created in Fanvue's Builder (regenerate it if lost)",
        ));
        let issuer = r.upstream_url("OAUTH_ISSUER_BASE_URL", "https://auth.fanvue.com");
        let api_base = r.upstream_url("API_BASE_URL", "https://api.fanvue.com");

        let scopes = match r.get("OAUTH_SCOPES") {
            Some(list) => ScopeSet::parse_strict(&list).unwrap_or_else(|err| {
                r.problem(
                    "OAUTH_SCOPES",
                    format!("{err}. List the scopes ticked for your app in Fanvue's Builder, space-separated"),
                );
                ScopeSet::empty()
            }),
            None => ScopeSet::parse_granted("read:self"),
        };

        let response_mode = match r.get("OAUTH_RESPONSE_MODE").as_deref() {
            None | Some("query") => ResponseMode::Query,
            Some("form_post") => ResponseMode::FormPost,
            Some(other) => {
                r.problem("OAUTH_RESPONSE_MODE", format!("`{other}` is not `query` or `form_post`"));
                ResponseMode::Query
            }
        };
        let prompt = r.get("OAUTH_PROMPT");
        if let Some(p) = &prompt
            && !p.split(' ').all(|v| matches!(v, "none" | "login" | "consent" | "select_account"))
        {
            r.problem("OAUTH_PROMPT", format!("`{p}` is not one of none, login, consent, select_account"));
        }

        let version = r.get("FANVUE_API_VERSION").unwrap_or_else(|| "2025-06-26".to_owned());
        if !is_api_version(&version) {
            r.problem("FANVUE_API_VERSION", format!("`{version}` is not a date like 2025-06-26"));
        }
        let timeout = Duration::from_secs(r.parsed("UPSTREAM_TIMEOUT_SECS", 15, "a whole number of seconds"));
        // A corporate TLS-inspecting proxy, or a local stand-in for Fanvue with its own CA.
        let extra_root_pem = r.get("UPSTREAM_CA_FILE").and_then(|path| match std::fs::read(&path) {
            Ok(pem) if pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") => Some(pem),
            Ok(_) => {
                r.problem("UPSTREAM_CA_FILE", format!("`{path}` holds no PEM certificate"));
                None
            }
            Err(e) => {
                r.problem("UPSTREAM_CA_FILE", format!("`{path}` cannot be read: {e}"));
                None
            }
        });
        let profile_cache_ttl =
            Duration::from_secs(r.parsed("PROFILE_CACHE_SECS", 30, "a whole number of seconds (0 turns it off)"));

        let secret = r.required("SESSION_SECRET", "generate one with `openssl rand -hex 32` (at least 32 characters)");
        if !secret.is_empty() && secret.chars().count() < MIN_SECRET_LEN {
            r.problem(
                "SESSION_SECRET",
                format!(
                    "is {} characters; it must be at least {MIN_SECRET_LEN}. Generate one with `openssl rand -hex 32`",
                    secret.chars().count()
                ),
            );
        }
        let previous_secret = r.get("SESSION_SECRET_PREVIOUS");
        if let Some(previous) = &previous_secret {
            if previous.chars().count() < MIN_SECRET_LEN {
                r.problem(
                    "SESSION_SECRET_PREVIOUS",
                    format!("must be at least {MIN_SECRET_LEN} characters, like SESSION_SECRET"),
                );
            }
            if *previous == secret {
                r.problem(
                    "SESSION_SECRET_PREVIOUS",
                    "is the same as SESSION_SECRET; set it to the secret being replaced, or unset it",
                );
            }
        }
        // A custom name is allowed (the Next.js starter's `fanvue_oauth` still works), at the
        // price of the `__Host-` guarantees; the README says why.
        let cookie_name = r.get("SESSION_COOKIE_NAME").unwrap_or_else(|| DEFAULT_SESSION_COOKIE_NAME.to_owned());
        if !cookie_name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            r.problem(
                "SESSION_COOKIE_NAME",
                format!("`{cookie_name}` may only contain letters, digits, `-`, `_` and `.`"),
            );
        }
        let store = match r.get("SESSION_STORE") {
            None => StoreKind::Sqlite(PathBuf::from("data/sessions.db")),
            Some(s) if s == "memory" => StoreKind::Memory,
            Some(s) if s.starts_with("redis://") || s.starts_with("rediss://") => StoreKind::Redis(s),
            Some(s) => match s.strip_prefix("sqlite://") {
                Some(path) if !path.is_empty() => StoreKind::Sqlite(PathBuf::from(path)),
                _ => {
                    r.problem(
                        "SESSION_STORE",
                        format!("`{s}` is not `sqlite://PATH`, `redis://HOST:PORT` or `memory`"),
                    );
                    StoreKind::Memory
                }
            },
        };
        let ttl_hours: u64 = r.parsed("SESSION_TTL_HOURS", 24 * 30, "a whole number of hours");

        let tls = tls_setting(&mut r, &base_url);
        let rate_limit_per_minute: u32 =
            r.parsed("RATE_LIMIT_PER_MINUTE", 120, "a whole number (0 turns the limit off)");
        let trusted_proxies: Vec<IpAddr> = match r.get("TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .filter_map(|s| match s.parse() {
                    Ok(ip) => Some(ip),
                    Err(_) => {
                        r.problem(
                            "TRUSTED_PROXIES",
                            format!("`{s}` is not an IP address; list your proxies' addresses, comma-separated"),
                        );
                        None
                    }
                })
                .collect(),
        };
        let fanvue_budget_per_minute: u32 =
            r.parsed("FANVUE_BUDGET_PER_MINUTE", 190, "a whole number (Fanvue allows 200; 0 turns the budget off)");
        let limits = connection_limits(&mut r);
        let uploads = UploadLimits {
            slots: r.count("UPLOAD_SLOTS", 4, "uploads"),
            slots_per_user: r.count("UPLOAD_SLOTS_PER_USER", 1, "uploads"),
            idle_timeout: r.secs("UPLOAD_IDLE_TIMEOUT_SECS", 60),
        };
        let webhooks = webhook_config(&mut r, &store);
        let operators = operators(&mut r);
        let embed = embed_config(&mut r, &cookie_name, &issuer);
        let app_store = app_store_config(&mut r, &embed);
        let metrics_token = r.get("METRICS_TOKEN");
        if metrics_token.as_ref().is_some_and(|t| t.chars().count() < 16) {
            r.problem("METRICS_TOKEN", "must be at least 16 characters (or unset it to allow loopback clients only)");
        }

        if !r.problems.is_empty() {
            return Err(ConfigError(r.problems));
        }
        Ok(Config {
            oauth: OAuthConfig { client_id, client_secret, scopes, redirect_uri, issuer, response_mode, prompt },
            api: ApiConfig { base_url: api_base, version, timeout, extra_root_pem, profile_cache_ttl },
            base_url,
            session: SessionConfig {
                secret: SecretString::from(secret),
                previous_secret: previous_secret.map(SecretString::from),
                cookie_name,
                store,
                ttl: Duration::from_secs(ttl_hours.saturating_mul(3600)),
            },
            server: ServerConfig { bind, port, tls, limits },
            metrics_token: metrics_token.map(SecretString::from),
            rate_limit_per_minute,
            trusted_proxies,
            fanvue_budget_per_minute,
            uploads,
            webhooks,
            operators,
            embed,
            app_store,
        })
    }

    /// The app's public origin as a string without a trailing slash.
    pub fn origin(&self) -> String {
        origin(&self.base_url)
    }

    /// The session master secret.
    pub fn session_secret(&self) -> &str {
        self.session.secret.expose_secret()
    }
}

/// `OAUTH_REDIRECT_URI`, kept exactly as written (Fanvue compares it character for
/// character), on `BASE_URL`'s origin (or the session cookie would not reach the callback),
/// at a path the app can serve.
fn redirect_uri(r: &mut Reader<'_>, raw: &str, base_url: &Url) -> Url {
    const VAR: &str = "OAUTH_REDIRECT_URI";
    let Ok(url) = Url::parse(raw) else {
        r.problem(
            VAR,
            format!("`{raw}` is not an absolute URL, e.g. https://my-fanvue-app.dev:3001/api/oauth/callback"),
        );
        return fallback_url();
    };
    if url.scheme() != "https" {
        r.problem(VAR, format!("`{raw}` must use https:// (Fanvue requires it, and session cookies are Secure)"));
    } else if url.origin() != base_url.origin() {
        r.problem(
            VAR,
            format!(
                "`{raw}` is not on BASE_URL's origin ({}); the session cookie would not reach the callback",
                origin(base_url)
            ),
        );
    } else if url.query().is_some() || url.fragment().is_some() {
        r.problem(VAR, format!("`{raw}` must not have a query or fragment"));
    } else if matches!(url.path(), "" | "/") || ["/api/fanvue", "/static"].iter().any(|p| url.path().starts_with(p)) {
        r.problem(VAR, format!("`{raw}` needs a path of its own, such as /api/oauth/callback"));
    }
    url
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            idle_timeout: Duration::from_secs(60),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(20),
            max_streams: 100,
            max_connections: 1024,
            max_connections_per_ip: 64,
        }
    }
}

fn connection_limits(r: &mut Reader<'_>) -> ConnectionLimits {
    let d = ConnectionLimits::default();
    let max_streams = usize::try_from(d.max_streams).unwrap_or(usize::MAX);
    ConnectionLimits {
        idle_timeout: r.secs("HTTP_IDLE_TIMEOUT_SECS", d.idle_timeout.as_secs()),
        keepalive_interval: r.secs("HTTP2_KEEPALIVE_INTERVAL_SECS", d.keepalive_interval.as_secs()),
        keepalive_timeout: r.secs("HTTP2_KEEPALIVE_TIMEOUT_SECS", d.keepalive_timeout.as_secs()),
        max_streams: u32::try_from(r.count("HTTP2_MAX_CONCURRENT_STREAMS", max_streams, "streams")).unwrap_or(u32::MAX),
        max_connections: r.count("MAX_CONNECTIONS", d.max_connections, "connections"),
        max_connections_per_ip: r.count("MAX_CONNECTIONS_PER_IP", d.max_connections_per_ip, "connections"),
    }
}

fn tls_setting(r: &mut Reader<'_>, base_url: &Url) -> TlsSetting {
    let plain = r.parsed("TLS_TERMINATED_BY_PROXY", false, "`true` or `false`");
    let cert = r.get("TLS_CERT_PATH");
    let key = r.get("TLS_KEY_PATH");
    if plain {
        if cert.is_some() || key.is_some() {
            r.problem(
                "TLS_TERMINATED_BY_PROXY",
                "is true, so TLS_CERT_PATH/TLS_KEY_PATH would be ignored; unset one or the other",
            );
        }
        return TlsSetting::TerminatedByProxy;
    }
    match (cert, key) {
        (Some(cert), Some(key)) => {
            for (var, path) in [("TLS_CERT_PATH", &cert), ("TLS_KEY_PATH", &key)] {
                if !std::path::Path::new(path).is_file() {
                    r.problem(var, format!("`{path}` does not exist or is not a file; fix the path or unset both TLS_CERT_PATH and TLS_KEY_PATH to use certs/"));
                }
            }
            TlsSetting::Files { cert: cert.into(), key: key.into() }
        }
        (None, None) => TlsSetting::Auto { host: base_url.host_str().unwrap_or("localhost").to_owned() },
        (Some(_), None) => {
            r.problem("TLS_KEY_PATH", "is not set while TLS_CERT_PATH is; set both or neither");
            TlsSetting::TerminatedByProxy
        }
        (None, Some(_)) => {
            r.problem("TLS_CERT_PATH", "is not set while TLS_KEY_PATH is; set both or neither");
            TlsSetting::TerminatedByProxy
        }
    }
}

fn webhook_config(r: &mut Reader<'_>, sessions: &StoreKind) -> WebhooksConfig {
    let mut secrets: Vec<SecretString> = Vec::new();
    if let Some(secret) = r.get("FANVUE_WEBHOOK_SECRET") {
        secrets.push(secret.into());
    }
    if let Some(previous) = r.get("FANVUE_WEBHOOK_SECRET_PREVIOUS") {
        if secrets.is_empty() {
            r.problem(
                "FANVUE_WEBHOOK_SECRET_PREVIOUS",
                "is set but FANVUE_WEBHOOK_SECRET is not; set the current secret too",
            );
        }
        secrets.push(previous.into());
    }
    let tolerance = Duration::from_secs(r.parsed("FANVUE_WEBHOOK_TOLERANCE_SECS", 300, "a whole number of seconds"));
    let store = match r.get("WEBHOOK_STORE") {
        Some(s) if s == "memory" => StoreKind::Memory,
        Some(s) if s.starts_with("redis://") || s.starts_with("rediss://") => StoreKind::Redis(s),
        Some(s) => match s.strip_prefix("sqlite://") {
            Some(path) if !path.is_empty() => StoreKind::Sqlite(PathBuf::from(path)),
            _ => {
                r.problem("WEBHOOK_STORE", format!("`{s}` is not `sqlite://PATH`, `redis://HOST:PORT` or `memory`"));
                StoreKind::Memory
            }
        },
        // The same backend as sessions: their SQLite file, memory, or their Redis (so every
        // instance behind a load balancer sees every event).
        None => sessions.clone(),
    };
    let handler_timeout =
        Duration::from_secs(r.parsed("WEBHOOK_HANDLER_TIMEOUT_SECS", 60, "a whole number of seconds").max(1));
    let max_attempts: u32 = r.parsed("WEBHOOK_MAX_ATTEMPTS", 8, "a whole number of attempts").max(1);
    let retention_days: u64 = r.parsed("WEBHOOK_RETENTION_DAYS", 30, "a whole number of days");
    WebhooksConfig {
        secrets,
        tolerance,
        store,
        handler_timeout,
        max_attempts,
        retention: Duration::from_secs(retention_days.saturating_mul(86_400)),
    }
}

/// `OPERATOR_USER_UUIDS`, comma- or space-separated. UUIDs, not handles: a handle can be
/// changed, and then taken by someone else.
fn operators(r: &mut Reader<'_>) -> Vec<String> {
    const VAR: &str = "OPERATOR_USER_UUIDS";
    let Some(list) = r.get(VAR) else { return Vec::new() };
    let mut operators = Vec::new();
    for item in list.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty()) {
        if fanvue::path::is_uuid(item) {
            operators.push(item.to_ascii_lowercase());
        } else {
            r.problem(
                VAR,
                format!(
                    "`{item}` is not a UUID; list the operators' Fanvue user UUIDs (the `uuid` of \
                     /api/fanvue/users/me while signed in), comma-separated"
                ),
            );
        }
    }
    operators
}

fn embed_config(r: &mut Reader<'_>, session_cookie: &str, issuer: &Url) -> EmbedConfig {
    let raw = r.get("FANVUE_PLATFORM_URL").unwrap_or_else(|| "https://www.fanvue.com".to_owned());
    let mut platform_origins = Vec::new();
    for item in raw.split([',', ' ']).filter(|s| !s.is_empty()) {
        match Url::parse(item) {
            Ok(url) if url.scheme() == "https" && url.host().is_some() && matches!(url.path(), "" | "/") => {
                platform_origins.push(origin(&url));
            }
            _ => r.problem(
                "FANVUE_PLATFORM_URL",
                format!("`{item}` is not an https origin such as https://www.fanvue.com (list several with commas)"),
            ),
        }
    }
    let cookie_name = r.get("EMBEDDED_SESSION_COOKIE_NAME").unwrap_or_else(|| format!("{session_cookie}_embedded"));
    if cookie_name == session_cookie || !cookie_name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        r.problem(
            "EMBEDDED_SESSION_COOKIE_NAME",
            "must differ from SESSION_COOKIE_NAME and contain only letters, digits, `-`, `_` and `.`",
        );
    }
    let exchange = embed_exchange(r, issuer);
    EmbedConfig { platform_origins, cookie_name, exchange }
}

/// `EMBEDDED_EXCHANGE` and, for the default, `FANVUE_EMBED_AUTHORIZE_URL` (derived from the
/// issuer when unset).
fn embed_exchange(r: &mut Reader<'_>, issuer: &Url) -> EmbedExchange {
    const URL_VAR: &str = "FANVUE_EMBED_AUTHORIZE_URL";
    let default_url = format!("{}{}", issuer.as_str().trim_end_matches('/'), fanvue::oauth::AUTHORIZE_ON_BEHALF_PATH);
    let configured_url = r.get(URL_VAR);
    match r.get("EMBEDDED_EXCHANGE").as_deref() {
        None | Some("authorize-on-behalf") => {
            let authorize_url = match configured_url {
                // Set: checked like the other upstream URLs. Derived: the issuer was checked.
                Some(_) => r.upstream_url(URL_VAR, &default_url),
                None => r.url(URL_VAR, &default_url),
            };
            EmbedExchange::AuthorizeOnBehalf { authorize_url }
        }
        Some("jwt-bearer") => {
            if configured_url.is_some() {
                r.problem(URL_VAR, "is set but EMBEDDED_EXCHANGE=jwt-bearer does not use it; unset one or the other");
            }
            EmbedExchange::JwtBearer
        }
        Some(other) => {
            r.problem(
                "EMBEDDED_EXCHANGE",
                format!(
                    "`{other}` is not `authorize-on-behalf` (the default, Fanvue's documented flow) or `jwt-bearer`"
                ),
            );
            EmbedExchange::JwtBearer
        }
    }
}

fn app_store_config(r: &mut Reader<'_>, embed: &EmbedConfig) -> AppStoreConfig {
    let uuid_var = |r: &mut Reader<'_>, var: &'static str| {
        let value = r.get(var)?;
        if fanvue::path::is_uuid(&value) {
            Some(value.to_ascii_lowercase())
        } else {
            r.problem(var, format!("`{value}` is not a UUID; copy it from your app in Fanvue's Builder"));
            None
        }
    };
    let app_uuid = uuid_var(r, "FANVUE_APP_UUID");
    let plan_uuid = uuid_var(r, "FANVUE_APP_PLAN_UUID");
    let listing_url = match (r.get("FANVUE_APP_STORE_URL"), &app_uuid) {
        (Some(raw), _) => Some(r.https_url("FANVUE_APP_STORE_URL", &raw)),
        (None, Some(app)) => {
            let platform = embed.platform_origins.first().map(String::as_str);
            platform.and_then(|p| Url::parse(&format!("{p}/app-store/{app}")).ok())
        }
        (None, None) => None,
    };
    let cache_ttl = Duration::from_secs(r.parsed("ENTITLEMENT_CACHE_SECS", 15, "a whole number of seconds"));
    AppStoreConfig { app_uuid, plan_uuid, listing_url, cache_ttl }
}

/// `scheme://host[:port]` of a URL.
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

fn is_api_version(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_lookup(&move |k| map.get(k).cloned())
    }

    const GOOD: [(&str, &str); 3] = [
        ("OAUTH_CLIENT_ID", "client"),
        ("OAUTH_CLIENT_SECRET", "secret"),
        ("SESSION_SECRET", "0123456789abcdef0123456789abcdef"),
    ];

    fn problems(result: Result<Config, ConfigError>) -> Vec<Problem> {
        result.err().map(|e| e.0).unwrap_or_default()
    }

    #[test]
    fn defaults_follow_the_nextjs_starter() {
        let config = load(&GOOD).ok();
        let c = config.as_ref();
        assert_eq!(c.map(|c| c.origin()).as_deref(), Some("https://my-fanvue-app.dev:3001"));
        assert_eq!(c.map(|c| c.oauth.redirect_uri.as_str()), Some("https://my-fanvue-app.dev:3001/api/oauth/callback"));
        assert_eq!(c.map(|c| c.oauth.issuer.as_str()), Some("https://auth.fanvue.com/"));
        assert_eq!(c.map(|c| c.api.version.as_str()), Some("2025-06-26"));
        assert_eq!(c.map(|c| c.session.cookie_name.as_str()), Some("__Host-fanvue_oauth"));
        assert_eq!(c.map(|c| c.server.port), Some(3001));
    }

    #[test]
    fn cookie_names_are_host_prefixed_unless_chosen_and_stay_so_behind_a_proxy() {
        // Behind a TLS-terminating proxy the browser still talks https to BASE_URL, so the
        // `__Host-` names (which need `Secure`) keep working.
        let mut vars = GOOD.to_vec();
        vars.push(("TLS_TERMINATED_BY_PROXY", "true"));
        let config = load(&vars).ok();
        let c = config.as_ref();
        assert_eq!(c.map(|c| c.server.tls.clone()), Some(TlsSetting::TerminatedByProxy));
        assert_eq!(c.map(|c| c.base_url.scheme()), Some("https"));
        assert_eq!(c.map(|c| c.session.cookie_name.as_str()), Some("__Host-fanvue_oauth"));
        assert_eq!(c.map(|c| c.embed.cookie_name.as_str()), Some("__Host-fanvue_oauth_embedded"));
        // The Next.js starter's name, set explicitly, is kept (and the embedded one follows it).
        let mut vars = GOOD.to_vec();
        vars.push(("SESSION_COOKIE_NAME", "fanvue_oauth"));
        let config = load(&vars).ok();
        assert_eq!(config.as_ref().map(|c| c.session.cookie_name.as_str()), Some("fanvue_oauth"));
        assert_eq!(config.as_ref().map(|c| c.embed.cookie_name.as_str()), Some("fanvue_oauth_embedded"));
    }

    #[test]
    fn operators_are_nobody_by_default_and_named_by_uuid() {
        assert_eq!(load(&GOOD).ok().map(|c| c.operators), Some(Vec::new()));
        let mut vars = GOOD.to_vec();
        vars.push((
            "OPERATOR_USER_UUIDS",
            "A3C1E6F2-5B7D-4E8A-9C0F-1D2E3F4A5B6C, b0b0b0b0-1c2d-4e3f-8a9b-0c1d2e3f4a5b",
        ));
        assert_eq!(
            load(&vars).ok().map(|c| c.operators),
            Some(vec![
                "a3c1e6f2-5b7d-4e8a-9c0f-1d2e3f4a5b6c".to_owned(),
                "b0b0b0b0-1c2d-4e3f-8a9b-0c1d2e3f4a5b".to_owned()
            ])
        );
        let mut vars = GOOD.to_vec();
        vars.push(("OPERATOR_USER_UUIDS", "ava.sandbox"));
        let found = problems(load(&vars));
        assert_eq!(found.iter().map(|p| p.var).collect::<Vec<_>>(), ["OPERATOR_USER_UUIDS"]);
        assert!(found[0].message.contains("`ava.sandbox` is not a UUID"));
    }

    #[test]
    fn embedding_webhook_and_app_store_settings_are_checked() {
        let config = load(&GOOD).ok();
        let c = config.as_ref();
        assert_eq!(c.map(|c| c.embed.platform_origins.clone()), Some(vec!["https://www.fanvue.com".to_owned()]));
        assert_eq!(c.map(|c| c.embed.cookie_name.as_str()), Some("__Host-fanvue_oauth_embedded"));
        assert_eq!(c.map(|c| c.webhooks.secrets.is_empty()), Some(true), "no secret, no webhooks");
        assert_eq!(c.and_then(|c| c.app_store.checkout_url()), None, "no FANVUE_APP_UUID, no checkout");
        assert!(matches!(
            c.map(|c| &c.webhooks.store),
            Some(StoreKind::Sqlite(p)) if p.ends_with("sessions.db")
        ));

        let mut vars = GOOD.to_vec();
        vars.extend([
            ("FANVUE_PLATFORM_URL", "https://www.fanvue.com,http://local.fanvue.com,https://x.test/path"),
            ("FANVUE_APP_UUID", "not-a-uuid"),
            ("FANVUE_WEBHOOK_SECRET_PREVIOUS", "old"),
            ("WEBHOOK_STORE", "postgres://x"),
            ("EMBEDDED_SESSION_COOKIE_NAME", "__Host-fanvue_oauth"),
        ]);
        let vars: Vec<_> = problems(load(&vars)).iter().map(|p| p.var).collect();
        assert_eq!(
            vars,
            [
                "FANVUE_WEBHOOK_SECRET_PREVIOUS",
                "WEBHOOK_STORE",
                "FANVUE_PLATFORM_URL",
                "FANVUE_PLATFORM_URL",
                "EMBEDDED_SESSION_COOKIE_NAME",
                "FANVUE_APP_UUID"
            ]
        );

        let mut vars = GOOD.to_vec();
        vars.extend([
            ("FANVUE_APP_UUID", "0B1E4A8C-7D2F-4C39-A6E5-9F8D7C6B5A41"),
            ("FANVUE_APP_PLAN_UUID", "6f3a2b1c-9e8d-4f7a-b5c4-3d2e1f0a9b8c"),
        ]);
        let checkout = load(&vars).ok().and_then(|c| c.app_store.checkout_url()).map(String::from);
        assert_eq!(
            checkout.as_deref(),
            Some(
                "https://www.fanvue.com/app-store/0b1e4a8c-7d2f-4c39-a6e5-9f8d7c6b5a41?plan=6f3a2b1c-9e8d-4f7a-b5c4-3d2e1f0a9b8c&action=checkout"
            )
        );
    }

    #[test]
    fn the_embedded_exchange_is_authorize_on_behalf_unless_jwt_bearer_is_chosen() {
        let exchange = |vars: &[(&str, &str)]| {
            let mut all = GOOD.to_vec();
            all.extend_from_slice(vars);
            load(&all).map(|c| c.embed.exchange)
        };
        let on_behalf = |url: &str| EmbedExchange::AuthorizeOnBehalf {
            authorize_url: Url::parse(url).ok().unwrap_or_else(fallback_url),
        };
        assert_eq!(
            exchange(&[]).ok(),
            Some(on_behalf("https://auth.fanvue.com/oauth2/authorize-on-behalf")),
            "derived from OAUTH_ISSUER_BASE_URL"
        );
        assert_eq!(
            exchange(&[("FANVUE_EMBED_AUTHORIZE_URL", "https://api.fanvue.com/embedded/authorize/")]).ok(),
            Some(on_behalf("https://api.fanvue.com/embedded/authorize"))
        );
        assert_eq!(exchange(&[("EMBEDDED_EXCHANGE", "jwt-bearer")]).ok(), Some(EmbedExchange::JwtBearer));

        let found = exchange(&[("EMBEDDED_EXCHANGE", "jwt_bearer")]).err().map(|e| e.0).unwrap_or_default();
        assert_eq!(found.iter().map(|p| p.var).collect::<Vec<_>>(), ["EMBEDDED_EXCHANGE"]);
        assert!(found[0].message.contains("`jwt_bearer`") && found[0].message.contains("`authorize-on-behalf`"));
        assert!(found[0].message.contains("`jwt-bearer`"));
        for bad in [
            vec![("FANVUE_EMBED_AUTHORIZE_URL", "http://api.fanvue.com/authorize")],
            vec![("FANVUE_EMBED_AUTHORIZE_URL", "https://api.fanvue.com/authorize?x=1")],
            vec![("FANVUE_EMBED_AUTHORIZE_URL", "https://api.fanvue.com/x"), ("EMBEDDED_EXCHANGE", "jwt-bearer")],
        ] {
            let found = exchange(&bad).err().map(|e| e.0).unwrap_or_default();
            let vars: Vec<_> = found.iter().map(|p| p.var).collect();
            assert_eq!(vars, ["FANVUE_EMBED_AUTHORIZE_URL"], "{bad:?}");
        }
    }

    #[test]
    fn missing_variables_are_all_named_with_a_fix() {
        let found = problems(load(&[]));
        let vars: Vec<_> = found.iter().map(|p| p.var).collect();
        assert_eq!(vars, ["OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET", "SESSION_SECRET"]);
        assert!(found[2].message.contains("openssl rand -hex 32"));
    }

    #[test]
    fn empty_values_count_as_unset() {
        let mut vars = GOOD.to_vec();
        vars.push(("PORT", ""));
        vars.push(("API_BASE_URL", "  "));
        let config = load(&vars).ok();
        assert_eq!(config.as_ref().map(|c| c.server.port), Some(3001));
        assert_eq!(config.map(|c| c.api.base_url.to_string()).as_deref(), Some("https://api.fanvue.com/"));
    }

    #[test]
    fn short_secret_unknown_scope_and_plain_http_are_refused() {
        let found = problems(load(&[
            ("OAUTH_CLIENT_ID", "c"),
            ("OAUTH_CLIENT_SECRET", "s"),
            ("SESSION_SECRET", "too-short"),
            ("OAUTH_SCOPES", "read:self read:wallet"),
            ("OAUTH_ISSUER_BASE_URL", "http://auth.example.com"),
            ("API_BASE_URL", "http://127.0.0.1:9999"),
        ]));
        let vars: Vec<_> = found.iter().map(|p| p.var).collect();
        assert_eq!(vars, ["OAUTH_ISSUER_BASE_URL", "OAUTH_SCOPES", "SESSION_SECRET"]);
        assert!(found[1].message.contains("read:wallet"));
    }

    #[test]
    fn the_redirect_uri_is_kept_exactly_and_must_be_servable() {
        let mut vars = GOOD.to_vec();
        vars.push(("OAUTH_REDIRECT_URI", "https://my-fanvue-app.dev:3001/callback/"));
        let config = load(&vars).ok();
        assert_eq!(config.map(|c| c.oauth.redirect_uri.path().to_owned()).as_deref(), Some("/callback/"));
        for bad in [
            "https://other.example/api/oauth/callback",
            "http://my-fanvue-app.dev:3001/cb",
            "https://my-fanvue-app.dev:3001/",
        ] {
            let mut vars = GOOD.to_vec();
            vars.push(("OAUTH_REDIRECT_URI", bad));
            assert_eq!(problems(load(&vars))[0].var, "OAUTH_REDIRECT_URI", "{bad}");
        }
    }

    #[test]
    fn rotation_and_metrics_settings_are_checked() {
        let mut vars = GOOD.to_vec();
        vars.push(("SESSION_SECRET_PREVIOUS", "0123456789abcdef0123456789abcdef"));
        vars.push(("METRICS_TOKEN", "short"));
        let found = problems(load(&vars));
        assert_eq!(found.iter().map(|p| p.var).collect::<Vec<_>>(), ["SESSION_SECRET_PREVIOUS", "METRICS_TOKEN"]);
        let mut vars = GOOD.to_vec();
        vars.push(("SESSION_SECRET_PREVIOUS", "the-old-secret-the-old-secret-123"));
        assert!(load(&vars).ok().and_then(|c| c.session.previous_secret).is_some());
    }

    #[test]
    fn connection_and_upload_limits_have_defaults_and_refuse_zero() {
        let config = load(&GOOD).ok();
        let limits = config.as_ref().map(|c| c.server.limits.clone());
        assert_eq!(
            limits,
            Some(ConnectionLimits {
                idle_timeout: Duration::from_secs(60),
                keepalive_interval: Duration::from_secs(30),
                keepalive_timeout: Duration::from_secs(20),
                max_streams: 100,
                max_connections: 1024,
                max_connections_per_ip: 64,
            })
        );
        assert_eq!(
            config.map(|c| c.uploads),
            Some(UploadLimits { slots: 4, slots_per_user: 1, idle_timeout: Duration::from_secs(60) })
        );
        let mut vars = GOOD.to_vec();
        vars.extend([
            ("HTTP_IDLE_TIMEOUT_SECS", "0"),
            ("MAX_CONNECTIONS_PER_IP", "many"),
            ("UPLOAD_SLOTS_PER_USER", "0"),
        ]);
        let found = problems(load(&vars));
        let vars: Vec<_> = found.iter().map(|p| p.var).collect();
        assert_eq!(vars, ["HTTP_IDLE_TIMEOUT_SECS", "MAX_CONNECTIONS_PER_IP", "UPLOAD_SLOTS_PER_USER"]);
        assert!(found[0].message.contains("at least 1"), "{}", found[0].message);
    }

    #[test]
    fn tls_paths_must_exist_and_come_in_pairs() {
        let mut vars = GOOD.to_vec();
        vars.push(("TLS_CERT_PATH", "/nonexistent/cert.pem"));
        vars.push(("TLS_KEY_PATH", "/nonexistent/key.pem"));
        let found = problems(load(&vars));
        assert_eq!(found.iter().map(|p| p.var).collect::<Vec<_>>(), ["TLS_CERT_PATH", "TLS_KEY_PATH"]);
        let mut vars = GOOD.to_vec();
        vars.push(("TLS_CERT_PATH", "/etc/hostname"));
        assert_eq!(problems(load(&vars))[0].var, "TLS_KEY_PATH");
    }
}
