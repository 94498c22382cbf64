//! A token pasted into the wrong place — a scope, a property name, a query
//! parameter, an id — is refused without being quoted back: errors name the
//! field and what it accepts, never the credential, and the log does not
//! hold it either.

mod common;

use common::{each_backend, percent_encode, signature_segment, tokens_path, Reply, Server};
use serde_json::json;

/// Asserts a `400 Validation` whose message names `field` and holds no part
/// of `secret`.
#[track_caller]
fn refused_without_echo(reply: &Reply, field: &str, secret: &str) {
    let message = reply.expect_error(400, "Validation");
    assert!(message.contains(field), "{field} is named: {message}");
    assert!(!reply.text.contains(signature_segment(secret)), "{reply:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misplaced_token_never_comes_back_in_an_error() {
    each_backend(|backend| async move {
        // Every log line there is, to show that none holds the token either.
        let server = Server::start_with_env(&backend, &[("LATCHKEY_LOG", "trace")]);
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "secrets").await;
        let secret = api.new_app_token(admin, &app, "pasted").await.secret;
        let tokens = tokens_path(&app);

        let scope = api.post(&tokens, admin, &json!({"name": "x", "scope": [secret]})).await;
        refused_without_echo(&scope, "scope", &secret);
        let chars = secret.chars().count();
        assert!(
            scope
                .expect_error(400, "Validation")
                .contains(&format!("(a value of {chars} characters, not shown)")),
            "{scope:?}"
        );
        let property = api.post(&tokens, admin, &json!({"name": "x", &secret: 1})).await;
        refused_without_echo(&property, "not a property", &secret);
        let patch = api
            .patch(&format!("/applications/{app}"), admin, &json!({&secret: 1}))
            .await;
        refused_without_echo(&patch, "not a property", &secret);
        let org = api
            .post("/applications", admin, &json!({"name": "x", "orgId": secret}))
            .await;
        refused_without_echo(&org, "orgId", &secret);

        let encoded = percent_encode(&secret);
        for (target, field) in [
            (format!("{tokens}?sortField={encoded}"), "sortField"),
            (format!("{tokens}?perPage={encoded}"), "perPage"),
            (format!("{tokens}?filterField={encoded}&filter=x"), "filterField"),
            (format!("/applications/{encoded}/tokens"), "applicationId"),
            (format!("{tokens}/{encoded}"), "apiTokenId"),
            (
                format!("/auth/introspect?applicationId={encoded}&action=x.get"),
                "applicationId",
            ),
            (
                format!("/auth/introspect?applicationId={app}&action={encoded}"),
                "action",
            ),
        ] {
            refused_without_echo(&api.get(&target, admin).await, field, &secret);
        }
        let log = server.log();
        assert!(!log.contains(signature_segment(&secret)), "{log}");
    })
    .await;
}
