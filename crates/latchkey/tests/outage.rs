//! A database that goes away under load and comes back (PostgreSQL only):
//! the server answers 503 rather than hanging or failing otherwise, keeps
//! accepting tokens it authenticated recently, and serves again once the
//! database returns.
//!
//! This test stops the shared PostgreSQL server, so it lives alone in its
//! own test binary (cargo runs test binaries one after another). It needs
//! the commands that stop and start that server, which `scripts/test.sh`
//! exports; without them it has nothing to do.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{backends, tokens_path, Api, Server};
use serde_json::json;
use tokio::sync::Mutex;

const STOP_VAR: &str = "LATCHKEY_TEST_PG_STOP";
const START_VAR: &str = "LATCHKEY_TEST_PG_START";
/// Longer than any answer may take, outage or not: pool waits are 2 s.
const ANSWER_LIMIT: Duration = Duration::from_secs(5);

fn shell(command: &str) {
    let status = Command::new("sh").args(["-c", command]).status().expect("sh runs");
    assert!(status.success(), "{command:?} failed: {status}");
}

/// Every status the load saw while a phase lasted, and the slowest answer.
#[derive(Default, Debug)]
struct Seen {
    statuses: Vec<(&'static str, u16)>,
    slowest: Duration,
}

/// Sends a mix of requests until `until`: some served from the
/// authentication cache, some needing the database.
async fn load(api: Api, admin: String, app: String, cached: String, seen: Arc<Mutex<Seen>>, until: Instant) {
    let mut n = 0u32;
    while Instant::now() < until {
        n += 1;
        let started = Instant::now();
        let (kind, reply) = match n % 3 {
            0 => ("cached introspect", api.get("/auth/introspect", &cached).await),
            1 => ("list", api.get(&tokens_path(&app), &admin).await),
            _ => (
                "create",
                api.post(&tokens_path(&app), &admin, &json!({ "name": format!("load {n}") }))
                    .await,
            ),
        };
        let mut seen = seen.lock().await;
        seen.statuses.push((kind, reply.status));
        seen.slowest = seen.slowest.max(started.elapsed());
        if reply.status >= 400 {
            let body = reply
                .json
                .as_ref()
                .unwrap_or_else(|| panic!("an error without a JSON body: {reply:?}"));
            assert!(body["type"].is_string() && body["message"].is_string(), "{reply:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_gives_503s_and_the_server_recovers() {
    let (Ok(stop), Ok(start)) = (std::env::var(STOP_VAR), std::env::var(START_VAR)) else {
        eprintln!("{STOP_VAR} / {START_VAR} are not set: no PostgreSQL server to stop");
        return;
    };
    let Some(backend) = backends().into_iter().find(|backend| backend.name == "postgres") else {
        panic!("{STOP_VAR} is set but no PostgreSQL backend is configured");
    };
    let server = Server::start(&backend);
    let api = server.api.clone();
    let admin = server.admin_token.clone();
    let app = api.create_application(&admin, "outage").await;
    let cached = api.new_app_token(&admin, &app, "seen before the outage").await.secret;
    assert!(api.authenticates(&cached).await);

    let seen = Arc::new(Mutex::new(Seen::default()));
    let outage = Duration::from_secs(3);
    let until = Instant::now() + outage + Duration::from_secs(1);
    let workers: Vec<_> = (0..4)
        .map(|_| {
            tokio::spawn(load(
                api.clone(),
                admin.clone(),
                app.clone(),
                cached.clone(),
                seen.clone(),
                until,
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    shell(&stop);
    tokio::time::sleep(outage).await;
    shell(&start);
    for worker in workers {
        worker.await.expect("a load worker");
    }

    let seen = seen.lock().await;
    let unexpected: Vec<_> = seen
        .statuses
        .iter()
        .filter(|(_, status)| *status >= 500 && *status != 503)
        .collect();
    assert!(
        unexpected.is_empty(),
        "only 503 may come from the server's side: {unexpected:?}"
    );
    assert!(
        seen.statuses.iter().any(|(_, status)| *status == 503),
        "the outage was never seen: {seen:?}"
    );
    let refused_cached: Vec<_> = seen
        .statuses
        .iter()
        .filter(|(kind, status)| *kind == "cached introspect" && *status != 200)
        .collect();
    assert!(
        refused_cached.is_empty(),
        "a recently seen token must keep working: {refused_cached:?}"
    );
    assert!(
        seen.slowest < ANSWER_LIMIT,
        "an answer took {:?}: that is a hang",
        seen.slowest
    );

    // Once the database is back, so is the service.
    let back = Instant::now();
    loop {
        let reply = api.get(&tokens_path(&app), &admin).await;
        if reply.status == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "the server never recovered: {reply:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    api.post(&tokens_path(&app), &admin, &json!({ "name": "after the outage" }))
        .await
        .expect(201);
    assert!(
        !server.log().contains("panicked"),
        "the server panicked:\n{}",
        server.log()
    );
}
