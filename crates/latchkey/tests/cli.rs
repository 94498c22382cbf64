//! The `latchkey` command line: the client commands (`tokens`, `apps`,
//! `completions`) against a live server, and the administrator's commands.

mod common;

use common::{cli, each_backend, each_server, id_of, psql, run_cli, unique, CliOutput, Server};
use reqwest::Method;
use serde_json::Value;
use unicode_width::UnicodeWidthStr;

/// Runs a client command against `server` as `token`.
fn remote(server: &Server, token: &str, args: &[&str]) -> CliOutput {
    cli(
        args,
        &[("LATCHKEY_URL", server.api.base.as_str()), ("LATCHKEY_TOKEN", token)],
    )
}

/// Runs a client command that must succeed; returns its standard output.
fn ok(server: &Server, args: &[&str]) -> String {
    let output = remote(server, &server.admin_token, args);
    assert!(output.success, "latchkey {args:?} failed: {}", output.stderr);
    output.stdout
}

fn json(server: &Server, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.extend(["--output", "json"]);
    let stdout = ok(server, &args);
    serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{args:?} printed no JSON ({error}): {stdout}"))
}

fn names(listing: &Value) -> Vec<&str> {
    listing["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|token| token["name"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_commands_create_list_update_get_delete() {
    each_server(|server| async move {
        let app = json(
            &server,
            &[
                "apps",
                "create",
                "--name",
                "CLI App",
                "--description",
                "made by the CLI",
            ],
        );
        let app = app["id"].as_str().unwrap().to_string();

        // Table mode prints the token and then its secret, once, with a warning.
        let table = ok(
            &server,
            &[
                "tokens",
                "create",
                "--app",
                &app,
                "--name",
                "first",
                "--scope",
                "device.get",
                "--scope",
                "device.sendState",
                "--expires",
                "2031-01-01T00:00:00Z",
            ],
        );
        // The token alone: a field per line, every scope on a line of its own.
        let fields: Vec<&str> = table.lines().collect();
        assert!(fields[0].starts_with("id  "), "{table}");
        assert!(fields.contains(&"name            first"), "{table}");
        let scope = fields.iter().position(|line| line.starts_with("scope ")).expect(&table);
        assert_eq!(fields[scope], "scope           device.get", "{table}");
        assert_eq!(fields[scope + 1], "                device.sendState", "{table}");
        assert!(fields.contains(&"expirationDate  2031-01-01T00:00:00.000Z"), "{table}");
        let (_, secret) = table
            .split_once("will not be shown again; store it now:\n")
            .expect(&table);
        assert!(
            server.api.authenticates(secret.trim()).await,
            "the printed secret works"
        );

        // JSON mode prints the full API token, secret included.
        let created = json(
            &server,
            &[
                "tokens", "create", "--app", &app, "--name", "second", "--status", "inactive",
            ],
        );
        assert_eq!(
            (created["status"].as_str(), created["scope"][0].as_str()),
            (Some("inactive"), Some("all.Application"))
        );
        assert!(created["token"]
            .as_str()
            .is_some_and(|token| token.split('.').count() == 3));
        for n in 3..=7 {
            ok(
                &server,
                &["tokens", "create", "--app", &app, "--name", &format!("tok {n}")],
            );
        }

        let listing = json(
            &server,
            &[
                "tokens",
                "list",
                "--app",
                &app,
                "--sort-field",
                "name",
                "--sort-direction",
                "desc",
                "--per-page",
                "3",
                "--page",
                "1",
            ],
        );
        assert_eq!(names(&listing), ["tok 4", "tok 3", "second"]);
        assert_eq!(
            (listing["totalCount"].as_u64(), listing["page"].as_u64()),
            (Some(7), Some(1))
        );

        let filtered = json(
            &server,
            &[
                "tokens",
                "list",
                "--app",
                &app,
                "--filter-field",
                "name",
                "--filter",
                "TOK*",
            ],
        );
        assert_eq!(names(&filtered), ["tok 3", "tok 4", "tok 5", "tok 6", "tok 7"]);
        assert_eq!(filtered["filter"], "TOK*");
        let inactive = json(
            &server,
            &[
                "tokens",
                "list",
                "--app",
                &app,
                "--filter-field",
                "status",
                "--filter",
                "inactive",
            ],
        );
        assert_eq!(names(&inactive), ["second"]);

        // --all follows every page into one result; stderr, not a terminal
        // here, gets no progress bar.
        let mut args = vec![
            "tokens",
            "list",
            "--app",
            &app,
            "--per-page",
            "2",
            "--all",
            "--sort-field",
            "creationDate",
        ];
        let output = remote(
            &server,
            &server.admin_token,
            &[&args[..], &["--output", "json"]].concat(),
        );
        assert!(output.success, "{}", output.stderr);
        let all: Value = serde_json::from_str(&output.stdout).unwrap();
        assert_eq!(
            names(&all),
            ["first", "second", "tok 3", "tok 4", "tok 5", "tok 6", "tok 7"]
        );
        assert_eq!(all["count"], 7);
        assert_eq!(output.stderr, "", "no progress on a pipe");
        args.push("--output");
        args.push("table");
        let table = ok(&server, &args);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 8, "a heading and seven rows: {table}");
        for heading in ["ID", "NAME", "STATUS", "SCOPE", "EXPIRES", "CREATED"] {
            assert!(lines[0].contains(heading), "{heading} in {}", lines[0]);
        }
        assert!(lines[2].contains("second") && lines[2].contains("inactive") && lines[2].contains("never"));

        let id = created["id"].as_str().unwrap();
        let updated = json(
            &server,
            &[
                "tokens",
                "update",
                "--app",
                &app,
                "--id",
                id,
                "--name",
                "renamed",
                "--description",
                "d",
                "--status",
                "active",
            ],
        );
        assert_eq!(
            (updated["name"].as_str(), updated["status"].as_str()),
            (Some("renamed"), Some("active"))
        );
        let read = json(&server, &["tokens", "get", "--app", &app, "--id", id]);
        assert_eq!((read["description"].as_str(), read.get("token")), (Some("d"), None));
        let shown = ok(&server, &["tokens", "get", "--app", &app, "--id", id]);
        assert!(
            shown.contains("name            renamed\ndescription     d\n"),
            "{shown}"
        );

        assert_eq!(
            ok(&server, &["tokens", "delete", "--app", &app, "--id", id]).trim(),
            format!("deleted token {id}")
        );
        let gone = remote(
            &server,
            &server.admin_token,
            &["tokens", "get", "--app", &app, "--id", id],
        );
        assert_eq!(gone.code, Some(1));
        assert!(gone.stderr.starts_with("error: 404 NotFound: "), "{}", gone.stderr);
        assert!(gone.stdout.is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_commands_and_errors() {
    each_server(|server| async move {
        let app = json(&server, &["apps", "create", "--name", "Listed"]);
        let id = app["id"].as_str().unwrap();
        let table = ok(&server, &["apps", "list"]);
        assert!(table.lines().next().unwrap().starts_with("ID"), "{table}");
        assert!(table
            .lines()
            .any(|line| line.starts_with(id) && line.contains("Listed") && line.contains("user")));
        let listed = json(
            &server,
            &["apps", "list", "--filter-field", "name", "--filter", "list*", "--all"],
        );
        assert_eq!(names(&listed), ["Listed"]);
        assert_eq!(json(&server, &["apps", "get", "--app", id])["name"], "Listed");
        assert_eq!(
            json(&server, &["apps", "delete", "--app", id]),
            serde_json::json!({"success": true})
        );

        // An API error: one line on stderr, exit 1, no panic or backtrace.
        let missing = remote(&server, &server.admin_token, &["apps", "get", "--app", id]);
        assert_eq!(missing.code, Some(1));
        assert_eq!(missing.stderr, "error: 404 NotFound: Application was not found\n");
        let bad = remote(&server, &server.admin_token, &["tokens", "list", "--app", "nope"]);
        assert!(
            bad.stderr.starts_with("error: 400 Validation: applicationId"),
            "{}",
            bad.stderr
        );
        let unauthorized = remote(&server, "garbage", &["apps", "list"]);
        assert!(
            unauthorized.stderr.starts_with("error: 401 Unauthorized: "),
            "{}",
            unauthorized.stderr
        );

        // Mistakes caught before any request.
        let no_token = cli(&["apps", "list"], &[("LATCHKEY_URL", server.api.base.as_str())]);
        assert_eq!(no_token.code, Some(1));
        assert!(no_token.stderr.contains("no API token"), "{}", no_token.stderr);
        let bad_field = remote(
            &server,
            &server.admin_token,
            &["tokens", "list", "--app", id, "--sort-field", "color"],
        );
        assert_eq!(bad_field.code, Some(2));
        assert!(
            bad_field.stderr.contains("expected one of: name, status, id"),
            "{}",
            bad_field.stderr
        );
        assert!(!bad_field.stderr.contains("panicked"));
        let refused = cli(
            &["apps", "list"],
            &[("LATCHKEY_URL", "http://127.0.0.1:9"), ("LATCHKEY_TOKEN", "x")],
        );
        // A server that is not there: said once, with what to check.
        assert_eq!(refused.code, Some(1));
        assert!(
            refused.stderr.starts_with("error: cannot reach http://127.0.0.1:9 (")
                && refused
                    .stderr
                    .contains("is the server running (latchkey serve), and is --url / LATCHKEY_URL right?"),
            "{}",
            refused.stderr
        );
        assert_eq!(refused.stderr.matches("127.0.0.1:9").count(), 1, "{}", refused.stderr);
        assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);
    })
    .await;
}

/// Whether `text` is one 24-hex-digit id and a newline, nothing else.
fn is_one_id(text: &str) -> bool {
    text.strip_suffix('\n')
        .is_some_and(|id| id.len() == 24 && id.chars().all(|c| c.is_ascii_hexdigit()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_capture_ids_and_secrets_alone() {
    each_server(|server| async move {
        let app_line = ok(&server, &["apps", "create", "--name", "Scripted", "--output", "id"]);
        assert!(is_one_id(&app_line), "{app_line:?}");
        let app = app_line.trim();

        // --output token: the secret and a newline, nothing else.
        let secret = ok(
            &server,
            &[
                "tokens", "create", "--app", app, "--name", "ingest", "--output", "token",
            ],
        );
        assert_eq!(secret.lines().count(), 1, "{secret:?}");
        assert!(secret.ends_with('\n') && secret.starts_with("eyJ"), "{secret:?}");
        assert!(
            server.api.authenticates(secret.trim()).await,
            "the printed secret works"
        );

        let id_line = ok(
            &server,
            &["tokens", "create", "--app", app, "--name", "second", "--output", "id"],
        );
        assert!(is_one_id(&id_line), "{id_line:?}");
        let id = id_line.trim();
        for action in ["get", "update"] {
            let printed = ok(&server, &["tokens", action, "--app", app, "--id", id, "--output", "id"]);
            assert_eq!(printed, id_line, "tokens {action}");
        }
        let listed = ok(
            &server,
            &[
                "tokens",
                "list",
                "--app",
                app,
                "--per-page",
                "1",
                "--all",
                "--output",
                "id",
            ],
        );
        let listed: Vec<&str> = listed.lines().collect();
        assert_eq!(listed.len(), 2, "{listed:?}");
        assert!(listed.contains(&id), "{listed:?}");
        assert_eq!(
            ok(
                &server,
                &["tokens", "delete", "--app", app, "--id", id, "--output", "id"]
            ),
            id_line
        );

        // --output token anywhere else is refused before anything is sent.
        let refused = remote(
            &server,
            &server.admin_token,
            &["apps", "delete", "--app", app, "--output", "token"],
        );
        assert_eq!(refused.code, Some(1));
        assert!(
            refused.stderr.contains("--output token is only for"),
            "{}",
            refused.stderr
        );
        assert_eq!(ok(&server, &["apps", "get", "--app", app, "--output", "id"]), app_line);

        // --output json prints JSON alone, the secret included.
        let created = ok(
            &server,
            &["tokens", "create", "--app", app, "--name", "third", "--output", "json"],
        );
        let created: Value = serde_json::from_str(&created).expect("only JSON on stdout");
        assert!(created["token"].as_str().is_some_and(|token| token.starts_with("eyJ")));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expires_takes_a_date_time_a_day_or_a_duration() {
    each_server(|server| async move {
        let app = server.api.create_application(&server.admin_token, "Expiring").await;
        let expiry_of = |expires: &str| {
            let created = json(
                &server,
                &[
                    "tokens",
                    "create",
                    "--app",
                    &app,
                    "--name",
                    expires,
                    "--expires",
                    expires,
                ],
            );
            let at = created["expirationDate"].as_str().expect("an expiry").to_string();
            chrono::DateTime::parse_from_rfc3339(&at)
                .expect("a date")
                .timestamp_millis()
        };
        let millis = |text: &str| chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis();
        assert_eq!(expiry_of("2031-01-01T12:00:00+02:00"), millis("2031-01-01T10:00:00Z"));
        assert_eq!(expiry_of("2031-01-01"), millis("2031-01-01T23:59:59.999Z"));
        for (duration, length) in [("30d", 30 * 86_400_000), ("12h", 12 * 3_600_000), ("90m", 90 * 60_000)] {
            let before = chrono::Utc::now().timestamp_millis();
            let at = expiry_of(duration);
            let after = chrono::Utc::now().timestamp_millis();
            assert!((before + length..=after + length).contains(&at), "{duration}: {at}");
        }

        // A bad value names the three forms, with examples.
        for bad in ["tomorrow", "2030-01-01 ", "2030-13-01", "30", "1.5h", "-3d"] {
            let expires = format!("--expires={bad}");
            let refused = remote(
                &server,
                &server.admin_token,
                &["tokens", "create", "--app", &app, "--name", "x", &expires],
            );
            assert_eq!(refused.code, Some(2), "{bad}");
            for form in ["2030-01-01T00:00:00Z", "2030-01-01", "30d", "12h", "90m"] {
                assert!(refused.stderr.contains(form), "{bad}: {}", refused.stderr);
            }
        }
        let past = remote(
            &server,
            &server.admin_token,
            &[
                "tokens",
                "create",
                "--app",
                &app,
                "--name",
                "x",
                "--expires",
                "2001-01-01",
            ],
        );
        assert!(past.stderr.contains("in the future"), "{}", past.stderr);

        // admin-token takes the same forms.
        let database = server.database_url.as_str();
        let before = chrono::Utc::now().timestamp_millis();
        let token = run_cli(&["admin-token", "--database", database, "--expires", "12h"]);
        let after = chrono::Utc::now().timestamp_millis();
        let reply = server.api.get("/auth/introspect", &token).await;
        let at = millis(reply.expect(200)["expirationDate"].as_str().expect("an expiry"));
        let twelve_hours = 12 * 3_600_000;
        assert!((before + twelve_hours..=after + twelve_hours).contains(&at), "{at}");
        let refused = cli(&["admin-token", "--database", database, "--expires", "soon"], &[]);
        assert!(refused.stderr.contains("30d, 12h, 90m"), "{}", refused.stderr);
    })
    .await;
}

/// Runs a client command on a pseudo-terminal `columns` wide (util-linux
/// `script`), bounded in time; returns what it printed, without the `\r`s.
fn on_a_terminal(server: &Server, columns: u16, args: &[&str]) -> String {
    let command = format!(
        "stty rows 24 cols {columns} && exec {} {}",
        env!("CARGO_BIN_EXE_latchkey"),
        args.join(" ")
    );
    let output = std::process::Command::new("timeout")
        .args(["30", "script", "-qec", &command, "/dev/null"])
        .env("LATCHKEY_URL", &server.api.base)
        .env("LATCHKEY_TOKEN", &server.admin_token)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script (util-linux) runs");
    assert!(output.status.success(), "{args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap().replace('\r', "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_fit_a_terminal_and_never_cut_a_pipe() {
    each_server(|server| async move {
        let app = server.api.create_application(&server.admin_token, "Wide").await;
        let long = format!("{}-end", "a-rather-long-token-name-".repeat(4));
        let body = serde_json::json!({
            "name": long,
            "scope": ["device.get", "device.sendState", "data.timeSeriesQuery"],
        });
        let id = id_of(&server.api.create_token(&server.admin_token, &app, &body).await);

        let piped = ok(&server, &["tokens", "list", "--app", &app]);
        assert!(piped.contains(&long), "{piped}");
        let narrow = on_a_terminal(&server, 80, &["tokens", "list", "--app", &app]);
        assert!(narrow.lines().all(|line| line.width() <= 80), "{narrow}");
        assert!(!narrow.contains(&long) && narrow.contains('…'), "{narrow}");

        // One token alone is never cut, and shows every scope.
        let alone = on_a_terminal(&server, 40, &["tokens", "get", "--app", &app, "--id", &id]);
        assert!(alone.contains(&long), "{alone}");
        for scope in ["device.get", "device.sendState", "data.timeSeriesQuery"] {
            assert!(alone.lines().any(|line| line.trim_start().ends_with(scope)), "{alone}");
        }
    })
    .await;
}

/// Characters that would drive a terminal: clear the screen, retitle the
/// window, ring the bell, return the cursor, C1's CSI, reverse the text.
const TERMINAL_CONTROLS: [char; 7] = ['\u{1b}', '\u{7}', '\r', '\u{9b}', '\u{7f}', '\u{202e}', '\u{2066}'];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_and_wide_names_are_listed_safely() {
    each_server(|server| async move {
        let app = server.api.create_application(&server.admin_token, "名前 🔑").await;
        let hostile = "\u{1b}[2J\u{1b}]0;pwned\u{7}x\r\u{9b}31m\u{7f}\u{202e}gpj.exe\u{2066}";
        let names = [
            hostile,
            "ascii name",
            "日本語のトークン",
            "🔑🔑 keys",
            &"長い名前".repeat(20),
        ];
        for name in names {
            let body = serde_json::json!({ "name": name });
            server.api.create_token(&server.admin_token, &app, &body).await;
        }

        // A table: no character that drives the terminal, and every row as
        // wide on screen as the next, CJK and emoji counted as two columns.
        let listing = ok(&server, &["tokens", "list", "--app", &app]);
        for control in TERMINAL_CONTROLS {
            assert!(!listing.contains(control), "{control:?} in {listing:?}");
        }
        let lines: Vec<&str> = listing.lines().collect();
        assert_eq!(lines.len(), 1 + names.len(), "{listing}");
        let row = |needle: &str| *lines.iter().find(|line| line.contains(needle)).expect(needle);
        assert!(row("pwned").contains("�[2J�]0;pwned�x�"), "{listing}");
        assert!(
            row("長い名前").contains(&"長い名前".repeat(20)),
            "a pipe gets the long name whole: {listing}"
        );
        let created_at = |line: &str| line[..line.rfind("  ").unwrap() + 2].width();
        let heading_created_at = lines[0][..lines[0].find("CREATED").unwrap()].width();
        for line in &lines[1..] {
            assert_eq!(line.width(), lines[1].width(), "{listing}");
            assert_eq!(created_at(line), heading_created_at, "{listing}");
        }

        // One item, and an application, the same way.
        let one = ok(&server, &["apps", "get", "--app", &app]);
        assert!(one.contains("名前 🔑"), "{one}");
        let all_apps = ok(&server, &["apps", "list"]);
        for text in [&one, &all_apps] {
            assert!(!text.contains(TERMINAL_CONTROLS), "{text:?}");
        }

        // JSON escapes them all, and still means the same name.
        let json_text = ok(&server, &["tokens", "list", "--app", &app, "--output", "json"]);
        assert!(!json_text.contains(TERMINAL_CONTROLS), "{json_text:?}");
        let listed: Value = serde_json::from_str(&json_text).unwrap();
        assert!(listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|token| token["name"] == hostile));
    })
    .await;
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let script = run_cli(&["completions", shell]);
        assert!(
            script.contains("tokens") && script.contains("admin-token"),
            "{shell}: {script}"
        );
    }
    assert_eq!(cli(&["completions", "tcsh"], &[]).code, Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_users_and_organizations() {
    each_backend(|backend| async move {
        let url = backend.url.as_str();
        let (alice, acme) = (unique("alice"), unique("acme"));
        let alice_id = run_cli(&["admin", "user", "create", "--database", url, "--name", &alice]);
        assert!(
            alice_id.len() == 24 && alice_id.chars().all(|c| c.is_ascii_hexdigit()),
            "{alice_id}"
        );
        let again = cli(&["admin", "user", "create", "--database", url, "--name", &alice], &[]);
        assert_eq!(again.code, Some(1));
        assert!(again.stderr.contains("already exists"), "{}", again.stderr);

        let org = run_cli(&[
            "admin",
            "org",
            "create",
            "--database",
            url,
            "--name",
            &acme,
            "--member",
            &alice,
        ]);
        assert_eq!(org.len(), 24);
        let ghost = cli(
            &[
                "admin",
                "org",
                "create",
                "--database",
                url,
                "--name",
                &unique("x"),
                "--member",
                "ghost",
            ],
            &[],
        );
        assert!(ghost.stderr.contains("there is no user \"ghost\""), "{}", ghost.stderr);

        let token = run_cli(&[
            "admin-token",
            "--database",
            url,
            "--user",
            &alice,
            "--scope",
            "all.User.read",
        ]);
        let unknown = cli(&["admin-token", "--database", url, "--scope", "all.Everything"], &[]);
        assert!(unknown.stderr.contains("not a scope name"), "{}", unknown.stderr);
        let past = cli(
            &["admin-token", "--database", url, "--expires", "2001-01-01T00:00:00Z"],
            &[],
        );
        assert!(past.stderr.contains("in the future"), "{}", past.stderr);

        // alice's token works on a server, and reaches her organization.
        let server = Server::start(&backend);
        let app = server.api.create_application(&server.admin_token, "admin's own").await;
        let body = server.api.get("/auth/introspect", &token).await;
        assert_eq!(body.expect(200)["creatorName"], alice.as_str());
        let reply = server.api.get(&format!("/applications/{app}"), &token).await;
        reply.expect_error(404, "NotFound");
        drop(server);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_rate_limit_answers_429_with_retry_after() {
    each_backend(|backend| async move {
        let server = Server::start_with_env(&backend, &[("LATCHKEY_RATE_LIMIT", "3")]);
        let mut statuses = Vec::new();
        let mut retry_after = None;
        for _ in 0..10 {
            let response = server
                .api
                .request(Method::GET, "/auth/introspect", Some(&server.admin_token))
                .send()
                .await
                .expect("an answer");
            statuses.push(response.status().as_u16());
            if response.status() == 429 {
                retry_after = response
                    .headers()
                    .get("retry-after")
                    .map(|value| value.to_str().unwrap().to_string());
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["type"], "TooManyRequests");
            }
        }
        assert_eq!(&statuses[..3], [200, 200, 200], "the burst is allowed: {statuses:?}");
        assert!(statuses.contains(&429), "{statuses:?}");
        assert!(retry_after.is_some_and(|seconds| seconds.parse::<u64>().is_ok_and(|s| s >= 1)));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused_with_a_clear_message() {
    each_backend(|backend| async move {
        // Creates the schema, then pretends a newer latchkey migrated it.
        run_cli(&[
            "admin",
            "user",
            "create",
            "--database",
            &backend.url,
            "--name",
            "someone",
        ]);
        if backend.is_file_backed() {
            let conn = rusqlite::Connection::open(&backend.database_files()[0]).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        } else {
            psql(&backend.url, "UPDATE latchkey_schema SET version = 99").unwrap();
        }
        let refused = cli(&["admin-token", "--database", &backend.url], &[]);
        assert_eq!(refused.code, Some(1));
        assert!(
            refused
                .stderr
                .contains("schema is version 99, newer than this latchkey understands"),
            "{}",
            refused.stderr
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_seed_inserts_every_token_once() {
    each_backend(|backend| async move {
        let server = Server::start(&backend);
        let app = server.api.create_application(&server.admin_token, "seeded").await;
        // More than two batches, minted on several threads; stderr, not a
        // terminal here, gets no progress bar.
        let seeded = cli(
            &[
                "admin",
                "seed",
                "--database",
                &backend.url,
                "--app",
                &app,
                "--count",
                "25000",
                "--prefix",
                "s",
            ],
            &[],
        );
        assert!(seeded.success, "{}", seeded.stderr);
        assert_eq!(seeded.stderr, "", "no progress on a pipe");
        let listing = |query: &str| {
            let (api, admin) = (server.api.clone(), server.admin_token.clone());
            let target = format!("/applications/{app}/tokens?{query}");
            async move { api.get(&target, &admin).await.expect(200).clone() }
        };
        let first = listing("perPage=1").await;
        assert_eq!(
            (first["totalCount"].as_u64(), first["items"][0]["name"].as_str()),
            (Some(25000), Some("s-0000000"))
        );
        let last = listing("perPage=1&sortDirection=desc").await;
        assert_eq!(last["items"][0]["name"], "s-0024999");
        let prefixed = listing("filterField=name&filter=s-0001*&perPage=1000").await;
        assert_eq!(prefixed["totalCount"], 1000);
        let names: std::collections::HashSet<&str> = prefixed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|token| token["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 1000, "no name twice");
        let active = listing("filterField=status&filter=active&perPage=1").await;
        assert_eq!(
            (
                active["totalCount"].as_u64(),
                active["items"][0]["creatorType"].as_str()
            ),
            (Some(25000), Some("user"))
        );
        let wrong = cli(
            &[
                "admin",
                "seed",
                "--database",
                &backend.url,
                "--app",
                "000000000000000000000000",
                "--count",
                "1",
            ],
            &[],
        );
        assert!(wrong.stderr.contains("there is no application"), "{}", wrong.stderr);
    })
    .await;
}
