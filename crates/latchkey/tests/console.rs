//! The web console's files as the server sends them: every file of
//! `crates/latchkey-server/console/` (and the scope catalog) at `/console/`,
//! with its content type, the console's security headers and a fitting
//! cache policy; unknown console paths `404`; no inline script or style,
//! and no HTML built from strings; and cross-origin access to the API only
//! for configured origins.

mod common;

use std::path::{Path, PathBuf};

use common::{each_backend, each_server, Server};
use reqwest::header::{HeaderMap, CACHE_CONTROL, CONTENT_TYPE, IF_NONE_MATCH, LOCATION};
use reqwest::redirect::Policy;
use reqwest::{Method, StatusCode};

const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The console's source folder, whose every file the server must serve.
fn console_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../latchkey-server/console")
}

/// Every file under the console's folder, as its path relative to it.
fn console_files() -> Vec<String> {
    fn walk(folder: &Path, base: &Path, files: &mut Vec<String>) {
        for entry in std::fs::read_dir(folder).expect("the console folder is readable") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                walk(&path, base, files);
            } else {
                let relative = path.strip_prefix(base).expect("under the folder");
                files.push(relative.to_str().expect("file names are UTF-8").to_string());
            }
        }
    }
    let mut files = Vec::new();
    walk(&console_folder(), &console_folder(), &mut files);
    files.sort();
    files
}

fn content_type_for(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        _ => panic!("{name}: a console file of a kind this test does not know; add its content type"),
    }
}

/// A client that shows redirects instead of following them.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(Policy::none())
        .build()
        .expect("an HTTP client")
}

async fn get(server: &Server, path: &str) -> reqwest::Response {
    http()
        .get(format!("{}{path}", server.api.base))
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET {path}: {error}"))
}

#[track_caller]
fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .map(|value| value.to_str().expect("an ASCII header"))
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
}

#[track_caller]
fn assert_console_headers(path: &str, headers: &HeaderMap) {
    assert_eq!(
        header(headers, "content-security-policy"),
        CONTENT_SECURITY_POLICY,
        "{path}"
    );
    assert_eq!(header(headers, "x-content-type-options"), "nosniff", "{path}");
    assert_eq!(header(headers, "referrer-policy"), "no-referrer", "{path}");
    assert!(headers.contains_key(CACHE_CONTROL), "{path}: no Cache-Control");
}

#[test]
fn the_policy_allows_no_inline_script_or_style_and_no_other_origin() {
    for directive in CONTENT_SECURITY_POLICY.split(';') {
        let directive = directive.trim();
        assert!(!directive.contains("unsafe"), "{directive}");
        assert!(!directive.contains('*'), "{directive}");
        assert!(!directive.contains("http"), "{directive}");
    }
}

#[tokio::test]
async fn every_console_file_is_served_with_its_type_and_the_console_headers() {
    let files = console_files();
    assert!(
        files.contains(&"index.html".to_string()) && files.len() > 5,
        "{files:?}"
    );
    each_server(|server| {
        let files = files.clone();
        async move {
            for name in &files {
                let path = format!("/console/{name}");
                let response = get(&server, &path).await;
                assert_eq!(response.status(), StatusCode::OK, "{path}");
                let headers = response.headers().clone();
                assert_console_headers(&path, &headers);
                assert_eq!(header(&headers, "content-type"), content_type_for(name), "{path}");
                let expected_cache = if name.ends_with(".html") {
                    "no-store"
                } else {
                    "no-cache"
                };
                assert_eq!(header(&headers, "cache-control"), expected_cache, "{path}");
                let body = response.bytes().await.expect("a body");
                let on_disk = std::fs::read(console_folder().join(name)).expect("the file");
                assert!(body == on_disk, "{path}: the served file differs from the one on disk");

                // Revalidation: the same ETag answers 304, still with the headers.
                let etag = header(&headers, "etag").to_string();
                let revalidated = http()
                    .get(format!("{}{path}", server.api.base))
                    .header(IF_NONE_MATCH, &etag)
                    .send()
                    .await
                    .expect("an answer");
                assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED, "{path}");
                assert_console_headers(&path, revalidated.headers());
                assert_eq!(header(revalidated.headers(), "etag"), etag, "{path}");
            }

            // The page itself, at the folder's address.
            let page = get(&server, "/console/").await;
            assert_eq!(page.status(), StatusCode::OK);
            assert_console_headers("/console/", page.headers());
            assert_eq!(header(page.headers(), "cache-control"), "no-store");
            assert_eq!(header(page.headers(), "content-type"), "text/html; charset=utf-8");

            // The scope catalog the token form offers is the contract's.
            let scopes = get(&server, "/console/scopes.json").await;
            assert_eq!(scopes.status(), StatusCode::OK);
            assert_console_headers("/console/scopes.json", scopes.headers());
            assert_eq!(header(scopes.headers(), "content-type"), "application/json");
            let served = scopes.bytes().await.expect("a body");
            let contract = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/scopes.json"))
                .expect("spec/scopes.json");
            assert!(served == contract, "scopes.json is not spec/scopes.json");
        }
    })
    .await;
}

#[tokio::test]
async fn console_redirects_to_its_folder_and_unknown_paths_are_404() {
    each_server(|server| async move {
        let redirect = get(&server, "/console").await;
        assert_eq!(redirect.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(header(redirect.headers(), LOCATION.as_str()), "console/");
        assert_console_headers("/console", redirect.headers());

        for path in [
            "/console/nope.js",
            "/console/views/",
            "/console/views",
            "/console/INDEX.HTML",
            "/console/..%2fspec/API.md",
            "/console/index.html/",
        ] {
            let response = get(&server, path).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
            assert_console_headers(path, response.headers());
            assert_eq!(
                header(response.headers(), CONTENT_TYPE.as_str()),
                "application/json",
                "{path}"
            );
            let body: serde_json::Value = response.json().await.expect("a JSON error");
            assert_eq!(body["type"], "NotFound", "{path}");
        }

        let posted = http()
            .post(format!("{}/console/", server.api.base))
            .send()
            .await
            .expect("an answer");
        assert_eq!(posted.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_console_headers("POST /console/", posted.headers());
    })
    .await;
}

/// What a page may not do under the policy, and what would open it to
/// injection, is nowhere in the console's files: no inline script or
/// style, no HTML parsed from strings, no code from strings.
#[test]
fn the_console_has_no_inline_code_and_builds_no_html_from_strings() {
    let forbidden_everywhere = ["style=\"", "style='", "javascript:"];
    let forbidden_in_scripts = [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "setAttribute('style'",
        ".style.",
        "createContextualFragment",
        "DOMParser",
    ];
    for name in console_files() {
        let text = std::fs::read_to_string(console_folder().join(&name)).expect("a text file");
        for needle in forbidden_everywhere {
            assert!(!text.contains(needle), "{name} contains {needle:?}");
        }
        if name.ends_with(".js") {
            for needle in forbidden_in_scripts {
                assert!(!text.contains(needle), "{name} contains {needle:?}");
            }
        }
        if name.ends_with(".html") {
            assert!(!text.contains("<style"), "{name} has an inline style sheet");
            for script in text.split("<script").skip(1) {
                let tag = script.split('>').next().unwrap_or_default();
                assert!(tag.contains("src="), "{name} has an inline script: <script{tag}>");
            }
            let handler = text.split(" on").skip(1).find(|rest| {
                let attribute: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
                !attribute.is_empty() && rest[attribute.len()..].starts_with('=')
            });
            assert!(
                handler.is_none(),
                "{name} has an inline event handler: on{:.40}",
                handler.unwrap_or_default()
            );
        }
    }
}

const ALLOWED: &str = "https://ops.example.com";

async fn preflight(server: &Server, origin: &str) -> reqwest::Response {
    http()
        .request(Method::OPTIONS, format!("{}/applications", server.api.base))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "PATCH")
        .header("Access-Control-Request-Headers", "authorization, content-type")
        .send()
        .await
        .expect("an answer")
}

async fn cross_origin_get(server: &Server, origin: &str) -> reqwest::Response {
    http()
        .get(format!("{}/auth/introspect", server.api.base))
        .header("Origin", origin)
        .bearer_auth(&server.admin_token)
        .send()
        .await
        .expect("an answer")
}

fn cors_headers(headers: &HeaderMap) -> Vec<String> {
    headers
        .keys()
        .map(|name| name.as_str().to_string())
        .filter(|name| name.starts_with("access-control-"))
        .collect()
}

#[tokio::test]
async fn without_configured_origins_no_response_carries_cors_headers() {
    each_server(|server| async move {
        let refused = preflight(&server, ALLOWED).await;
        assert_eq!(cors_headers(refused.headers()), Vec::<String>::new());
        let answered = cross_origin_get(&server, ALLOWED).await;
        assert_eq!(answered.status(), StatusCode::OK);
        assert_eq!(cors_headers(answered.headers()), Vec::<String>::new());
        let page = http()
            .get(format!("{}/console/", server.api.base))
            .header("Origin", ALLOWED)
            .send()
            .await
            .expect("an answer");
        assert_eq!(cors_headers(page.headers()), Vec::<String>::new());
    })
    .await;
}

#[tokio::test]
async fn configured_origins_and_only_they_may_call_the_api_from_a_browser() {
    each_backend(|backend| async move {
        let origins = format!("{ALLOWED},http://localhost:3000");
        let server = Server::start_with_env(&backend, &[("LATCHKEY_CORS_ORIGINS", origins.as_str())]);

        let allowed = preflight(&server, ALLOWED).await;
        assert!(allowed.status().is_success(), "{:?}", allowed.status());
        let headers = allowed.headers();
        assert_eq!(header(headers, "access-control-allow-origin"), ALLOWED);
        assert!(
            header(headers, "access-control-allow-methods").contains("PATCH"),
            "{headers:?}"
        );
        let allowed_headers = header(headers, "access-control-allow-headers").to_ascii_lowercase();
        assert!(
            allowed_headers.contains("authorization") && allowed_headers.contains("content-type"),
            "{headers:?}"
        );
        assert!(!headers.contains_key("access-control-allow-credentials"), "{headers:?}");

        let answered = cross_origin_get(&server, "http://localhost:3000").await;
        assert_eq!(answered.status(), StatusCode::OK);
        assert_eq!(
            header(answered.headers(), "access-control-allow-origin"),
            "http://localhost:3000"
        );
        assert!(header(answered.headers(), "access-control-expose-headers").contains("x-request-id"));

        for stranger in [
            "https://evil.example",
            "https://ops.example.com.evil.example",
            "http://ops.example.com",
        ] {
            let refused = preflight(&server, stranger).await;
            assert!(
                !refused.headers().contains_key("access-control-allow-origin"),
                "{stranger}: {:?}",
                refused.headers()
            );
            let answered = cross_origin_get(&server, stranger).await;
            assert!(
                !answered.headers().contains_key("access-control-allow-origin"),
                "{stranger}: {:?}",
                answered.headers()
            );
        }
        drop(server);
        drop(backend);
    })
    .await;
}
