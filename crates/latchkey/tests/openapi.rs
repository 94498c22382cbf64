//! `GET /openapi.json`: an OpenAPI 3.1 document of every route the server
//! serves, and of nothing it does not. (The document is checked against the
//! live server's answers by the schemathesis run of `scripts/test.sh`.)

mod common;

use std::collections::BTreeSet;

use common::{each_server, Body, IssuedToken};
use reqwest::Method;
use serde_json::{json, Value};

/// Every route of spec section 1 (with the audit log's of section 10) and
/// the operators' routes, as the document must list them.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/applications"),
    ("post", "/applications"),
    ("get", "/applications/{applicationId}"),
    ("patch", "/applications/{applicationId}"),
    ("delete", "/applications/{applicationId}"),
    ("get", "/applications/{applicationId}/tokens"),
    ("post", "/applications/{applicationId}/tokens"),
    ("patch", "/applications/{applicationId}/tokens"),
    ("delete", "/applications/{applicationId}/tokens"),
    ("get", "/applications/{applicationId}/tokens/{apiTokenId}"),
    ("patch", "/applications/{applicationId}/tokens/{apiTokenId}"),
    ("delete", "/applications/{applicationId}/tokens/{apiTokenId}"),
    ("get", "/orgs/{orgId}/audit-logs"),
    ("get", "/orgs/{orgId}/audit-logs/{auditLogId}"),
    ("get", "/applications/{applicationId}/audit-logs"),
    ("get", "/applications/{applicationId}/audit-logs/{auditLogId}"),
    ("get", "/applications/{applicationId}/verifier/revoked"),
    ("get", "/applications/{applicationId}/verifier/changes"),
    ("get", "/auth/introspect"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// `(method, path template)` of every operation in the document.
fn operations(document: &Value) -> BTreeSet<(String, String)> {
    let paths = document["paths"].as_object().expect("the document has paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().expect("a path item is an object");
            item.keys()
                .filter(|key| METHODS.contains(&key.as_str()))
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect()
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_lists_every_route() {
    each_server(|server| async move {
        let reply = server.api.call(Method::GET, "/openapi.json", None, Body::None).await;
        let document = reply.expect(200);
        let version = document["openapi"].as_str().unwrap_or_default();
        assert!(version.starts_with("3.1."), "not OpenAPI 3.1: {version:?}");

        let expected: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|(method, path)| (method.to_string(), path.to_string()))
            .collect();
        assert_eq!(operations(document), expected);

        let operation_ids: Vec<&str> = expected
            .iter()
            .map(|(method, path)| {
                document["paths"][path][method]["operationId"]
                    .as_str()
                    .unwrap_or_default()
            })
            .collect();
        let unique: BTreeSet<&str> = operation_ids.iter().copied().collect();
        assert_eq!(
            unique.len(),
            operation_ids.len(),
            "operation ids repeat: {operation_ids:?}"
        );
        assert!(!unique.contains(""), "an operation without an id: {operation_ids:?}");
    })
    .await;
}

/// The router and the document agree: every documented operation reaches
/// its handler (not the `404` of an unknown route nor a `405`), and every
/// other method on a documented path is `405`. (A route of a path the
/// document does not know cannot be probed for; `routes::router` registers
/// every route from its handler's `#[utoipa::path]`, so none can exist.)
#[tokio::test]
async fn the_server_serves_exactly_what_the_document_lists() {
    each_server(|server| async move {
        let api = &server.api;
        let admin = server.admin_token.as_str();
        let document = api
            .call(Method::GET, "/openapi.json", None, Body::None)
            .await
            .expect(200)
            .clone();
        let application = api.create_application(admin, "openapi").await;
        let IssuedToken { id: token, .. } = api.new_app_token(admin, &application, "openapi").await;
        let concrete = |template: &str| {
            template
                .replace("{applicationId}", &application)
                .replace("{apiTokenId}", &token)
        };
        let documented = operations(&document);
        let paths: BTreeSet<&String> = documented.iter().map(|(_, path)| path).collect();
        for template in paths {
            let target = concrete(template);
            for method in METHODS {
                let body = json!({});
                let reply = api
                    .call(
                        method.to_uppercase().parse().unwrap(),
                        &target,
                        Some(admin),
                        Body::Json(&body),
                    )
                    .await;
                let served = documented.contains(&(method.to_string(), template.clone()));
                if served {
                    assert_ne!(reply.status, 405, "documented but not served: {reply:?}");
                    let unknown_route = reply.status == 404
                        && reply
                            .json
                            .as_ref()
                            .is_some_and(|body| body["message"] == "no such endpoint");
                    assert!(!unknown_route, "documented but not routed: {reply:?}");
                } else {
                    reply.expect_error(405, "MethodNotAllowed");
                }
            }
        }
    })
    .await;
}
