//! Deactivating, deleting, or deleting the application of a token stops it on
//! its very next request (spec 1.3, 1.4), even right after it was used (and
//! so may sit in an authentication cache).

mod common;

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use common::{each_server, token_path, tokens_path, Api, IssuedToken};
use serde_json::json;

/// Uses the token twice (the second use may be served from a cache) and
/// checks it works.
async fn assert_works(api: &Api, app: &str, token: &IssuedToken) {
    for _ in 0..2 {
        api.get(&tokens_path(app), &token.secret).await.expect(200);
    }
    assert!(api.authenticates(&token.secret).await, "{token:?} should work");
}

/// The token is refused everywhere, starting with the very next request.
async fn assert_refused(api: &Api, app: &str, token: &IssuedToken) {
    let reply = api.get(&tokens_path(app), &token.secret).await;
    reply.expect_error(401, "Unauthorized");
    assert!(!api.authenticates(&token.secret).await, "{token:?} should be refused");
    let reply = api
        .post(&tokens_path(app), &token.secret, &json!({ "name": "x" }))
        .await;
    reply.expect_error(401, "Unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patching_inactive_and_deleting_revoke_at_once() {
    each_server(|server| async move {
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "revocation").await;
        let token = api.new_app_token(admin, &app, "switched").await;
        let bystander = api.new_app_token(admin, &app, "bystander").await;

        assert_works(api, &app, &token).await;
        let reply = api
            .patch(&token_path(&app, &token.id), admin, &json!({ "status": "inactive" }))
            .await;
        assert_eq!(reply.expect(200)["status"], "inactive");
        assert_refused(api, &app, &token).await;

        let reply = api
            .patch(&token_path(&app, &token.id), admin, &json!({ "status": "active" }))
            .await;
        assert_eq!(reply.expect(200)["status"], "active");
        assert_works(api, &app, &token).await;

        // A token may delete itself; that request succeeds, the next does not.
        let reply = api.delete(&token_path(&app, &token.id), &token.secret).await;
        assert_eq!(reply.expect(200), &json!({ "success": true }));
        assert_refused(api, &app, &token).await;
        let reply = api.get(&token_path(&app, &token.id), admin).await;
        reply.expect_error(404, "NotFound");

        // Other tokens of the application are untouched.
        assert_works(api, &app, &bystander).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_application_revokes_all_its_tokens_at_once() {
    each_server(|server| async move {
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let doomed = api.create_application(admin, "doomed").await;
        let survivor = api.create_application(admin, "survivor").await;
        let mut doomed_tokens = Vec::new();
        for n in 0..3 {
            doomed_tokens.push(api.new_app_token(admin, &doomed, &format!("doomed {n}")).await);
        }
        let survivor_token = api.new_app_token(admin, &survivor, "survivor").await;
        for token in &doomed_tokens {
            assert_works(api, &doomed, token).await;
        }

        // Deleted by one of its own tokens, so that token is also cached.
        let reply = api
            .delete(&format!("/applications/{doomed}"), &doomed_tokens[0].secret)
            .await;
        assert_eq!(reply.expect(200), &json!({ "success": true }));
        for token in &doomed_tokens {
            assert_refused(api, &doomed, token).await;
        }
        let reply = api.get(&format!("/applications/{doomed}"), admin).await;
        reply.expect_error(404, "NotFound");
        let reply = api.get(&tokens_path(&doomed), admin).await;
        reply.expect_error(404, "NotFound");

        assert_works(api, &survivor, &survivor_token).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused() {
    each_server(|server| async move {
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "expiry").await;
        let lifetime = Duration::from_secs(3);
        let expires = Utc::now() + lifetime;
        let body = json!({
            "name": "short-lived",
            "expirationDate": expires.to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        let token = IssuedToken::from_created(&api.create_token(admin, &app, &body).await);
        // Used before it expires (the server clock is this machine's clock),
        // so it is also in any cache when it expires.
        assert_works(api, &app, &token).await;
        let wait = (expires - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(100);
        tokio::time::sleep(wait).await;
        assert_refused(api, &app, &token).await;
    })
    .await;
}
