//! Many instances on one database (spec section 7): a token made through one
//! works on every other at once; a deactivation, a deletion, or its
//! application's deletion through one is refused by every other within one
//! second, although each instance caches authentications.

mod common;

use std::time::{Duration, Instant};

use common::{each_backend, token_path, Api, IssuedToken, Server};
use serde_json::json;

/// The bound spec section 7 sets on how long another instance may still
/// accept a revoked token.
const REVOCATION_BOUND: Duration = Duration::from_secs(1);

/// Uses the token on `api` until it is refused; returns how long that took
/// after `since`, or fails once well past the bound.
async fn time_until_refused(api: &Api, token: &IssuedToken, since: Instant) -> Duration {
    loop {
        if !api.authenticates(&token.secret).await {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < REVOCATION_BOUND * 5,
            "{token:?} is still accepted long after its revocation"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Uses the token on `api` until it is accepted; returns how long that took
/// after `since`, or fails once well past the bound.
async fn time_until_accepted(api: &Api, token: &IssuedToken, since: Instant) -> Duration {
    while !api.authenticates(&token.secret).await {
        assert!(
            since.elapsed() < REVOCATION_BOUND * 5,
            "{token:?} is still refused long after the change"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    since.elapsed()
}

/// Warms `api`'s cache with the token, so the test measures a cached answer
/// going stale rather than a first lookup.
async fn use_a_few_times(api: &Api, token: &IssuedToken) {
    for _ in 0..3 {
        assert!(api.authenticates(&token.secret).await, "{token:?} should work here");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_reach_the_other_instance_within_a_second() {
    each_backend(|backend| async move {
        let first = Server::start(&backend);
        let second = Server::start(&backend);
        let (one, two) = (&first.api, &second.api);
        let admin = first.admin_token.as_str();
        let app = one.create_application(admin, "two instances").await;

        // Made through one instance, it works on the other straight away.
        let deactivated = one.new_app_token(admin, &app, "deactivated").await;
        let deleted = one.new_app_token(admin, &app, "deleted").await;
        use_a_few_times(two, &deactivated).await;
        use_a_few_times(two, &deleted).await;

        let change = Instant::now();
        one.patch(
            &token_path(&app, &deactivated.id),
            admin,
            &json!({ "status": "inactive" }),
        )
        .await
        .expect(200);
        let waited = time_until_refused(two, &deactivated, change).await;
        assert!(
            waited <= REVOCATION_BOUND,
            "PATCH inactive took {waited:?} to reach the other instance"
        );

        let change = Instant::now();
        one.delete(&token_path(&app, &deleted.id), admin).await.expect(200);
        let waited = time_until_refused(two, &deleted, change).await;
        assert!(
            waited <= REVOCATION_BOUND,
            "DELETE took {waited:?} to reach the other instance"
        );

        // Re-activation through the other instance works on the first just as fast.
        second
            .api
            .patch(
                &token_path(&app, &deactivated.id),
                admin,
                &json!({ "status": "active" }),
            )
            .await
            .expect(200);
        let change = Instant::now();
        let waited = time_until_accepted(one, &deactivated, change).await;
        assert!(
            waited <= REVOCATION_BOUND,
            "re-activation took {waited:?} to reach the first instance"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_application_reaches_the_other_instance_within_a_second() {
    each_backend(|backend| async move {
        let first = Server::start(&backend);
        let second = Server::start(&backend);
        let admin = first.admin_token.as_str();
        let app = first.api.create_application(admin, "doomed").await;
        let tokens = [
            first.api.new_app_token(admin, &app, "one").await,
            first.api.new_app_token(admin, &app, "two").await,
        ];
        for token in &tokens {
            use_a_few_times(&second.api, token).await;
        }
        let change = Instant::now();
        first
            .api
            .delete(&format!("/applications/{app}"), admin)
            .await
            .expect(200);
        for token in &tokens {
            let waited = time_until_refused(&second.api, token, change).await;
            assert!(
                waited <= REVOCATION_BOUND,
                "deleting the application took {waited:?} to reach {token:?}"
            );
        }
        second
            .api
            .get(&format!("/applications/{app}"), admin)
            .await
            .expect_error(404, "NotFound");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instance_publishes_the_same_keys_and_verifies_the_others_tokens() {
    each_backend(|backend| async move {
        let first = Server::start(&backend);
        let second = Server::start(&backend);
        let jwks = |api: &Api| {
            let api = api.clone();
            async move {
                api.call(reqwest::Method::GET, "/.well-known/jwks.json", None, common::Body::None)
                    .await
            }
        };
        let (a, b) = (jwks(&first.api).await, jwks(&second.api).await);
        assert_eq!(a.expect(200), b.expect(200));
        assert!(!a.expect(200)["keys"].as_array().unwrap().is_empty());

        // A token minted by the second instance is accepted by the first.
        let app = second.api.create_application(&second.admin_token, "shared").await;
        let token = second
            .api
            .new_app_token(&second.admin_token, &app, "from the second")
            .await;
        assert!(first.api.authenticates(&token.secret).await);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_log_alone_carries_changes_to_an_instance_that_caches_for_a_minute() {
    each_backend(|backend| async move {
        let first = Server::start(&backend);
        let a_minute = [("LATCHKEY_AUTH_CACHE_TTL_MS", "60000")];
        let following = Server::start_with_env(&backend, &a_minute);
        // The control: the same cache without reading the change log.
        let blind = Server::start_with_env(&backend, &[a_minute[0], ("LATCHKEY_AUTH_CHANGE_POLL_MS", "0")]);
        let admin = first.admin_token.as_str();
        let app = first.api.create_application(admin, "followed").await;
        let deactivated = first.api.new_app_token(admin, &app, "deactivated").await;
        let deleted = first.api.new_app_token(admin, &app, "deleted").await;
        for api in [&following.api, &blind.api] {
            use_a_few_times(api, &deactivated).await;
            use_a_few_times(api, &deleted).await;
        }

        let change = Instant::now();
        let inactive = json!({ "status": "inactive" });
        first
            .api
            .patch(&token_path(&app, &deactivated.id), admin, &inactive)
            .await
            .expect(200);
        first
            .api
            .delete(&token_path(&app, &deleted.id), admin)
            .await
            .expect(200);
        for token in [&deactivated, &deleted] {
            let waited = time_until_refused(&following.api, token, change).await;
            assert!(waited <= REVOCATION_BOUND, "{token:?} took {waited:?} to be refused");
        }
        tokio::time::sleep(REVOCATION_BOUND.saturating_sub(change.elapsed())).await;
        for token in [&deactivated, &deleted] {
            assert!(
                blind.api.authenticates(&token.secret).await,
                "without the change log, a one-minute cache still accepts {token:?}: the control shows the log did it"
            );
        }

        // Re-activation arrives the same way.
        let change = Instant::now();
        let active = json!({ "status": "active" });
        first
            .api
            .patch(&token_path(&app, &deactivated.id), admin, &active)
            .await
            .expect(200);
        let waited = time_until_accepted(&following.api, &deactivated, change).await;
        assert!(waited <= REVOCATION_BOUND, "re-activation took {waited:?}");

        // So does the deletion of the application.
        let change = Instant::now();
        first
            .api
            .delete(&format!("/applications/{app}"), admin)
            .await
            .expect(200);
        let waited = time_until_refused(&following.api, &deactivated, change).await;
        assert!(waited <= REVOCATION_BOUND, "the application's deletion took {waited:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_organization_reaches_its_members_cached_tokens_through_the_change_log() {
    each_backend(|backend| async move {
        let server = Server::start_with_env(&backend, &[("LATCHKEY_AUTH_CACHE_TTL_MS", "60000")]);
        let url = backend.url.as_str();
        let (alice, acme) = (common::unique("alice"), common::unique("acme"));
        common::run_cli(&["admin", "user", "create", "--database", url, "--name", &alice]);
        let token = common::run_cli(&["admin-token", "--database", url, "--user", &alice]);
        server.api.get("/applications", &token).await.expect(200);

        let org = common::run_cli(&[
            "admin",
            "org",
            "create",
            "--database",
            url,
            "--name",
            &acme,
            "--member",
            &alice,
        ]);
        let change = Instant::now();
        let body = json!({ "name": "acme's", "orgId": org });
        loop {
            let reply = server.api.post("/applications", &token, &body).await;
            if reply.status == 201 {
                break;
            }
            reply.expect_error(400, "Validation");
            assert!(
                change.elapsed() <= REVOCATION_BOUND,
                "alice's cached token never learned of her organization"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}
