//! Fanvue's webhooks on the wire: the `X-Fanvue-Signature` check ([`signature`]), the typed
//! events of all three families ([`events`]), and sample deliveries in the documented shapes
//! ([`samples`]) for tests and tools.

pub mod events;
pub mod samples;
pub mod signature;
