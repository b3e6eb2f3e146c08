//! Keys and primitives for secrets at rest: sealing (AEAD), keyed hashing, random tokens,
//! constant-time comparison.
//!
//! Every key is derived from `SESSION_SECRET` with HKDF-SHA256 under its own label, so one
//! secret in the environment yields independent keys for independent jobs, and rotating the
//! secret invalidates all of them at once.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

pub use fanvue::crypto::{b64, constant_time_eq, hex, hmac_sha256, random_token, unb64};

/// Version byte in front of every sealed blob, so the format can change later.
const SEAL_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// A key for one job, derived from the master secret. `Debug` never prints it.
#[derive(Clone, Debug)]
pub struct Key(fanvue::crypto::Key);

impl Key {
    /// Derives the key for `label` from the master secret.
    pub fn derive(master: &[u8], label: &str) -> Self {
        Key(fanvue::crypto::Key::derive(b"fanvue-app-starter", master, label))
    }

    /// Encrypts and authenticates `plaintext`, binding it to `aad` (which must be given
    /// again to open it). Output: version byte, random nonce, ciphertext with tag.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let cipher = XChaCha20Poly1305::new(self.0.expose().into());
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ciphertext = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad })
            .map_err(|_| CryptoError::Seal)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(SEAL_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Reverses [`Key::seal`]. Fails on a wrong key, a wrong `aad` or any tampering.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (version, rest) = sealed.split_first().ok_or(CryptoError::Open)?;
        if *version != SEAL_VERSION || rest.len() < NONCE_LEN {
            return Err(CryptoError::Open);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        XChaCha20Poly1305::new(self.0.expose().into())
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad })
            .map_err(|_| CryptoError::Open)
    }

    /// HMAC-SHA256 of `message` under this key.
    pub fn mac(&self, message: &[u8]) -> [u8; 32] {
        self.0.mac(message)
    }
}

/// Sealing or opening failed. Deliberately carries no detail: the cause is always
/// "wrong key or tampered data", and saying which would help an attacker.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// Encryption failed (practically impossible).
    #[error("sealing failed")]
    Seal,
    /// Wrong key, wrong associated data, or tampered ciphertext.
    #[error("sealed data could not be opened (wrong key or tampered)")]
    Open,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_only_with_the_same_key_and_aad() {
        let key = Key::derive(b"a secret that is long enough......", "test");
        let sealed = key.seal(b"aad", b"ory_rt_secret").unwrap_or_default();
        assert!(!sealed.windows(13).any(|w| w == b"ory_rt_secret"));
        assert_eq!(key.open(b"aad", &sealed).ok().as_deref(), Some(&b"ory_rt_secret"[..]));
        assert!(key.open(b"other", &sealed).is_err());
        let other = Key::derive(b"another secret that is long enough", "test");
        assert!(other.open(b"aad", &sealed).is_err());
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert!(key.open(b"aad", &tampered).is_err());
        assert!(key.open(b"aad", &[]).is_err());
    }

    #[test]
    fn labels_give_independent_keys_and_debug_hides_them() {
        let a = Key::derive(b"master", "one");
        let b = Key::derive(b"master", "two");
        assert_ne!(a.mac(b"x"), b.mac(b"x"));
        assert_eq!(format!("{a:?}"), "Key(Key([redacted]))");
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert_eq!(random_token(16).len(), 22);
    }
}
