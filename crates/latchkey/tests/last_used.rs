//! A token's `lastUsed`: noted in memory on every successful authentication,
//! written in batches every `--last-use-flush-ms` and on shutdown; the
//! latest use any instance saw wins and it never moves back; listings sort
//! by it and filter on `lastUsedBefore`; the CLI shows it.

mod common;

use std::time::{Duration, Instant};

use common::{cli, each_backend, open_store, token_path, tokens_path, Api, IssuedToken, Server};
use latchkey_core::time::{now_millis, parse_rfc3339, Millis};
use latchkey_core::Id;
use serde_json::{json, Value};

/// How often the servers of these tests write last uses.
const FLUSH_MS: &str = "100";
/// How long a use may take to show, far beyond the flush interval: a
/// failure is a use that never shows, not a slow one.
const DEADLINE: Duration = Duration::from_secs(10);

fn start(backend: &common::Backend, flush_ms: &str) -> Server {
    Server::start_with_env(backend, &[("LATCHKEY_LAST_USE_FLUSH_MS", flush_ms)])
}

/// The token as `GET` shows it.
async fn read(api: &Api, admin: &str, app: &str, token: &str) -> Value {
    api.get(&token_path(app, token), admin).await.expect(200).clone()
}

/// `lastUsed` of a token body, in milliseconds.
fn last_used(token: &Value) -> Option<Millis> {
    token
        .get("lastUsed")
        .map(|at| parse_rfc3339(at.as_str().expect("lastUsed is a string")).expect("lastUsed is a date"))
}

/// Reads the token until its `lastUsed` is at least `at`; returns it.
async fn last_used_reaches(api: &Api, admin: &str, app: &str, token: &str, at: Millis) -> Millis {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let body = read(api, admin, app, token).await;
        if let Some(used) = last_used(&body).filter(|used| *used >= at) {
            return used;
        }
        assert!(
            Instant::now() < deadline,
            "lastUsed never reached {at} within {DEADLINE:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn id(text: &str) -> Id {
    text.parse().expect("an id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_use_shows_within_the_flush_interval_and_an_unused_token_has_none() {
    each_backend(|backend| async move {
        let server = start(&backend, FLUSH_MS);
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "last use").await;
        let created = api.create_token(admin, &app, &json!({ "name": "used" })).await;
        assert_eq!(last_used(&created), None, "a new token was never used: {created}");
        let used = IssuedToken::from_created(&created);
        let unused = api.new_app_token(admin, &app, "unused").await;

        let before = now_millis();
        let introspection = api.get("/auth/introspect", &used.secret).await.expect(200).clone();
        assert_eq!(
            introspection.get("lastUsed"),
            None,
            "introspection shows no (cached, stale) lastUsed: {introspection}"
        );
        let at = last_used_reaches(api, admin, &app, &used.id, before).await;
        assert!(at <= now_millis(), "a use in the future: {at}");

        let body = read(api, admin, &app, &used.id).await;
        assert_eq!(body["lastUpdated"], created["lastUpdated"], "a use is not a change");
        assert_eq!(last_used(&read(api, admin, &app, &unused.id).await), None);
        let listing = api.get(&tokens_path(&app), admin).await.expect(200).clone();
        let listed: Vec<(&str, Option<Millis>)> = listing["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|token| (token["name"].as_str().unwrap(), last_used(token)))
            .collect();
        assert_eq!(listed, [("unused", None), ("used", Some(at))]);

        // A later use moves it on, also when it is a cache hit.
        let later = now_millis().max(at + 1);
        while now_millis() < later {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(api.authenticates(&used.secret).await);
        last_used_reaches(api, admin, &app, &used.id, later).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_latest_use_of_any_instance_wins_and_never_moves_back() {
    // On SQLite, two processes share one database file.
    each_backend(|backend| async move {
        let first = start(&backend, FLUSH_MS);
        let second = start(&backend, FLUSH_MS);
        let admin = first.admin_token.as_str();
        let app = first.api.create_application(admin, "two instances").await;
        let token = first.api.new_app_token(admin, &app, "shared").await;

        let before_first = now_millis();
        assert!(first.api.authenticates(&token.secret).await);
        let on_first = last_used_reaches(&second.api, admin, &app, &token.id, before_first).await;
        while now_millis() <= on_first {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(second.api.authenticates(&token.secret).await);
        let on_second = last_used_reaches(&first.api, admin, &app, &token.id, on_first + 1).await;

        // An older use written after a newer one (a slow instance, a late
        // flush) leaves the newer one.
        let store = open_store(&backend.url).await;
        store
            .record_token_uses(&[(id(&token.id), on_first), (id(&token.id), on_second - 1)])
            .await
            .unwrap();
        let body = read(&first.api, admin, &app, &token.id).await;
        assert_eq!(last_used(&body), Some(on_second), "moved back: {body}");
        // A newer one moves it on.
        store
            .record_token_uses(&[(id(&token.id), on_second + 1)])
            .await
            .unwrap();
        let body = read(&second.api, admin, &app, &token.id).await;
        assert_eq!(last_used(&body), Some(on_second + 1), "{body}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_writes_the_uses_not_yet_written() {
    each_backend(|backend| async move {
        // A flush interval of an hour: only the shutdown writes the use.
        let mut server = start(&backend, "3600000");
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "shutdown").await;
        let token = api.new_app_token(admin, &app, "used just before").await;
        let before = now_millis();
        assert!(api.authenticates(&token.secret).await);
        let store = open_store(&backend.url).await;
        let pending = store.token(id(&app), id(&token.id)).await.unwrap().unwrap();
        assert_eq!(pending.last_used, None, "not written before the hour is up");

        server.terminate();
        assert!(server.wait_for_exit(DEADLINE).success(), "{}", server.log());
        let written = store.token(id(&app), id(&token.id)).await.unwrap().unwrap();
        let at = written.last_used.expect("the pending use was written on SIGTERM");
        assert!(at >= before, "{at} < {before}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_sort_by_last_use_and_filter_on_last_used_before() {
    each_backend(|backend| async move {
        let server = Server::start(&backend);
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "stale tokens").await;
        let mut ids = std::collections::HashMap::new();
        for name in ["a", "b", "c", "d", "e"] {
            ids.insert(name, api.new_app_token(admin, &app, name).await.id);
        }
        // Known times, ties included: a and c at 2000, b at 1000; d and e never.
        let store = open_store(&backend.url).await;
        let uses: Vec<(Id, Millis)> = [("a", 2000), ("b", 1000), ("c", 2000)]
            .iter()
            .map(|(name, at)| (id(&ids[name]), *at))
            .collect();
        store.record_token_uses(&uses).await.unwrap();
        // Ties are broken by id ascending, as in every sort.
        let by_id = |names: &[&'static str]| {
            let mut names = names.to_vec();
            names.sort_by_key(|name| ids[name].clone());
            names
        };
        let never = by_id(&["d", "e"]);
        let at_2000 = by_id(&["a", "c"]);

        let listing = tokens_path(&app);
        let listing = listing.as_str();
        let names = |query: String| async move {
            let body = api.get(&format!("{listing}?{query}"), admin).await.expect(200).clone();
            let names: Vec<String> = body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|token| token["name"].as_str().unwrap().to_string())
                .collect();
            (names, body["totalCount"].as_u64().unwrap())
        };
        let expect = |parts: &[&[&str]]| parts.concat().iter().map(|name| name.to_string()).collect::<Vec<_>>();

        let (ascending, _) = names("sortField=lastUsed".into()).await;
        assert_eq!(ascending, expect(&[&never, &["b"], &at_2000]), "never-used first");
        let (descending, _) = names("sortField=lastUsed&sortDirection=desc".into()).await;
        assert_eq!(descending, expect(&[&at_2000, &["b"], &never]), "never-used last");

        let (before, total) = names("sortField=lastUsed&lastUsedBefore=2000".into()).await;
        assert_eq!((before, total), (expect(&[&never, &["b"]]), 3), "never-used included");
        let (before, total) = names("lastUsedBefore=2001&perPage=2&page=1".into()).await;
        assert_eq!(
            (before, total),
            (vec!["c".to_string(), "d".to_string()], 5),
            "sorted by name"
        );
        let (before, total) = names("lastUsedBefore=0".into()).await;
        assert_eq!((before, total), (expect(&[&["d", "e"]]), 2), "only the never-used");
        let (before, total) = names("lastUsedBefore=1500&filterField=name&filter=d".into()).await;
        assert_eq!((before, total), (vec!["d".to_string()], 1), "with a name filter");
        let (before, total) = names("lastUsedBefore=1500&filterField=status&filter=active".into()).await;
        assert_eq!(
            (before, total),
            (expect(&[&["b", "d", "e"]]), 3),
            "with a status filter"
        );

        for bad in ["-1", "", "soon", "1.5", "2030-01-01", "9223372036854775808"] {
            let target = format!("{}?lastUsedBefore={bad}", tokens_path(&app));
            let message = api
                .get(&target, admin)
                .await
                .expect_error(400, "Validation")
                .to_string();
            assert!(
                message.starts_with("lastUsedBefore must be a whole number"),
                "{bad:?}: {message}"
            );
        }
        let target = format!("{}?lastUsedBefore=1&lastUsedBefore=2", tokens_path(&app));
        api.get(&target, admin).await.expect_error(400, "Validation");
    })
    .await;
}

/// Runs a client command as the admin; returns its standard output.
fn remote(server: &Server, args: &[&str]) -> String {
    let output = cli(
        args,
        &[
            ("LATCHKEY_URL", server.api.base.as_str()),
            ("LATCHKEY_TOKEN", server.admin_token.as_str()),
        ],
    );
    assert!(output.success, "latchkey {args:?} failed: {}", output.stderr);
    output.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_shows_last_use_and_lists_tokens_unused_for_a_while() {
    each_backend(|backend| async move {
        let server = Server::start(&backend);
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "cli").await;
        let stale = api.new_app_token(admin, &app, "stale").await;
        let fresh = api.new_app_token(admin, &app, "fresh").await;
        let never = api.new_app_token(admin, &app, "never").await;
        let day: Millis = 86_400_000;
        let store = open_store(&backend.url).await;
        let stale_at = now_millis() - 100 * day;
        store
            .record_token_uses(&[(id(&stale.id), stale_at), (id(&fresh.id), now_millis() - day)])
            .await
            .unwrap();

        let table = remote(&server, &["tokens", "list", "--app", &app]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].contains("LAST USED"), "{table}");
        let column = lines[0].find("LAST USED").unwrap();
        let cell = |token: &IssuedToken| {
            let line = lines.iter().find(|line| line.starts_with(&token.id)).unwrap();
            line[column..].split("  ").next().unwrap().to_string()
        };
        let stale_date = chrono::DateTime::from_timestamp_millis(stale_at).unwrap();
        assert_eq!(cell(&stale), stale_date.format("%Y-%m-%d %H:%M").to_string(), "{table}");
        assert_eq!(cell(&never), "never", "{table}");

        let unused = remote(
            &server,
            &["tokens", "list", "--app", &app, "--unused-for", "90d", "--output", "id"],
        );
        assert_eq!(
            unused.lines().collect::<Vec<_>>(),
            [&never.id, &stale.id],
            "listed by name"
        );
        let all = remote(
            &server,
            &["tokens", "list", "--app", &app, "--unused-for", "12h", "--output", "id"],
        );
        assert_eq!(all.lines().count(), 3, "{all}");

        let one = remote(&server, &["tokens", "get", "--app", &app, "--id", &never.id]);
        assert!(
            one.lines()
                .any(|line| line.split_whitespace().eq(["lastUsed", "never"])),
            "{one}"
        );
        let one = remote(&server, &["tokens", "get", "--app", &app, "--id", &stale.id]);
        let shown = stale_date.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        assert!(
            one.lines().any(|line| line.split_whitespace().eq(["lastUsed", &shown])),
            "{one}"
        );

        let refused = cli(
            &["tokens", "list", "--app", &app, "--unused-for", "90s"],
            &[("LATCHKEY_URL", server.api.base.as_str()), ("LATCHKEY_TOKEN", admin)],
        );
        assert_eq!(refused.code, Some(2), "{refused:?}");
        assert!(refused.stderr.contains("90d, 12h, 30m"), "{}", refused.stderr);
    })
    .await;
}
