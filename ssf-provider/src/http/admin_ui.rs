//! The admin web UI at `/admin/`: a small single-page app over the admin JSON API
//! (`/admin/api/v1`), for administrators who would rather look than read JSON.
//!
//! The page, its script and its stylesheet are compiled into the binary, so the UI works
//! offline and needs no build step. It signs in with the admin token, keeps it in
//! `sessionStorage` and sends it as a bearer header; no cookie is ever set, so a forged
//! cross-site request carries no credential. A strict Content-Security-Policy allows only the
//! script and stylesheet served here (no inline code, no other origin), so text that reaches
//! the page from the API cannot run. See `docs/admin-ui.md`.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use tower_http::set_header::SetResponseHeaderLayer;

const INDEX_HTML: &str = include_str!("../../assets/admin/index.html");
const APP_JS: &str = include_str!("../../assets/admin/app.js");
const APP_CSS: &str = include_str!("../../assets/admin/app.css");
const ICON_SVG: &str = include_str!("../../assets/admin/icon.svg");

/// Only this origin's script, stylesheet and icon; API calls to this origin; nothing else.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The UI's routes: `/admin` (redirect), `/admin/` and its three assets.
pub fn router() -> Router {
    let ui = Router::new()
        .route("/admin/", get(index))
        .route("/admin/app.js", get(script))
        .route("/admin/app.css", get(stylesheet))
        .route("/admin/icon.svg", get(icon));
    let ui = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        // Assets change with the binary; revalidating costs little at this size.
        (header::CACHE_CONTROL, "no-cache"),
    ]
    .into_iter()
    .fold(ui, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ))
    });
    // Relative, so the redirect also works when a reverse proxy serves us under a path prefix.
    ui.route("/admin", get(|| async { Redirect::permanent("admin/") }))
}

async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        INDEX_HTML,
    )
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        APP_JS,
    )
}

async fn stylesheet() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS)
}

async fn icon() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "image/svg+xml")], ICON_SVG)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    async fn get_path(path: &str) -> axum::response::Response {
        let request = Request::get(path)
            .body(Body::empty())
            .expect("a valid request");
        router()
            .oneshot(request)
            .await
            .expect("the router is infallible")
    }

    fn header_of<'a>(response: &'a axum::response::Response, name: &HeaderName) -> &'a str {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    #[tokio::test]
    async fn every_asset_is_served_with_its_type_and_the_strict_policy() {
        for (path, mime) in [
            ("/admin/", "text/html"),
            ("/admin/app.js", "text/javascript"),
            ("/admin/app.css", "text/css"),
            ("/admin/icon.svg", "image/svg+xml"),
        ] {
            let response = get_path(path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert!(
                header_of(&response, &header::CONTENT_TYPE).starts_with(mime),
                "{path}"
            );
            assert_eq!(
                header_of(&response, &header::CONTENT_SECURITY_POLICY),
                CONTENT_SECURITY_POLICY,
                "{path}"
            );
            assert_eq!(
                header_of(&response, &header::X_CONTENT_TYPE_OPTIONS),
                "nosniff",
                "{path}"
            );
            assert!(
                response.headers().get(header::SET_COOKIE).is_none(),
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn the_bare_path_redirects_relative_to_itself() {
        let response = get_path("/admin").await;
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(header_of(&response, &header::LOCATION), "admin/");
    }

    #[tokio::test]
    async fn the_page_loads_its_assets_relative_to_itself() {
        let body = to_bytes(get_path("/admin/").await.into_body(), 1 << 20)
            .await
            .expect("a body");
        let html = String::from_utf8(body.to_vec()).expect("utf-8");
        assert!(html.contains(r#"<script src="app.js""#));
        assert!(html.contains(r#"href="app.css""#));
    }

    #[test]
    fn the_policy_allows_no_inline_code_and_no_other_origin() {
        assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self';"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
        assert!(!CONTENT_SECURITY_POLICY.contains("http"));
    }

    /// The policy would block these anyway; failing here names the offending markup.
    #[test]
    fn the_page_has_no_inline_script_style_or_external_resource() {
        let html = INDEX_HTML.to_ascii_lowercase();
        assert_eq!(
            html.matches("<script").count(),
            html.matches("<script src=").count()
        );
        for forbidden in [
            " style=",
            " onclick=",
            " onload=",
            " onerror=",
            "http://",
            "https://",
            "<style",
        ] {
            assert!(
                !html.contains(forbidden),
                "index.html contains {forbidden:?}"
            );
        }
        for forbidden in ["http://", "https://", "@import", "url("] {
            assert!(
                !APP_CSS.contains(forbidden),
                "app.css contains {forbidden:?}"
            );
        }
    }

    /// Data from the API is rendered as text; markup parsing from strings is never used.
    #[test]
    fn the_script_never_parses_strings_as_markup() {
        for forbidden in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ] {
            assert!(!APP_JS.contains(forbidden), "app.js uses {forbidden}");
        }
    }
}
