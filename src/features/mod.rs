//! The app's features, one folder each. A feature owns its routes, the layers on them
//! (time limits, body limits, the cross-site refusal, JSON errors), its state and its errors;
//! it may use `config`, `infra`, `web` and `auth`, and never another feature. The app's
//! assembly (`crate::app`) wires them together.

pub mod console;
pub mod embedded;
pub mod login;
pub mod ops;
pub mod paid;
pub mod proxy;
pub mod webhooks;
