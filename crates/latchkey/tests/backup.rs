//! Backups taken while the server creates tokens: SQLite with `latchkey
//! admin backup` / `admin restore`, PostgreSQL with `pg_dump` / `pg_restore`
//! as the README says. Every token acknowledged before the backup started
//! works after a restore; none whose create started after it finished does.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{cli, each_backend, postgres_tool, psql, run_cli, tokens_path, unique, IssuedToken, Server};
use serde_json::json;
use tokio::task::JoinSet;

/// Clients creating tokens while the backup is taken.
const WRITERS: usize = 4;
/// Creates acknowledged before the backup starts, and after it ends.
const BEFORE: usize = 60;
const AFTER: usize = 30;
const RAMP_LIMIT: Duration = Duration::from_secs(60);

/// One acknowledged create: when it was sent and answered.
struct Created {
    sent: Instant,
    answered: Instant,
    token: IssuedToken,
}

/// Waits until `count` creates are acknowledged.
async fn until_created(created: &Mutex<Vec<Created>>, count: usize) {
    let started = Instant::now();
    while created.lock().unwrap().len() < count {
        assert!(
            started.elapsed() < RAMP_LIMIT,
            "the writers did not get {count} creates through"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_writes_restores_every_token_acknowledged_before_it() {
    each_backend(|backend| async move {
        let server = Server::start(&backend);
        let admin = server.admin_token.clone();
        let app = server.api.create_application(&admin, "backed up").await;
        let folder = tempfile::tempdir().unwrap();

        let created: Arc<Mutex<Vec<Created>>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut writers = JoinSet::new();
        for writer in 0..WRITERS {
            let (api, admin, app, created, stop) = (
                server.api.clone(),
                admin.clone(),
                app.clone(),
                created.clone(),
                stop.clone(),
            );
            writers.spawn(async move {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let sent = Instant::now();
                    let body = json!({"name": format!("backup-{writer}-{n}")});
                    let reply = api.post(&tokens_path(&app), &admin, &body).await;
                    let token = IssuedToken::from_created(reply.expect(201));
                    created.lock().unwrap().push(Created {
                        sent,
                        answered: Instant::now(),
                        token,
                    });
                    n += 1;
                }
            });
        }
        until_created(&created, BEFORE).await;

        let backup_started = Instant::now();
        let restored_url = if backend.is_file_backed() {
            let file = folder.path().join("latchkey.backup");
            let file = file.to_str().unwrap();
            run_cli(&["admin", "backup", "--database", &backend.url, "--to", file]);
            let backup_finished = Instant::now();
            // A second backup to the same file is refused, writing nothing.
            let again = cli(&["admin", "backup", "--database", &backend.url, "--to", file], &[]);
            assert!(again.stderr.contains("exists already"), "{}", again.stderr);
            let restored = format!("sqlite://{}", folder.path().join("restored.db").display());
            run_cli(&["admin", "restore", "--from", file, "--database", &restored]);
            let over = cli(&["admin", "restore", "--from", file, "--database", &restored], &[]);
            assert!(over.stderr.contains("--force"), "{}", over.stderr);
            (restored, backup_finished)
        } else {
            // The README's recipe.
            let file = folder.path().join("latchkey.dump");
            let file = file.to_str().unwrap();
            postgres_tool("pg_dump", &["--format=custom", "--file", file, &backend.url]).unwrap();
            let backup_finished = Instant::now();
            let name = format!("restored_{}", unique("db").replace('-', "_"));
            psql(&backend.url, &format!("CREATE DATABASE \"{name}\"")).unwrap();
            let (server_part, _) = backend.url.rsplit_once('/').unwrap();
            let restored = format!("{server_part}/{name}");
            postgres_tool("pg_restore", &["--no-owner", "--dbname", &restored, file]).unwrap();
            (restored, backup_finished)
        };
        let (restored_url, backup_finished) = restored_url;
        let count_at_backup_end = created.lock().unwrap().len();
        until_created(&created, count_at_backup_end + AFTER).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        while let Some(writer) = writers.join_next().await {
            writer.expect("a writer");
        }

        let restored = Server::start_on(&restored_url, &[]);
        let created = std::mem::take(&mut *created.lock().unwrap());
        let (mut before, mut after) = (0, 0);
        for create in &created {
            if create.answered < backup_started {
                assert!(
                    restored.api.authenticates(&create.token.secret).await,
                    "{:?} was acknowledged before the backup but does not work after the restore",
                    create.token.id
                );
                before += 1;
            } else if create.sent > backup_finished {
                assert!(
                    !restored.api.authenticates(&create.token.secret).await,
                    "{:?} was created after the backup, yet works after the restore",
                    create.token.id
                );
                after += 1;
            }
        }
        assert!(before >= BEFORE && after >= 1, "{before} before, {after} after");
        // The admin token printed at the first start works on the restored database too.
        assert!(restored.api.authenticates(&admin).await);
        drop(restored);
        if !backend.is_file_backed() {
            let name = restored_url.rsplit_once('/').unwrap().1;
            psql(&backend.url, &format!("DROP DATABASE \"{name}\" WITH (FORCE)")).unwrap();
        }
    })
    .await;
}
