//! A database that goes away under load and comes back (PostgreSQL only).
//! Two instances run on it: one with the defaults and one that opts in to
//! `--auth-stale-if-error-ms`. Both answer 503 rather than hang or fail
//! otherwise, and serve again once the database returns. The default one
//! stops accepting a cached token once it could not confirm it for the
//! contract's 1 s (503: it cannot tell); the other keeps accepting it.
//!
//! This test stops the shared PostgreSQL server, so it lives alone in its
//! own test binary (cargo runs test binaries one after another). It needs
//! the commands that stop and start that server, which `scripts/pg.sh`
//! exports. Without them it has nothing to do, and fails when the run asked
//! for PostgreSQL (`LATCHKEY_TEST_REQUIRE_POSTGRES=1`, as `scripts/test.sh`
//! sets).

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{backends, postgres_required, tokens_path, Api, Server, REQUIRE_POSTGRES_VAR};
use serde_json::json;
use tokio::sync::Mutex;

const STOP_VAR: &str = "LATCHKEY_TEST_PG_STOP";
const START_VAR: &str = "LATCHKEY_TEST_PG_START";
/// How long after it was last confirmed a default instance may still accept
/// a cached token (spec section 7).
const REVOCATION_BOUND: Duration = Duration::from_secs(1);
/// Longer than any answer may take, outage or not: pool waits are 2 s.
const ANSWER_LIMIT: Duration = Duration::from_secs(5);
const OUTAGE: Duration = Duration::from_secs(3);

fn shell(command: &str) {
    let status = Command::new("sh").args(["-c", command]).status().expect("sh runs");
    assert!(status.success(), "{command:?} failed: {status}");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Instance {
    Default,
    StaleIfError,
}

#[derive(Debug)]
struct Exchange {
    instance: Instance,
    kind: &'static str,
    status: u16,
    started: Instant,
    ended: Instant,
}

/// Sends a mix of requests to one instance until `until`: some served from
/// the authentication cache, some needing the database.
async fn load(instance: Instance, api: Api, setup: Setup, seen: Arc<Mutex<Vec<Exchange>>>, until: Instant) {
    let mut n = 0u32;
    while Instant::now() < until {
        n += 1;
        let started = Instant::now();
        let (kind, reply) = match n % 3 {
            0 => ("cached introspect", api.get("/auth/introspect", &setup.cached).await),
            1 => ("list", api.get(&tokens_path(&setup.app), &setup.admin).await),
            _ => (
                "create",
                api.post(
                    &tokens_path(&setup.app),
                    &setup.admin,
                    &json!({ "name": format!("load {n}") }),
                )
                .await,
            ),
        };
        if reply.status >= 400 {
            let body = reply
                .json
                .as_ref()
                .unwrap_or_else(|| panic!("an error without a JSON body: {reply:?}"));
            assert!(body["type"].is_string() && body["message"].is_string(), "{reply:?}");
        }
        seen.lock().await.push(Exchange {
            instance,
            kind,
            status: reply.status,
            started,
            ended: Instant::now(),
        });
    }
}

#[derive(Clone)]
struct Setup {
    admin: String,
    app: String,
    cached: String,
}

/// Waits until `api` serves everything again after the outage.
async fn recovers(api: &Api, setup: &Setup) {
    let back = Instant::now();
    loop {
        let introspect = api.get("/auth/introspect", &setup.cached).await;
        let list = api.get(&tokens_path(&setup.app), &setup.admin).await;
        if introspect.status == 200 && list.status == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "the server never recovered: {introspect:?} {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    api.post(
        &tokens_path(&setup.app),
        &setup.admin,
        &json!({ "name": "after the outage" }),
    )
    .await
    .expect(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_gives_503s_and_the_server_recovers() {
    let (Ok(stop), Ok(start)) = (std::env::var(STOP_VAR), std::env::var(START_VAR)) else {
        assert!(
            !postgres_required(),
            "{REQUIRE_POSTGRES_VAR}=1 but {STOP_VAR} / {START_VAR} are not set: the outage test cannot \
             stop PostgreSQL (source scripts/pg.sh and call pg_start, which exports them)"
        );
        eprintln!("{STOP_VAR} / {START_VAR} are not set: no PostgreSQL server to stop");
        return;
    };
    let Some(backend) = backends().into_iter().find(|backend| backend.name == "postgres") else {
        panic!("{STOP_VAR} is set but no PostgreSQL backend is configured");
    };
    let default = Server::start(&backend);
    let lenient = Server::start_with_env(&backend, &[("LATCHKEY_AUTH_STALE_IF_ERROR_MS", "60000")]);
    let admin = default.admin_token.clone();
    let app = default.api.create_application(&admin, "outage").await;
    let cached = default
        .api
        .new_app_token(&admin, &app, "seen before the outage")
        .await
        .secret;
    let setup = Setup { admin, app, cached };
    for server in [&default, &lenient] {
        assert!(server.api.authenticates(&setup.cached).await);
    }

    let seen = Arc::new(Mutex::new(Vec::new()));
    let until = Instant::now() + OUTAGE + Duration::from_secs(1);
    let mut workers = Vec::new();
    for (instance, server) in [(Instance::Default, &default), (Instance::StaleIfError, &lenient)] {
        for _ in 0..3 {
            let load = load(instance, server.api.clone(), setup.clone(), seen.clone(), until);
            workers.push(tokio::spawn(load));
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    shell(&stop);
    let stopped = Instant::now();
    tokio::time::sleep(OUTAGE).await;
    let restarting = Instant::now();
    shell(&start);
    for worker in workers {
        worker.await.expect("a load worker");
    }

    let seen = seen.lock().await;
    let unexpected: Vec<_> = seen
        .iter()
        .filter(|exchange| exchange.status >= 500 && exchange.status != 503)
        .collect();
    assert!(
        unexpected.is_empty(),
        "only 503 may come from the server's side: {unexpected:?}"
    );
    for instance in [Instance::Default, Instance::StaleIfError] {
        assert!(
            seen.iter()
                .any(|exchange| exchange.instance == instance && exchange.status == 503),
            "{instance:?} never saw the outage"
        );
    }
    let slowest = seen.iter().map(|exchange| exchange.ended - exchange.started).max();
    assert!(
        slowest < Some(ANSWER_LIMIT),
        "an answer took {slowest:?}: that is a hang"
    );

    let cached: Vec<_> = seen
        .iter()
        .filter(|exchange| exchange.kind == "cached introspect")
        .collect();
    // Opted in: the cached token works throughout.
    let refused: Vec<_> = cached
        .iter()
        .filter(|exchange| exchange.instance == Instance::StaleIfError && exchange.status != 200)
        .collect();
    assert!(
        refused.is_empty(),
        "stale-if-error must keep the cached token working: {refused:?}"
    );
    // By default: accepted only while last confirmed within the bound, then
    // 503 (never 401: the token may well be valid) until the database returns.
    let default_cached = || cached.iter().filter(|exchange| exchange.instance == Instance::Default);
    let odd: Vec<_> = default_cached()
        .filter(|exchange| exchange.status != 200 && exchange.status != 503)
        .collect();
    assert!(odd.is_empty(), "a cached token is accepted or 503: {odd:?}");
    let unconfirmed: Vec<_> = default_cached()
        .filter(|exchange| exchange.started >= stopped + REVOCATION_BOUND && exchange.ended <= restarting)
        .collect();
    assert!(!unconfirmed.is_empty(), "no request fell in the outage past the bound");
    let accepted: Vec<_> = unconfirmed.iter().filter(|exchange| exchange.status != 503).collect();
    assert!(
        accepted.is_empty(),
        "a cached token unconfirmed for over {REVOCATION_BOUND:?} was answered otherwise than 503: {accepted:?}"
    );

    // Once the database is back, so is the service, on both.
    for server in [&default, &lenient] {
        recovers(&server.api, &setup).await;
        assert!(
            !server.log().contains("panicked"),
            "the server panicked:\n{}",
            server.log()
        );
    }
}
