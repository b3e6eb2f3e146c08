//! Proxy paths come from the browser: a parsed path can never leave `API_BASE_URL`.
#![no_main]
use fanvue_app_starter::fanvue::ApiPath;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    let Ok(path) = ApiPath::parse(raw) else { return };
    let base = url::Url::parse("https://api.fanvue.test/v0").unwrap();
    let joined = path.join_onto(&base).unwrap();
    assert_eq!(joined.host_str(), Some("api.fanvue.test"));
    assert!(joined.path().starts_with("/v0/"), "{joined}");
    assert!(path.segments().all(|s| s != "." && s != ".." && !s.contains('/')));
});
