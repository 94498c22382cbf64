//! A valid token outside its reach gets `404`, never `403`: the answer must
//! not reveal that the application (or token) exists (spec sections 2, 3, 6).

mod common;

use common::{each_server, run_cli, token_path, tokens_path, Api, Body, UNKNOWN_ID};
use reqwest::Method;
use serde_json::json;

/// Every endpoint under one application, with a body where one is expected.
fn endpoints_of(app: &str, token_id: &str) -> Vec<(Method, String)> {
    vec![
        (Method::GET, tokens_path(app)),
        (Method::POST, tokens_path(app)),
        (Method::GET, token_path(app, token_id)),
        (Method::PATCH, token_path(app, token_id)),
        (Method::DELETE, token_path(app, token_id)),
        (Method::GET, format!("/applications/{app}")),
        (Method::PATCH, format!("/applications/{app}")),
        (Method::DELETE, format!("/applications/{app}")),
    ]
}

/// Each endpoint of `app` answers `token` with `404 NotFound`.
async fn assert_unreachable(api: &Api, token: &str, app: &str, token_id: &str, who: &str) {
    let body = json!({ "name": "should not happen" });
    for (method, target) in endpoints_of(app, token_id) {
        let body = if method == Method::POST || method == Method::PATCH {
            Body::Json(&body)
        } else {
            Body::None
        };
        let reply = api.call(method.clone(), &target, Some(token), body).await;
        assert_eq!(reply.status, 404, "{who}: {method} {target}: {reply:?}");
        reply.expect_error(404, "NotFound");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_outside_their_reach_get_404() {
    each_server(|server| async move {
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let first = api.create_application(admin, "first").await;
        let second = api.create_application(admin, "second").await;
        let first_token = api.new_app_token(admin, &first, "of first").await;
        let second_token = api.new_app_token(admin, &second, "of second").await;

        // An application token on another application of the same owner,
        // even one it holds every scope for: 404 everywhere.
        let why = "an application token on another application";
        assert_unreachable(api, &first_token.secret, &second, &second_token.id, why).await;
        // ... and on an application that does not exist.
        let why = "an application token on a missing application";
        assert_unreachable(api, &first_token.secret, UNKNOWN_ID, &second_token.id, why).await;
        let why = "a user token on a missing application";
        assert_unreachable(api, admin, UNKNOWN_ID, &first_token.id, why).await;

        // A token id that exists, but in another application, is 404 even
        // for a caller that reaches both applications.
        for (method, body) in [
            (Method::GET, Body::None),
            (Method::PATCH, Body::Json(&json!({ "name": "moved?" }))),
            (Method::DELETE, Body::None),
        ] {
            let target = token_path(&first, &second_token.id);
            let reply = api.call(method, &target, Some(admin), body).await;
            reply.expect_error(404, "NotFound");
        }

        // Another user's token reaches none of admin's applications.
        // (Named after the application, so the name is new on any database.)
        let outsider = format!("outsider of {first}");
        let database = server.database_url.as_str();
        run_cli(&["admin", "user", "create", "--database", database, "--name", &outsider]);
        let outsider_token = run_cli(&["admin-token", "--database", database, "--user", &outsider]);
        let why = "another user's token";
        assert_unreachable(api, &outsider_token, &first, &first_token.id, why).await;
        let listing = api.get("/applications", &outsider_token).await;
        assert_eq!(listing.expect(200)["totalCount"], 0);

        // Introspection answers `allowed: false`, never an error, for an
        // application outside the reach or one that does not exist.
        for app in [&second, UNKNOWN_ID] {
            let target = format!("/auth/introspect?applicationId={app}&action=applicationApiTokens.get");
            let reply = api.get(&target, &first_token.secret).await;
            assert_eq!(reply.expect(200)["allowed"], false, "{reply:?}");
        }
        let target = format!("/auth/introspect?applicationId={first}&action=applicationApiTokens.get");
        let reply = api.get(&target, &first_token.secret).await;
        assert_eq!(reply.expect(200)["allowed"], true, "{reply:?}");

        // Nothing above changed either application's tokens.
        for (app, token, name) in [
            (&first, &first_token, "of first"),
            (&second, &second_token, "of second"),
        ] {
            let listing = api.get(&tokens_path(app), admin).await;
            let listing = listing.expect(200);
            assert_eq!(listing["totalCount"], 1, "{listing}");
            assert_eq!(listing["items"][0]["id"], token.id.as_str());
            assert_eq!(listing["items"][0]["name"], name);
        }
    })
    .await;
}
