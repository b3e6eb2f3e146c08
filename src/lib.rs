//! # fanvue-app-starter
//!
//! A Rust starter for Fanvue apps: an axum server on HTTPS that signs creators in with
//! Fanvue (OAuth 2.0 + PKCE), keeps their tokens in sealed server-side sessions, and calls
//! the Fanvue API for server-rendered pages and a scope-gated JSON proxy. Fanvue's contract
//! and clients are the `fanvue` crate (`crates/fanvue`); the stand-in Fanvue of `--sandbox`
//! is the `fanvue-sandbox` crate (`crates/fanvue-sandbox`).
//!
//! ## The house rules
//!
//! ```text
//! app/        assembly: AppState, build_app, run ──────────── names every feature
//!   │
//! features/   console · login · proxy · webhooks · embedded · paid · ops
//!   │           each owns its router, layers, state and errors; never imports another
//! auth/       sealed session store, token vault + refresh, Api (calls for a session,
//!   │           scope gate), paid-plan check
//! web/        AppError → page or JSON, render, nav, pager, forms, generic middleware
//!   │
//! infra/      crypto, cache, metrics registry, rate limits, Redis, TLS, listener
//!   │
//! config/     plain data, parsed once from the environment
//! ```
//!
//! A module may import only what is below it (and the `fanvue` crate); `features/*` never
//! import each other; middleware never matches on a path (a response says what it is with an
//! extension, and a feature puts layers on its own routes). `tests/architecture.rs` reads every
//! `crate::` path and fails on an import that breaks these rules.
//!
//! The two seams tests use are [`build_app`] (a `Router` for in-process `oneshot` tests) and
//! the binary itself (end-to-end over TLS).

pub mod app;
pub mod auth;
pub mod config;
pub mod features;
pub mod infra;
pub mod web;

pub use ::fanvue;
pub use app::{
    AppState, Inherited, Mode, SHUTDOWN_GRACE, StartError, build_app, healthcheck, install_crypto_provider, run,
};
