//! `X-Fanvue-Signature: t=<unix seconds>,v0=<hex>`: HMAC-SHA256, under the app's signing
//! secret, of `"{t}.{raw body}"`, the exact bytes received.
//!
//! [`verify`] runs before anything reads the body as JSON. It accepts any `v0` that matches
//! any configured secret (the current one and, during a rotation, the previous one), compares
//! in constant time, and refuses timestamps further than the tolerance from now in either
//! direction (a replayed delivery, or a sender whose clock is wrong).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::crypto;

/// The header Fanvue signs deliveries with.
pub const HEADER: &str = "x-fanvue-signature";

/// Why a delivery was refused. Shown to the sender (401) and on the events page; none of
/// them reveals anything about the secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// No `X-Fanvue-Signature` header.
    #[error("the X-Fanvue-Signature header is missing")]
    MissingHeader,
    /// The header is not `t=…,v0=…`, or `t` is not a number.
    #[error("the X-Fanvue-Signature header is malformed (expected t=<unix seconds>,v0=<hex>)")]
    Malformed,
    /// `t` is too far in the past.
    #[error("the signature timestamp is too old (replayed or delayed delivery)")]
    Stale,
    /// `t` is too far in the future.
    #[error("the signature timestamp is in the future (clock skew)")]
    Future,
    /// No `v0` matches.
    #[error("the signature does not match the body (wrong secret, or the body was altered)")]
    Mismatch,
    /// The app has no signing secret configured.
    #[error("webhooks are not configured on this server (FANVUE_WEBHOOK_SECRET is not set)")]
    NotConfigured,
}

impl Rejection {
    /// A short stable code for logs, metrics and the events page.
    pub fn code(self) -> &'static str {
        match self {
            Rejection::MissingHeader => "missing_signature",
            Rejection::Malformed => "malformed_signature",
            Rejection::Stale => "stale_timestamp",
            Rejection::Future => "future_timestamp",
            Rejection::Mismatch => "signature_mismatch",
            Rejection::NotConfigured => "not_configured",
        }
    }
}

/// The signing secrets and the timestamp tolerance. `Debug` never prints the secrets.
#[derive(Clone)]
pub struct Verifier {
    secrets: Vec<SecretString>,
    tolerance: Duration,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("secrets", &self.secrets.len()).field("tolerance", &self.tolerance).finish()
    }
}

impl Verifier {
    /// `secrets`: current first, then any being rotated out.
    pub fn new(secrets: Vec<SecretString>, tolerance: Duration) -> Self {
        Self { secrets, tolerance }
    }

    /// The same tolerance with `secret` alone: for the deliveries of one subscription, which
    /// Fanvue signs with that subscription's own secret.
    pub fn with_secret(&self, secret: SecretString) -> Self {
        Self { secrets: vec![secret], tolerance: self.tolerance }
    }

    /// The current secret (what a sender signs with).
    pub fn current_secret(&self) -> Option<&SecretString> {
        self.secrets.first()
    }

    /// Whether a secret is configured.
    pub fn is_configured(&self) -> bool {
        !self.secrets.is_empty()
    }

    /// Checks `header` against `body` at time `now` (Unix seconds). `Ok(t)` is the signed
    /// timestamp.
    pub fn verify(&self, header: Option<&[u8]>, body: &[u8], now: i64) -> Result<i64, Rejection> {
        if !self.is_configured() {
            return Err(Rejection::NotConfigured);
        }
        let header = header.ok_or(Rejection::MissingHeader)?;
        let header = std::str::from_utf8(header).map_err(|_| Rejection::Malformed)?;
        let parsed = parse(header)?;
        let tolerance = i64::try_from(self.tolerance.as_secs()).unwrap_or(i64::MAX);
        if now.saturating_sub(parsed.timestamp) > tolerance {
            return Err(Rejection::Stale);
        }
        if parsed.timestamp.saturating_sub(now) > tolerance {
            return Err(Rejection::Future);
        }
        let matches = self.secrets.iter().any(|secret| {
            let Some(expected) = signature(secret.expose_secret(), parsed.timestamp, body) else {
                return false;
            };
            let expected = crypto::hex(&expected);
            // Every candidate is compared (no early exit on the first), each in constant time.
            parsed.signatures.iter().fold(false, |found, given| {
                found | crypto::constant_time_eq(given.to_ascii_lowercase().as_bytes(), expected.as_bytes())
            })
        });
        if matches { Ok(parsed.timestamp) } else { Err(Rejection::Mismatch) }
    }
}

struct Parsed<'a> {
    timestamp: i64,
    signatures: Vec<&'a str>,
}

/// `t=…,v0=…[,v0=…]`, and during a secret rotation `t=…,v0=<old>,<new>` (a bare value after
/// a `v0` is one more `v0`: accepted when any matches). Whitespace around parts is tolerated,
/// unknown keys are ignored (a future `v1` scheme must not break today's receivers).
fn parse(header: &str) -> Result<Parsed<'_>, Rejection> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    let mut after_v0 = false;
    for part in header.split(',') {
        let part = part.trim();
        let (key, value) = match part.split_once('=') {
            Some(pair) => pair,
            None if after_v0 => ("v0", part),
            None => return Err(Rejection::Malformed),
        };
        after_v0 = key.trim() == "v0";
        match key.trim() {
            "t" if timestamp.is_none() => {
                let value = value.trim();
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Rejection::Malformed);
                }
                timestamp = Some(value.parse::<i64>().map_err(|_| Rejection::Malformed)?);
            }
            "t" => return Err(Rejection::Malformed),
            "v0" => {
                let value = value.trim();
                if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(Rejection::Malformed);
                }
                signatures.push(value);
            }
            _ => {}
        }
    }
    match (timestamp, signatures.is_empty()) {
        (Some(timestamp), false) => Ok(Parsed { timestamp, signatures }),
        _ => Err(Rejection::Malformed),
    }
}

/// HMAC-SHA256 of `"{timestamp}.{body}"` under `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> Option<[u8; 32]> {
    let mut signed = Vec::with_capacity(body.len() + 12);
    signed.extend_from_slice(timestamp.to_string().as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    crypto::hmac_sha256(secret.as_bytes(), &signed)
}

/// The header value Fanvue would send for `body` at `timestamp` (for the CLI, the sandbox
/// and tests).
pub fn header_value(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let v0 = signature(secret, timestamp, body).map(|s| crypto::hex(&s)).unwrap_or_default();
    format!("t={timestamp},v0={v0}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `../shared/reference/fanvue-platform.md` §3.4.
    const VECTOR_BODY: &str =
        r#"{"recipientUuid":"f4b2a184-2b4a-4a04-9b70-3c0e0a1caa12","timestamp":"2025-11-06T10:32:50.529Z"}"#;
    const VECTOR_SIG: &str = "c24c643af2d62ddcf45cf5997afa1424945c52a6ae71a9f8d9c78937a611b2c1";
    const T: i64 = 1_700_000_000;

    fn verifier(secrets: &[&str]) -> Verifier {
        Verifier::new(secrets.iter().map(|s| SecretString::from(s.to_string())).collect(), Duration::from_secs(300))
    }

    fn check(v: &Verifier, header: &str, body: &str, now: i64) -> Result<i64, Rejection> {
        v.verify(Some(header.as_bytes()), body.as_bytes(), now)
    }

    #[test]
    fn the_reference_test_vector_verifies() {
        assert_eq!(header_value("test_secret", T, VECTOR_BODY.as_bytes()), format!("t={T},v0={VECTOR_SIG}"));
        let header = format!("t={T},v0={VECTOR_SIG}");
        assert_eq!(check(&verifier(&["test_secret"]), &header, VECTOR_BODY, T + 10), Ok(T));
        // Upper-case hex and spaces after commas are still the same signature.
        let loose = format!("t={T}, v0={}", VECTOR_SIG.to_uppercase());
        assert_eq!(check(&verifier(&["test_secret"]), &loose, VECTOR_BODY, T), Ok(T));
    }

    #[test]
    fn wrong_secret_altered_body_and_body_only_signatures_are_refused() {
        let header = format!("t={T},v0={VECTOR_SIG}");
        assert_eq!(check(&verifier(&["other_secret"]), &header, VECTOR_BODY, T), Err(Rejection::Mismatch));
        let altered = VECTOR_BODY.replace("f4b2", "f4b3");
        assert_eq!(check(&verifier(&["test_secret"]), &header, &altered, T), Err(Rejection::Mismatch));
        // A common mistake: HMAC of the body alone, without the `t.` prefix.
        let body_only = crypto::hex(&crypto::hmac_sha256(b"test_secret", VECTOR_BODY.as_bytes()).unwrap_or_default());
        assert_eq!(
            check(&verifier(&["test_secret"]), &format!("t={T},v0={body_only}"), VECTOR_BODY, T),
            Err(Rejection::Mismatch)
        );
        // A re-serialised body (other whitespace) is a different body.
        let reserialised = VECTOR_BODY.replace(':', ": ");
        assert_eq!(check(&verifier(&["test_secret"]), &header, &reserialised, T), Err(Rejection::Mismatch));
    }

    #[test]
    fn timestamps_outside_the_tolerance_are_refused_both_ways() {
        let v = verifier(&["test_secret"]);
        let header = format!("t={T},v0={VECTOR_SIG}");
        assert_eq!(check(&v, &header, VECTOR_BODY, T + 300), Ok(T), "the edge is inside");
        assert_eq!(check(&v, &header, VECTOR_BODY, T + 301), Err(Rejection::Stale));
        assert_eq!(check(&v, &header, VECTOR_BODY, T - 301), Err(Rejection::Future));
    }

    #[test]
    fn malformed_and_missing_parts_are_refused() {
        let v = verifier(&["test_secret"]);
        assert_eq!(v.verify(None, VECTOR_BODY.as_bytes(), T), Err(Rejection::MissingHeader));
        for header in [
            "",
            &format!("v0={VECTOR_SIG}"),
            &format!("t={T}"),
            &format!("t=,v0={VECTOR_SIG}"),
            &format!("t=-5,v0={VECTOR_SIG}"),
            &format!("t=abc,v0={VECTOR_SIG}"),
            &format!("t={T},v0=sha256={VECTOR_SIG}"),
            &format!("t={T},v0={}", &VECTOR_SIG[..63]),
            &format!("t={T},v0={}zz", &VECTOR_SIG[..62]),
            &format!("t={T},t={T},v0={VECTOR_SIG}"),
            &format!("t={T};v0={VECTOR_SIG}"),
            &format!("sha256={VECTOR_SIG}"),
            "t=99999999999999999999999,v0=00",
        ] {
            assert_eq!(check(&v, header, VECTOR_BODY, T), Err(Rejection::Malformed), "{header}");
        }
        assert_eq!(v.verify(Some(&[0xff, 0xfe]), b"{}", T), Err(Rejection::Malformed));
    }

    #[test]
    fn a_previous_secret_still_verifies_during_a_rotation() {
        let header = format!("t={T},v0={VECTOR_SIG}");
        assert_eq!(check(&verifier(&["new_secret", "test_secret"]), &header, VECTOR_BODY, T), Ok(T));
        // Several v0 values (one per secret while the sender rotates) are all tried.
        let two = format!("t={T},v0={},v0={VECTOR_SIG}", "0".repeat(64));
        assert_eq!(check(&verifier(&["test_secret"]), &two, VECTOR_BODY, T), Ok(T));
        // The rotation form `v0=<old>,<new>`: either value may match.
        let listed = format!("t={T},v0={},{VECTOR_SIG}", "0".repeat(64));
        assert_eq!(check(&verifier(&["test_secret"]), &listed, VECTOR_BODY, T), Ok(T));
        let listed_first = format!("t={T},v0={VECTOR_SIG},{}", "1".repeat(64));
        assert_eq!(check(&verifier(&["test_secret"]), &listed_first, VECTOR_BODY, T), Ok(T));
        let none = format!("t={T},v0={},{}", "0".repeat(64), "1".repeat(64));
        assert_eq!(check(&verifier(&["test_secret"]), &none, VECTOR_BODY, T), Err(Rejection::Mismatch));
        // A bare value is a v0 only after a v0; elsewhere the header is malformed.
        assert_eq!(
            check(&verifier(&["test_secret"]), &format!("{VECTOR_SIG},t={T}"), VECTOR_BODY, T),
            Err(Rejection::Malformed)
        );
        let bad = format!("t={T},v0={VECTOR_SIG},nothex");
        assert_eq!(check(&verifier(&["test_secret"]), &bad, VECTOR_BODY, T), Err(Rejection::Malformed));
    }

    #[test]
    fn without_a_secret_nothing_verifies() {
        let header = format!("t={T},v0={VECTOR_SIG}");
        assert_eq!(check(&verifier(&[]), &header, VECTOR_BODY, T), Err(Rejection::NotConfigured));
        assert!(!format!("{:?}", verifier(&["test_secret"])).contains("test_secret"));
    }
}
