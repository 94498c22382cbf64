//! `latchkey-verify` against live servers, through its example service
//! (`crates/latchkey-verify/examples/protected.rs`, built by the first test
//! that needs it) and as a library: every test writes through one instance
//! and has the verifier follow another on the same database, on each
//! backend. Changes are awaited with a generous deadline and never timed:
//! how fast they arrive is for the benchmarks.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, Once};
use std::time::{Duration, Instant};

use common::{each_backend, run_cli, token_path, tokens_path, Api, IssuedToken, Server};
use latchkey_verify::{Id, Refusal, Verifier};
use serde_json::{json, Value};
use tokio::task::JoinSet;

/// How long a change may take to reach a verifier before a test gives up.
const DEADLINE: Duration = Duration::from_secs(5);
/// How long a verifier may take to read its feed for the first time.
const STARTUP: Duration = Duration::from_secs(20);

/// An application token with exactly `scope`.
async fn token_with(api: &Api, admin: &str, application: &str, name: &str, scope: &[&str]) -> IssuedToken {
    let body = json!({ "name": name, "scope": scope });
    IssuedToken::from_created(&api.create_token(admin, application, &body).await)
}

/// The token a verifier reads the feed with: `applicationApiTokens.get` only.
async fn reader_token(api: &Api, admin: &str, application: &str) -> IssuedToken {
    token_with(api, admin, application, "verifier", &["applicationApiTokens.get"]).await
}

fn id(text: &str) -> Id {
    text.parse().expect("an id")
}

/// A verifier of `application` following the server behind `api`, once it
/// has read the feed.
async fn follower(api: &Api, reader: &str, application: &str) -> Verifier {
    let verifier = Verifier::builder(&api.base, reader)
        .application(id(application))
        .start()
        .expect("the verifier starts");
    assert!(verifier.ready(STARTUP).await, "the verifier never read its feed");
    verifier
}

async fn verdict(verifier: &Verifier, token: &str) -> Result<(), Refusal> {
    verifier.verify_token(token).await.map(drop)
}

/// Waits until the verifier's verdict on `token` is `expected`.
async fn until_verdict(verifier: &Verifier, token: &str, expected: Result<(), Refusal>) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let seen = verdict(verifier, token).await;
        if seen == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the verifier still says {seen:?}, not {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Requests each server answered other than the verifier feed, the JWKS
/// and its metrics, by server and series: what a verifier must not cause
/// per token it checks.
async fn requests_beyond_the_feed(servers: &[&Server]) -> BTreeMap<String, f64> {
    let mut counts = BTreeMap::new();
    for (n, server) in servers.iter().enumerate() {
        let text = server
            .api
            .request(reqwest::Method::GET, "/metrics", None)
            .send()
            .await
            .expect("the metrics")
            .text()
            .await
            .expect("the metrics' text");
        let requests = text
            .lines()
            .filter(|line| line.starts_with("latchkey_http_requests_total{"))
            .filter(|line| {
                !["/verifier/", "/.well-known/jwks.json", "\"/metrics\""]
                    .iter()
                    .any(|route| line.contains(route))
            });
        for line in requests {
            let (series, count) = line.rsplit_once(' ').unwrap();
            counts.insert(format!("{n} {series}"), count.parse().unwrap());
        }
    }
    counts
}

// ---------------------------------------------------------------------------
// The example service, as a child process

/// The environment variables, or their prefixes, that cargo sets for a test.
const SET_FOR_THE_TEST: [&str; 8] = [
    "CARGO_MANIFEST_",
    "CARGO_PKG_",
    "CARGO_CRATE_",
    "CARGO_BIN_",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
    "OUT_DIR",
];

/// The example binary, built once per test process with the profile of the
/// `latchkey` binary under test (a no-op when it is up to date); before a
/// test body, whose time is bounded.
fn protected_binary() -> PathBuf {
    static BUILT: Once = Once::new();
    let latchkey = Path::new(env!("CARGO_BIN_EXE_latchkey"));
    let profile_dir = latchkey.parent().expect("the profile's directory");
    BUILT.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let mut build = Command::new(cargo);
        build.args(["build", "--workspace", "--example", "protected"]);
        // What cargo set for this test, not for the build: build scripts
        // that watch these would otherwise rebuild for every other build.
        for (name, _) in std::env::vars() {
            if SET_FOR_THE_TEST.iter().any(|prefix| name.starts_with(prefix)) {
                build.env_remove(name);
            }
        }
        if profile_dir.ends_with("release") {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "building the example failed: {status}");
    });
    profile_dir.join("examples").join("protected")
}

/// `protected --latchkey-url … --application … --listen 127.0.0.1:0`,
/// killed when dropped.
struct Protected {
    child: Child,
    base: String,
    http: reqwest::Client,
    /// Everything it wrote to standard error so far.
    log: Arc<Mutex<String>>,
}

impl Protected {
    fn start(binary: &Path, latchkey_url: &str, application: &str, reader: &str) -> Protected {
        let mut child = Command::new(binary)
            .args(["--latchkey-url", latchkey_url, "--application", application])
            .args(["--listen", "127.0.0.1:0"])
            .env("LATCHKEY_TOKEN", reader)
            .env("RUST_LOG", "info,latchkey_verify=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the example starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (listening, address) = mpsc::channel();
        std::thread::spawn({
            let log = Arc::clone(&log);
            move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(base) = line.strip_prefix("protected: listening on ") {
                        let _ = listening.send(base.to_string());
                    }
                    log.lock().unwrap().push_str(&format!("{line}\n"));
                }
            }
        });
        let base = address
            .recv_timeout(STARTUP)
            .unwrap_or_else(|_| panic!("the example did not listen; its log:\n{}", log.lock().unwrap()));
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        Protected { child, base, http, log }
    }

    /// `GET path`, with the token when given: status and JSON body.
    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let answer = request.send().await.expect("the example answers");
        let status = answer.status().as_u16();
        let text = answer.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Waits until `GET /hello` with `token` answers `status`; its body.
    async fn until_hello(&self, token: &str, status: u16) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let (seen, body) = self.get("/hello", Some(token)).await;
            if seen == status {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "/hello still answers {seen} {body}, not {status}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn metrics(&self) -> String {
        let answer = self.http.get(format!("{}/metrics", self.base)).send().await.unwrap();
        answer.text().await.unwrap()
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    async fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + DEADLINE;
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "the example did not log {needle:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Protected {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of one sample line (`name{labels} value`) of Prometheus text.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .parse()
        .unwrap()
}

// ---------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_accepts_new_tokens_without_a_call_and_refuses_revoked_ones() {
    let example = &protected_binary();
    each_backend(|backend| async move {
        let writer = Server::start(&backend);
        let followed = Server::start(&backend);
        let admin = writer.admin_token.clone();
        let api = &writer.api;
        let app = api.create_application(&admin, "protected").await;
        let reader = reader_token(api, &admin, &app).await;
        let service = Protected::start(example, &followed.api.base, &app, &reader.secret);
        // Until then, it refuses every token (503).
        service.wait_for_log("following Latchkey's verifier feed").await;

        // A token made after the service started: accepted, and nothing
        // reaches either server for it.
        let token = token_with(api, &admin, &app, "device", &["device.get"]).await;
        let before = requests_beyond_the_feed(&[&writer, &followed]).await;
        for _ in 0..20 {
            let body = service.until_hello(&token.secret, 200).await;
            assert_eq!(body, json!({ "tokenId": token.id }));
        }
        assert_eq!(requests_beyond_the_feed(&[&writer, &followed]).await, before);
        assert_eq!(
            sample(&service.metrics().await, "latchkey_verify_introspect_fallbacks_total"),
            0.0
        );

        // Deactivated, re-activated, deleted: through the other instance.
        let path = token_path(&app, &token.id);
        api.patch(&path, &admin, &json!({"status": "inactive"}))
            .await
            .expect(200);
        let refused = service.until_hello(&token.secret, 401).await;
        assert_eq!(refused["type"], "Unauthorized", "{refused}");
        api.patch(&path, &admin, &json!({"status": "active"})).await.expect(200);
        service.until_hello(&token.secret, 200).await;
        api.delete(&path, &admin).await.expect(200);
        service.until_hello(&token.secret, 401).await;

        // A bulk revocation (spec 1.5) refuses what it matched, only that.
        let doomed = token_with(api, &admin, &app, "doomed-1", &["device.get"]).await;
        let spared = token_with(api, &admin, &app, "spared", &["device.get"]).await;
        service.until_hello(&doomed.secret, 200).await;
        let bulk = format!("{}?filterField=name&filter=doomed-*", tokens_path(&app));
        let revoked = api.patch(&bulk, &admin, &json!({"status": "inactive"})).await;
        assert_eq!(revoked.expect(200)["count"], 1);
        service.until_hello(&doomed.secret, 401).await;
        service.until_hello(&spared.secret, 200).await;

        // Another application's token, a scope without device.get, no token.
        let elsewhere = api.create_application(&admin, "elsewhere").await;
        let foreign = token_with(api, &admin, &elsewhere, "foreign", &["device.get"]).await;
        let (status, body) = service.get("/hello", Some(&foreign.secret)).await;
        assert_eq!((status, &body["type"]), (401, &json!("Unauthorized")), "{body}");
        let narrow = token_with(api, &admin, &app, "narrow", &["device.getState"]).await;
        let (status, body) = service.get("/hello", Some(&narrow.secret)).await;
        assert_eq!((status, &body["type"]), (403, &json!("Forbidden")), "{body}");
        let (status, body) = service.get("/hello", None).await;
        assert_eq!((status, &body["type"]), (401, &json!("Unauthorized")), "{body}");
        // The same handler without the layer.
        assert_eq!(service.get("/open", None).await, (200, json!({ "tokenId": null })));

        let metrics = service.metrics().await;
        for (reason, at_least) in [
            ("revoked", 2.0),
            ("not_followed", 1.0),
            ("missing_scope", 1.0),
            ("missing_token", 1.0),
        ] {
            let count = sample(
                &metrics,
                &format!("latchkey_verify_refused_total{{reason=\"{reason}\"}}"),
            );
            assert!(count >= at_least, "{reason}: {count}\n{metrics}");
        }
        let stale = sample(&metrics, "latchkey_verify_refused_total{reason=\"stale\"}");
        assert_eq!(stale, 0.0, "{}", service.log());
        let log = service.log();
        assert!(
            !log.contains(&reader.secret),
            "the reader token is never logged:\n{log}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_application_refuses_all_its_tokens() {
    each_backend(|backend| async move {
        let writer = Server::start(&backend);
        let followed = Server::start(&backend);
        let admin = writer.admin_token.clone();
        let api = &writer.api;
        let app = api.create_application(&admin, "deleted").await;
        let token = token_with(api, &admin, &app, "device", &["device.get"]).await;
        // A user token reads on after the application is gone: its feed says 404.
        let by_user = follower(&followed.api, &admin, &app).await;
        // An application token is deleted with its application: refused.
        let reader = reader_token(api, &admin, &app).await;
        let by_own_token = follower(&followed.api, &reader.secret, &app).await;
        for verifier in [&by_user, &by_own_token] {
            assert_eq!(verdict(verifier, &token.secret).await, Ok(()));
        }

        api.delete(&format!("/applications/{app}"), &admin).await.expect(200);
        until_verdict(&by_user, &token.secret, Err(Refusal::ApplicationDeleted)).await;
        // Its reader refused, the verifier cannot vouch for anything: 503.
        until_verdict(&by_own_token, &token.secret, Err(Refusal::Stale)).await;
    })
    .await;
}

/// `keys list`: the state of `kid`.
fn key_state(database: &str, kid: &str) -> Option<String> {
    run_cli(&["admin", "keys", "list", "--database", database])
        .lines()
        .find_map(|line| {
            line.strip_prefix(kid)
                .map(|rest| rest.split_whitespace().next().unwrap().to_string())
        })
}

fn kid_of(token: &str) -> String {
    common::Jwt::decode(token).header["kid"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_refuses_nothing_and_a_retired_key_is_refused() {
    each_backend(|backend| async move {
        let writer = Server::start(&backend);
        let followed = Server::start(&backend);
        let admin = writer.admin_token.clone();
        let app = writer.api.create_application(&admin, "rotation").await;
        let reader = reader_token(&writer.api, &admin, &app).await;
        let verifier = follower(&followed.api, &reader.secret, &app).await;
        let old = token_with(&writer.api, &admin, &app, "old", &["device.get"]).await;
        let old_kid = kid_of(&old.secret);

        // Clients create tokens and have the verifier check each at once, and
        // the old one, until the new key has signed for a while.
        let stop = Arc::new(AtomicBool::new(false));
        let (checked, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(Mutex::new(Vec::new())));
        let kids = Arc::new(Mutex::new(Vec::new()));
        let mut clients = JoinSet::new();
        for client in 0..2 {
            let (api, admin, app, old) = (writer.api.clone(), admin.clone(), app.clone(), old.clone());
            let (verifier, stop, checked, refused, kids) = (
                verifier.clone(),
                stop.clone(),
                checked.clone(),
                refused.clone(),
                kids.clone(),
            );
            clients.spawn(async move {
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let new = token_with(&api, &admin, &app, &format!("load-{client}-{n}"), &["device.get"]).await;
                    kids.lock().unwrap().push(kid_of(&new.secret));
                    for token in [&new.secret, &old.secret] {
                        checked.fetch_add(1, Ordering::Relaxed);
                        if let Err(refusal) = verdict(&verifier, token).await {
                            refused.lock().unwrap().push(refusal);
                        }
                    }
                }
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let new_kid = run_cli(&["admin", "keys", "rotate", "--database", &backend.url]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while key_state(&backend.url, &new_kid).as_deref() != Some("signing") {
            assert!(Instant::now() < deadline, "the new key never signs");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Past the time every instance signs with the new key.
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        stop.store(true, Ordering::Relaxed);
        while let Some(client) = clients.join_next().await {
            client.expect("a client");
        }
        let kids = kids.lock().unwrap().clone();
        assert!(
            kids.contains(&old_kid) && kids.last() == Some(&new_kid),
            "the load spans the rotation"
        );
        let refused = refused.lock().unwrap().clone();
        assert!(
            refused.is_empty(),
            "{} of {} checks refused, the first {:?}",
            refused.len(),
            checked.load(Ordering::Relaxed),
            refused[0]
        );

        // Retiring the old key refuses its tokens, the reader's too: a
        // verifier needs a reader signed by a key that stays.
        let new = token_with(&writer.api, &admin, &app, "new", &["device.get"]).await;
        let new_reader = reader_token(&writer.api, &admin, &app).await;
        assert_eq!(
            (kid_of(&new.secret), kid_of(&new_reader.secret)),
            (new_kid.clone(), new_kid)
        );
        let renewed = follower(&followed.api, &new_reader.secret, &app).await;
        run_cli(&["admin", "keys", "retire", "--database", &backend.url, "--kid", &old_kid]);
        until_verdict(&renewed, &old.secret, Err(Refusal::BadSignature)).await;
        assert_eq!(verdict(&renewed, &new.secret).await, Ok(()));
        until_verdict(&verifier, &new.secret, Err(Refusal::Stale)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_makes_the_example_fail_closed_until_it_returns() {
    let example = &protected_binary();
    each_backend(|backend| async move {
        let writer = Server::start(&backend);
        let mut followed = Server::start(&backend);
        let admin = writer.admin_token.clone();
        let api = &writer.api;
        let app = api.create_application(&admin, "outage").await;
        let reader = reader_token(api, &admin, &app).await;
        let token = token_with(api, &admin, &app, "device", &["device.get"]).await;
        let service = Protected::start(example, &followed.api.base, &app, &reader.secret);
        service.until_hello(&token.secret, 200).await;

        let address = followed.api.addr.to_string();
        followed.kill();
        // Fail closed once the bound (5 s by default) is up.
        let stopped = Instant::now();
        let deadline = stopped + Duration::from_secs(15);
        let refused = loop {
            let (status, body) = service.get("/hello", Some(&token.secret)).await;
            if status != 200 {
                break (status, body);
            }
            assert!(Instant::now() < deadline, "still accepted without the feed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(refused.0, 503, "{refused:?}");
        assert_eq!(refused.1["type"], "ServiceUnavailable", "{refused:?}");
        assert!(
            stopped.elapsed() >= Duration::from_secs(3),
            "refused before the bound was up"
        );
        let metrics = service.metrics().await;
        assert!(
            sample(&metrics, "latchkey_verify_refused_total{reason=\"stale\"}") >= 1.0,
            "{metrics}"
        );
        service
            .wait_for_log("no good answer from Latchkey's verifier feed")
            .await;

        // The same database on the same address: accepted again.
        let _returned = Server::start_listening(&backend.url, &address, &[]);
        let deadline = Instant::now() + Duration::from_secs(15);
        while service.get("/hello", Some(&token.secret)).await.0 != 200 {
            assert!(
                Instant::now() < deadline,
                "never accepted again; log:\n{}",
                service.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        service.wait_for_log("answers again").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_feed_falls_back_to_introspection_when_asked() {
    each_backend(|backend| async move {
        let writer = Server::start(&backend);
        let followed = Server::start(&backend);
        let admin = writer.admin_token.clone();
        let api = &writer.api;
        let app = api.create_application(&admin, "fallback").await;
        let reader = reader_token(api, &admin, &app).await;
        let token = token_with(api, &admin, &app, "device", &["device.get"]).await;
        let revoked = token_with(api, &admin, &app, "revoked", &["device.get"]).await;
        let falling_back = Verifier::builder(&followed.api.base, &reader.secret)
            .application(id(&app))
            .introspect_when_stale(true)
            .start()
            .unwrap();
        assert!(falling_back.ready(STARTUP).await);
        let refusing = follower(&followed.api, &reader.secret, &app).await;
        api.patch(&token_path(&app, &revoked.id), &admin, &json!({"status": "inactive"}))
            .await
            .expect(200);
        until_verdict(&falling_back, &revoked.secret, Err(Refusal::Revoked)).await;

        // The reader deactivated: the feed refuses it, so it is stale at once.
        let reader_path = token_path(&app, &reader.id);
        api.patch(&reader_path, &admin, &json!({"status": "inactive"}))
            .await
            .expect(200);
        until_verdict(&refusing, &token.secret, Err(Refusal::Stale)).await;
        let before = falling_back.metrics().introspect_fallbacks;
        assert_eq!(verdict(&falling_back, &token.secret).await, Ok(()));
        assert_eq!(verdict(&falling_back, &revoked.secret).await, Err(Refusal::Revoked));
        assert_eq!(falling_back.metrics().introspect_fallbacks, before + 2);

        // Re-activated: both follow the feed again, with no calls.
        api.patch(&reader_path, &admin, &json!({"status": "active"}))
            .await
            .expect(200);
        until_verdict(&refusing, &token.secret, Ok(())).await;
        assert!(falling_back.ready(DEADLINE).await);
        let before = falling_back.metrics().introspect_fallbacks;
        assert_eq!(verdict(&falling_back, &token.secret).await, Ok(()));
        assert_eq!(falling_back.metrics().introspect_fallbacks, before);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_unknown_keys_reread_the_jwks_at_most_once_a_second() {
    each_backend(|backend| async move {
        let server = Server::start(&backend);
        let admin = server.admin_token.clone();
        let app = server.api.create_application(&admin, "unknown keys").await;
        let reader = reader_token(&server.api, &admin, &app).await;
        let token = token_with(&server.api, &admin, &app, "device", &["device.get"]).await;
        let verifier = follower(&server.api, &reader.secret, &app).await;
        let jwks_reads = async || {
            let text = server
                .api
                .request(reqwest::Method::GET, "/metrics", None)
                .send()
                .await
                .unwrap();
            let text = text.text().await.unwrap();
            text.lines()
                .filter(|line| line.starts_with("latchkey_http_requests_total{") && line.contains("jwks"))
                .map(|line| line.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
                .sum::<f64>()
        };

        // The real token under a kid no key has: forged, as far as anyone knows.
        let jwt = common::Jwt::decode(&token.secret);
        let started = Instant::now();
        let before = jwks_reads().await;
        for n in 0..50 {
            let mut header = jwt.header.clone();
            header["kid"] = json!(format!("unknown-{n}"));
            let forged = format!(
                "{}.{}",
                common::b64url(header.to_string()),
                token.secret.split_once('.').unwrap().1
            );
            assert_eq!(verdict(&verifier, &forged).await, Err(Refusal::BadSignature));
        }
        let reads = jwks_reads().await - before;
        let allowed = started.elapsed().as_secs_f64().ceil() + 1.0;
        assert!(
            reads >= 1.0 && reads <= allowed,
            "{reads} JWKS reads in {:?}",
            started.elapsed()
        );
        assert_eq!(verdict(&verifier, &token.secret).await, Ok(()));
    })
    .await;
}
