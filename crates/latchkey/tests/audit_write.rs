//! The audit log's write side: one entry per change, in the change's own
//! transaction, and per refused attempt at one; never a secret in it.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    audit_documents, database_text, each_backend, each_server, id_of, token_path, tokens_path, IssuedToken, Server,
};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::task::JoinSet;

/// How long a refusal may take to reach the audit log after its response.
const REFUSAL_LIMIT: Duration = Duration::from_secs(10);

/// The entries, read from the database, whose `field` is `value`.
async fn entries_where(server: &Server, field: &str, value: &str) -> Vec<Value> {
    audit_documents(&server.database_url)
        .await
        .into_iter()
        .filter(|entry| entry[field] == value)
        .collect()
}

/// Waits for exactly one entry with `requestResource`/`requestAction` and
/// `responseStatus` among those about `target` (a primary or secondary
/// target id, or a path parameter); returns it.
async fn the_entry(server: &Server, target: &str, resource: &str, action: &str, status: u16) -> Value {
    let deadline = Instant::now() + REFUSAL_LIMIT;
    loop {
        let found: Vec<Value> = audit_documents(&server.database_url)
            .await
            .into_iter()
            .filter(|entry| {
                let about = entry["primaryTargetId"] == target
                    || entry["secondaryTargetId"] == target
                    || entry["requestPathParams"]
                        .as_object()
                        .is_some_and(|path| path.values().any(|value| value == target));
                about
                    && entry["requestResource"] == resource
                    && entry["requestAction"] == action
                    && entry["responseStatus"] == status
            })
            .collect();
        match found.len() {
            1 => return found.into_iter().next().unwrap(),
            0 if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
            count => panic!("{count} entries {resource}/{action} {status} about {target}: {found:#?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_and_every_refused_attempt_writes_one_entry() {
    each_server(|server| async move {
        let admin = server.admin_token.clone();
        let admin_id = server.api.get("/auth/introspect", &admin).await.expect(200)["id"].clone();
        let api = &server.api;
        let with_agent = |method: Method, target: &str| {
            api.request(method, target, Some(&admin))
                .header("User-Agent", "audit-test/1.0")
        };

        let created = api
            .send(with_agent(Method::POST, "/applications").json(&json!({"name": "Audited"})))
            .await;
        let app = id_of(created.expect(201));
        let entry = the_entry(&server, &app, "applications", "post", 201).await;
        assert_eq!(entry["primaryTargetType"], "Application");
        assert_eq!(entry["primaryTargetName"], "Audited");
        assert_eq!(
            (&entry["actorType"], &entry["actorId"]),
            (&json!("ApiToken"), &admin_id)
        );
        assert_eq!(entry["requestBody"], json!({"name": "Audited"}));
        assert_eq!(entry["responseBody"]["id"], app.as_str());
        assert_eq!(
            (&entry["sourceIp"], &entry["userAgent"]),
            (&json!("127.0.0.1"), &json!("audit-test/1.0"))
        );
        assert_eq!(entry["auditLogId"], entry["id"]);

        let body = json!({"name": "ingest", "scope": ["all.Application"]});
        let ingest = IssuedToken::from_created(&api.create_token(&admin, &app, &body).await);
        let entry = the_entry(&server, &ingest.id, "applicationApiTokens", "post", 201).await;
        assert_eq!(
            (&entry["secondaryTargetType"], &entry["secondaryTargetName"]),
            (&json!("ApiToken"), &json!("ingest"))
        );
        assert_eq!(entry["primaryTargetId"], app.as_str());
        assert_eq!(entry["responseBody"]["name"], "ingest");
        assert!(entry["responseBody"].get("token").is_none(), "{entry}");

        // A token that may only PATCH tokens cannot create a broader one:
        // a 403 entry, written after the response, its actor that token.
        let narrow_body = json!({"name": "narrow", "scope": ["applicationApiTokens.post"]});
        let narrow = IssuedToken::from_created(&api.create_token(&admin, &app, &narrow_body).await);
        let escalate = json!({"name": "broader", "scope": ["all.Application"]});
        api.post(&tokens_path(&app), &narrow.secret, &escalate)
            .await
            .expect_error(403, "Forbidden");
        let refusal = the_entry(&server, &app, "applicationApiTokens", "post", 403).await;
        assert_eq!(refusal["actorId"], narrow.id.as_str());
        assert_eq!(refusal["responseBody"]["type"], "Forbidden");
        assert_eq!(refusal["requestBody"], escalate);

        let renamed = api
            .patch(&token_path(&app, &ingest.id), &admin, &json!({"name": "renamed"}))
            .await;
        renamed.expect(200);
        let entry = the_entry(&server, &ingest.id, "applicationApiToken", "patch", 200).await;
        assert_eq!(entry["secondaryTargetName"], "renamed");
        assert_eq!(
            entry["requestPathParams"],
            json!({"applicationId": app, "apiTokenId": ingest.id})
        );

        let missing = "000000000000000000000000";
        api.patch(&token_path(&app, missing), &admin, &json!({"status": "inactive"}))
            .await
            .expect_error(404, "NotFound");
        let refusal = the_entry(&server, missing, "applicationApiToken", "patch", 404).await;
        assert_eq!(refusal["primaryTargetId"], app.as_str());
        assert!(refusal.get("secondaryTargetId").is_none(), "{refusal}");

        api.delete(&token_path(&app, &ingest.id), &admin).await.expect(200);
        let entry = the_entry(&server, &ingest.id, "applicationApiToken", "delete", 200).await;
        assert_eq!(
            (&entry["secondaryTargetName"], &entry["responseBody"]),
            (&json!("renamed"), &json!({"success": true}))
        );

        api.patch(&format!("/applications/{app}"), &admin, &json!({"name": "Audited too"}))
            .await
            .expect(200);
        let entry = the_entry(&server, &app, "application", "patch", 200).await;
        assert_eq!(entry["primaryTargetName"], "Audited too");

        // Neither reads nor unauthenticated refusals are entries.
        let before = audit_documents(&server.database_url).await.len();
        api.get(&tokens_path(&app), &admin).await.expect(200);
        api.get(&token_path(&app, missing), &admin)
            .await
            .expect_error(404, "NotFound");
        for _ in 0..20 {
            api.post(&tokens_path(&app), "garbage", &json!({"name": "x"}))
                .await
                .expect_error(401, "Unauthorized");
        }
        // A refusal written after them shows the queue has been written.
        api.delete(&token_path(&app, missing), &admin)
            .await
            .expect_error(404, "NotFound");
        the_entry(&server, missing, "applicationApiToken", "delete", 404).await;
        assert_eq!(audit_documents(&server.database_url).await.len(), before + 1);

        api.delete(&format!("/applications/{app}"), &admin).await.expect(200);
        let entry = the_entry(&server, &app, "application", "delete", 200).await;
        assert_eq!(entry["primaryTargetName"], "Audited too");
        assert!(entries_where(&server, "requestAction", "delete").await.len() >= 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_commands_are_audited() {
    each_backend(|backend| async move {
        let server = Server::start(&backend);
        let url = backend.url.as_str();
        let alice = common::unique("alice");
        let user_id = common::run_cli(&["admin", "user", "create", "--database", url, "--name", &alice]);
        let org_id = common::run_cli(&[
            "admin",
            "org",
            "create",
            "--database",
            url,
            "--name",
            &alice,
            "--member",
            &alice,
        ]);
        common::run_cli(&["admin-token", "--database", url, "--user", &alice]);
        let documents = audit_documents(url).await;
        let by = |resource: &str| {
            documents
                .iter()
                .filter(|entry| entry["requestResource"] == resource && entry["actorName"] == "latchkey admin")
                .collect::<Vec<_>>()
        };
        assert!(by("users")
            .iter()
            .any(|entry| entry["responseBody"]["id"] == user_id.as_str()));
        let org = by("orgs");
        assert!(org.iter().any(|entry| entry["orgId"] == org_id.as_str()), "{org:?}");
        assert!(by("userApiTokens")
            .iter()
            .any(|entry| entry["requestBody"]["user"] == alice.as_str()));
        for entry in by("users") {
            assert!(
                entry.get("actorId").is_none() && entry.get("actorType").is_none(),
                "{entry}"
            );
        }
        drop(server);
    })
    .await;
}

/// Every token text any response handed out, and a few placed where a
/// careless caller might put one: a description, a query parameter, the
/// user agent, a request body field named like a secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_entry_and_no_database_file_holds_an_issued_token() {
    each_backend(|backend| async move {
        let server = Server::start(&backend);
        let admin = server.admin_token.clone();
        let api = &server.api;
        let app = api.create_application(&admin, "Secrets").await;
        let mut issued = vec![admin.clone()];
        for n in 0..5 {
            let body = json!({"name": format!("t{n}"), "scope": ["all.Application"]});
            issued.push(IssuedToken::from_created(&api.create_token(&admin, &app, &body).await).secret);
        }
        let pasted = issued[1].clone();
        let careless = json!({"name": "careless", "description": format!("my token is {pasted}")});
        issued.push(IssuedToken::from_created(&api.create_token(&admin, &app, &careless).await).secret);
        let query = format!("{}?token={pasted}&note={pasted}", tokens_path(&app));
        let with_agent = api
            .request(Method::POST, &query, Some(&admin))
            .header("User-Agent", format!("agent {pasted}"))
            .json(&json!({"name": "agent"}));
        issued.push(IssuedToken::from_created(api.send(with_agent).await.expect(201)).secret);
        let token_id = IssuedToken::from_created(&api.create_token(&admin, &app, &json!({"name": "patched"})).await).id;
        api.patch(&token_path(&app, &token_id), &admin, &json!({"description": pasted}))
            .await
            .expect(200);
        let refused = format!("/applications/{}/tokens", "000000000000000000000000");
        api.post(&refused, &admin, &json!({"name": "x", "description": pasted}))
            .await
            .expect_error(404, "NotFound");
        let deadline = Instant::now() + REFUSAL_LIMIT;
        while !audit_documents(&server.database_url)
            .await
            .iter()
            .any(|entry| entry["responseStatus"] == 404)
        {
            assert!(Instant::now() < deadline, "the 404 was not recorded");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        let documents = audit_documents(&server.database_url).await;
        assert!(documents.len() >= 10, "{} entries", documents.len());
        for secret in &issued {
            for entry in &documents {
                assert!(
                    !entry.to_string().contains(secret.as_str()),
                    "a token in entry {}",
                    entry["id"]
                );
            }
        }
        // The pasted token is the caller's data where it was kept as such (a
        // description); every other token appears nowhere in the database,
        // nor its signature, the part that exists nowhere else.
        let stored = database_text(&backend).await;
        for secret in issued.iter().filter(|secret| **secret != pasted) {
            assert!(!stored.contains(secret.as_str()), "a token is in the database in clear");
            let signature = secret.rsplit('.').next().unwrap();
            assert!(!stored.contains(signature), "a token's signature is in the database");
        }
        drop(server);
    })
    .await;
}

/// Clients writing at once when the server is killed.
const WRITERS: usize = 8;
/// Writes each client attempts at most; far more than happen before the kill.
const WRITES_PER_WRITER: usize = 400;
/// The kill comes once this many writes were acknowledged.
const KILL_AFTER: usize = 60;
const RAMP_LIMIT: Duration = Duration::from_secs(30);

/// What one write attempted, and whether its answer arrived.
#[derive(Debug, Clone)]
enum Attempt {
    /// A create of a token named so; acknowledged with its id.
    Create { name: String, acknowledged: Option<String> },
    /// A revocation (PATCH to inactive) of a token.
    Revoke { id: String, acknowledged: bool },
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigkill_every_change_that_committed_has_its_entry_and_no_other_does() {
    each_backend(|backend| async move {
        let mut server = Server::start(&backend);
        let admin = server.admin_token.clone();
        let app = server.api.create_application(&admin, "killed").await;
        let count = (WRITERS * WRITES_PER_WRITER / 2).to_string();
        common::run_cli(&[
            "admin",
            "seed",
            "--database",
            &backend.url,
            "--app",
            &app,
            "--count",
            &count,
            "--prefix",
            "revocable",
        ]);
        let listing = server
            .api
            .get(&format!("{}?perPage=1000", tokens_path(&app)), &admin)
            .await;
        let revocable: Vec<String> = listing.expect(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|token| token["id"].as_str().unwrap().to_string())
            .collect();

        let attempts: Arc<Mutex<Vec<Attempt>>> = Arc::default();
        let acknowledged = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut writers = JoinSet::new();
        for writer in 0..WRITERS {
            let (api, admin, app, attempts, acknowledged) = (
                server.api.clone(),
                admin.clone(),
                app.clone(),
                attempts.clone(),
                acknowledged.clone(),
            );
            let mine: Vec<String> = revocable.iter().skip(writer).step_by(WRITERS).cloned().collect();
            writers.spawn(async move {
                for n in 0..WRITES_PER_WRITER {
                    let revoke = n % 2 == 1;
                    let (index, request) = {
                        let mut attempts = attempts.lock().unwrap();
                        let request = if revoke {
                            let id = mine[n / 2].clone();
                            let request = api
                                .request(Method::PATCH, &token_path(&app, &id), Some(&admin))
                                .json(&json!({"status": "inactive"}));
                            attempts.push(Attempt::Revoke {
                                id,
                                acknowledged: false,
                            });
                            request
                        } else {
                            let name = format!("killed-{writer}-{n:03}");
                            let request = api
                                .request(Method::POST, &tokens_path(&app), Some(&admin))
                                .json(&json!({"name": name}));
                            attempts.push(Attempt::Create {
                                name,
                                acknowledged: None,
                            });
                            request
                        };
                        (attempts.len() - 1, request)
                    };
                    let Ok(response) = request.send().await else { return };
                    let expected = if revoke { 200 } else { 201 };
                    if response.status() != expected {
                        return;
                    }
                    let Ok(body) = response.json::<Value>().await else {
                        return;
                    };
                    match &mut attempts.lock().unwrap()[index] {
                        Attempt::Create { acknowledged, .. } => *acknowledged = Some(id_of(&body)),
                        Attempt::Revoke { acknowledged, .. } => *acknowledged = true,
                    }
                    acknowledged.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
        let ramp = Instant::now();
        while acknowledged.load(std::sync::atomic::Ordering::Relaxed) < KILL_AFTER {
            assert!(
                ramp.elapsed() < RAMP_LIMIT,
                "the writers did not get {KILL_AFTER} writes through"
            );
            assert!(
                !writers.is_empty(),
                "every writer stopped before the kill:\n{}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
            while writers.try_join_next().is_some() {}
        }
        server.kill();
        while let Some(writer) = writers.join_next().await {
            writer.expect("a writer task");
        }
        let attempts = std::mem::take(&mut *attempts.lock().unwrap());
        assert!(
            attempts.len() < WRITERS * WRITES_PER_WRITER,
            "the kill came after every write"
        );

        let restarted = Server::start(&backend);
        let api = &restarted.api;
        let documents = audit_documents(&restarted.database_url).await;
        let listing = api
            .get(
                &format!("{}?perPage=1000&filterField=name&filter=killed-*", tokens_path(&app)),
                &admin,
            )
            .await;
        let tokens = listing.expect(200)["items"].as_array().unwrap().clone();
        let token_named = |name: &str| tokens.iter().find(|token| token["name"] == name);
        let (mut unacknowledged_landed, mut unacknowledged_lost) = (0, 0);
        for attempt in &attempts {
            match attempt {
                Attempt::Create { name, acknowledged } => {
                    let token = token_named(name);
                    let entries: Vec<&Value> = documents
                        .iter()
                        .filter(|entry| {
                            entry["requestAction"] == "post" && entry["requestBody"]["name"] == name.as_str()
                        })
                        .collect();
                    if let Some(id) = acknowledged {
                        assert!(
                            token.is_some_and(|token| token["id"] == id.as_str()),
                            "acknowledged {name} lost"
                        );
                    }
                    match token {
                        Some(token) => {
                            assert_eq!(entries.len(), 1, "{name} was created: {entries:?}");
                            assert_eq!(entries[0]["secondaryTargetId"], token["id"]);
                            if acknowledged.is_none() {
                                unacknowledged_landed += 1;
                            }
                        }
                        None => {
                            assert!(entries.is_empty(), "{name} was never created, yet: {entries:?}");
                            unacknowledged_lost += 1;
                        }
                    }
                }
                Attempt::Revoke { id, acknowledged } => {
                    let reply = api.get(&token_path(&app, id), &admin).await;
                    let revoked = reply.expect(200)["status"] == "inactive";
                    let entries = documents
                        .iter()
                        .filter(|entry| entry["requestAction"] == "patch" && entry["secondaryTargetId"] == id.as_str())
                        .count();
                    assert!(!acknowledged || revoked, "acknowledged revocation of {id} lost");
                    assert_eq!(
                        entries,
                        usize::from(revoked),
                        "{id}: revoked {revoked}, {entries} entries"
                    );
                }
            }
        }
        eprintln!(
            "{} attempts; not acknowledged: {unacknowledged_landed} committed, {unacknowledged_lost} not",
            attempts.len()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_past_their_retention_are_pruned_in_batches() {
    each_backend(|backend| async move {
        let store = common::open_store(&backend.url).await;
        let day = 86_400_000;
        let now = latchkey_core::time::now_millis();
        let entry_at = |at: i64| latchkey_core::audit::AuditEntry {
            creation_date: at,
            ..latchkey_server::admin::by_operator("retentionTest", "write", json!({}))
        };
        // More than two batches past a 30-day retention, and some within it.
        let old: Vec<_> = (0..25_000).map(|n| entry_at(now - 31 * day - n)).collect();
        for chunk in old.chunks(5_000) {
            store.append_audit(chunk).await.unwrap();
        }
        let kept: Vec<_> = (0..3).map(|n| entry_at(now - 29 * day - n)).collect();
        store.append_audit(&kept).await.unwrap();
        drop(store);

        let server = Server::start_with_env(&backend, &[("LATCHKEY_AUDIT_RETENTION_DAYS", "30")]);
        let deadline = Instant::now() + Duration::from_secs(30);
        let remaining = loop {
            let remaining: Vec<Value> = audit_documents(&server.database_url)
                .await
                .into_iter()
                .filter(|entry| entry["requestResource"] == "retentionTest")
                .collect();
            if remaining.len() <= kept.len() || Instant::now() > deadline {
                break remaining;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let mut ids: Vec<String> = kept.iter().map(|entry| entry.id.to_string()).collect();
        let mut remaining: Vec<&str> = remaining.iter().map(|entry| entry["id"].as_str().unwrap()).collect();
        ids.sort();
        remaining.sort();
        assert_eq!(remaining, ids, "only the entries within 30 days are left");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_answered_before_a_clean_shutdown_are_all_written() {
    each_backend(|backend| async move {
        let mut server = Server::start(&backend);
        let admin = server.admin_token.clone();
        let app = server.api.create_application(&admin, "shutdown").await;
        const CLIENTS: usize = 32;
        const TERMINATE_AFTER: usize = 1_000;
        let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut clients = JoinSet::new();
        for client in 0..CLIENTS {
            let (api, admin, app, answered) = (server.api.clone(), admin.clone(), app.clone(), answered.clone());
            clients.spawn(async move {
                for n in 0..1_000 {
                    let missing = format!("{client:012x}{n:012x}");
                    let request = api.request(Method::DELETE, &token_path(&app, &missing), Some(&admin));
                    // Refused connections once the server stops listening end the client.
                    let Ok(response) = request.send().await else { return };
                    if response.status() != 404 {
                        return;
                    }
                    answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
        let ramp = Instant::now();
        while answered.load(std::sync::atomic::Ordering::SeqCst) < TERMINATE_AFTER {
            assert!(ramp.elapsed() < RAMP_LIMIT, "the refusals did not get through");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Mid-stream: requests in flight finish, and their refusals too.
        server.terminate();
        while let Some(client) = clients.join_next().await {
            client.expect("a client task");
        }
        assert!(server.wait_for_exit(Duration::from_secs(30)).success());
        let answered = answered.load(std::sync::atomic::Ordering::SeqCst);
        let recorded = audit_documents(&backend.url)
            .await
            .into_iter()
            .filter(|entry| entry["responseStatus"] == 404 && entry["requestAction"] == "delete")
            .count();
        assert_eq!(recorded, answered, "every refusal answered is recorded");
    })
    .await;
}
