//! The web console at `/console/`: static files embedded in the binary
//! (`crates/latchkey-server/console/`), plain HTML, CSS and JavaScript
//! modules that call the same HTTP API as every other client.
//!
//! These routes are the one exception to registering every route from its
//! handler's `#[utoipa::path]`: they serve files, not the API, so they are
//! not in the OpenAPI document. `app()` merges them beside the API.

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;

/// No inline script or style anywhere (no `style=""` attributes either), no
/// framing, no other origin: the console's pages run only its own files.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The page itself is never stored, so a new binary's page (and through it
/// its scripts) is what a reload shows.
const PAGE_CACHE: &str = "no-store";
/// Scripts, styles and data are revalidated on every load by their `ETag`:
/// their names carry no version, so a cached copy must not outlive a release.
const ASSET_CACHE: &str = "no-cache";

/// One embedded file.
struct Asset {
    /// Its path under `/console/`.
    name: &'static str,
    content_type: &'static str,
    cache_control: &'static str,
    body: &'static [u8],
    /// A hash of `body`, computed at compile time.
    etag: u64,
}

/// FNV-1a: cheap, and const, so each asset's `ETag` is fixed at compile time.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut index = 0;
    while index < bytes.len() {
        hash ^= bytes[index] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        index += 1;
    }
    hash
}

macro_rules! asset {
    ($name:literal, $file:expr, $content_type:expr, $cache_control:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            cache_control: $cache_control,
            body: include_bytes!($file),
            etag: fnv1a(include_bytes!($file)),
        }
    };
    ($name:literal, $content_type:expr) => {
        asset!($name, concat!("../console/", $name), $content_type, ASSET_CACHE)
    };
}

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

const INDEX: Asset = asset!(
    "index.html",
    "../console/index.html",
    "text/html; charset=utf-8",
    PAGE_CACHE
);

const ASSETS: &[Asset] = &[
    INDEX,
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", JAVASCRIPT),
    asset!("api.js", JAVASCRIPT),
    asset!("dom.js", JAVASCRIPT),
    asset!("format.js", JAVASCRIPT),
    asset!("session.js", JAVASCRIPT),
    asset!("views/signin.js", JAVASCRIPT),
    asset!("views/list.js", JAVASCRIPT),
    asset!("views/applications.js", JAVASCRIPT),
    asset!("views/application.js", JAVASCRIPT),
    asset!("views/tokens.js", JAVASCRIPT),
    asset!("views/new_token.js", JAVASCRIPT),
    asset!("views/token.js", JAVASCRIPT),
    asset!("views/audit.js", JAVASCRIPT),
    asset!("favicon.svg", "image/svg+xml"),
    // The scope catalog the token form offers, straight from the contract.
    asset!(
        "scopes.json",
        "../../../spec/scopes.json",
        "application/json",
        ASSET_CACHE
    ),
];

/// The console's routes, each response carrying the console's headers.
pub fn router() -> Router {
    Router::new()
        .route("/console", get(redirect_to_page))
        .route(
            "/console/",
            get(|headers: HeaderMap| async move { serve(&INDEX, &headers) }),
        )
        .route("/console/{*name}", get(serve_named))
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(map_response(with_console_headers))
}

/// `/console` → `/console/`, so the page's relative links resolve. The
/// location is relative too, so a proxy may serve the console under a prefix.
async fn redirect_to_page() -> Response {
    (StatusCode::PERMANENT_REDIRECT, [(LOCATION, "console/")]).into_response()
}

async fn serve_named(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|asset| asset.name == name) {
        Some(asset) => serve(asset, &headers),
        None => ApiError::not_found("no such console file").into_response(),
    }
}

fn serve(asset: &Asset, request: &HeaderMap) -> Response {
    let etag = format!("\"{:016x}\"", asset.etag);
    let headers = [
        (CONTENT_TYPE, asset.content_type.to_string()),
        (CACHE_CONTROL, asset.cache_control.to_string()),
        (ETAG, etag.clone()),
    ];
    let unchanged = request
        .get(IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    if unchanged {
        (StatusCode::NOT_MODIFIED, headers).into_response()
    } else {
        (headers, asset.body).into_response()
    }
}

/// Every console response, its errors included, is locked down the same way.
async fn with_console_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static(PAGE_CACHE));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_names_are_unique_and_relative() {
        for (index, asset) in ASSETS.iter().enumerate() {
            assert!(!asset.name.starts_with('/'), "{}", asset.name);
            assert!(
                ASSETS[..index].iter().all(|other| other.name != asset.name),
                "{} is listed twice",
                asset.name
            );
        }
    }

    #[test]
    fn etags_follow_the_content() {
        assert_eq!(fnv1a(b"a"), fnv1a(b"a"));
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
    }
}
