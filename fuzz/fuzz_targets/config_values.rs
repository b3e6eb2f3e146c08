//! Any value in any variable gives a configuration or a list of problems, never a panic.
#![no_main]
use fanvue_app_starter::config::Config;
use libfuzzer_sys::fuzz_target;

const VARS: [&str; 12] = [
    "OAUTH_SCOPES", "OAUTH_REDIRECT_URI", "OAUTH_ISSUER_BASE_URL", "API_BASE_URL", "BASE_URL", "SESSION_SECRET",
    "SESSION_COOKIE_NAME", "SESSION_STORE", "PORT", "OAUTH_PROMPT", "TRUSTED_PROXIES", "FANVUE_API_VERSION",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut values = text.split('\n');
    let pairs: Vec<(&str, String)> = VARS.iter().map(|v| (*v, values.next().unwrap_or("").to_owned())).collect();
    let lookup = |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
    let _ = Config::from_lookup(&lookup);
});
