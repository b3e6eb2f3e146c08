//! What the event store keeps sealed, and its keys: event bodies (a fan's message text, what
//! they bought and paid) and the signing secrets of subscriptions made through Fanvue's API.
//!
//! Sealed like session records: XChaCha20-Poly1305 under a key derived from `SESSION_SECRET`
//! (HKDF, a label of its own), each blob bound to the row it belongs to (a body to its dedupe
//! key, a secret to its endpoint id), so a blob copied to another row does not open. During a
//! rotation, `SESSION_SECRET_PREVIOUS` still opens what was sealed before; nothing is re-sealed
//! (events expire after `WEBHOOK_RETENTION_DAYS`).
//!
//! What stays in clear is what the store must query or show without opening anything: type,
//! route, times, state, attempts, the handler's last error, the addressee's UUID and the dedupe
//! key (an envelope id, a message UUID or a hash).

use crate::infra::crypto::{CryptoError, Key};

/// What a sealed blob is: part of the associated data, so one kind never opens as another.
#[derive(Clone, Copy, Debug)]
pub enum Purpose {
    /// An event body, bound to its dedupe key.
    Body,
    /// A subscription's signing secret, bound to its endpoint id.
    Secret,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::Body => "body",
            Purpose::Secret => "secret",
        }
    }
}

/// The keys. `Debug` never prints them.
#[derive(Clone)]
pub struct AtRest {
    current: Key,
    previous: Option<Key>,
}

impl std::fmt::Debug for AtRest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AtRest { keys: [redacted] }")
    }
}

const LABEL: &str = "webhook-at-rest-v1";

impl AtRest {
    /// Keys from `SESSION_SECRET` and, during a rotation, `SESSION_SECRET_PREVIOUS`.
    pub fn new(session_secret: &str, previous: Option<&str>) -> Self {
        Self {
            current: Key::derive(session_secret.as_bytes(), LABEL),
            previous: previous.map(|p| Key::derive(p.as_bytes(), LABEL)),
        }
    }

    fn aad(purpose: Purpose, binding: &str) -> Vec<u8> {
        [purpose.label().as_bytes(), b"\0", binding.as_bytes()].concat()
    }

    /// Seals `plain` as `purpose` for the row `binding`.
    pub fn seal(&self, purpose: Purpose, binding: &str, plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.current.seal(&Self::aad(purpose, binding), plain)
    }

    /// Opens what [`AtRest::seal`] sealed, with the current key or the previous one. `None`:
    /// another `SESSION_SECRET` (without the old one as previous), another row, or tampering.
    pub fn open(&self, purpose: Purpose, binding: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        let aad = Self::aad(purpose, binding);
        self.current.open(&aad, sealed).ok().or_else(|| self.previous.as_ref()?.open(&aad, sealed).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "the-old-secret-the-old-secret-123";
    const NEW: &str = "the-new-secret-the-new-secret-456";

    #[test]
    fn sealed_blobs_open_for_their_row_and_purpose_and_through_a_rotation() {
        let keys = AtRest::new(OLD, None);
        let sealed = keys.seal(Purpose::Body, "envelope:evt_1", b"{\"text\":\"hi\"}").unwrap_or_default();
        assert!(!sealed.windows(4).any(|w| w == b"text"));
        assert_eq!(keys.open(Purpose::Body, "envelope:evt_1", &sealed).as_deref(), Some(&b"{\"text\":\"hi\"}"[..]));
        assert_eq!(keys.open(Purpose::Body, "envelope:evt_2", &sealed), None, "another row");
        assert_eq!(keys.open(Purpose::Secret, "envelope:evt_1", &sealed), None, "another purpose");
        assert!(AtRest::new(NEW, Some(OLD)).open(Purpose::Body, "envelope:evt_1", &sealed).is_some());
        assert!(AtRest::new(NEW, None).open(Purpose::Body, "envelope:evt_1", &sealed).is_none());
        assert_eq!(format!("{keys:?}"), "AtRest { keys: [redacted] }");
    }
}
