//! What a caller can vary costs bounded memory: walking thousands of
//! distinct pages (every `page` × `perPage`) leaves the server's memory,
//! and on PostgreSQL its backends' private memory, where they were. Each
//! listing shape is one prepared statement, its window bound as parameters.

mod common;

use std::time::Duration;

use common::{each_server, tokens_path, Api};
use tokio::task::JoinSet;

const WALKERS: usize = 4;
const WARM_UP_PAGES: usize = 400;
const PAGES: usize = 4_000;
/// Growth allowed while walking [`PAGES`] more pages: allocator noise, far
/// below what a statement cached per distinct page costs (before statements
/// were one per shape, this walk grew the server by 8 MB and PostgreSQL's
/// backends by 74 MB; since, by under 0.5 MB and 4 MB).
const SERVER_GROWTH_LIMIT_KB: u64 = 4 * 1024;
const DATABASE_GROWTH_LIMIT_KB: u64 = 16 * 1024;

/// One field of `/proc/PID/status`, in kB.
fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The private memory of every PostgreSQL backend serving this test's
/// database, in kB (0 on SQLite).
async fn postgres_backends_kb(database_url: &str) -> u64 {
    if !database_url.starts_with("postgres") {
        return 0;
    }
    let (client, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls)
        .await
        .expect("the test connects to its PostgreSQL database");
    let driver = tokio::spawn(connection);
    let rows = client
        .query(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'latchkey'",
            &[],
        )
        .await
        .unwrap();
    drop(client);
    let _ = driver.await;
    assert!(!rows.is_empty(), "the server's connections are visible");
    rows.iter()
        .map(|row| status_kb(row.get::<_, i32>(0) as u32, "RssAnon"))
        .sum()
}

/// Walks pages `from..to`, each with its own `perPage`, so no two share an
/// offset and a limit.
async fn walk(api: &Api, admin: &str, app: &str, from: usize, to: usize) {
    let mut walkers = JoinSet::new();
    for walker in 0..WALKERS {
        let (api, admin, app) = (api.clone(), admin.to_string(), app.to_string());
        walkers.spawn(async move {
            for page in (from + walker..to).step_by(WALKERS) {
                let per_page = 1 + page % 1000;
                let target = format!("{}?page={page}&perPage={per_page}", tokens_path(&app));
                api.get(&target, &admin).await.expect(200);
            }
        });
    }
    while let Some(walked) = walkers.join_next().await {
        walked.expect("a walker");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn walking_thousands_of_distinct_pages_keeps_memory_flat() {
    each_server(|server| async move {
        let api = &server.api;
        let admin = &server.admin_token;
        let app = api.create_application(admin, "many pages").await;
        for n in 0..3 {
            api.new_app_token(admin, &app, &format!("paged {n}")).await;
        }
        walk(api, admin, &app, 0, WARM_UP_PAGES).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let server_before = status_kb(server.pid(), "VmRSS");
        let database_before = postgres_backends_kb(&server.database_url).await;

        walk(api, admin, &app, WARM_UP_PAGES, WARM_UP_PAGES + PAGES).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let server_after = status_kb(server.pid(), "VmRSS");
        let database_after = postgres_backends_kb(&server.database_url).await;

        assert!(server_before > 0, "the server's memory is readable");
        let server_growth = server_after.saturating_sub(server_before);
        let database_growth = database_after.saturating_sub(database_before);
        eprintln!(
            "after {PAGES} distinct pages: server {server_before} -> {server_after} kB, \
             database backends {database_before} -> {database_after} kB"
        );
        assert!(
            server_growth < SERVER_GROWTH_LIMIT_KB,
            "the server grew {server_growth} kB over {PAGES} distinct pages"
        );
        assert!(
            database_growth < DATABASE_GROWTH_LIMIT_KB,
            "the database's backends grew {database_growth} kB over {PAGES} distinct pages"
        );
    })
    .await;
}
