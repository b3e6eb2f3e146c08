//! The sandbox's keys: one per job, derived from one secret (the sandbox certificate's key, or
//! `SESSION_SECRET` for the values a second instance must agree on) under the sandbox's own
//! salt, used to sign tokens, session tokens and upload URLs. Primitives and encodings are
//! `fanvue`'s.

pub use fanvue::crypto::{Key, b64, constant_time_eq, hex, random_token, unb64};

/// The key for `label`, derived from `master`.
pub fn derive(master: &[u8], label: &str) -> Key {
    Key::derive(b"fanvue-sandbox", master, label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_give_independent_keys_and_debug_hides_them() {
        let (a, b) = (derive(b"master", "one"), derive(b"master", "two"));
        assert_ne!(a.mac(b"x"), b.mac(b"x"));
        assert_eq!(format!("{a:?}"), "Key([redacted])");
    }
}
