//! `latchkey admin copy`: a database moved from SQLite to PostgreSQL and back
//! (SQLite to SQLite to SQLite without a PostgreSQL server) holds exactly
//! what it held, every token works with its id, and a copy killed midway
//! resumes where it stopped. The refusals: a non-empty target, another
//! source's unfinished copy, a table the copy does not know, another schema
//! version.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use common::{cli, fresh_postgres, query_texts, run_cli, spawn_cli, token_path, tokens_path, Backend, Server};
use serde_json::{json, Value};

/// Tables a copy leaves out: the authentication change log is transient.
const NOT_COPIED: &[&str] = &["auth_changes"];
/// Tokens inserted straight into the source for the interrupted copies:
/// enough that a copy is still running a second after it started.
const BULK_TOKENS: u32 = 100_000;
const COPY_LIMIT: Duration = Duration::from_secs(120);

/// The database in the middle of the round trip: PostgreSQL when there is a
/// server, else SQLite.
fn middle() -> Backend {
    fresh_postgres().unwrap_or_else(Backend::sqlite)
}

fn copy(from: &str, to: &str) -> String {
    let output = cli(&["admin", "copy", "--from", from, "--to", to], &[]);
    assert!(output.success, "copy {from} -> {to} failed: {}", output.stderr);
    output.stderr
}

fn sqlite_file(backend: &Backend) -> String {
    backend
        .url
        .strip_prefix("sqlite://")
        .expect("a SQLite backend")
        .to_string()
}

/// Every row of every table of a SQLite database but those not copied, each
/// row as text, sorted: what a copy must reproduce.
fn contents(backend: &Backend) -> BTreeMap<String, Vec<String>> {
    let conn = rusqlite::Connection::open(sqlite_file(backend)).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut contents = BTreeMap::new();
    for table in tables.into_iter().filter(|table| !NOT_COPIED.contains(&table.as_str())) {
        let mut statement = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let width = statement.column_count();
        let mut rows: Vec<String> = statement
            .query_map([], |row| {
                let values: Vec<rusqlite::types::Value> = (0..width).map(|at| row.get(at)).collect::<Result<_, _>>()?;
                Ok(format!("{values:?}"))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.sort();
        contents.insert(table, rows);
    }
    contents
}

/// Fails, naming the table (never a row: rows hold secrets), unless both
/// databases hold the same tables with the same rows.
fn assert_same_contents(source: &Backend, copy: &Backend) {
    let (source, copy) = (contents(source), contents(copy));
    assert_eq!(
        source.keys().collect::<Vec<_>>(),
        copy.keys().collect::<Vec<_>>(),
        "the copy's tables differ"
    );
    for (table, rows) in &source {
        assert!(
            rows == &copy[table],
            "table {table}: {} rows in the source, {} in the copy, not the same",
            rows.len(),
            copy[table].len()
        );
    }
}

/// What the API lists, read the same way from two servers.
async fn listings(server: &Server, apps: &[String], org: &str) -> Vec<Value> {
    let admin = &server.admin_token;
    let mut targets = vec![
        "/applications?perPage=1000".to_string(),
        format!("/orgs/{org}/audit-logs?perPage=1000"),
    ];
    for app in apps {
        targets.push(format!("{}?perPage=1000", tokens_path(app)));
        targets.push(format!("/applications/{app}/audit-logs?perPage=1000"));
    }
    let mut found = Vec::new();
    for target in targets {
        found.push(server.api.get(&target, admin).await.expect(200).clone());
    }
    found
}

/// The token's own id, as introspection on `server` shows it; `None` when
/// it is refused.
async fn introspected_id(server: &Server, secret: &str) -> Option<String> {
    let reply = server.api.get("/auth/introspect", secret).await;
    match reply.status {
        200 => Some(common::id_of(reply.expect(200))),
        401 => None,
        _ => panic!("introspection answered neither 200 nor 401: {reply:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_to_postgres_and_back_keeps_every_token_and_id() {
    let source = Backend::sqlite();
    let server = Server::start(&source);
    let (api, admin) = (&server.api, server.admin_token.clone());
    let org = run_cli(&[
        "admin",
        "org",
        "create",
        "--database",
        &source.url,
        "--name",
        "copied",
        "--member",
        "admin",
    ]);
    let apps = vec![
        api.create_application(&admin, "first").await,
        api.create_application(&admin, "second").await,
    ];
    let mut working = Vec::new();
    for (n, app) in apps.iter().enumerate() {
        working.push(api.new_app_token(&admin, app, &format!("plain-{n}")).await);
        let expires = chrono::Utc::now() + chrono::Duration::days(30);
        let expiring = api
            .create_token(
                &admin,
                app,
                &json!({"name": format!("expiring-{n}"), "expirationDate": expires.to_rfc3339()}),
            )
            .await;
        working.push(common::IssuedToken::from_created(&expiring));
    }
    let used = api.new_app_token(&admin, &apps[0], "used").await;
    assert!(api.authenticates(&used.secret).await);
    working.push(used);
    let inactive = api.new_app_token(&admin, &apps[0], "inactive").await;
    api.patch(
        &token_path(&apps[0], &inactive.id),
        &admin,
        &json!({"status": "inactive"}),
    )
    .await
    .expect(200);
    let deleted = api.new_app_token(&admin, &apps[1], "deleted").await;
    api.delete(&token_path(&apps[1], &deleted.id), &admin).await.expect(200);
    // A clean stop writes the last uses.
    server.terminate();
    let mut server = server;
    server.wait_for_exit(Duration::from_secs(20));

    for (table, rows) in contents(&source) {
        assert!(
            !rows.is_empty(),
            "the source's {table} is empty: the test should fill it"
        );
    }

    let (middle, last) = (middle(), Backend::sqlite());
    let said = copy(&source.url, &middle.url);
    assert!(said.contains("copied tokens:"), "{said}");
    copy(&middle.url, &last.url);
    assert_same_contents(&source, &last);
    if !middle.is_file_backed() {
        let tables = query_texts(
            &middle.url,
            "SELECT tablename::text FROM pg_tables WHERE tablename = 'latchkey_copy'",
        )
        .await;
        assert!(tables.is_empty(), "the finished copy left its marker");
    }

    let (on_source, on_copy) = (Server::start(&source), Server::start(&last));
    assert_eq!(
        listings(&on_source, &apps, &org).await,
        listings(&on_copy, &apps, &org).await,
        "the copy lists something else"
    );
    for token in &working {
        assert_eq!(
            introspected_id(&on_copy, &token.secret).await.as_deref(),
            Some(token.id.as_str()),
            "a token does not work on the copy with its id"
        );
    }
    assert_eq!(
        introspected_id(&on_copy, &inactive.secret).await,
        None,
        "an inactive token works"
    );
    assert_eq!(
        introspected_id(&on_copy, &deleted.secret).await,
        None,
        "a deleted token works"
    );
    assert!(on_copy.api.authenticates(&admin).await, "the admin's user token");
}

/// Inserts [`BULK_TOKENS`] tokens into the application straight into the
/// stopped SQLite database, keeping its counts.
fn insert_bulk_tokens(backend: &Backend, app: &str) {
    let conn = rusqlite::Connection::open(sqlite_file(backend)).unwrap();
    conn.execute_batch(&format!(
        "BEGIN;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {BULK_TOKENS})
         INSERT INTO tokens (id, owner_type, owner_id, creator_type, creator_id, creator_name, name, name_lower,
             description, scope, status, created_at, updated_at, expires_at, digest)
         SELECT printf('%024x', i), 'application', '{app}', 'user', '{app}', 'admin', printf('bulk-%07d', i),
             printf('bulk-%07d', i), '', 'all.Application.read', 'active', i, i, 9223372036854775807,
             randomblob(32)
         FROM n;
         UPDATE applications SET token_count = token_count + {BULK_TOKENS},
             active_count = active_count + {BULK_TOKENS} WHERE id = '{app}';
         COMMIT;"
    ))
    .unwrap();
}

/// Starts a copy, waits until it reports tokens copied but not all, and
/// kills it (SIGKILL); returns what it printed.
fn copy_killed_midway(from: &str, to: &str) -> String {
    let mut child = spawn_cli(&["admin", "copy", "--from", from, "--to", to]);
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + COPY_LIMIT;
    let mut printed = String::new();
    loop {
        let line = lines.next().expect("the copy ends before copying tokens").unwrap();
        printed.push_str(&line);
        printed.push('\n');
        assert!(
            !line.contains("copied tokens"),
            "the copy finished before the kill:\n{printed}"
        );
        if line.starts_with("latchkey: copying tokens: ") && !line.contains(": 0/") {
            break;
        }
        assert!(Instant::now() < deadline, "no progress on tokens:\n{printed}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    printed
}

async fn count(backend: &Backend, sql: &str) -> u64 {
    let text = if backend.is_file_backed() {
        let conn = rusqlite::Connection::open(sqlite_file(backend)).unwrap();
        conn.query_row(sql, [], |row| row.get::<_, i64>(0)).unwrap().to_string()
    } else {
        query_texts(&backend.url, &format!("SELECT ({sql})::text"))
            .await
            .remove(0)
    };
    text.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_killed_midway_resumes_and_ends_equal() {
    let source = Backend::sqlite();
    let server = Server::start(&source);
    let admin = server.admin_token.clone();
    let app = server.api.create_application(&admin, "bulk").await;
    let token = server.api.new_app_token(&admin, &app, "real").await;
    drop(server);
    insert_bulk_tokens(&source, &app);
    let total = count(&source, "SELECT COUNT(*) FROM tokens").await;

    let (middle, last) = (middle(), Backend::sqlite());
    for (from, to) in [(&source, &middle), (&middle, &last)] {
        copy_killed_midway(&from.url, &to.url);
        let copied = count(to, "SELECT COUNT(*) FROM tokens").await;
        assert!(
            0 < copied && copied < total,
            "{copied} of {total} tokens copied at the kill"
        );
        assert!(
            count(to, "SELECT COUNT(*) FROM latchkey_copy").await > 0,
            "the marker stays"
        );

        // No server starts on it meanwhile.
        let served = cli(&["serve", "--listen", "127.0.0.1:0", "--database", &to.url], &[]);
        assert!(
            !served.success && served.stderr.contains("holds an unfinished `latchkey admin copy`"),
            "{}",
            served.stderr
        );

        // Another source may not finish it.
        let other = Backend::sqlite();
        run_cli(&["admin", "user", "create", "--database", &other.url, "--name", "other"]);
        let refused = cli(&["admin", "copy", "--from", &other.url, "--to", &to.url], &[]);
        assert!(
            !refused.success && refused.stderr.contains("holds an unfinished copy from"),
            "{}",
            refused.stderr
        );

        let said = copy(&from.url, &to.url);
        assert!(said.contains("resuming the unfinished copy"), "{said}");
        assert_eq!(count(to, "SELECT COUNT(*) FROM tokens").await, total);
    }
    assert_same_contents(&source, &last);
    let on_copy = Server::start(&last);
    assert_eq!(introspected_id(&on_copy, &token.secret).await, Some(token.id.clone()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_refuses_what_it_cannot_copy_faithfully() {
    let source = Backend::sqlite();
    run_cli(&[
        "admin",
        "user",
        "create",
        "--database",
        &source.url,
        "--name",
        "someone",
    ]);
    let refused = |from: &str, to: &str| {
        let output = cli(&["admin", "copy", "--from", from, "--to", to], &[]);
        assert!(!output.success, "copied {from} -> {to}");
        output.stderr
    };

    let target = middle();
    copy(&source.url, &target.url);
    let again = refused(&source.url, &target.url);
    assert!(again.contains("is not empty"), "{again}");

    // Altered copies of the source (a backup: the file alone may lack what
    // its write-ahead log holds).
    let altered = |sql: &str| {
        let copy = Backend::sqlite();
        run_cli(&[
            "admin",
            "backup",
            "--database",
            &source.url,
            "--to",
            &sqlite_file(&copy),
        ]);
        rusqlite::Connection::open(sqlite_file(&copy))
            .unwrap()
            .execute_batch(sql)
            .unwrap();
        copy
    };
    let newer = altered("CREATE TABLE added_later (id TEXT PRIMARY KEY)");
    let unknown = refused(&newer.url, &Backend::sqlite().url);
    assert!(unknown.contains("table \"added_later\""), "{unknown}");

    let older = altered("PRAGMA user_version = 1");
    let version = refused(&older.url, &Backend::sqlite().url);
    assert!(version.contains("schema is version 1"), "{version}");

    let missing = refused("sqlite:///nonexistent/latchkey.db", &Backend::sqlite().url);
    assert!(missing.contains("--from: there is no database"), "{missing}");
    let unreachable = refused(&source.url, "postgres://latchkey:hunter2@127.0.0.1:1/latchkey");
    assert!(
        unreachable.contains("latchkey:***@") && !unreachable.contains("hunter2"),
        "{unreachable}"
    );
}
