//! The audit log's read side: `/orgs/{orgId}/audit-logs[/{id}]` and
//! `/applications/{applicationId}/audit-logs[/{id}]`, with Losant's sorts,
//! paging, time range and `auditLogFilter`, and who may read what.
//!
//! The entries listed are written straight into the store beside the
//! running server (`Store::append_audit`), at fixed times long past, so
//! each test knows exactly which entries exist and in what order they sort;
//! the time range keeps out the entries the server itself writes.

mod common;

use common::{cli, each_server, id_of, open_store, run_cli, unique, Server, UNKNOWN_ID};
use latchkey_core::audit::{ActorType, AuditEntry, Named, TargetType};
use latchkey_core::Id;
use serde_json::{json, Value};

/// 2001-09-09T01:46:40.000Z: the fixture's entries are a second apart from here.
const FIRST: i64 = 1_000_000_000_000;

/// What each test sets up: an organization with alice as a member, bob
/// outside it, their tokens, and applications of each.
struct World {
    org: String,
    /// An application of the organization.
    org_app: String,
    /// An application alice owns herself.
    alice_app: String,
    bob_app: String,
    alice: String,
    alice_name: String,
    bob: String,
    /// The entries written, as the server shows them.
    entries: Vec<Value>,
}

fn named<T>(kind: T, id: &str, name: &str) -> Option<Named<T>> {
    Some(Named {
        kind,
        id: id.parse().unwrap(),
        name: name.to_string(),
    })
}

async fn set_up(server: &Server) -> World {
    let database = server.database_url.as_str();
    let (alice_name, bob_name) = (unique("alice"), unique("bob"));
    for name in [&alice_name, &bob_name] {
        run_cli(&["admin", "user", "create", "--database", database, "--name", name]);
    }
    let org_name = unique("acme");
    let org = run_cli(&[
        "admin",
        "org",
        "create",
        "--database",
        database,
        "--name",
        &org_name,
        "--member",
        &alice_name,
    ]);
    let token_of = |user: &str| run_cli(&["admin-token", "--database", database, "--user", user]);
    let (alice, bob) = (token_of(&alice_name), token_of(&bob_name));
    let api = &server.api;
    let body = json!({"name": "Org Sensors", "orgId": org});
    let org_app = id_of(api.post("/applications", &alice, &body).await.expect(201));
    let alice_app = api.create_application(&alice, "Alice's own").await;
    let bob_app = api.create_application(&bob, "Bob's").await;

    let ingest = Id::generate(FIRST / 1000).to_string();
    let alice_id = Id::generate(FIRST / 1000).to_string();
    let by_token = |name: &str| named(ActorType::ApiToken, &ingest, name);
    let by_alice = || named(ActorType::User, &alice_id, "alice");
    // The entry `second`s after FIRST about `app` (and the token `ingest`
    // when `about_token`), by `actor`, of `request`, answered `status`.
    let entry = |second: i64, app: &str, about_token: bool, actor, request: [&str; 2], status| AuditEntry {
        org_id: (app == org_app).then(|| org.parse().unwrap()),
        application: named(TargetType::Application, app, "an application"),
        token: about_token
            .then(|| named(TargetType::ApiToken, &ingest, "ingest"))
            .flatten(),
        response_status: status,
        response_body: json!({}),
        ..AuditEntry::draft(FIRST + second * 1000, actor, request[0], request[1])
    };
    let written = vec![
        entry(0, &org_app, false, by_alice(), ["applications", "post"], 201),
        entry(
            1,
            &org_app,
            true,
            by_token("Zed"),
            ["applicationApiTokens", "post"],
            201,
        ),
        entry(
            2,
            &org_app,
            true,
            by_token("admin"),
            ["applicationApiToken", "patch"],
            200,
        ),
        entry(
            3,
            &org_app,
            false,
            by_token("admin"),
            ["applicationApiTokens", "post"],
            403,
        ),
        // The operator's own command: no actor id or type.
        entry(4, &org_app, true, None, ["applicationApiToken", "delete"], 200),
        entry(5, &org_app, true, by_alice(), ["applicationApiToken", "patch"], 404),
        entry(6, &org_app, false, by_alice(), ["application", "patch"], 200),
        entry(7, &alice_app, true, by_alice(), ["applicationApiTokens", "post"], 201),
        entry(8, &bob_app, false, by_token("bob's"), ["application", "delete"], 200),
        entry(
            9,
            &org_app,
            true,
            by_token("Zed"),
            ["applicationApiToken", "patch"],
            200,
        ),
    ];
    let store = open_store(database).await;
    store.append_audit(&written).await.expect("the fixture is written");
    let entries = written
        .iter()
        .map(|entry| serde_json::to_value(entry).unwrap())
        .collect();
    World {
        org,
        org_app,
        alice_app,
        bob_app,
        alice,
        alice_name,
        bob,
        entries,
    }
}

/// The fixture's time range, as a query string part.
fn window() -> String {
    format!("start={FIRST}&end={}", FIRST + 9 * 1000)
}

/// The ids a listing returned, after checking its shape.
fn ids_of(listing: &Value) -> Vec<String> {
    let items = listing["items"].as_array().expect("items");
    assert_eq!(listing["count"], items.len(), "{listing}");
    items
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_string())
        .collect()
}

/// The fixture's entries for which `keep` holds, sorted as the server must:
/// by `field`, ties broken by id, both in `direction`.
fn expected(entries: &[Value], keep: impl Fn(&Value) -> bool, field: &str, direction: &str) -> Vec<String> {
    let mut kept: Vec<&Value> = entries.iter().filter(|entry| keep(entry)).collect();
    kept.sort_by(|a, b| {
        let key = |entry: &Value| match field {
            "responseStatus" => format!("{:03}", entry["responseStatus"].as_u64().unwrap()),
            other => entry[other].as_str().unwrap().to_string(),
        };
        let order = key(a)
            .cmp(&key(b))
            .then_with(|| a["id"].as_str().cmp(&b["id"].as_str()));
        if direction == "desc" {
            order.reverse()
        } else {
            order
        }
    });
    kept.iter()
        .map(|entry| entry["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sorts_directions_paging_and_the_time_range() {
    each_server(|server| async move {
        let world = set_up(&server).await;
        let api = &server.api;
        let org_logs = format!("/orgs/{}/audit-logs", world.org);
        let in_org = |entry: &Value| entry["orgId"] == world.org.as_str();

        // Losant's defaults: newest first, 100 a page.
        let listing = api.get(&format!("{org_logs}?{}", window()), &world.alice).await;
        let listing = listing.expect(200);
        assert_eq!(
            (
                &listing["sortField"],
                &listing["sortDirection"],
                &listing["perPage"],
                &listing["page"]
            ),
            (&json!("creationDate"), &json!("desc"), &json!(100), &json!(0))
        );
        assert_eq!(listing["orgId"], world.org.as_str());
        assert_eq!(listing["totalCount"], 8, "{listing}");
        assert_eq!(
            ids_of(listing),
            expected(&world.entries, in_org, "creationDate", "desc")
        );
        // Items are the entries as written, whole.
        let first = &world.entries[9];
        assert_eq!(&listing["items"][0], first);

        for field in ["creationDate", "responseStatus", "actorName"] {
            for direction in ["asc", "desc"] {
                let target = format!("{org_logs}?{}&sortField={field}&sortDirection={direction}", window());
                let listing = api.get(&target, &world.alice).await;
                let listing = listing.expect(200);
                assert_eq!(
                    (&listing["sortField"], &listing["sortDirection"]),
                    (&json!(field), &json!(direction))
                );
                let order = expected(&world.entries, in_org, field, direction);
                assert_eq!(ids_of(listing), order, "{field} {direction}");

                // The same order a page at a time, the last one short, then none.
                let mut paged = Vec::new();
                for page in 0..4 {
                    let target = format!("{target}&perPage=3&page={page}");
                    let listing = api.get(&target, &world.alice).await;
                    let listing = listing.expect(200);
                    assert_eq!((&listing["totalCount"], &listing["perPage"]), (&json!(8), &json!(3)));
                    paged.extend(ids_of(listing));
                }
                assert_eq!(paged, order, "{field} {direction}, paged");
            }
        }
        let beyond = format!("{org_logs}?{}&page=18446744073709551615", window());
        let listing = api.get(&beyond, &world.alice).await;
        assert_eq!(
            (&listing.expect(200)["count"], &listing.expect(200)["totalCount"]),
            (&json!(0), &json!(8))
        );

        // The time range: both ends included, each alone, and an empty one.
        let range = |query: &str| format!("{org_logs}?{query}&sortDirection=asc");
        let seconds = |from: i64, to: i64| {
            world.entries[from as usize..=to as usize]
                .iter()
                .filter(|entry| in_org(entry))
                .map(|entry| entry["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        let cases = [
            (format!("start={}&end={}", FIRST + 2000, FIRST + 5000), seconds(2, 5)),
            (format!("start={}&end={}", FIRST + 2001, FIRST + 4999), seconds(3, 4)),
            (format!("start=0&end={}", FIRST + 1000), seconds(0, 1)),
            (format!("start={}&end={}", FIRST + 5000, FIRST + 2000), Vec::new()),
        ];
        for (query, expected) in cases {
            let listing = api.get(&range(&query), &world.alice).await;
            assert_eq!(ids_of(listing.expect(200)), expected, "{query}");
        }
        let after = api.get(&range(&format!("start={}", FIRST + 9000)), &world.alice).await;
        let after = ids_of(after.expect(200));
        assert_eq!(after[0], world.entries[9]["id"], "start alone has no end");
        assert!(
            after.len() > 1,
            "the server's own entry for creating the application is later: {after:?}"
        );
        let before = api.get(&range(&format!("end={}", FIRST + 1000)), &world.alice).await;
        assert_eq!(ids_of(before.expect(200)), seconds(0, 1), "end alone has no start");

        // One application's log: the entries whose primary target it is.
        let app_logs = format!("/applications/{}/audit-logs?{}", world.alice_app, window());
        let listing = api.get(&app_logs, &world.alice).await;
        let listing = listing.expect(200);
        assert_eq!(listing["applicationId"], world.alice_app.as_str());
        assert!(listing.get("orgId").is_none(), "{listing}");
        assert_eq!(ids_of(listing), [world.entries[7]["id"].as_str().unwrap()]);
        let org_app_logs = format!(
            "/applications/{}/audit-logs?{}&sortField=actorName",
            world.org_app,
            window()
        );
        let listing = api.get(&org_app_logs, &world.alice).await;
        let of_org_app = |entry: &Value| entry["primaryTargetId"] == world.org_app.as_str();
        assert_eq!(
            ids_of(listing.expect(200)),
            expected(&world.entries, of_org_app, "actorName", "desc")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_filter() {
    each_server(|server| async move {
        let world = set_up(&server).await;
        let api = &server.api;
        let ids = |seconds: &[usize]| -> Vec<String> {
            let mut ids: Vec<String> = seconds
                .iter()
                .map(|second| world.entries[*second]["id"].as_str().unwrap().to_string())
                .collect();
            ids.reverse();
            ids
        };
        let ingest = world.entries[1]["secondaryTargetId"].as_str().unwrap();
        let alice_id = world.entries[0]["actorId"].as_str().unwrap();
        let f = "auditLogFilter";
        let cases: Vec<(String, Vec<String>)> = vec![
            (format!("{f}[primaryTarget][0][id]={}", world.alice_app), ids(&[])),
            (
                format!("{f}[primaryTarget][0][id]={}", world.org_app),
                ids(&[0, 1, 2, 3, 4, 5, 6, 9]),
            ),
            (format!("{f}[primaryTarget][0][type]=Dashboard"), ids(&[])),
            (format!("{f}[secondaryTarget][0][id]={ingest}"), ids(&[1, 2, 4, 5, 9])),
            (
                format!("{f}[secondaryTarget][0][type]=ApiToken&{f}[secondaryTarget][0][name]=other"),
                ids(&[]),
            ),
            (format!("{f}[actor][0][id]={alice_id}"), ids(&[0, 5, 6])),
            (format!("{f}[actor][0][type]=User"), ids(&[0, 5, 6])),
            (
                format!("{f}[actor][0][name]=Zed&{f}[actor][1][name]=latchkey%20admin"),
                ids(&[1, 4, 9]),
            ),
            (
                format!("{f}[actor][0][type]=ApiToken&{f}[actor][0][name]=admin"),
                ids(&[2, 3]),
            ),
            (
                format!("{f}[request][0][resource]=applicationApiToken"),
                ids(&[2, 4, 5, 9]),
            ),
            (
                format!("{f}[request][0][resource]=applicationApiToken&{f}[request][0][action]=patch"),
                ids(&[2, 5, 9]),
            ),
            (
                format!("{f}[request][0][resource]=application&{f}[request][1][action]=post"),
                ids(&[0, 1, 3, 6]),
            ),
            (
                format!("{f}[responseCode][0]=403&{f}[responseCode][1]=404"),
                ids(&[3, 5]),
            ),
            (format!("{f}[responseCode][0]=200&{f}[actor][0][name]=Zed"), ids(&[9])),
            (format!("{f}[responseCode][0]=201&{f}[actor][0][type]=User"), ids(&[0])),
        ];
        for (filter, expected) in cases {
            let target = format!("/orgs/{}/audit-logs?{}&{filter}", world.org, window());
            let listing = api.get(&target, &world.alice).await;
            let listing = listing.expect(200);
            assert_eq!(ids_of(listing), expected, "{filter}");
            assert_eq!(listing["totalCount"], expected.len(), "{filter}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_entry_and_who_may_read_it() {
    each_server(|server| async move {
        let world = set_up(&server).await;
        let api = &server.api;
        let database = server.database_url.as_str();
        let org_entry = world.entries[2]["id"].as_str().unwrap();
        let alice_entry = world.entries[7]["id"].as_str().unwrap();
        let bob_entry = world.entries[8]["id"].as_str().unwrap();

        let read = api
            .get(&format!("/orgs/{}/audit-logs/{org_entry}", world.org), &world.alice)
            .await;
        assert_eq!(read.expect(200), &world.entries[2]);
        let target = format!("/applications/{}/audit-logs/{alice_entry}", world.alice_app);
        assert_eq!(api.get(&target, &world.alice).await.expect(200), &world.entries[7]);
        let target = format!("/applications/{}/audit-logs/{org_entry}", world.org_app);
        assert_eq!(api.get(&target, &world.alice).await.expect(200), &world.entries[2]);

        // Entries outside the scope, or none at all: 404.
        let not_found = [
            format!("/orgs/{}/audit-logs/{alice_entry}", world.org),
            format!("/orgs/{}/audit-logs/{bob_entry}", world.org),
            format!("/orgs/{}/audit-logs/{UNKNOWN_ID}", world.org),
            format!("/applications/{}/audit-logs/{org_entry}", world.alice_app),
            format!("/applications/{}/audit-logs/{UNKNOWN_ID}", world.org_app),
        ];
        for target in &not_found {
            api.get(target, &world.alice).await.expect_error(404, "NotFound");
        }

        // Out of reach, whatever the scopes: 404.
        let org_app_token = api.new_app_token(&world.alice, &world.org_app, "app token").await;
        let out_of_reach = [
            (format!("/orgs/{}/audit-logs", world.org), &world.bob),
            (format!("/orgs/{}/audit-logs/{org_entry}", world.org), &world.bob),
            (format!("/orgs/{}/audit-logs", world.org), &org_app_token.secret),
            (format!("/orgs/{UNKNOWN_ID}/audit-logs"), &world.alice),
            (format!("/orgs/{}/audit-logs", world.org), &server.admin_token),
            (format!("/applications/{}/audit-logs", world.org_app), &world.bob),
            (format!("/applications/{}/audit-logs", world.bob_app), &world.alice),
            (
                format!("/applications/{}/audit-logs/{bob_entry}", world.bob_app),
                &world.alice,
            ),
            (
                format!("/applications/{}/audit-logs", world.alice_app),
                &org_app_token.secret,
            ),
            (format!("/applications/{UNKNOWN_ID}/audit-logs"), &world.alice),
        ];
        for (target, token) in &out_of_reach {
            let reply = api.get(target, token).await;
            assert_eq!(reply.status, 404, "{target}: {reply:?}");
            reply.expect_error(404, "NotFound");
        }
        // An application token on its own application reaches it, but the
        // audit log is for users.
        let target = format!("/applications/{}/audit-logs", world.org_app);
        let refusal = api.get(&target, &org_app_token.secret).await;
        assert!(
            refusal.expect_error(403, "Forbidden").contains("user token"),
            "{refusal:?}"
        );

        // Scopes: the listing and the single entry each need their own;
        // `all.Organization.read` acts on the organization's log only.
        let token_with = |scope: &str| {
            run_cli(&[
                "admin-token",
                "--database",
                database,
                "--user",
                &world.alice_name,
                "--scope",
                scope,
            ])
        };
        let org_logs = format!("/orgs/{}/audit-logs", world.org);
        let org_one = format!("{org_logs}/{org_entry}");
        let alice_app_logs = format!("/applications/{}/audit-logs", world.alice_app);
        let org_app_logs = format!("/applications/{}/audit-logs", world.org_app);
        let cases: [(&str, &[&str], &[&str]); 5] = [
            ("auditLogs.get", &[&org_logs, &alice_app_logs], &[&org_one]),
            ("auditLog.*", &[&org_one], &[&org_logs, &alice_app_logs]),
            (
                "all.Organization.read",
                &[&org_logs, &org_one, &org_app_logs],
                &[&alice_app_logs],
            ),
            ("all.User.read", &[&org_logs, &org_one, &alice_app_logs], &[]),
            ("applicationApiTokens.get", &[], &[&org_logs, &org_one, &alice_app_logs]),
        ];
        for (scope, allowed, forbidden) in cases {
            let token = token_with(scope);
            for target in allowed {
                let reply = api.get(target, &token).await;
                assert_eq!(reply.status, 200, "{scope} {target}: {reply:?}");
            }
            for target in forbidden {
                let reply = api.get(target, &token).await;
                assert_eq!(reply.status, 403, "{scope} {target}: {reply:?}");
                reply.expect_error(403, "Forbidden");
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_are_400_naming_the_parameter() {
    each_server(|server| async move {
        let world = set_up(&server).await;
        let api = &server.api;
        let secret_like = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        let f = "auditLogFilter";
        let cases = [
            (
                "sortField=name".to_string(),
                "sortField must be one of: creationDate, responseStatus, actorName",
            ),
            ("sortDirection=up".into(), "sortDirection must be one of: asc, desc"),
            ("perPage=1001".into(), "perPage must be a whole number from 1 to 1000"),
            ("page=-1".into(), "page must be a whole number"),
            ("start=yesterday".into(), "start must be a whole number of milliseconds"),
            ("end=1.5".into(), "end must be a whole number of milliseconds"),
            ("end=1&end=2".into(), "end may be given only once"),
            (format!("{f}=%7B%7D"), "auditLogFilter is sent in bracket notation"),
            (
                format!("{f}[actor][0][color]=red"),
                "auditLogFilter is sent in bracket notation",
            ),
            (format!("{f}[device][0][id]=x"), "auditLogFilter's kinds are"),
            (
                format!("{f}[actor][20][name]=x"),
                "auditLogFilter[actor] may hold at most 20 items",
            ),
            (
                format!("{f}[actor][0][id]={secret_like}"),
                "auditLogFilter[actor][0][id] must be 24 hexadecimal",
            ),
            (
                format!("{f}[actor][0][type]={secret_like}"),
                "auditLogFilter[actor][0][type] must be one of",
            ),
            (
                format!("{f}[responseCode][0]=600"),
                "auditLogFilter[responseCode][0] must be a whole number",
            ),
            (
                format!("{f}[request][0][action]={}", "x".repeat(1025)),
                "auditLogFilter[request][0][action] must be at most 1024",
            ),
        ];
        for path in [
            format!("/orgs/{}/audit-logs", world.org),
            format!("/applications/{}/audit-logs", world.alice_app),
        ] {
            for (query, message) in &cases {
                let reply = api.get(&format!("{path}?{query}"), &world.alice).await;
                let said = reply.expect_error(400, "Validation");
                assert!(said.starts_with(message), "{query}: {said}");
                assert!(!said.contains(secret_like), "{query}: {said}");
            }
        }
        for path in [
            "/orgs/not-an-id/audit-logs".to_string(),
            format!("/orgs/{}/audit-logs/not-an-id", world.org),
            format!("/applications/{}/audit-logs/not-an-id", world.alice_app),
        ] {
            api.get(&path, &world.alice).await.expect_error(400, "Validation");
        }
        // Parameters are checked after reach: an organization out of reach
        // is 404 whatever the query.
        let target = format!("/orgs/{}/audit-logs?sortField=name", world.org);
        api.get(&target, &world.bob).await.expect_error(404, "NotFound");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_command() {
    each_server(|server| async move {
        let world = set_up(&server).await;
        let env = [
            ("LATCHKEY_URL", server.api.base.as_str()),
            ("LATCHKEY_TOKEN", world.alice.as_str()),
        ];
        let audit = |args: &[&str]| {
            let output = cli(args, &env);
            assert!(output.success, "latchkey {args:?}: {}", output.stderr);
            output.stdout
        };
        let id = |second: usize| world.entries[second]["id"].as_str().unwrap().to_string();
        let (start, end) = ("2001-09-09T01:46:40Z", "2001-09-09T01:46:49Z");
        let org = [
            "audit",
            "list",
            "--org",
            world.org.as_str(),
            "--start",
            start,
            "--end",
            end,
        ];

        // Newest first, every page, one id a line.
        let ids = audit(&[&org[..], &["--all", "--per-page", "3", "--output", "id"]].concat());
        let expected: Vec<String> = [9, 6, 5, 4, 3, 2, 1, 0].into_iter().map(id).collect();
        assert_eq!(ids.lines().collect::<Vec<_>>(), expected);

        // Each filter flag, as JSON: the server's own body.
        let cases: [(&[&str], &[usize]); 5] = [
            (&["--status", "403", "--status", "404"], &[5, 3]),
            (&["--actor", world.entries[0]["actorId"].as_str().unwrap()], &[6, 5, 0]),
            (
                &["--api-token", world.entries[1]["secondaryTargetId"].as_str().unwrap()],
                &[9, 5, 4, 2, 1],
            ),
            (&["--resource", "applicationApiToken", "--action", "patch"], &[9, 5, 2]),
            (
                &[
                    "--action",
                    "post",
                    "--sort-direction",
                    "asc",
                    "--sort-field",
                    "creationDate",
                ],
                &[0, 1, 3],
            ),
        ];
        for (flags, seconds) in cases {
            let json = audit(&[&org[..], flags, &["--output", "json"]].concat());
            let listing: Value = serde_json::from_str(&json).unwrap();
            let expected: Vec<String> = seconds.iter().map(|second| id(*second)).collect();
            assert_eq!(ids_of(&listing), expected, "{flags:?}");
        }

        // A plain date is a whole day (UTC): --end 2001-09-09 takes them all.
        let whole_day = audit(&[
            "audit",
            "list",
            "--org",
            &world.org,
            "--end",
            "2001-09-09",
            "--output",
            "id",
        ]);
        assert_eq!(whole_day.lines().count(), 8);

        // A table for people; one entry as its fields.
        let table = audit(&[&org[..], &["--sort-field", "actorName", "--per-page", "2"]].concat());
        let header = table.lines().next().unwrap();
        for column in ["ID", "CREATED", "STATUS", "REQUEST", "ACTOR", "TARGET"] {
            assert!(header.contains(column), "{table}");
        }
        assert!(table.lines().nth(1).unwrap().contains("latchkey admin"), "{table}");
        let one = audit(&["audit", "get", "--app", &world.alice_app, "--id", &id(7)]);
        assert!(one.contains("applicationApiTokens post"), "{one}");
        assert!(
            one.contains(&format!(
                "User alice ({})",
                world.entries[7]["actorId"].as_str().unwrap()
            )),
            "{one}"
        );

        // The server's refusals and the command line's own.
        let refused = cli(&["audit", "list", "--org", &world.org, "--token", &world.bob], &env);
        assert_eq!(refused.code, Some(1));
        assert!(refused.stderr.starts_with("error: 404 NotFound"), "{}", refused.stderr);
        let neither = cli(&["audit", "list"], &env);
        assert_eq!(neither.code, Some(2), "{}", neither.stderr);
        let both = cli(
            &[
                "audit",
                "get",
                "--org",
                &world.org,
                "--app",
                &world.org_app,
                "--id",
                &id(0),
            ],
            &env,
        );
        assert_eq!(both.code, Some(2), "{}", both.stderr);
        let bad_time = cli(&["audit", "list", "--org", &world.org, "--start", "yesterday"], &env);
        assert_eq!(bad_time.code, Some(2), "{}", bad_time.stderr);
        assert!(bad_time.stderr.contains("7d, 12h, 90m"), "{}", bad_time.stderr);
    })
    .await;
}
