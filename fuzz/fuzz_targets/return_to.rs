//! `?return_to=` is attacker-controlled: whatever it is, the redirect stays on this origin.
#![no_main]
use fanvue_app_starter::auth::ReturnTo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    let target = ReturnTo::parse(Some(raw));
    let path = target.as_str();
    assert!(path.starts_with('/') && !path.starts_with("//") && !path.contains('\\'), "{path:?}");
    let base = url::Url::parse("https://app.invalid/").unwrap();
    assert_eq!(base.join(path).unwrap().origin(), base.origin(), "{path:?}");
});
