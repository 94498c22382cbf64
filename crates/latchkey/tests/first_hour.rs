//! A newcomer's first hour: what `serve` and `admin-token` say when the
//! database is not the one the user thinks, and the errors a first try meets.

mod common;

use std::path::{Path, PathBuf};

use common::{cli, cli_in, each_backend, each_server, Backend, Server, POSTGRES_SHARED_VAR};
use reqwest::header::AUTHORIZATION;
use reqwest::Method;

const ADMIN_TOKEN_LINE: &str = "latchkey: admin token: ";
const HINT: &str = "latchkey: existing database ";

/// The server's own `latchkey: ` lines before the one saying where it
/// listens (log lines, such as PostgreSQL's notices, aside).
fn startup_lines(log: &str) -> Vec<&str> {
    log.lines()
        .take_while(|line| !line.starts_with("latchkey: listening on "))
        .filter(|line| line.starts_with("latchkey: "))
        .collect()
}

/// Whether the backend's database is made fresh for this test (always, but
/// for a PostgreSQL database shared by every test).
fn is_fresh(backend: &Backend) -> bool {
    backend.is_file_backed() || std::env::var(POSTGRES_SHARED_VAR).map_or(true, |shared| shared.trim() != "1")
}

/// The SQLite file of a file-backed backend.
fn sqlite_file(backend: &Backend) -> Option<PathBuf> {
    backend.url.strip_prefix("sqlite://").map(PathBuf::from)
}

/// `path` (absolute) as a path relative to the test's working directory.
fn relative_from_here(path: &Path) -> PathBuf {
    let here = std::env::current_dir().expect("a working directory");
    let mut relative: PathBuf = here.components().skip(1).map(|_| "..").collect();
    relative.push(path.strip_prefix("/").expect("an absolute path"));
    relative
}

/// The password in a database URL's user info, if any.
fn password(url: &str) -> Option<&str> {
    let authority = url.split_once("://")?.1;
    let user_info = &authority[..authority.rfind('@')?];
    user_info
        .split_once(':')
        .map(|(_, password)| password)
        .filter(|p| !p.is_empty())
}

fn is_jwt(text: &str) -> bool {
    let segments: Vec<&str> = text.split('.').collect();
    segments.len() == 3
        && segments.iter().all(|segment| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_says_how_to_mint_an_admin_token() {
    each_backend(|mut backend| async move {
        let file = sqlite_file(&backend);
        if let Some(file) = &file {
            // Started by a relative path, the hint must still work from anywhere.
            backend.url = format!("sqlite://{}", relative_from_here(file).display());
        }
        let first = Server::start(&backend);
        let first_lines: Vec<String> = startup_lines(&first.log()).into_iter().map(String::from).collect();
        drop(first);
        if is_fresh(&backend) {
            assert!(
                first_lines.iter().any(|line| line.starts_with(ADMIN_TOKEN_LINE))
                    && !first_lines.iter().any(|line| line.starts_with(HINT)),
                "a first start prints the admin token, no hint: {first_lines:#?}"
            );
        }

        let second = Server::start(&backend);
        let log = second.log();
        let lines = startup_lines(&log);
        assert_eq!(lines.len(), 1, "one line before the address: {log}");
        let hint = lines[0];
        match &file {
            Some(file) => {
                let url = format!("sqlite://{}", std::fs::canonicalize(file).unwrap().display());
                assert_eq!(
                    hint,
                    format!("{HINT}{url}; for an admin token run: latchkey admin-token --database {url}")
                );
                // Run as printed, in a folder of its own.
                let command = hint.split_once("run: ").unwrap().1;
                let words: Vec<&str> = command.split(' ').collect();
                assert_eq!(words[0], "latchkey", "{command}");
                let elsewhere = tempfile::tempdir().unwrap();
                let minted = cli_in(elsewhere.path(), &words[1..], &[]);
                assert!(minted.success, "{command}: {}", minted.stderr);
                assert_eq!(minted.stderr, "", "the server's database, not a new one");
                assert!(second.api.authenticates(minted.stdout.trim()).await, "{command}");
                assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0, "nothing made there");
            }
            None => {
                assert!(
                    hint.starts_with(&format!("{HINT}postgres"))
                        && hint.ends_with(
                            "; for an admin token run: latchkey admin-token with the same --database / LATCHKEY_DATABASE"
                        ),
                    "{hint}"
                );
                if let Some(password) = password(&backend.url) {
                    assert!(!log.contains(password), "the password is shown: {log}");
                }
                // The harness minted the admin token so, with the same --database.
                assert!(second.api.authenticates(&second.admin_token).await);
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_token_on_a_database_no_server_uses_says_so() {
    each_backend(|backend| async move {
        if backend.is_file_backed() {
            // The server runs on the backend's file; admin-token runs in another folder.
            let server = Server::start(&backend);
            let elsewhere = tempfile::tempdir().unwrap();
            let minted = cli_in(elsewhere.path(), &["admin-token"], &[]);
            assert!(minted.success, "{}", minted.stderr);
            let made = std::fs::canonicalize(elsewhere.path()).unwrap().join("latchkey.db");
            assert_eq!(
                minted.stderr,
                format!(
                    "latchkey: created a new database sqlite://{}; a server started in another folder does not use it \
                     (run this in the server's folder, or pass the server's --database)\n",
                    made.display()
                )
            );
            let token = minted
                .stdout
                .strip_suffix('\n')
                .unwrap_or_else(|| panic!("{:?}", minted.stdout));
            assert!(is_jwt(token), "stdout is only the token: {:?}", minted.stdout);
            assert!(!server.api.authenticates(token).await, "another database's token");

            let again = cli_in(elsewhere.path(), &["admin-token"], &[]);
            assert!(again.success && again.stderr.is_empty(), "{}", again.stderr);
        } else if is_fresh(&backend) {
            let minted = cli(&["admin-token", "--database", &backend.url], &[]);
            assert!(minted.success, "{}", minted.stderr);
            assert!(
                minted
                    .stderr
                    .starts_with("latchkey: created the admin user in postgres")
                    && minted.stderr.contains("no server has started on this database yet")
                    && minted.stderr.lines().count() == 1,
                "{}",
                minted.stderr
            );
            if let Some(password) = password(&backend.url) {
                assert!(!minted.stderr.contains(password), "{}", minted.stderr);
            }
            let token = minted
                .stdout
                .strip_suffix('\n')
                .unwrap_or_else(|| panic!("{:?}", minted.stdout));
            assert!(is_jwt(token), "stdout is only the token: {:?}", minted.stdout);

            let again = cli(&["admin-token", "--database", &backend.url], &[]);
            assert!(again.success && again.stderr.is_empty(), "{}", again.stderr);
            let server = Server::start(&backend);
            assert!(server.api.authenticates(token).await);
        }
    })
    .await;
}

#[test]
fn an_invalid_log_filter_is_an_error_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let refused = cli_in(
        dir.path(),
        &["serve", "--listen", "127.0.0.1:0"],
        &[("LATCHKEY_LOG", "garbage")],
    );
    assert_eq!(refused.code, Some(2), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("invalid value 'garbage' for '--log <FILTER>'"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "refused before opening a database"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_authorization_header_is_told_the_expected_form() {
    each_server(|server| async move {
        for header in ["Basic abc", "Bearer", "Token abc"] {
            let request = server
                .api
                .request(Method::GET, "/auth/introspect", None)
                .header(AUTHORIZATION, header);
            let reply = server.api.send(request).await;
            let message = reply.expect_error(401, "Unauthorized");
            assert_eq!(
                message, "send one Authorization header: \"Bearer \" followed by an API token",
                "{header}"
            );
        }
    })
    .await;
}
