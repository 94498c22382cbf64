//! The verifier feed over HTTP (spec 1.6), on both backends: the revoked
//! list holds exactly the inactive and the deleted tokens, page by page; the
//! long poll answers a change made through another instance, with the
//! token's state as it is; application deletion, bulk revocation and keys
//! arrive as their own kinds; only the application's own changes reach its
//! feed; the scope and cursor rules hold.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{cli, each_backend, token_path, tokens_path, Api, Server};
use serde_json::{json, Value};

fn revoked_path(app: &str, query: &str) -> String {
    format!("/applications/{app}/verifier/revoked?{query}")
}

fn changes_path(app: &str, cursor: &str, wait: u64) -> String {
    format!("/applications/{app}/verifier/changes?cursor={cursor}&wait={wait}")
}

/// The secret of a new token of `app` holding `scope` alone.
async fn secret_with(api: &Api, admin: &str, app: &str, scope: &str) -> String {
    let created = api
        .create_token(admin, app, &json!({"name": scope, "scope": [scope]}))
        .await;
    created["token"].as_str().unwrap().to_string()
}

/// Every page of the revoked list; the first page's cursor.
async fn revoked(api: &Api, token: &str, app: &str, per_page: u32) -> (BTreeSet<String>, String) {
    let mut ids = BTreeSet::new();
    let mut after = String::new();
    let mut cursor = None;
    loop {
        let query = match after.as_str() {
            "" => format!("perPage={per_page}"),
            after => format!("perPage={per_page}&after={after}"),
        };
        let page = api.get(&revoked_path(app, &query), token).await.expect(200).clone();
        assert!(page["revoked"].as_array().unwrap().len() <= per_page as usize);
        cursor.get_or_insert_with(|| page["cursor"].as_str().unwrap().to_string());
        let page_ids: Vec<String> = page["revoked"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_string())
            .collect();
        let mut sorted = page_ids.clone();
        sorted.sort();
        assert_eq!(page_ids, sorted, "ids come in id order");
        ids.extend(page_ids);
        match page["next"].as_str() {
            Some(next) => after = next.to_string(),
            None => return (ids, cursor.unwrap()),
        }
    }
}

/// Long-polls until a change arrives (or fails well past the spec's bound);
/// returns the answer and how long it took.
async fn next_changes(api: &Api, token: &str, app: &str, cursor: &str) -> (Value, Duration) {
    let started = Instant::now();
    let answer = api.get(&changes_path(app, cursor, 5), token).await.expect(200).clone();
    assert!(
        !answer["changes"].as_array().unwrap().is_empty(),
        "no change within the 5 s wait: {answer}"
    );
    (answer, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_revoked_list_holds_inactive_and_deleted_tokens_page_by_page() {
    each_backend(|backend| async move {
        let server = Server::start(&backend);
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "verified").await;
        let other = api.create_application(admin, "elsewhere").await;
        let reader = secret_with(api, admin, &app, "applicationApiTokens.get").await;
        let mut tokens = Vec::new();
        for n in 0..7 {
            tokens.push(api.new_app_token(admin, &app, &format!("t{n}")).await);
        }
        let elsewhere = api.new_app_token(admin, &other, "elsewhere").await;
        assert!(
            revoked(api, &reader, &app, 3).await.0.is_empty(),
            "nothing is revoked yet"
        );

        let inactive = json!({"status": "inactive"});
        api.patch(&token_path(&app, &tokens[0].id), admin, &inactive)
            .await
            .expect(200);
        api.patch(&token_path(&app, &tokens[1].id), admin, &inactive)
            .await
            .expect(200);
        api.delete(&token_path(&app, &tokens[2].id), admin).await.expect(200);
        api.delete(&token_path(&app, &tokens[3].id), admin).await.expect(200);
        // Deleted while inactive: listed once.
        api.patch(&token_path(&app, &tokens[1].id), admin, &inactive)
            .await
            .expect(200);
        api.delete(&token_path(&app, &tokens[1].id), admin).await.expect(200);
        // Re-activated: no longer revoked.
        api.patch(&token_path(&app, &tokens[4].id), admin, &inactive)
            .await
            .expect(200);
        api.patch(&token_path(&app, &tokens[4].id), admin, &json!({"status": "active"}))
            .await
            .expect(200);
        api.delete(&token_path(&other, &elsewhere.id), admin).await.expect(200);

        let expected: BTreeSet<String> = [0, 1, 2, 3].iter().map(|n| tokens[*n].id.clone()).collect();
        for per_page in [1, 2, 3, 100] {
            assert_eq!(
                revoked(api, &reader, &app, per_page).await.0,
                expected,
                "perPage={per_page}"
            );
        }
        let page = api.get(&revoked_path(&app, ""), &reader).await.expect(200).clone();
        assert_eq!(page["applicationId"], app.as_str());
        assert_eq!(page["ownerType"], "user");
        assert_eq!(page["next"], Value::Null);

        // A bulk deletion leaves tombstones too.
        let bulk = format!("{}?filterField=name&filter=t5", tokens_path(&app));
        assert_eq!(api.delete(&bulk, admin).await.expect(200)["count"], 1);
        assert!(revoked(api, &reader, &app, 100).await.0.contains(&tokens[5].id));

        // Scope, reach and parameters.
        let narrow = secret_with(api, admin, &app, "device.get").await;
        api.get(&revoked_path(&app, ""), &narrow)
            .await
            .expect_error(403, "Forbidden");
        api.get(&revoked_path(&other, ""), &reader)
            .await
            .expect_error(404, "NotFound");
        for query in ["perPage=0", "perPage=100001", "perPage=ten", "after=nope"] {
            let reply = api.get(&revoked_path(&app, query), &reader).await;
            let message = reply.expect_error(400, "Validation");
            let name = query.split('=').next().unwrap();
            assert!(message.contains(name), "{query}: {message}");
        }
        let changes = format!("/applications/{app}/verifier/changes");
        // Numbers past the database's 64-bit signed integers, too.
        let huge = "cursor=9999999999999999999.9999999999999999998~0";
        for query in ["cursor=-1", "cursor=x", "wait=31", "wait=-1", huge] {
            let reply = api.get(&format!("{changes}?{query}"), &reader).await;
            reply.expect_error(400, "Validation");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_long_poll_answers_changes_made_through_another_instance() {
    each_backend(|backend| async move {
        // On PostgreSQL two instances: written through one, read from the other.
        let writer = Server::start(&backend);
        let reader_server = Server::start(&backend);
        let (one, two) = (&writer.api, &reader_server.api);
        let admin = writer.admin_token.as_str();
        let app = one.create_application(admin, "followed").await;
        let other = one.create_application(admin, "not followed").await;
        let reader = secret_with(one, admin, &app, "applicationApiTokens.get").await;
        let token = one.new_app_token(admin, &app, "watched").await;
        let elsewhere = one.new_app_token(admin, &other, "elsewhere").await;
        let (_, mut cursor) = revoked(two, &reader, &app, 100).await;

        // Nothing of this application changes: the poll waits, then answers
        // empty with a cursor past the other application's change.
        one.patch(
            &token_path(&other, &elsewhere.id),
            admin,
            &json!({"status": "inactive"}),
        )
        .await
        .expect(200);
        let quiet = two
            .get(&changes_path(&app, &cursor, 1), &reader)
            .await
            .expect(200)
            .clone();
        assert_eq!(
            quiet["changes"],
            json!([]),
            "another application's change is not in this feed"
        );
        assert_ne!(quiet["cursor"].as_str().unwrap(), cursor, "the cursor moves past it");
        cursor = quiet["cursor"].as_str().unwrap().to_string();

        // A poll under way is answered by a deactivation made elsewhere.
        let poll = {
            let (two, reader, app, cursor) = (two.clone(), reader.clone(), app.clone(), cursor.clone());
            tokio::spawn(async move { next_changes(&two, &reader, &app, &cursor).await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        one.patch(&token_path(&app, &token.id), admin, &json!({"status": "inactive"}))
            .await
            .expect(200);
        let (answer, _) = poll.await.unwrap();
        assert_eq!(
            answer["changes"],
            json!([{"type": "token", "tokenId": token.id, "revoked": true}])
        );
        cursor = answer["cursor"].as_str().unwrap().to_string();

        one.patch(&token_path(&app, &token.id), admin, &json!({"status": "active"}))
            .await
            .expect(200);
        let (answer, _) = next_changes(two, &reader, &app, &cursor).await;
        assert_eq!(
            answer["changes"],
            json!([{"type": "token", "tokenId": token.id, "revoked": false}])
        );
        cursor = answer["cursor"].as_str().unwrap().to_string();

        one.delete(&token_path(&app, &token.id), admin).await.expect(200);
        let (answer, _) = next_changes(two, &reader, &app, &cursor).await;
        assert_eq!(
            answer["changes"],
            json!([{"type": "token", "tokenId": token.id, "revoked": true}])
        );
        cursor = answer["cursor"].as_str().unwrap().to_string();

        // A bulk revocation is one application change, however many tokens.
        one.new_app_token(admin, &app, "ci-1").await;
        one.new_app_token(admin, &app, "ci-2").await;
        let bulk = format!("{}?filterField=name&filter=ci-*", tokens_path(&app));
        one.patch(&bulk, admin, &json!({"status": "inactive"}))
            .await
            .expect(200);
        let (answer, _) = next_changes(two, &reader, &app, &cursor).await;
        assert_eq!(answer["changes"], json!([{"type": "application"}]));
        cursor = answer["cursor"].as_str().unwrap().to_string();

        // Keys: a rotation is announced to every application's feed.
        let rotated = cli(&["admin", "keys", "rotate", "--database", &writer.database_url], &[]);
        assert!(rotated.success, "{rotated:?}");
        let (answer, _) = next_changes(two, &reader, &app, &cursor).await;
        assert_eq!(answer["changes"], json!([{"type": "keys"}]));
        cursor = answer["cursor"].as_str().unwrap().to_string();

        // The application's deletion: an application change, then 404.
        one.delete(&format!("/applications/{app}"), admin).await.expect(200);
        let answer = two.get(&changes_path(&app, &cursor, 5), &reader).await;
        match answer.status {
            // The reader token went with its application.
            401 => {}
            _ => assert_eq!(answer.expect(200)["changes"], json!([{"type": "application"}])),
        }
        let again = two.get(&revoked_path(&app, ""), admin).await;
        again.expect_error(404, "NotFound");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_the_feed_no_longer_keeps_is_gone() {
    each_backend(|backend| async move {
        let server = Server::start(&backend);
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "feed").await;
        let token = api.new_app_token(admin, &app, "t").await;
        let (_, cursor) = revoked(api, admin, &app, 10).await;
        // A cursor ahead of the log: from another database, or a restored one.
        let ahead = (cursor.parse::<u64>().unwrap() + 1000).to_string();
        let reply = api.get(&changes_path(&app, &ahead, 0), admin).await;
        reply.expect_error(410, "Gone");
        // Entries after the cursor pruned unread: one change, then its entry
        // goes as the retention would take it.
        api.patch(&token_path(&app, &token.id), admin, &json!({"status": "inactive"}))
            .await
            .expect(200);
        api.patch(&token_path(&app, &token.id), admin, &json!({"status": "active"}))
            .await
            .expect(200);
        let first = (cursor.parse::<u64>().unwrap() + 1).to_string();
        common::execute_sql(
            &server.database_url,
            &format!("DELETE FROM auth_changes WHERE seq = {first}"),
        );
        let reply = api.get(&changes_path(&app, &cursor, 0), admin).await;
        reply.expect_error(410, "Gone");
        // Without a cursor the feed starts from now.
        let now = api
            .get(&format!("/applications/{app}/verifier/changes?wait=0"), admin)
            .await
            .expect(200)
            .clone();
        assert_eq!(now["changes"], json!([]));
    })
    .await;
}
