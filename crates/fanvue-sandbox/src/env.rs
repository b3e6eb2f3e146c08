//! The sandbox as environment variables, for an app started with it (the starter's
//! `--sandbox`).
//!
//! [`SandboxEnv::read`] reads the sandbox's own settings (`SANDBOX_PORT`, `SANDBOX_JOIN`,
//! `SANDBOX_ACCESS_TOKEN_TTL_SECS`, `SANDBOX_LATENCY_MS`, `SANDBOX_RATE_LIMIT`).
//! [`SandboxEnv::layer`] wraps the app's environment so that the app's own configuration
//! code, unchanged, configures it for the sandbox:
//! - the provider settings are the sandbox's whatever the environment says, so a `.env`
//!   written for Fanvue still runs against the sandbox (`OAUTH_CLIENT_ID`,
//!   `OAUTH_CLIENT_SECRET`, `OAUTH_ISSUER_BASE_URL`, `API_BASE_URL`, `FANVUE_EMBED_AUTHORIZE_URL`);
//! - its defaults stand in for what the environment leaves unset (`BASE_URL`, `OAUTH_SCOPES`:
//!   every scope, the App Store's ids and listing, the webhook signing secret);
//! - `FANVUE_PLATFORM_URL` gains the sandbox's origin, whose creator surface frames the app.
//!
//! The client and webhook secrets derive from `SESSION_SECRET`, so every instance with the
//! same secret can share one sandbox (`SANDBOX_JOIN`) and the `webhook send` command signs
//! as the sandbox does.

use std::time::Duration;

use fanvue::Scope;

use crate::crypto::{self, b64};

/// The sandbox's own settings.
#[derive(Clone, Debug)]
pub struct SandboxEnv {
    /// `SANDBOX_PORT`, default 3002; the sandbox listens on 127.0.0.1 only.
    pub port: u16,
    /// `SANDBOX_JOIN`: the URL of a sandbox another instance runs (same `SESSION_SECRET`);
    /// this instance uses it instead of starting its own.
    pub join: Option<String>,
    /// `SANDBOX_ACCESS_TOKEN_TTL_SECS`, default 3600 like Fanvue.
    pub access_token_ttl: Duration,
    /// `SANDBOX_LATENCY_MS`: added to every API and token answer.
    pub latency: Duration,
    /// `SANDBOX_RATE_LIMIT`: API calls per user a minute (Fanvue's: 200).
    pub rate_limit: u32,
}

/// A sandbox variable that cannot be used: which, and what to write instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The variable.
    pub var: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl SandboxEnv {
    /// Reads the `SANDBOX_*` variables through `lookup` (an empty value counts as unset).
    pub fn read(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, Vec<Problem>> {
        let get = |var: &str| lookup(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let mut problems = Vec::new();
        let mut number = |var: &'static str, default: u64, what: &str| match get(var) {
            None => default,
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                problems.push(Problem { var, message: format!("`{raw}` is not {what}") });
                default
            }),
        };
        let port = number("SANDBOX_PORT", 3002, "a port number (0-65535)");
        let ttl = number("SANDBOX_ACCESS_TOKEN_TTL_SECS", 3600, "a whole number of seconds");
        let latency = number("SANDBOX_LATENCY_MS", 0, "a whole number of milliseconds");
        let rate_limit = number("SANDBOX_RATE_LIMIT", u64::from(crate::store::RATE_LIMIT), "a whole number a minute");
        let join = get("SANDBOX_JOIN").map(|j| j.trim_end_matches('/').to_owned());
        if join.is_some() && get("SESSION_SECRET").is_none() {
            problems.push(Problem {
                var: "SANDBOX_JOIN",
                message: "needs SESSION_SECRET, the same as the instance running the sandbox".into(),
            });
        }
        let port = u16::try_from(port).unwrap_or_else(|_| {
            problems.push(Problem { var: "SANDBOX_PORT", message: format!("{port} is not a port number (0-65535)") });
            3002
        });
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(SandboxEnv {
            port,
            join,
            access_token_ttl: Duration::from_secs(ttl),
            latency: Duration::from_millis(latency),
            rate_limit: u32::try_from(rate_limit).unwrap_or(u32::MAX),
        })
    }

    /// The sandbox's issuer URL: the joined one, or `https://127.0.0.1:{port}`.
    pub fn issuer(&self) -> String {
        self.join.clone().unwrap_or_else(|| format!("https://127.0.0.1:{}", self.port))
    }

    /// The app's environment `env` seen through the sandbox (see the module docs), for an app
    /// whose `SESSION_SECRET` is `session_secret` (the app generates one when none is set).
    pub fn layer<'a>(
        &self,
        env: &'a dyn Fn(&str) -> Option<String>,
        session_secret: &str,
    ) -> impl Fn(&str) -> Option<String> + 'a {
        let issuer = self.issuer();
        let session_secret = session_secret.to_owned();
        move |var: &str| {
            let from_env = || env(var).filter(|v| !v.trim().is_empty());
            match var {
                "OAUTH_CLIENT_ID" => Some(crate::settings::CLIENT_ID.to_owned()),
                "OAUTH_CLIENT_SECRET" => Some(client_secret(&session_secret)),
                "OAUTH_ISSUER_BASE_URL" => Some(issuer.clone()),
                "API_BASE_URL" => Some(format!("{issuer}/api")),
                // Empty: the app's default, under the sandbox's issuer.
                "FANVUE_EMBED_AUTHORIZE_URL" => Some(String::new()),
                "SESSION_SECRET" => Some(session_secret.clone()),
                "FANVUE_PLATFORM_URL" => {
                    Some(format!("{},{issuer}", from_env().unwrap_or_else(|| "https://www.fanvue.com".into())))
                }
                "BASE_URL" => from_env().or_else(|| {
                    let port = env("PORT").filter(|p| !p.trim().is_empty()).unwrap_or_else(|| "3001".into());
                    Some(format!("https://localhost:{}", port.trim()))
                }),
                "OAUTH_SCOPES" => {
                    from_env().or_else(|| Some(Scope::ALL.iter().map(|(_, name)| *name).collect::<Vec<_>>().join(" ")))
                }
                "FANVUE_APP_UUID" => from_env().or_else(|| Some(crate::settings::APP_UUID.to_owned())),
                "FANVUE_APP_PLAN_UUID" => from_env().or_else(|| Some(crate::settings::PLAN_UUID.to_owned())),
                "FANVUE_APP_STORE_URL" => {
                    from_env().or_else(|| Some(format!("{issuer}/app-store/{}", crate::settings::APP_UUID)))
                }
                "FANVUE_WEBHOOK_SECRET" => from_env().or_else(|| Some(webhook_secret(&session_secret))),
                _ => env(var),
            }
        }
    }
}

/// The client secret the sandbox registers for the app, derived from `SESSION_SECRET`.
pub fn client_secret(session_secret: &str) -> String {
    b64(&crypto::derive(session_secret.as_bytes(), "sandbox-client-secret-v1").mac(b"client"))
}

/// The app-level webhook signing secret the sandbox uses, derived from `SESSION_SECRET`.
pub fn webhook_secret(session_secret: &str) -> String {
    b64(&crypto::derive(session_secret.as_bytes(), "sandbox-webhook-secret-v1").mac(b"webhook"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_is_the_sandboxs_and_the_rest_defaults_under_the_environment() {
        let env = |var: &str| match var {
            "OAUTH_CLIENT_ID" => Some("a-real-fanvue-client".to_owned()),
            "OAUTH_SCOPES" => Some("read:self".to_owned()),
            "PORT" => Some("4000".to_owned()),
            _ => None,
        };
        let sandbox = SandboxEnv::read(&|_| None).unwrap();
        let layered = sandbox.layer(&env, "a-session-secret-of-32-characters");
        assert_eq!(
            layered("OAUTH_CLIENT_ID").as_deref(),
            Some(crate::settings::CLIENT_ID),
            "a .env for Fanvue still runs"
        );
        assert_eq!(layered("OAUTH_ISSUER_BASE_URL").as_deref(), Some("https://127.0.0.1:3002"));
        assert_eq!(layered("OAUTH_SCOPES").as_deref(), Some("read:self"), "the environment's own choice");
        assert_eq!(layered("BASE_URL").as_deref(), Some("https://localhost:4000"));
        assert_eq!(layered("FANVUE_PLATFORM_URL").as_deref(), Some("https://www.fanvue.com,https://127.0.0.1:3002"));
        assert_eq!(layered("OAUTH_CLIENT_SECRET"), Some(client_secret("a-session-secret-of-32-characters")));
        assert_ne!(client_secret("a"), client_secret("b"));
    }

    #[test]
    fn bad_sandbox_variables_are_named() {
        let env = |var: &str| match var {
            "SANDBOX_PORT" => Some("http".to_owned()),
            "SANDBOX_JOIN" => Some("https://127.0.0.1:3002".to_owned()),
            _ => None,
        };
        let problems = SandboxEnv::read(&env).err().unwrap_or_default();
        let vars: Vec<&str> = problems.iter().map(|p| p.var).collect();
        assert_eq!(vars, ["SANDBOX_PORT", "SANDBOX_JOIN"]);
    }
}
