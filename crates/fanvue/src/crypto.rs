//! The primitives Fanvue's formats are made of: HMAC-SHA256 (webhook signatures), hex and
//! base64url (signatures, JWTs, opaque tokens), constant-time comparison and random tokens;
//! and [`Key`], one secret's independent keys (HKDF-SHA256), which the app and the sandbox
//! both sign and seal with.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// A 32-byte key derived from a secret for one job. `Debug` never prints it.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key([redacted])")
    }
}

impl Key {
    /// The key for `label`, derived from `master` with HKDF-SHA256 under `salt` (the program's
    /// name: the same secret gives another program other keys).
    pub fn derive(salt: &[u8], master: &[u8], label: &str) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(salt), master);
        let mut okm = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
        if hk.expand(label.as_bytes(), &mut okm).is_err() {
            okm = [0u8; 32];
        }
        Key(okm)
    }

    /// HMAC-SHA256 of `message` under this key.
    pub fn mac(&self, message: &[u8]) -> [u8; 32] {
        // HMAC pads a key shorter than the 64-byte block with zeros; doing it here makes the
        // key the fixed size `KeyInit::new` takes, which cannot fail.
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.0);
        let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(&block.into());
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    /// The key's bytes, for a cipher that takes them.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

/// HMAC-SHA256 of `message` under `key` (any length); `None` only if HMAC refused the key,
/// which it never does for HMAC-SHA256.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Option<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
    mac.update(message);
    Some(mac.finalize().into_bytes().into())
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// `bytes` random bytes as base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// base64url without padding (JWT parts, tokens).
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_is_standard_hmac_sha256() {
        // RFC 4231 test case 2 uses a 4-byte key; the same zero padding applies to ours.
        let mut key = Key([0u8; 32]);
        key.0[..4].copy_from_slice(b"Jefe");
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let hex: String = key.mac(b"what do ya want for nothing?").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected);
    }

    #[test]
    fn hmac_is_rfc_4231_and_comparisons_are_by_content_and_length() {
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(hmac_sha256(b"Jefe", b"what do ya want for nothing?").map(|m| hex(&m)).as_deref(), Some(expected));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"abc", b"abcd"));
        assert_eq!(random_token(16).len(), 22);
        assert_eq!(unb64(&b64(b"\xff\x00x")).as_deref(), Some(&b"\xff\x00x"[..]));
    }
}
