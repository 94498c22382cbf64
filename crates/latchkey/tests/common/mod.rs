//! The conformance harness: every integration test runs the *built* `latchkey`
//! binary as a child process on a real database and talks to it over real
//! HTTP on loopback. Nothing is mocked.
//!
//! A test body is written once and run against every storage backend
//! [`backends`] yields, through [`each_backend`] or [`each_server`].

// Each file in tests/ is its own crate and uses a different part of this
// harness; what one file leaves unused is not dead code.
#![allow(dead_code)]

use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use tempfile::TempDir;

/// Set to a PostgreSQL URL to run the whole suite against PostgreSQL too
/// (`scripts/test.sh` starts a throwaway server and sets it).
pub const POSTGRES_URL_VAR: &str = "LATCHKEY_TEST_POSTGRES_URL";
/// Set to `1` (`scripts/test.sh` does whenever it runs PostgreSQL) to make a
/// missing [`POSTGRES_URL_VAR`] a failure of every test instead of a quiet
/// SQLite-only run; an unreachable server fails them either way.
pub const REQUIRE_POSTGRES_VAR: &str = "LATCHKEY_TEST_REQUIRE_POSTGRES";
/// Set to `1` to run every test on the database [`POSTGRES_URL_VAR`] names,
/// shared, instead of on a fresh database of its own (for a server where the
/// tests may not create databases).
pub const POSTGRES_SHARED_VAR: &str = "LATCHKEY_TEST_POSTGRES_SHARED";
/// The directory of PostgreSQL's client programs (`scripts/pg.sh` sets it);
/// without it, `psql` is looked up on `PATH`.
pub const POSTGRES_BINDIR_VAR: &str = "LATCHKEY_TEST_POSTGRES_BINDIR";
/// The CA certificate (PEM) that signed the TLS certificate of the server
/// [`POSTGRES_URL_VAR`] names (`scripts/pg.sh` makes both and sets it).
pub const POSTGRES_CA_VAR: &str = "LATCHKEY_TEST_POSTGRES_CA";

/// How long the server may take to print its address.
const STARTUP_LIMIT: Duration = Duration::from_secs(20);
/// How long one HTTP exchange may take before the test fails instead of hanging.
const REQUEST_LIMIT: Duration = Duration::from_secs(20);
/// How long one CLI command may take.
const CLI_LIMIT: Duration = Duration::from_secs(30);
/// How long one test body may run on one backend.
const BODY_LIMIT: Duration = Duration::from_secs(120);
/// How long a PostgreSQL client program (psql, pg_dump, pg_restore) may run.
const POSTGRES_TOOL_LIMIT: Duration = Duration::from_secs(60);

const BINARY: &str = env!("CARGO_BIN_EXE_latchkey");
/// What the server prints once it listens, before `host:port`.
const LISTENING: [&str; 2] = ["latchkey: listening on http://", "latchkey: listening on https://"];
const ADMIN_TOKEN_LINE: &str = "latchkey: admin token: ";

// ---------------------------------------------------------------------------
// Backends

/// One storage backend the suite runs against: a database URL, and for a
/// file-backed database the directory that holds its files.
pub struct Backend {
    pub name: &'static str,
    pub url: String,
    /// The SQLite file and the temporary directory it lives in (removed on drop).
    sqlite: Option<(TempDir, PathBuf)>,
    /// The PostgreSQL database made for this backend alone (dropped on drop);
    /// `None` for SQLite and for the shared database.
    postgres: Option<FreshPostgres>,
}

impl Backend {
    /// A fresh SQLite file in its own temporary directory.
    pub fn sqlite() -> Backend {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("latchkey.db");
        Backend {
            name: "sqlite",
            url: format!("sqlite://{}", path.display()),
            sqlite: Some((dir, path)),
            postgres: None,
        }
    }

    /// A PostgreSQL database on the server `url` names: a fresh, empty one
    /// of its own, or with [`POSTGRES_SHARED_VAR`] set, that very database.
    fn postgres(url: &str) -> Backend {
        if std::env::var(POSTGRES_SHARED_VAR).is_ok_and(|shared| shared.trim() == "1") {
            return Backend {
                name: "postgres",
                url: url.to_string(),
                sqlite: None,
                postgres: None,
            };
        }
        let fresh = FreshPostgres::create(url);
        Backend {
            name: "postgres",
            url: fresh.url.clone(),
            sqlite: None,
            postgres: Some(fresh),
        }
    }

    /// Every file the database consists of (for SQLite: the database, its
    /// write-ahead log and shared-memory index, when they exist); empty for a
    /// server-backed database.
    pub fn database_files(&self) -> Vec<PathBuf> {
        let Some((_, db)) = &self.sqlite else {
            return Vec::new();
        };
        ["", "-wal", "-shm"]
            .iter()
            .map(|suffix| PathBuf::from(format!("{}{suffix}", db.display())))
            .filter(|path| path.exists())
            .collect()
    }

    pub fn is_file_backed(&self) -> bool {
        self.sqlite.is_some()
    }
}

/// The databases every test runs against: always a fresh SQLite file; also
/// PostgreSQL when [`POSTGRES_URL_VAR`] is set. Panics when
/// [`REQUIRE_POSTGRES_VAR`] asks for PostgreSQL and there is none, and when
/// the server cannot be reached to create a test's database.
///
/// The PostgreSQL hook: each test gets a fresh, empty database of its own,
/// created with `psql` (`CREATE DATABASE … TEMPLATE template0`) on the
/// server the URL names, through the database the URL names, and dropped
/// (`WITH (FORCE)`) when the test is done with it. So a test on PostgreSQL
/// sees exactly what it sees on SQLite: a first start on a new database,
/// which prints the admin token, and nothing made by any other test; and
/// tests running at the same time never meet. That needs `psql` (from
/// [`POSTGRES_BINDIR_VAR`], else `PATH`) and the right to create databases.
///
/// With [`POSTGRES_SHARED_VAR`]`=1` the URL is used as it is instead, shared
/// by every test. The tests are written to bear that too: each makes its own
/// applications and never counts anything outside them, and the harness
/// mints an admin token with the CLI when the server does not print one (a
/// database set up before); user and organization names come from
/// [`unique`]. What only a new database shows (the admin token printed on a
/// first start) is then not tested on PostgreSQL, and tests running at the
/// same time see each other's applications in the admin's listings (the
/// client test's newest-first check can then fail).
pub fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::sqlite()];
    let url = std::env::var(POSTGRES_URL_VAR).unwrap_or_default();
    if !url.trim().is_empty() {
        all.push(Backend::postgres(url.trim()));
    } else if postgres_required() {
        panic!("{REQUIRE_POSTGRES_VAR}=1 asks for PostgreSQL, but {POSTGRES_URL_VAR} is not set");
    }
    all
}

/// A fresh, empty PostgreSQL database of its own on the server of
/// [`POSTGRES_URL_VAR`] (dropped on drop), for a test that needs several;
/// `None` without a server, or when every test must share one database.
pub fn fresh_postgres() -> Option<Backend> {
    let url = std::env::var(POSTGRES_URL_VAR).unwrap_or_default();
    let shared = std::env::var(POSTGRES_SHARED_VAR).is_ok_and(|shared| shared.trim() == "1");
    if url.trim().is_empty() || shared {
        assert!(
            !postgres_required(),
            "{REQUIRE_POSTGRES_VAR}=1 asks for fresh PostgreSQL databases"
        );
        return None;
    }
    Some(Backend::postgres(url.trim()))
}

/// Whether the run asked for PostgreSQL ([`REQUIRE_POSTGRES_VAR`]`=1`).
pub fn postgres_required() -> bool {
    std::env::var(REQUIRE_POSTGRES_VAR).is_ok_and(|required| required.trim() == "1")
}

/// The store a database URL of [`Backend::url`] names, opened directly (as
/// `latchkey admin` does), beside any server running on it.
pub async fn open_store(database_url: &str) -> Arc<dyn latchkey_store::Store> {
    match database_url.strip_prefix("sqlite://") {
        Some(path) => {
            Arc::new(latchkey_store_sqlite::SqliteStore::open(path.as_ref()).expect("the test's SQLite file opens"))
        }
        None => {
            let settings = latchkey_store_postgres::PoolSettings {
                max_size: 2,
                wait_timeout: Duration::from_secs(10),
                connect_timeout: Duration::from_secs(10),
            };
            Arc::new(
                latchkey_store_postgres::PostgresStore::connect(database_url, &settings)
                    .await
                    .expect("the test's PostgreSQL database opens"),
            )
        }
    }
}

/// Runs SQL statements on the database a URL of [`Backend::url`] names.
pub fn execute_sql(database_url: &str, sql: &str) {
    match database_url.strip_prefix("sqlite://") {
        Some(path) => rusqlite::Connection::open(path)
            .and_then(|conn| conn.execute_batch(sql))
            .unwrap_or_else(|error| panic!("{sql:?} on SQLite: {error}")),
        None => psql(database_url, sql).unwrap_or_else(|error| panic!("{sql:?} on PostgreSQL: {error}")),
    }
}

/// Rows of one text column a query selects, from the database a URL of
/// [`Backend::url`] names, read directly.
pub async fn query_texts(database_url: &str, sql: &str) -> Vec<String> {
    match database_url.strip_prefix("sqlite://") {
        Some(path) => {
            let connection = rusqlite::Connection::open(path).expect("the test's SQLite file opens");
            let mut statement = connection
                .prepare(sql)
                .unwrap_or_else(|error| panic!("{sql:?}: {error}"));
            let rows = statement
                .query_map([], |row| row.get::<_, String>(0))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .unwrap_or_else(|error| panic!("{sql:?}: {error}"));
            rows
        }
        None => {
            let (client, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls)
                .await
                .expect("the test's PostgreSQL database opens");
            tokio::spawn(connection);
            let rows = client
                .query(sql, &[])
                .await
                .unwrap_or_else(|error| panic!("{sql:?}: {error}"));
            rows.iter().map(|row| row.get::<_, String>(0)).collect()
        }
    }
}

/// Every audit log entry as stored (its wire form), oldest first, read
/// straight from the database.
pub async fn audit_documents(database_url: &str) -> Vec<Value> {
    query_texts(database_url, "SELECT document FROM audit_logs ORDER BY created_at, id")
        .await
        .iter()
        .map(|document| serde_json::from_str(document).expect("an entry's document is JSON"))
        .collect()
}

/// Everything the database holds, as text to search: the bytes of a SQLite
/// database's files, or every row of every PostgreSQL table.
pub async fn database_text(backend: &Backend) -> String {
    if backend.is_file_backed() {
        let bytes: Vec<u8> = backend
            .database_files()
            .iter()
            .flat_map(|file| std::fs::read(file).expect("the database's file reads"))
            .collect();
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    let tables = query_texts(
        &backend.url,
        "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
    )
    .await;
    let mut text = String::new();
    for table in tables {
        let rows = query_texts(&backend.url, &format!("SELECT t::text FROM \"{table}\" t")).await;
        text.push_str(&rows.join("\n"));
    }
    text
}

/// A database of one test's own on a PostgreSQL server, dropped on drop.
struct FreshPostgres {
    /// The URL given in [`POSTGRES_URL_VAR`]: how to reach the server.
    server_url: String,
    name: String,
    /// The URL of the new database.
    url: String,
}

impl FreshPostgres {
    fn create(server_url: &str) -> FreshPostgres {
        use std::sync::atomic::{AtomicU32, Ordering};
        static MADE: AtomicU32 = AtomicU32::new(0);
        // Unique among concurrent tests (the counter), test binaries (the
        // process id) and runs on the same server (the clock).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or_default();
        let name = format!(
            "latchkey_t{}_{}_{nanos:08x}",
            std::process::id(),
            MADE.fetch_add(1, Ordering::Relaxed)
        );
        if let Err(why) = psql(server_url, &format!("CREATE DATABASE \"{name}\" TEMPLATE template0")) {
            panic!(
                "could not create a fresh PostgreSQL database on the server of {POSTGRES_URL_VAR}={server_url}: {why}\n\
                 (to run every test on that database as it is, shared, set {POSTGRES_SHARED_VAR}=1)"
            );
        }
        FreshPostgres {
            server_url: server_url.to_string(),
            url: with_database(server_url, &name),
            name,
        }
    }
}

impl Drop for FreshPostgres {
    fn drop(&mut self) {
        // FORCE (PostgreSQL 13 and later) ends whatever session is left, say
        // of a server a failed test did not stop; without it on older ones.
        let statement = format!("DROP DATABASE IF EXISTS \"{}\"", self.name);
        if let Err(why) =
            psql(&self.server_url, &format!("{statement} WITH (FORCE)")).or_else(|_| psql(&self.server_url, &statement))
        {
            eprintln!("warning: the test database {} was not dropped: {why}", self.name);
        }
    }
}

/// `url` with its database (the path) replaced by `name`, keeping the query.
fn with_database(url: &str, name: &str) -> String {
    let authority_start = url.find("://").map_or(0, |at| at + 3);
    let authority_end = url[authority_start..]
        .find(['/', '?'])
        .map_or(url.len(), |at| authority_start + at);
    let query = url[authority_end..]
        .find('?')
        .map_or("", |at| &url[authority_end + at..]);
    format!("{}/{name}{query}", &url[..authority_end])
}

/// Runs one SQL command with `psql` against the database `url` names,
/// bounded in time.
pub fn psql(url: &str, sql: &str) -> Result<(), String> {
    postgres_tool("psql", &["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
}

/// Runs one of PostgreSQL's client programs (`psql`, `pg_dump`,
/// `pg_restore`, from [`POSTGRES_BINDIR_VAR`], else `PATH`) to completion,
/// bounded in time; its standard error when it fails.
pub fn postgres_tool(name: &str, args: &[&str]) -> Result<(), String> {
    let program = std::env::var_os(POSTGRES_BINDIR_VAR)
        .map(|dir| PathBuf::from(dir).join(name))
        .filter(|path| path.exists())
        .unwrap_or_else(|| PathBuf::from(name));
    let mut child = Command::new(&program)
        .args(args)
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| {
            format!(
                "{} does not run ({error}); set {POSTGRES_BINDIR_VAR}",
                program.display()
            )
        })?;
    let deadline = Instant::now() + POSTGRES_TOOL_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|error| error.to_string())? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{name} {args:?} did not finish within {POSTGRES_TOOL_LIMIT:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if status.success() {
        return Ok(());
    }
    let mut errors = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut errors);
    }
    Err(format!("{name} {args:?} failed ({status}): {}", errors.trim()))
}

/// Runs `test` once per backend, each run bounded in time.
pub async fn each_backend<F, Fut>(test: F)
where
    F: Fn(Backend) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in backends() {
        let name = backend.name;
        eprintln!("=== backend: {name}");
        if tokio::time::timeout(BODY_LIMIT, test(backend)).await.is_err() {
            panic!("the test did not finish within {BODY_LIMIT:?} on backend {name}");
        }
    }
}

/// Runs `test` once per backend against a freshly started server.
pub async fn each_server<F, Fut>(test: F)
where
    F: Fn(Server) -> Fut,
    Fut: Future<Output = ()>,
{
    each_backend(|backend| {
        let server = Server::start(&backend);
        let run = test(server);
        async move {
            run.await;
            // The database's directory must outlive the server using it.
            drop(backend);
        }
    })
    .await
}

// ---------------------------------------------------------------------------
// The server process

/// A running `latchkey serve`; killed when dropped.
pub struct Server {
    child: Child,
    pub api: Api,
    /// A user token with scope `all.User` for the `admin` user.
    pub admin_token: String,
    pub database_url: String,
    /// Everything the server wrote to standard error so far.
    log: Arc<Mutex<String>>,
}

impl Server {
    pub fn start(backend: &Backend) -> Server {
        Server::start_with_env(backend, &[])
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts the server with extra environment variables (e.g. its log level).
    pub fn start_with_env(backend: &Backend, env: &[(&str, &str)]) -> Server {
        Server::start_on(&backend.url, env)
    }

    /// Starts a server on any database URL (one a test made itself, say).
    pub fn start_on(database_url: &str, env: &[(&str, &str)]) -> Server {
        Server::start_listening(database_url, "127.0.0.1:0", env)
    }

    /// Starts a server on `listen` (the address of one stopped before, say).
    pub fn start_listening(database_url: &str, listen: &str, env: &[(&str, &str)]) -> Server {
        let mut command = cli_command();
        command
            .args(["serve", "--listen", listen, "--database"])
            .arg(database_url)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the latchkey binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (started, startup) = mpsc::channel();
        // Standard error is drained on its own thread for the whole life of
        // the process, so a chatty log can never fill the pipe and block it.
        std::thread::spawn({
            let log = Arc::clone(&log);
            move || drain_stderr(stderr, &log, started)
        });
        let (addr, printed_token) = match startup.recv_timeout(STARTUP_LIMIT) {
            Ok(started) => started,
            Err(why) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the server did not report its address ({why:?}); its log:\n{}",
                    log.lock().unwrap()
                );
            }
        };
        // On a database set up before, the server prints no token: mint one,
        // with the server's settings (its master key file, say).
        let admin_token = printed_token.unwrap_or_else(|| {
            let minted = cli(&["admin-token", "--database", database_url], env);
            assert!(minted.success, "latchkey admin-token failed: {}", minted.stderr);
            minted.stdout.trim().to_string()
        });
        Server {
            child,
            api: Api::new(addr),
            admin_token,
            database_url: database_url.to_string(),
            log,
        }
    }

    /// Everything the server has written to standard error so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle`; panics, showing the log, when
    /// it has not within `limit`.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "the server did not log {needle:?} within {limit:?}; its log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGTERM: the server stops accepting and finishes what is in flight.
    pub fn terminate(&self) {
        self.signal(libc::SIGTERM);
    }

    /// Sends SIGHUP: a server serving HTTPS re-reads its certificate files.
    pub fn hang_up(&self) {
        self.signal(libc::SIGHUP);
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid fits pid_t");
        // SAFETY: kill(2) with a valid signal number has no memory effects.
        let sent = unsafe { libc::kill(pid, signal) };
        assert_eq!(sent, 0, "kill({signal}): {}", std::io::Error::last_os_error());
    }

    /// Whether the process has not exited yet.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("checking on the server").is_none()
    }

    /// Waits for the process to exit by itself; panics, killing it, when it
    /// has not within `limit`.
    pub fn wait_for_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for the server") {
                return status;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!("the server did not exit within {limit:?}; its log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the server with SIGKILL, no chance to flush or clean up, and
    /// waits until it is gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Copies the server's standard error into `log`; reports the listening
/// address (and the admin token printed before it) once seen.
fn drain_stderr(stderr: impl Read, log: &Mutex<String>, started: mpsc::Sender<(SocketAddr, Option<String>)>) {
    let mut reader = BufReader::new(stderr);
    let mut admin_token = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        log.lock().unwrap().push_str(&text);
        let text = text.trim_end();
        if let Some(token) = text.strip_prefix(ADMIN_TOKEN_LINE) {
            admin_token = Some(token.to_string());
        } else if let Some(addr) = LISTENING.iter().find_map(|prefix| text.strip_prefix(prefix)) {
            let addr = addr.parse().expect("the server prints host:port");
            let _ = started.send((addr, admin_token.take()));
        }
    }
}

/// The binary, with no `LATCHKEY_*` settings inherited from whoever runs the
/// tests, so the defaults under test are the real defaults.
fn cli_command() -> Command {
    let mut command = Command::new(BINARY);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("LATCHKEY_") {
            command.env_remove(name);
        }
    }
    command
}

/// `base` made unique to this run, for names that must not collide with
/// earlier runs on a shared database (user and organization names are).
pub fn unique(base: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{base}-{}-{nanos:x}-{count}", std::process::id())
}

/// What a finished `latchkey` command left behind.
#[derive(Debug)]
pub struct CliOutput {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a `latchkey` command with extra environment variables to completion,
/// bounded in time, successful or not. Both outputs are drained on their own
/// threads, so a long listing can never fill a pipe and stall the command.
pub fn cli(args: &[&str], env: &[(&str, &str)]) -> CliOutput {
    cli_in(Path::new("."), args, env)
}

/// [`cli`] with `dir` as the working directory.
pub fn cli_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> CliOutput {
    let mut child = cli_command()
        .current_dir(dir)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the latchkey binary starts");
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        let mut pipe = pipe.expect("the output is piped");
        std::thread::spawn(move || {
            let mut text = Vec::new();
            pipe.read_to_end(&mut text).expect("reading latchkey's output");
            String::from_utf8(text).expect("latchkey prints UTF-8")
        })
    };
    let stdout = drain(child.stdout.take().map(|pipe| Box::new(pipe) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|pipe| Box::new(pipe) as Box<dyn Read + Send>));
    let deadline = Instant::now() + CLI_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for latchkey") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("latchkey {args:?} did not finish within {CLI_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    CliOutput {
        success: status.success(),
        code: status.code(),
        stdout: stdout.join().expect("the stdout reader"),
        stderr: stderr.join().expect("the stderr reader"),
    }
}

/// Starts a `latchkey` command without waiting for it, its standard error
/// piped (for a test that watches its progress, and may kill it).
pub fn spawn_cli(args: &[&str]) -> Child {
    cli_command()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the latchkey binary starts")
}

/// Runs a `latchkey` command to completion (bounded in time); returns its
/// standard output, trimmed. Panics unless it succeeds.
pub fn run_cli(args: &[&str]) -> String {
    let output = cli(args, &[]);
    assert!(output.success, "latchkey {args:?} failed: {}", output.stderr);
    output.stdout.trim().to_string()
}

// ---------------------------------------------------------------------------
// HTTP

/// A client of one server: cheap to clone, usable after the server died
/// (requests then fail with an error instead of a reply).
#[derive(Clone)]
pub struct Api {
    pub addr: SocketAddr,
    pub base: String,
    http: reqwest::Client,
}

/// A request body.
pub enum Body<'a> {
    None,
    Json(&'a Value),
    /// Bytes as they are, with this `Content-Type` (none when `None`).
    Raw(Vec<u8>, Option<&'a str>),
}

impl Api {
    fn new(addr: SocketAddr) -> Api {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_LIMIT)
            // Loopback must never go through a proxy from the environment.
            .no_proxy()
            .build()
            .expect("an HTTP client");
        Api {
            addr,
            base: format!("http://{addr}"),
            http,
        }
    }

    /// A request to `target` (a path, optionally with a query string),
    /// carrying `Authorization: Bearer <token>` when given a token.
    pub fn request(&self, method: Method, target: &str, token: Option<&str>) -> RequestBuilder {
        let builder = self
            .http
            .request(method, format!("{}{target}", self.base))
            .header("Accept", "application/json");
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub async fn call(&self, method: Method, target: &str, token: Option<&str>, body: Body<'_>) -> Reply {
        let builder = self.request(method, target, token);
        let builder = match body {
            Body::None => builder,
            Body::Json(value) => builder.json(value),
            Body::Raw(bytes, content_type) => {
                let builder = builder.body(bytes);
                match content_type {
                    Some(content_type) => builder.header(CONTENT_TYPE, content_type),
                    None => builder,
                }
            }
        };
        self.send(builder).await
    }

    /// Sends a request built with [`Api::request`] (for custom headers).
    pub async fn send(&self, request: RequestBuilder) -> Reply {
        let request = request.build().expect("a well-formed request");
        let described = describe(request.method().as_str(), request.url().as_str());
        let response = self
            .http
            .execute(request)
            .await
            .unwrap_or_else(|error| panic!("no answer to {described}: {error}"));
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        let bytes = response.bytes().await.expect("the response body");
        Reply::new(described, status, content_type, &bytes)
    }

    pub async fn get(&self, target: &str, token: &str) -> Reply {
        self.call(Method::GET, target, Some(token), Body::None).await
    }

    pub async fn post(&self, target: &str, token: &str, body: &Value) -> Reply {
        self.call(Method::POST, target, Some(token), Body::Json(body)).await
    }

    pub async fn patch(&self, target: &str, token: &str, body: &Value) -> Reply {
        self.call(Method::PATCH, target, Some(token), Body::Json(body)).await
    }

    pub async fn delete(&self, target: &str, token: &str) -> Reply {
        self.call(Method::DELETE, target, Some(token), Body::None).await
    }

    /// Creates an application owned by the token's user; returns its id.
    pub async fn create_application(&self, token: &str, name: &str) -> String {
        let reply = self.post("/applications", token, &json!({ "name": name })).await;
        id_of(reply.expect(201))
    }

    /// Creates an application token; returns the 201 body (with `token`).
    pub async fn create_token(&self, token: &str, application: &str, body: &Value) -> Value {
        self.post(&tokens_path(application), token, body)
            .await
            .expect(201)
            .clone()
    }

    /// Creates an application token with default scope; returns (id, secret).
    pub async fn new_app_token(&self, token: &str, application: &str, name: &str) -> IssuedToken {
        IssuedToken::from_created(&self.create_token(token, application, &json!({ "name": name })).await)
    }

    /// Whether `token` authenticates: `/auth/introspect` answers 200 with the
    /// token's own id, or 401.
    pub async fn authenticates(&self, token: &str) -> bool {
        let reply = self.get("/auth/introspect", token).await;
        match reply.status {
            200 => {
                let body = reply.expect(200);
                assert_eq!(body["active"], true, "{reply:?}");
                true
            }
            401 => {
                reply.expect_error(401, "Unauthorized");
                false
            }
            _ => panic!("introspection answered neither 200 nor 401: {reply:?}"),
        }
    }

    /// Sends bytes as they are over a fresh connection and reads the reply
    /// until the server closes it: for requests no HTTP client would build
    /// (raw invalid UTF-8, odd framing), and for bodies the server refuses
    /// before reading them all (an HTTP client stops at the broken pipe and
    /// never reads the reply). The request should say `Connection: close`.
    pub async fn raw(&self, request: Vec<u8>) -> Reply {
        let addr = self.addr;
        tokio::task::spawn_blocking(move || raw_exchange(addr, &request))
            .await
            .expect("the raw exchange")
    }

    /// `method target` with this body, framed by `Content-Length`, sent raw.
    pub async fn raw_with_body(&self, method: &str, target: &str, token: &str, body: &[u8]) -> Reply {
        let mut request = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        self.raw(request).await
    }
}

fn raw_exchange(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connecting to the server");
    stream.set_read_timeout(Some(REQUEST_LIMIT)).unwrap();
    stream.set_write_timeout(Some(REQUEST_LIMIT)).unwrap();
    // The server may answer (e.g. 413) and close before reading all of a
    // large request; the reply is what matters, so write errors are not.
    let _ = stream.write_all(request);
    let mut response = Vec::new();
    if let Err(error) = stream.read_to_end(&mut response) {
        assert!(
            !response.is_empty(),
            "no reply to a raw request: {error}; request starts {:?}",
            String::from_utf8_lossy(&request[..request.len().min(300)])
        );
    }
    let request_line = request.split(|&byte| byte == b'\r').next().unwrap_or_default();
    Reply::parse_raw(describe("raw", &String::from_utf8_lossy(request_line)), &response)
}

/// A request as failure messages show it: method and target, cut short.
fn describe(method: &str, target: &str) -> String {
    const SHOWN: usize = 300;
    if target.len() <= SHOWN {
        return format!("{method} {target}");
    }
    let cut: String = target.chars().take(SHOWN).collect();
    format!("{method} {cut}… ({} bytes)", target.len())
}

pub fn tokens_path(application: &str) -> String {
    format!("/applications/{application}/tokens")
}

pub fn token_path(application: &str, token_id: &str) -> String {
    format!("/applications/{application}/tokens/{token_id}")
}

pub fn id_of(body: &Value) -> String {
    body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {body}"))
        .to_string()
}

/// A token as its create response showed it, once.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub id: String,
    pub secret: String,
}

impl IssuedToken {
    pub fn from_created(body: &Value) -> IssuedToken {
        IssuedToken {
            id: id_of(body),
            secret: body["token"]
                .as_str()
                .unwrap_or_else(|| panic!("no token in the create response {body}"))
                .to_string(),
        }
    }
}

/// A response, with enough kept to explain any failed expectation.
#[derive(Clone)]
pub struct Reply {
    /// The request this answers, for failure messages.
    pub request: String,
    pub status: u16,
    pub content_type: Option<String>,
    pub text: String,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<Value>,
}

impl std::fmt::Debug for Reply {
    /// Long bodies cut short, so a failure message stays readable.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 2000;
        let mut text: String = self.text.chars().take(SHOWN).collect();
        if text.len() < self.text.len() {
            text.push_str(&format!("… ({} bytes)", self.text.len()));
        }
        f.debug_struct("Reply")
            .field("request", &self.request)
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("text", &text)
            .finish()
    }
}

impl Reply {
    fn new(request: String, status: u16, content_type: Option<String>, body: &[u8]) -> Reply {
        Reply {
            request,
            status,
            content_type,
            text: String::from_utf8_lossy(body).into_owned(),
            json: serde_json::from_slice(body).ok(),
        }
    }

    /// A reply read off a raw socket: status line, headers, body (the
    /// server's replies carry `Content-Length`, so no chunked decoding).
    pub fn parse_raw(request: String, response: &[u8]) -> Reply {
        let text = String::from_utf8_lossy(response);
        let (head, _) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
        let body = &response[head.len() + 4..];
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        let content_type = lines.find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_string())
        });
        Reply::new(request, status, content_type, body)
    }

    /// The JSON body, asserting the status and that the body is JSON.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "unexpected status: {self:?}");
        self.json_body()
    }

    /// The message of an error reply, asserting its status and its shape:
    /// `{"type": kind, "message": "<something a person can read>"}`.
    #[track_caller]
    pub fn expect_error(&self, status: u16, kind: &str) -> &str {
        assert_eq!(self.status, status, "unexpected status: {self:?}");
        let body = self.error_body();
        assert_eq!(body["type"], kind, "unexpected error type: {self:?}");
        body["message"].as_str().unwrap()
    }

    /// Whatever the status, the reply is not the server's fault (no 5xx), is
    /// JSON, and if it is an error, it has the error shape.
    #[track_caller]
    pub fn expect_well_formed(&self) {
        if let Err(problem) = self.well_formed() {
            panic!("{problem}: {self:?}");
        }
    }

    /// What [`Reply::expect_well_formed`] asserts, as a result, for sweeps
    /// that collect every problem before failing.
    pub fn well_formed(&self) -> Result<(), String> {
        if self.status >= 500 {
            return Err("a 5xx".into());
        }
        if self.status >= 400 {
            self.checked_error_body().map(drop)
        } else {
            self.checked_json_body().map(drop)
        }
    }

    #[track_caller]
    fn json_body(&self) -> &Value {
        self.checked_json_body()
            .unwrap_or_else(|problem| panic!("{problem}: {self:?}"))
    }

    #[track_caller]
    fn error_body(&self) -> &Value {
        self.checked_error_body()
            .unwrap_or_else(|problem| panic!("{problem}: {self:?}"))
    }

    fn checked_json_body(&self) -> Result<&Value, String> {
        let content_type = self.content_type.as_deref().unwrap_or_default();
        if !content_type.starts_with("application/json") {
            return Err("the body is not declared JSON".into());
        }
        self.json.as_ref().ok_or_else(|| "the body is not JSON".into())
    }

    /// `{"type": "...", "message": "..."}`, both non-empty strings.
    fn checked_error_body(&self) -> Result<&Value, String> {
        let body = self.checked_json_body()?;
        let non_empty = |key: &str| body[key].as_str().is_some_and(|text| !text.trim().is_empty());
        if non_empty("type") && non_empty("message") {
            Ok(body)
        } else {
            Err("not an error of the shape {type, message}".into())
        }
    }
}

// ---------------------------------------------------------------------------
// Tokens as text

/// The three base64url segments of a compact JWT, decoded: header and
/// payload as JSON, signature as bytes.
pub struct Jwt {
    pub header: Value,
    pub payload: Value,
    pub signature: Vec<u8>,
}

impl Jwt {
    pub fn decode(token: &str) -> Jwt {
        let segments: Vec<&str> = token.split('.').collect();
        assert_eq!(segments.len(), 3, "not a compact JWT: {token}");
        let json = |segment: &str| -> Value {
            serde_json::from_slice(&B64.decode(segment).expect("base64url")).expect("JSON")
        };
        Jwt {
            header: json(segments[0]),
            payload: json(segments[1]),
            signature: B64.decode(segments[2]).expect("base64url"),
        }
    }
}

/// The signature segment of a compact JWT, as text.
pub fn signature_segment(token: &str) -> &str {
    token.rsplit('.').next().unwrap()
}

/// Every byte percent-encoded except the unreserved ones (RFC 3986), for
/// putting arbitrary text in a query string.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

pub fn b64url(bytes: impl AsRef<[u8]>) -> String {
    B64.encode(bytes)
}

/// A well-formed application id that no application has (ids are random).
pub const UNKNOWN_ID: &str = "5f0000000000000000000000";
