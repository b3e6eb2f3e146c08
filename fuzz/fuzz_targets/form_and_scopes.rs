//! Form bodies, query strings and scope lists from outside parse without panicking, and
//! prices are never negative or overflowing.
#![no_main]
use fanvue_app_starter::web::page::{Params, parse_price};
use fanvue_app_starter::fanvue::scopes::ScopeSet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let params = Params::parse(data);
    let _ = params.page();
    let text = String::from_utf8_lossy(data);
    if let Some(cents) = parse_price(&text) {
        assert!(cents < u64::MAX);
    }
    let _ = ScopeSet::parse_strict(&text);
    let _ = ScopeSet::parse_granted(&text);
});
