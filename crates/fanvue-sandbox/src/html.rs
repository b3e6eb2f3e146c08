//! The sandbox's HTML pages (consent, the creator surface, checkout, the events page) are
//! askama templates; this renders one into a response.

use axum::response::IntoResponse;

/// Renders one of the sandbox's pages (a render failure is a bare 500: nothing to leak).
pub fn render(page: &impl askama::Template) -> axum::response::Response {
    match page.render() {
        Ok(html) => axum::response::Html(html).into_response(),
        Err(_) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "render failed").into_response(),
    }
}
