//! Bodies that are not what an endpoint accepts: always `400 Validation` with
//! a message, whatever the `Content-Type`; over 1 MiB `413`; never a 5xx,
//! and nothing is stored.

mod common;

use common::{each_server, token_path, tokens_path, Api, Body};
use reqwest::Method;
use serde_json::json;

/// What clients put in `Content-Type`; the server must not care.
const CONTENT_TYPES: [Option<&str>; 5] = [
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data; boundary=x"),
    Some("text/plain; charset=utf-8"),
    None,
];

/// Bodies no endpoint accepts: not JSON, or JSON but not an object.
const NOT_AN_OBJECT: [&str; 18] = [
    "",
    "   ",
    "{",
    "{\"name\": }",
    "{\"name\": \"x\",}",
    "{'name': 'x'}",
    "{name: \"x\"}",
    "{\"name\": \"x\"} trailing",
    "{\"name\": \"x\"}{\"name\": \"y\"}",
    "name=x",
    "name=x&description=y",
    "--x\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n--x--\r\n",
    "[]",
    "[{\"name\": \"x\"}]",
    "\"x\"",
    "null",
    "5",
    "true",
];

/// Objects of a token POST with a property of the wrong type or value.
const BAD_TOKEN_POSTS: [&str; 13] = [
    r#"{"name": 5}"#,
    r#"{"name": null}"#,
    r#"{"name": ["x"]}"#,
    r#"{"name": {"text": "x"}}"#,
    r#"{"name": "x", "scope": "x"}"#,
    r#"{"name": "x", "scope": ["all.Application", 5]}"#,
    r#"{"name": "x", "scope": {"all.Application": true}}"#,
    r#"{"name": "x", "status": true}"#,
    r#"{"name": "x", "status": "ACTIVE"}"#,
    r#"{"name": "x", "description": 5}"#,
    r#"{"name": "x", "expirationDate": 4102444800000}"#,
    r#"{"name": "x", "expirationDate": "next tuesday"}"#,
    r#"{"description": "no name"}"#,
];

/// Objects of a token PATCH with a wrong type or a property it may not change.
const BAD_TOKEN_PATCHES: [&str; 7] = [
    r#"{"name": 5}"#,
    r#"{"name": ""}"#,
    r#"{"status": true}"#,
    r#"{"status": "deleted"}"#,
    r#"{"description": false}"#,
    r#"{"scope": ["all.Application"]}"#,
    r#"{"expirationDate": "2099-01-01T00:00:00.000Z"}"#,
];

/// Sends `body` with every content type; each must be refused as `400 Validation`.
async fn assert_refused(api: &Api, method: &Method, target: &str, token: &str, body: &str) {
    for content_type in CONTENT_TYPES {
        let raw = Body::Raw(body.as_bytes().to_vec(), content_type);
        let reply = api.call(method.clone(), target, Some(token), raw).await;
        let message = reply.expect_error(400, "Validation");
        assert!(message.len() > 10, "a message a person can act on: {reply:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_are_not_accepted_objects_are_400_and_store_nothing() {
    each_server(|server| async move {
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "bodies").await;
        let kept = api
            .create_token(admin, &app, &json!({ "name": "unchanged", "description": "d" }))
            .await;
        let kept_path = token_path(&app, kept["id"].as_str().unwrap());
        let app_path = format!("/applications/{app}");

        let endpoints = [
            (Method::POST, tokens_path(&app), BAD_TOKEN_POSTS.as_slice()),
            (Method::PATCH, kept_path.clone(), BAD_TOKEN_PATCHES.as_slice()),
            (Method::POST, "/applications".to_string(), &BAD_TOKEN_POSTS[..4]),
            (Method::PATCH, app_path.clone(), &BAD_TOKEN_PATCHES[..2]),
        ];
        for (method, target, wrong_objects) in &endpoints {
            for body in NOT_AN_OBJECT.iter().chain(wrong_objects.iter()) {
                assert_refused(api, method, target, admin, body).await;
            }
        }

        // Nothing was created or changed by any of them.
        let listing = api.get(&tokens_path(&app), admin).await;
        let listing = listing.expect(200);
        assert_eq!(listing["totalCount"], 1, "{listing}");
        let read = api.get(&kept_path, admin).await;
        let read = read.expect(200);
        for field in ["name", "description", "status", "scope", "lastUpdated"] {
            assert_eq!(read[field], kept[field], "{field} changed: {read}");
        }
        let app_read = api.get(&app_path, admin).await;
        assert_eq!(app_read.expect(200)["name"], "bodies");
    })
    .await;
}

const MIB: usize = 1024 * 1024;

/// A valid token POST padded with JSON whitespace to exactly `size` bytes.
fn padded_post(size: usize) -> Vec<u8> {
    let object = br#"{"name": "padded"}"#;
    let mut body = vec![b' '; size - object.len()];
    body.extend_from_slice(object);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_one_mebibyte_are_413() {
    each_server(|server| async move {
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "large bodies").await;
        let target = tokens_path(&app);

        // Exactly 1 MiB is not over the limit.
        let exactly = Body::Raw(padded_post(MIB), Some("application/json"));
        api.call(Method::POST, &target, Some(admin), exactly).await.expect(201);

        // Oversized bodies go over a raw socket: the server may answer before
        // reading them all, and an HTTP client would stop at the broken pipe.
        let id = api.new_app_token(admin, &app, "patched").await.id;
        let with_body = [
            ("POST", target.clone()),
            ("PATCH", token_path(&app, &id)),
            ("POST", "/applications".to_string()),
            ("PATCH", format!("/applications/{app}")),
        ];
        for (method, target) in &with_body {
            for size in [MIB + 1, 8 * MIB] {
                api.raw_with_body(method, target, admin, &padded_post(size))
                    .await
                    .expect_error(413, "PayloadTooLarge");
            }
        }

        // Without a Content-Length (chunked), the limit still holds.
        let chunk = vec![b' '; 64 * 1024];
        let mut request = format!(
            "POST {target} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {admin}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
             Connection: close\r\n\r\n",
            api.addr
        )
        .into_bytes();
        for _ in 0..(2 * MIB / chunk.len()) {
            request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            request.extend_from_slice(&chunk);
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"0\r\n\r\n");
        api.raw(request).await.expect_error(413, "PayloadTooLarge");

        let listing = api.get(&tokens_path(&app), admin).await;
        assert_eq!(
            listing.expect(200)["totalCount"],
            2,
            "only the 1 MiB body and `patched` were stored"
        );
    })
    .await;
}
