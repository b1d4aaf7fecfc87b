//! The web console: static assets embedded in the binary (no CDN; works offline).
//!
//! The page talks to the same API with the user's token, so the role rules of
//! `api::allowed` apply to it unchanged. Counterpart text is only ever inserted
//! with `textContent`, never as markup.

use axum::http::header;
use axum::response::IntoResponse;

/// `GET /`.
pub async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::HeaderName::from_static("content-security-policy"), "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'none'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")],
        include_str!("../assets/index.html"),
    )
}

/// `GET /console.js`.
pub async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../assets/console.js"),
    )
}

/// `GET /sharing.js`: the sharing view and the rendering of received
/// reports, apart from console.js so that neither file grows past reading
/// size. The page loads it before console.js; it only defines functions.
pub async fn sharing_script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../assets/sharing.js"),
    )
}

/// `GET /notices.js`: notices as cards, and the form built from a notice
/// type's schema. Loaded before console.js; it only defines functions.
pub async fn notices_script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../assets/notices.js"),
    )
}

/// `GET /console.css`.
pub async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../assets/console.css"),
    )
}
