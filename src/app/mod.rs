//! The app's assembly: the one place that names every feature. It builds the state
//! ([`AppState`]), gives each feature the part it needs, merges their routers, puts the session
//! layer and the middleware stack around them ([`build_app`]), and runs the server
//! ([`serve::run`]). Deleting a feature is its folder under `features/`, its `.merge(...)`
//! line here, its state in [`state`], and its configuration section.

pub mod error;
pub mod serve;
pub mod state;

use axum::Router;
use axum::http::StatusCode;

pub use error::StartError;
pub use serve::{Inherited, Mode, SHUTDOWN_GRACE, healthcheck, install_crypto_provider, run};
pub use state::AppState;

use crate::features::{console, embedded, login, ops, paid, proxy, webhooks};
use crate::web::middleware::{StackSettings, stack};

/// The whole application as a `Router`: every feature's routes with their own layers, the
/// session layer, and the middleware stack.
pub fn build_app(state: AppState) -> Router {
    let config = &state.config;
    let origin = config.origin();
    let routes = Router::new()
        .merge(console::router(state.console.clone()))
        .merge(login::router(state.login(), config.oauth.redirect_uri.path(), &origin, state.client_limit()))
        .merge(proxy::router(state.api.clone(), &origin, state.client_limit()))
        .merge(webhooks::router(state.webhook_state()))
        .merge(embedded::router(state.embedded(), state.client_limit()))
        .merge(paid::router(state.paid()))
        .merge(ops::router(state.ops()))
        .merge(crate::web::assets::router())
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(axum::middleware::from_fn_with_state(state.api.tokens.clone(), crate::auth::tokens::scopes_on_errors))
        .layer(crate::auth::store::layer(state.session_store.clone(), &config.session));
    stack(routes, StackSettings::for_base_url(&config.base_url))
}
