//! Anything but a genuine, current token in exactly one `Bearer` header is
//! `401 Unauthorized`, however close to a real token it looks.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{b64url, each_server, tokens_path, Api, Jwt};
use ed25519_dalek::{Signer, SigningKey};
use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use serde_json::{json, Value};

/// A key the service never had: deterministic, so a failure reproduces.
fn foreign_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

/// `header.payload`, base64url-encoded.
fn signing_input(header: &Value, payload: &Value) -> String {
    format!("{}.{}", b64url(header.to_string()), b64url(payload.to_string()))
}

fn sign(key: &SigningKey, header: &Value, payload: &Value) -> String {
    let input = signing_input(header, payload);
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64url(signature.to_bytes()))
}

/// Tokens built from a genuine one (`real`, a token of application `app`),
/// each with one thing wrong, named for the failure message.
fn forgeries(real: &str, other_real: &str) -> Vec<(&'static str, String)> {
    let jwt = Jwt::decode(real);
    let [header, payload, signature] = [0, 1, 2].map(|n| real.split('.').nth(n).unwrap().to_string());
    let other_payload = other_real.split('.').nth(1).unwrap();
    let with_alg = |alg: &str| {
        let mut header = jwt.header.clone();
        header["alg"] = json!(alg);
        header
    };
    let mut escalated = jwt.payload.clone();
    escalated["scope"] = json!(["all.User"]);
    escalated["exp"] = json!(4_102_444_800u64);
    let mut flipped = jwt.signature.clone();
    flipped[0] ^= 1;
    let mut foreign_kid = jwt.header.clone();
    foreign_kid["kid"] = json!(b64url(foreign_key().verifying_key().as_bytes()));

    vec![
        (
            "alg none, no signature",
            format!("{}.", signing_input(&with_alg("none"), &jwt.payload)),
        ),
        (
            "alg none, the real signature",
            format!("{}.{signature}", signing_input(&with_alg("none"), &jwt.payload)),
        ),
        (
            "alg HS256, the real signature",
            format!("{}.{signature}", signing_input(&with_alg("HS256"), &jwt.payload)),
        ),
        (
            "another Ed25519 key under the real kid",
            sign(&foreign_key(), &jwt.header, &jwt.payload),
        ),
        (
            "another Ed25519 key under its own kid",
            sign(&foreign_key(), &foreign_kid, &jwt.payload),
        ),
        (
            "tampered payload, real signature",
            format!("{header}.{}.{signature}", b64url(escalated.to_string())),
        ),
        (
            "another token's payload, this signature",
            format!("{header}.{other_payload}.{signature}"),
        ),
        (
            "one signature bit flipped",
            format!("{header}.{payload}.{}", b64url(&flipped)),
        ),
        (
            "signature cut short",
            format!("{header}.{payload}.{}", &signature[..signature.len() - 4]),
        ),
        ("no signature", format!("{header}.{payload}.")),
        ("two segments", format!("{header}.{payload}")),
        ("four segments", format!("{real}.{signature}")),
        ("trailing garbage", format!("{real}x")),
        (
            // Always differs from the real one: standard base64 pads 64 bytes with `==`.
            "the signature in padded standard base64",
            format!("{header}.{payload}.{}", STANDARD.encode(&jwt.signature)),
        ),
        ("padded base64url", format!("{header}=.{payload}.{signature}")),
        ("case changed", real.to_uppercase()),
        ("random garbage", "h8Q2#kLx%00!!".to_string()),
        ("three dots", "..".to_string()),
        ("garbage segments", "a.b.c".to_string()),
        ("20 KiB", "A".repeat(20 * 1024)),
    ]
}

/// Authorization header values that are not exactly `Bearer <one token>`.
fn malformed_headers(real: &str) -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("Bearer without a token", "Bearer".to_string()),
        ("Bearer and a space", "Bearer ".to_string()),
        ("the token without a scheme", real.to_string()),
        ("Basic scheme", format!("Basic {real}")),
        ("Token scheme", format!("Token {real}")),
        ("Bearer glued to the token", format!("Bearer{real}")),
        ("two tokens", format!("Bearer {real} {real}")),
        ("two Bearer credentials", format!("Bearer {real}, Bearer {real}")),
        ("quoted token", format!("Bearer \"{real}\"")),
    ]
}

async fn expect_401(api: &Api, what: &str, request: reqwest::RequestBuilder) {
    let reply = api.send(request).await;
    assert_eq!(reply.status, 401, "{what}: {reply:?}");
    reply.expect_error(401, "Unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_malformed_credentials_are_401() {
    each_server(|server| async move {
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "forgeries").await;
        let real = api.new_app_token(admin, &app, "real").await.secret;
        let other = api.new_app_token(admin, &app, "other").await.secret;
        let list = tokens_path(&app);

        // The genuine token works, with the scheme in any case: the 401s
        // below are about the forgeries, not the endpoint.
        for scheme in ["Bearer", "bearer", "BEARER"] {
            let request = api
                .request(Method::GET, &list, None)
                .header(AUTHORIZATION, format!("{scheme} {real}"));
            api.send(request).await.expect(200);
        }

        for (what, forged) in forgeries(&real, &other).into_iter().chain(forgeries(admin, &other)) {
            for target in [list.as_str(), "/auth/introspect", "/applications"] {
                expect_401(api, what, api.request(Method::GET, target, Some(&forged))).await;
            }
            let create = api
                .request(Method::POST, &list, Some(&forged))
                .json(&json!({ "name": "minted by a forgery" }));
            expect_401(api, what, create).await;
        }

        for (what, value) in malformed_headers(&real) {
            let request = api.request(Method::GET, &list, None).header(AUTHORIZATION, value);
            expect_401(api, what, request).await;
        }
        expect_401(api, "no Authorization header", api.request(Method::GET, &list, None)).await;
        let twice = api
            .request(Method::GET, &list, Some(&real))
            .header(AUTHORIZATION, format!("Bearer {real}"));
        expect_401(api, "two Authorization headers", twice).await;

        // Not one forgery minted a token.
        let listing = api.get(&list, admin).await;
        assert_eq!(listing.expect(200)["totalCount"], 2);
    })
    .await;
}
