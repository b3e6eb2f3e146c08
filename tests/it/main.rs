//! The integration tests: one binary (one link, one build of the shared harness), one module
//! per area. [`harness`] starts the real binary over TLS against the sandbox (`TestApp`), a
//! real `redis-server` (`Redis`), and in-process routers; each module drives one area the way
//! a user (or Fanvue) would. Run one area with `cargo test --test it pages::`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

mod architecture;
mod browser;
mod contract;
mod embedded;
mod oauth_flow;
mod ops;
mod pages;
mod paid_apps;
mod proxy;
mod redis;
mod router;
mod sandbox;
mod server;
mod sessions;
mod webhooks;
