//! Bulk revocation (issue 14 item 5): `PATCH` and `DELETE` on an
//! application's tokens revoke exactly what the same listing parameters
//! match, in one transaction, on both backends; a second instance refuses
//! the revoked tokens within the 1 s bound of spec section 7; the kept
//! counts stay right; a call with nothing narrowing it, or from a token
//! without the single-token action's scope, changes nothing; and the CLI's
//! `tokens revoke --dry-run` only lists.

mod common;

use std::time::{Duration, Instant};

use common::{audit_documents, cli, each_backend, tokens_path, Api, IssuedToken, Server};
use serde_json::{json, Value};

/// The bound spec section 7 sets on how long another instance may still
/// accept a revoked token.
const REVOCATION_BOUND: Duration = Duration::from_secs(1);

/// Uses the token on `api` until it is refused; returns how long that took
/// after `since`, or fails once well past the bound.
async fn time_until_refused(api: &Api, token: &IssuedToken, since: Instant) -> Duration {
    while api.authenticates(&token.secret).await {
        assert!(
            since.elapsed() < REVOCATION_BOUND * 5,
            "{token:?} is still accepted long after its revocation"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    since.elapsed()
}

/// The listing's `totalCount` for a query string: a plain or status-filtered
/// one is answered from the kept counts, a name filter counts rows.
async fn total(api: &Api, admin: &str, app: &str, query: &str) -> u64 {
    let reply = api.get(&format!("{}?{query}", tokens_path(app)), admin).await;
    reply.expect(200)["totalCount"].as_u64().expect("a totalCount")
}

/// The kept counts (total, active) and the same counted from the rows
/// (`filter=*` on names makes the listing count).
async fn counts(api: &Api, admin: &str, app: &str) -> [u64; 2] {
    let kept = [
        total(api, admin, app, "").await,
        total(api, admin, app, "filterField=status&filter=active").await,
    ];
    let counted = total(api, admin, app, "filterField=name&filter=*").await;
    assert_eq!(kept[0], counted, "the kept token count disagrees with the rows");
    kept
}

fn bulk(app: &str, query: &str) -> String {
    format!("{}?{query}", tokens_path(app))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_revokes_exactly_its_tokens_and_another_instance_refuses_them_within_a_second() {
    each_backend(|backend| async move {
        let first = Server::start(&backend);
        let second = Server::start(&backend);
        let (one, two) = (&first.api, &second.api);
        let admin = first.admin_token.as_str();
        let app = one.create_application(admin, "bulk").await;
        let other_app = one.create_application(admin, "bulk elsewhere").await;

        let ci = [
            one.new_app_token(admin, &app, "ci-build").await,
            one.new_app_token(admin, &app, "CI-deploy").await,
        ];
        // Already inactive: matched, but not counted as revoked by this call.
        one.create_token(admin, &app, &json!({"name": "ci-old", "status": "inactive"}))
            .await;
        let kept = [
            one.new_app_token(admin, &app, "prod").await,
            one.new_app_token(admin, &app, "my-ci-thing").await,
            one.new_app_token(admin, &other_app, "ci-other-app").await,
        ];
        for token in ci.iter().chain(&kept) {
            assert!(two.authenticates(&token.secret).await, "{token:?} works before");
        }
        assert_eq!(counts(one, admin, &app).await, [5, 4]);

        let change = Instant::now();
        let reply = one
            .patch(
                &bulk(&app, "filterField=name&filter=ci-*"),
                admin,
                &json!({"status": "inactive"}),
            )
            .await;
        assert_eq!(reply.expect(200), &json!({"success": true, "count": 2}));
        for token in &ci {
            let waited = time_until_refused(two, token, change).await;
            assert!(
                waited <= REVOCATION_BOUND,
                "the other instance took {waited:?} to refuse {token:?}"
            );
        }
        for token in &kept {
            assert!(one.authenticates(&token.secret).await, "{token:?} keeps working");
            assert!(two.authenticates(&token.secret).await, "{token:?} keeps working");
        }
        assert_eq!(counts(one, admin, &app).await, [5, 2]);
        assert_eq!(total(one, admin, &app, "filterField=status&filter=inactive").await, 3);

        // Exactly one audit entry for the call: the filter and the count.
        let entries: Vec<Value> = audit_documents(&first.database_url)
            .await
            .into_iter()
            .filter(|entry| entry["requestResource"] == "applicationApiTokens" && entry["requestAction"] == "patch")
            .collect();
        assert_eq!(entries.len(), 1, "{entries:#?}");
        assert_eq!(
            entries[0]["requestQueryParams"],
            json!({"filterField": "name", "filter": "ci-*"})
        );
        assert_eq!(entries[0]["responseBody"], json!({"success": true, "count": 2}));
        assert_eq!(entries[0]["responseStatus"], 200);
        assert_eq!(
            entries[0]["primaryTargetId"].as_str(),
            Some(app.as_str()),
            "{:#}",
            entries[0]
        );

        // Deleting matches inactive tokens too; the counts follow.
        let reply = one.delete(&bulk(&app, "filterField=name&filter=ci-*"), admin).await;
        assert_eq!(reply.expect(200), &json!({"success": true, "count": 3}));
        assert_eq!(counts(one, admin, &app).await, [2, 2]);

        // createdBefore: only tokens made before the instant.
        let before = latchkey_core::time::now_millis();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let newer = one.new_app_token(admin, &app, "newer").await;
        let reply = one.delete(&bulk(&app, &format!("createdBefore={before}")), admin).await;
        assert_eq!(reply.expect(200)["count"], 2);
        assert!(one.authenticates(&newer.secret).await, "a newer token keeps working");
        assert!(!one.authenticates(&kept[0].secret).await, "an older one is gone");
        assert_eq!(counts(one, admin, &app).await, [1, 1]);
        assert!(
            two.authenticates(&kept[2].secret).await,
            "another application's token is untouched"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_narrows_nothing_is_refused_unless_it_says_all() {
    each_backend(|backend| async move {
        let server = Server::start(&backend);
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "unfiltered").await;
        let token = api.new_app_token(admin, &app, "ci-a").await;
        let inactive = json!({"status": "inactive"});
        for query in ["", "filter=ci-*", "filterField=name&filter=", "all=false", "all=1"] {
            api.patch(&bulk(&app, query), admin, &inactive)
                .await
                .expect_error(400, "Validation");
            api.delete(&bulk(&app, query), admin)
                .await
                .expect_error(400, "Validation");
        }
        // Bulk PATCH only deactivates.
        for body in [
            json!({"status": "active"}),
            json!({"status": "inactive", "name": "x"}),
            json!({}),
        ] {
            api.patch(&bulk(&app, "all=true"), admin, &body)
                .await
                .expect_error(400, "Validation");
        }
        assert!(api.authenticates(&token.secret).await, "nothing was revoked");
        assert_eq!(counts(api, admin, &app).await, [1, 1]);

        let reply = api.patch(&bulk(&app, "all=true"), admin, &inactive).await;
        assert_eq!(reply.expect(200)["count"], 1);
        assert!(!api.authenticates(&token.secret).await);
        let reply = api.delete(&bulk(&app, "all=true"), admin).await;
        assert_eq!(reply.expect(200)["count"], 1);
        assert_eq!(counts(api, admin, &app).await, [0, 0]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_needs_the_single_token_actions_scope() {
    each_backend(|backend| async move {
        let server = Server::start(&backend);
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "scoped").await;
        let target = api.new_app_token(admin, &app, "ci-target").await;
        let scoped = |scope: &[&str]| json!({"name": format!("caller {scope:?}"), "scope": scope});
        let lister = api
            .create_token(
                admin,
                &app,
                &scoped(&["applicationApiTokens.get", "applicationApiToken.get"]),
            )
            .await;
        let patcher = api
            .create_token(admin, &app, &scoped(&["applicationApiToken.patch"]))
            .await;
        let deleter = api
            .create_token(admin, &app, &scoped(&["applicationApiToken.delete"]))
            .await;
        let secret = |created: &Value| created["token"].as_str().unwrap().to_string();
        let query = bulk(&app, "filterField=name&filter=ci-*");
        let inactive = json!({"status": "inactive"});

        api.patch(&query, &secret(&lister), &inactive)
            .await
            .expect_error(403, "Forbidden");
        api.delete(&query, &secret(&lister))
            .await
            .expect_error(403, "Forbidden");
        api.delete(&query, &secret(&patcher))
            .await
            .expect_error(403, "Forbidden");
        api.patch(&query, &secret(&deleter), &inactive)
            .await
            .expect_error(403, "Forbidden");
        assert!(
            api.authenticates(&target.secret).await,
            "no refused call revoked anything"
        );

        let reply = api.patch(&query, &secret(&patcher), &inactive).await;
        assert_eq!(reply.expect(200)["count"], 1);
        let reply = api.delete(&query, &secret(&deleter)).await;
        assert_eq!(reply.expect(200)["count"], 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_dry_run_lists_and_changes_nothing() {
    each_backend(|backend| async move {
        let server = Server::start(&backend);
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "cli").await;
        let ci = api.new_app_token(admin, &app, "ci-1").await;
        let other = api.new_app_token(admin, &app, "other").await;
        let env = [("LATCHKEY_URL", server.api.base.as_str()), ("LATCHKEY_TOKEN", admin)];
        let revoke = |extra: &[&str]| {
            let mut args = vec!["tokens", "revoke", "--app", app.as_str(), "--output", "json"];
            args.extend_from_slice(extra);
            let output = cli(&args, &env);
            assert!(output.success, "latchkey {args:?} failed: {}", output.stderr);
            serde_json::from_str::<Value>(&output.stdout).expect("JSON output")
        };

        let dry = revoke(&["--filter", "ci-*", "--dry-run"]);
        assert_eq!(dry, json!({"count": 1, "ids": [ci.id]}));
        let dry = revoke(&["--filter", "ci-*", "--delete", "--dry-run"]);
        assert_eq!(dry, json!({"count": 1, "ids": [ci.id]}));
        assert!(api.authenticates(&ci.secret).await, "a dry run changes nothing");
        assert_eq!(counts(api, admin, &app).await, [2, 2]);

        let none = cli(&["tokens", "revoke", "--app", &app], &env);
        assert!(!none.success && none.stderr.contains("--all"), "{none:?}");

        assert_eq!(revoke(&["--filter", "ci-*"])["count"], 1);
        assert!(!api.authenticates(&ci.secret).await);
        assert_eq!(
            revoke(&["--filter", "ci-*", "--dry-run"])["count"],
            0,
            "already inactive"
        );
        assert_eq!(revoke(&["--unused-for", "0m", "--delete"])["count"], 2);
        assert!(!api.authenticates(&other.secret).await);
        assert_eq!(counts(api, admin, &app).await, [0, 0]);
    })
    .await;
}
