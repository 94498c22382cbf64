//! `latchkey serve`

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::HeaderValue;
use axum::serve::ListenerExt;
use clap::{Args, ValueEnum};
use latchkey_server::admin::bootstrap;
use latchkey_server::audit::{self, unauthenticated};
use latchkey_server::auth::Lifetimes;
use latchkey_server::{app, feed, last_use, AppState, Settings};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::EnvFilter;

use crate::copy::refuse_unfinished_copy;
use crate::database::{masked, sqlite_url, DatabaseArgs};
use crate::master_key::{load_keys, MasterKeyArgs};
use crate::tls::{Tls, TlsFiles};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the address is printed).
    #[arg(long, env = "LATCHKEY_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Serve HTTPS with this certificate chain (PEM, the server's own
    /// first); needs --tls-key. Both files are re-read on SIGHUP.
    #[arg(long, env = "LATCHKEY_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert's certificate; needs --tls-cert.
    #[arg(long, env = "LATCHKEY_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    master_key: MasterKeyArgs,
    /// How long a token's authentication is trusted before it is re-read, in
    /// milliseconds, unless the change log vouches for it; none is used past
    /// twice this without a successful read, so a revocation made by another
    /// instance on the same database is seen within twice this.
    #[arg(long, env = "LATCHKEY_AUTH_CACHE_TTL_MS", default_value_t = millis(Lifetimes::DEFAULT.ttl))]
    auth_cache_ttl_ms: u64,
    /// How long (milliseconds) a token's authentication may be used, while
    /// the change log is read in time, before it is re-read anyway.
    #[arg(long, env = "LATCHKEY_AUTH_CACHE_MAX_AGE_MS", default_value_t = millis(Lifetimes::DEFAULT.max_age))]
    auth_cache_max_age_ms: u64,
    /// How often (milliseconds) the log of changes made by every instance is
    /// read, to evict what changed; 0 never reads it, and then every
    /// authentication is re-read after the ttl.
    #[arg(long, env = "LATCHKEY_AUTH_CHANGE_POLL_MS", default_value_t = 250)]
    auth_change_poll_ms: u64,
    /// How many tokens' authentications are cached.
    #[arg(long, env = "LATCHKEY_AUTH_CACHE_CAPACITY", default_value_t = 100_000)]
    auth_cache_capacity: usize,
    /// Opt-in: while the database cannot be reached, how long (milliseconds)
    /// after it was last confirmed a token's cached authentication keeps
    /// working. A token revoked through another instance meanwhile is
    /// accepted here for that long. 0, the default, answers 503 instead.
    #[arg(long, env = "LATCHKEY_AUTH_STALE_IF_ERROR_MS", default_value_t = millis(Lifetimes::DEFAULT.stale_if_error))]
    auth_stale_if_error_ms: u64,
    /// Requests per second one token may make before getting 429 (with an
    /// equal burst); 0, the default, is unlimited.
    #[arg(long, env = "LATCHKEY_RATE_LIMIT", default_value_t = 0)]
    rate_limit: u32,
    /// How often (milliseconds) the tokens' last uses gathered in memory are
    /// written to the database: a token's lastUsed lags its last use by up
    /// to about this. Pending uses are also written on shutdown.
    #[arg(long, env = "LATCHKEY_LAST_USE_FLUSH_MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(1..))]
    last_use_flush_ms: u64,
    /// How many days audit log entries are kept; older ones are deleted in
    /// the background, hourly.
    #[arg(long, env = "LATCHKEY_AUDIT_RETENTION_DAYS", default_value_t = 365,
          value_parser = clap::value_parser!(u64).range(1..=36_500))]
    audit_retention_days: u64,
    /// A web origin (scheme://host[:port]) whose pages may call the API from
    /// a browser (CORS); repeat it, or give several comma-separated in the
    /// environment. None by default: browsers then keep every other origin
    /// out, and the console at /console/ needs none.
    #[arg(long = "cors-origin", value_name = "ORIGIN", env = "LATCHKEY_CORS_ORIGINS",
          value_delimiter = ',', value_parser = parse_origin)]
    cors_origins: Vec<HeaderValue>,
    /// Log line format.
    #[arg(long, env = "LATCHKEY_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Which log lines to write: a level (error, warn, info, debug, trace,
    /// off) and TARGET=LEVEL pairs, comma-separated, e.g. tower_http=debug,info.
    #[arg(long, env = "LATCHKEY_LOG", value_name = "FILTER", default_value = "info", value_parser = LogFilter::parse)]
    log: LogFilter,
}

/// A `--log` filter, checked when the command line is read.
#[derive(Clone, Debug)]
struct LogFilter(String);

impl LogFilter {
    /// Refuses what tracing would accept but almost surely is a mistake: a
    /// directive without a level is a target to log at every level, so a
    /// misspelt level (`debgu`) would quietly turn all logging off.
    fn parse(text: &str) -> Result<LogFilter, String> {
        let expected = "expected a level (error, warn, info, debug, trace, off) or TARGET=LEVEL, \
                        comma-separated, e.g. warn or tower_http=debug,info";
        for directive in text.split(',').filter(|directive| !directive.is_empty()) {
            let after_spans = directive.rsplit_once(']').map_or(directive, |(_, rest)| rest);
            if directive.parse::<LevelFilter>().is_err() && !after_spans.contains('=') {
                return Err(format!("{directive:?} names no level; {expected}"));
            }
        }
        EnvFilter::builder()
            .parse(text)
            .map_err(|error| format!("{error}; {expected}"))?;
        Ok(LogFilter(text.to_string()))
    }

    fn env_filter(&self) -> EnvFilter {
        EnvFilter::builder()
            .parse(&self.0)
            .expect("--log was checked when the command line was read")
    }
}

/// A `--cors-origin`: exactly what a browser sends in `Origin`, the scheme,
/// host and port of a page, with no path, so a typo cannot silently match
/// nothing (`https://ops.example.com/` would never equal an `Origin`).
fn parse_origin(text: &str) -> Result<HeaderValue, String> {
    let expected = "expected an origin such as https://ops.example.com or http://localhost:3000 \
                    (scheme, host and port only: no path, no trailing slash)";
    let text = text.trim();
    let host = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| format!("{text:?} has no http:// or https://; {expected}"))?;
    let host_character = |c: char| c.is_ascii_alphanumeric() || ".-:[]".contains(c);
    if host.is_empty() || !host.chars().all(host_character) {
        return Err(format!("{text:?} is not an origin; {expected}"));
    }
    HeaderValue::from_str(text).map_err(|_| format!("{text:?} is not an origin; {expected}"))
}

/// What a start on an existing database says instead of the admin token it
/// printed the first time: how to mint another, runnable from any folder.
fn restart_hint(database: &DatabaseArgs) -> String {
    match database.sqlite_file() {
        Some(path) => {
            let url = sqlite_url(&path);
            format!(
                "latchkey: existing database {url}; for an admin token run: latchkey admin-token --database {}",
                shell_word(&url)
            )
        }
        None => format!(
            "latchkey: existing database {}; for an admin token run: latchkey admin-token \
             with the same --database / LATCHKEY_DATABASE",
            masked(&database.database)
        ),
    }
}

/// `text` as one shell word: as it is when that is safe, else single-quoted.
fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:,@%=".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// A default duration as the milliseconds a flag takes.
const fn millis(duration: Duration) -> u64 {
    duration.as_millis() as u64
}

fn init_logging(format: LogFormat, filter: &LogFilter) {
    // Colours only for a person at a terminal, never into a log file.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter.env_filter())
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// How often audit entries past their retention are looked for.
const AUDIT_PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
/// How often unauthenticated refusals are summarised in the log.
const UNAUTHENTICATED_SUMMARY_PERIOD: Duration = Duration::from_secs(60);
/// Longest wait on shutdown for queued refusals to reach the audit log.
const AUDIT_FLUSH_LIMIT: Duration = Duration::from_secs(10);

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM can be handled");
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format, &args.log);
    // Bad certificate files stop the start before the database is touched.
    let tls = match (args.tls_cert.clone(), args.tls_key.clone()) {
        (Some(cert), Some(key)) => {
            let tls = Tls::new(TlsFiles { cert, key })?;
            tls.reload_on_hangup()?;
            Some(tls)
        }
        _ => None,
    };
    let master_key = args.master_key.read()?;
    refuse_unfinished_copy(&args.database).await?;
    let store = args.database.open().await?;
    let keys = load_keys(&*store, master_key.as_ref())
        .await
        .context("loading the signing keys")?;
    match bootstrap(&*store, &keys.signer)
        .await
        .context("creating the admin user")?
    {
        Some(token) => {
            eprintln!(
                "latchkey: new database; created the admin user. Its token (scope all.User), shown only this once:"
            );
            eprintln!("latchkey: admin token: {token}");
        }
        None => eprintln!("{}", restart_hint(&args.database)),
    }
    let settings = Settings {
        auth_cache: Lifetimes {
            ttl: Duration::from_millis(args.auth_cache_ttl_ms),
            max_age: Duration::from_millis(args.auth_cache_max_age_ms),
            stale_if_error: Duration::from_millis(args.auth_stale_if_error_ms),
        },
        auth_cache_capacity: args.auth_cache_capacity,
        auth_change_poll: (args.auth_change_poll_ms > 0).then(|| Duration::from_millis(args.auth_change_poll_ms)),
        rate_limit: NonZeroU32::new(args.rate_limit),
        last_use_flush: Duration::from_millis(args.last_use_flush_ms),
    };
    let state = AppState::new(store, keys, master_key.map(|given| given.key), &settings);
    latchkey_server::keys::spawn_refresh(state.clone());
    if let Some(interval) = settings.auth_change_poll {
        feed::spawn(state.clone(), interval);
    }
    last_use::spawn(state.clone(), settings.last_use_flush);
    let retention = Duration::from_secs(args.audit_retention_days * 86_400);
    audit::spawn_retention(Arc::clone(&state.store), retention, AUDIT_PRUNE_INTERVAL);
    unauthenticated::spawn_summaries(Arc::clone(&state.unauthenticated), UNAUTHENTICATED_SUMMARY_PERIOD);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!("latchkey: listening on {scheme}://{}", listener.local_addr()?);
    let service = app(state.clone(), &args.cors_origins).into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        None => {
            axum::serve(listener, service)
                .with_graceful_shutdown(shutdown_signal())
                .await
                .context("serving HTTP")?;
        }
        Some(tls) => {
            // tap_io: axum gives a wrapped listener's peer address to
            // ConnectInfo (the audit log's); the tap sends TLS records at once.
            let listener = tls.listener(listener)?.tap_io(|tls| {
                let _ = tls.get_ref().0.set_nodelay(true);
            });
            axum::serve(listener, service)
                .with_graceful_shutdown(shutdown_signal())
                .await
                .context("serving HTTPS")?;
        }
    }
    state.audit.flush(AUDIT_FLUSH_LIMIT).await;
    // Every request has finished: the uses noted since the last flush are all.
    if let Err(error) = last_use::flush(&state).await {
        tracing::warn!(%error, "could not write tokens' last uses on shutdown: they are lost");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_origins_are_exact_origins() {
        assert_eq!(
            parse_origin("https://ops.example.com").unwrap(),
            "https://ops.example.com"
        );
        assert_eq!(parse_origin("http://localhost:3000").unwrap(), "http://localhost:3000");
        assert_eq!(parse_origin("http://[::1]:8080").unwrap(), "http://[::1]:8080");
        for refused in [
            "ops.example.com",
            "https://ops.example.com/",
            "https://a.example/path",
            "*",
            "https://",
        ] {
            let error = parse_origin(refused).unwrap_err();
            assert!(error.contains("expected an origin"), "{refused}: {error}");
        }
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("sqlite:///srv/k.db"), "sqlite:///srv/k.db");
        assert_eq!(shell_word("sqlite:///My Data/k.db"), "'sqlite:///My Data/k.db'");
        assert_eq!(shell_word("sqlite:///it's/k.db"), r"'sqlite:///it'\''s/k.db'");
    }

    #[test]
    fn a_postgres_restart_hint_hides_the_password() {
        let database = DatabaseArgs {
            database: "postgres://latchkey:hunter2@db/latchkey".to_string(),
            pool_size: 16,
            pool_timeout_ms: 2000,
            connect_timeout_ms: 2000,
        };
        let hint = restart_hint(&database);
        assert!(!hint.contains("hunter2"), "{hint}");
        assert!(
            hint.starts_with("latchkey: existing database postgres://latchkey:***@db/latchkey;"),
            "{hint}"
        );
    }

    #[test]
    fn log_filters() {
        for good in [
            "info",
            "warn",
            "tower_http=debug,info",
            "latchkey_server[request]=trace",
            "OFF",
        ] {
            assert!(LogFilter::parse(good).is_ok(), "{good}");
        }
        for bad in ["garbage", "debgu", "info,latchkey_server", "tower_http=loud"] {
            assert!(LogFilter::parse(bad).is_err(), "{bad}");
        }
    }
}
