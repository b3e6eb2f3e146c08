//! Static files (CSS, logo, favicon), compiled into the binary so it runs from any folder.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// `(name, content type, bytes)` of every file under `static/`.
const FILES: [(&str, &str, &[u8]); 7] = [
    ("local-time.js", "text/javascript; charset=utf-8", include_bytes!("../../static/local-time.js")),
    ("upload.js", "text/javascript; charset=utf-8", include_bytes!("../../static/upload.js")),
    ("embedded.js", "text/javascript; charset=utf-8", include_bytes!("../../static/embedded.js")),
    ("events.js", "text/javascript; charset=utf-8", include_bytes!("../../static/events.js")),
    ("app.css", "text/css; charset=utf-8", include_bytes!("../../static/app.css")),
    ("logo.svg", "image/svg+xml", include_bytes!("../../static/logo.svg")),
    ("favicon.svg", "image/svg+xml", include_bytes!("../../static/favicon.svg")),
];

/// `/static/{file}` and `/favicon.ico`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/static/{file}", get(serve))
        .route("/favicon.ico", get(|| serve(Path("favicon.svg".to_owned()))))
}

async fn serve(Path(file): Path<String>) -> Response {
    let Some((_, content_type, bytes)) = FILES.iter().find(|(name, _, _)| *name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        *bytes,
    )
        .into_response()
}
