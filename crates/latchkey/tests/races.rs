//! Check-then-write races (issue: trust under races). A PATCH's escalation
//! check and its write must see the same row, and a token created while its
//! application is deleted must not outlive it: whatever the interleaving, no
//! caller leaves the database in a state it was not allowed to make.

mod common;

use std::sync::Arc;

use common::{each_server, token_path, tokens_path, Api, IssuedToken};
use latchkey_core::token::digest;
use serde_json::json;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

const ROUNDS: usize = 20;
const NARROW_WRITERS: usize = 8;
const PATCHES_EACH: usize = 4;

async fn set_status(api: &Api, token: &str, application: &str, target: &str, status: &str) -> u16 {
    let reply = api
        .patch(&token_path(application, target), token, &json!({ "status": status }))
        .await;
    reply.expect_well_formed();
    reply.status
}

/// A token that may only PATCH keeps re-activating an `all.Application`
/// token while an admin deactivates it. The narrow token may set `active`
/// only while the token already is active, so the admin's deactivation,
/// the one write that changes the status, must be what stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_narrow_token_cannot_undo_a_concurrent_deactivation() {
    each_server(|server| async move {
        let api = &server.api;
        let admin = &server.admin_token;
        let app = api.create_application(admin, "reactivation race").await;
        let target = api.new_app_token(admin, &app, "broad").await;
        let narrow = IssuedToken::from_created(
            &api.create_token(
                admin,
                &app,
                &json!({ "name": "narrow", "scope": ["applicationApiToken.patch"] }),
            )
            .await,
        );
        let mut undone = 0;
        for round in 0..ROUNDS {
            assert_eq!(set_status(api, admin, &app, &target.id, "active").await, 200);
            let barrier = Arc::new(Barrier::new(NARROW_WRITERS + 1));
            let mut writers = JoinSet::new();
            for _ in 0..NARROW_WRITERS {
                let (api, app, target, narrow, barrier) = (
                    api.clone(),
                    app.clone(),
                    target.id.clone(),
                    narrow.secret.clone(),
                    barrier.clone(),
                );
                writers.spawn(async move {
                    barrier.wait().await;
                    let mut statuses = Vec::new();
                    for _ in 0..PATCHES_EACH {
                        statuses.push(set_status(&api, &narrow, &app, &target, "active").await);
                    }
                    statuses
                });
            }
            barrier.wait().await;
            assert_eq!(set_status(api, admin, &app, &target.id, "inactive").await, 200);
            while let Some(statuses) = writers.join_next().await {
                for status in statuses.expect("a narrow writer") {
                    assert!(status == 200 || status == 403, "round {round}: {status}");
                }
            }
            let reply = api.get(&token_path(&app, &target.id), admin).await;
            if reply.expect(200)["status"] != "inactive" {
                undone += 1;
            }
        }
        assert_eq!(undone, 0, "the deactivation was undone in {undone} of {ROUNDS} rounds");
    })
    .await;
}

const CREATES: usize = 16;

/// Creates racing the deletion of their application: each either fails
/// (404) or lands before the deletion and goes with it. No token of a
/// deleted application is left in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_token_outlives_an_application_deleted_while_it_was_created() {
    each_server(|server| async move {
        let api = &server.api;
        let admin = &server.admin_token;
        let store = common::open_store(&server.database_url).await;
        let mut created = Vec::new();
        for round in 0..ROUNDS / 2 {
            let app = api
                .create_application(admin, &format!("deleted while creating {round}"))
                .await;
            let barrier = Arc::new(Barrier::new(CREATES + 1));
            let mut creates = JoinSet::new();
            for n in 0..CREATES {
                let (api, admin, app, barrier) = (api.clone(), admin.clone(), app.clone(), barrier.clone());
                creates.spawn(async move {
                    barrier.wait().await;
                    api.post(&tokens_path(&app), &admin, &json!({ "name": format!("racer {n}") }))
                        .await
                });
            }
            barrier.wait().await;
            api.delete(&format!("/applications/{app}"), admin).await.expect(200);
            while let Some(reply) = creates.join_next().await {
                let reply = reply.expect("a create");
                match reply.status {
                    201 => created.push(IssuedToken::from_created(reply.expect(201))),
                    _ => assert_eq!(reply.expect_error(404, "NotFound"), "Application was not found"),
                }
            }
        }
        let mut orphans = 0;
        for token in &created {
            if store
                .credential_by_digest(&digest(&token.secret))
                .await
                .unwrap()
                .is_some()
            {
                orphans += 1;
            }
            assert!(!api.authenticates(&token.secret).await);
        }
        assert_eq!(
            orphans,
            0,
            "{orphans} of {} created tokens outlived their application",
            created.len()
        );
    })
    .await;
}

const WRITERS: usize = 8;

/// Status changes and deletions of tokens racing their application's
/// deletion: each lands or finds nothing (404). None fails (a deadlock
/// between the writes would be a 503): every write takes its locks in the
/// same order as the deletion.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_writes_racing_their_applications_deletion_never_fail() {
    each_server(|server| async move {
        let api = &server.api;
        let admin = &server.admin_token;
        for round in 0..ROUNDS / 2 {
            let app = api
                .create_application(admin, &format!("deleted while written {round}"))
                .await;
            let mut tokens = Vec::new();
            for n in 0..WRITERS {
                tokens.push(api.new_app_token(admin, &app, &format!("written {n}")).await);
            }
            let barrier = Arc::new(Barrier::new(WRITERS + 1));
            let mut writers = JoinSet::new();
            for token in tokens {
                let (api, admin, app, barrier) = (api.clone(), admin.clone(), app.clone(), barrier.clone());
                writers.spawn(async move {
                    barrier.wait().await;
                    let mut statuses = Vec::new();
                    for status in ["inactive", "active", "inactive"] {
                        statuses.push(set_status(&api, &admin, &app, &token.id, status).await);
                    }
                    let deleted = api.delete(&token_path(&app, &token.id), &admin).await;
                    deleted.expect_well_formed();
                    statuses.push(deleted.status);
                    statuses
                });
            }
            barrier.wait().await;
            api.delete(&format!("/applications/{app}"), admin).await.expect(200);
            while let Some(statuses) = writers.join_next().await {
                for status in statuses.expect("a writer") {
                    assert!(status == 200 || status == 404, "round {round}: {status}");
                }
            }
        }
    })
    .await;
}
