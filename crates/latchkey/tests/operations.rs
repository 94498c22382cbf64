//! What operators rely on: `/health` and `/ready`, Prometheus metrics at
//! `/metrics`, request ids in responses and logs, logs free of tokens, and a
//! SIGTERM that lets the request in flight finish.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use common::{each_backend, each_server, id_of, token_path, tokens_path, Api, Body, IssuedToken, Reply, Server};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a server gets to show what a test waits for (a log line, a
/// request in flight, its own exit).
const WAIT_LIMIT: Duration = Duration::from_secs(20);
/// How long the request in flight at SIGTERM is held before it is let finish.
const HOLD_AFTER_SIGTERM: Duration = Duration::from_secs(1);

const INTROSPECT_ROUTE: &str = "/auth/introspect";
const TOKEN_ROUTE: &str = "/applications/{applicationId}/tokens/{apiTokenId}";
const REQUESTS: &str = "latchkey_http_requests_total";
const DURATION: &str = "latchkey_http_request_duration_seconds";
const AUTH_FAILURES: &str = "latchkey_auth_failures_total";
const CACHE_HITS: &str = "latchkey_auth_cache_hits_total";
const CACHE_MISSES: &str = "latchkey_auth_cache_misses_total";
const IN_FLIGHT: &str = "latchkey_http_requests_in_flight";

/// The latency buckets the README documents, in seconds.
const LATENCY_BUCKETS: [f64; 16] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

// ---------------------------------------------------------------------------
// Reading /metrics

/// One sample line of the text exposition format: `name{label="value",…} value`.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// One read of `/metrics`.
struct Scrape {
    samples: Vec<Sample>,
    text: String,
}

impl Scrape {
    async fn take(api: &Api) -> Scrape {
        let reply = api.call(Method::GET, "/metrics", None, Body::None).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        let content_type = reply.content_type.as_deref().unwrap_or_default();
        assert!(content_type.starts_with("text/plain"), "{reply:?}");
        let samples = reply
            .text
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| parse_sample(line).unwrap_or_else(|| panic!("not a sample line: {line:?}")))
            .collect();
        Scrape {
            samples,
            text: reply.text,
        }
    }

    /// The sample with exactly these labels; 0 when there is none (a series
    /// appears only once it has counted something).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        let mut found = self
            .samples
            .iter()
            .filter(|sample| sample.name == name && sample.labels == wanted);
        let value = found.next().map_or(0.0, |sample| sample.value);
        assert!(
            found.next().is_none(),
            "{name} {labels:?} appears twice in:\n{}",
            self.text
        );
        value
    }

    /// Every value label `label` takes in samples of `name`.
    fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        let mut values: Vec<String> = self
            .samples
            .iter()
            .filter(|sample| sample.name == name)
            .filter_map(|sample| sample.labels.get(label).cloned())
            .collect();
        values.sort();
        values.dedup();
        values
    }

    /// The `_bucket` samples of histogram `name` with these labels, as
    /// (upper bound, cumulative count), by bound.
    fn buckets(&self, name: &str, labels: &[(&str, &str)]) -> Vec<(f64, f64)> {
        let bucket_name = format!("{name}_bucket");
        let mut buckets: Vec<(f64, f64)> = self
            .samples
            .iter()
            .filter(|sample| sample.name == bucket_name)
            .filter(|sample| {
                sample.labels.len() == labels.len() + 1
                    && labels
                        .iter()
                        .all(|(key, value)| sample.labels.get(*key).map(String::as_str) == Some(*value))
            })
            .map(|sample| {
                let bound = match sample.labels["le"].as_str() {
                    "+Inf" => f64::INFINITY,
                    bound => bound.parse().expect("a numeric bucket bound"),
                };
                (bound, sample.value)
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        buckets
    }
}

/// `name{key="value",…} value` or `name value`; label values may contain
/// `{`, `}` and `,` (route templates do) and the escapes `\\`, `\"`, `\n`.
fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_string();
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(mut inner) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = inner.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after_key) = inner.split_once("=\"")?;
            let mut value = String::new();
            let mut chars = after_key.char_indices();
            let after_value = loop {
                match chars.next()? {
                    (_, '\\') => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        escaped => value.push(escaped),
                    },
                    (at, '"') => break &after_key[at + 1..],
                    (_, other) => value.push(other),
                }
            };
            labels.insert(key.trim_start_matches(',').to_string(), value);
            inner = after_value.strip_prefix(',').unwrap_or(after_value);
        }
    }
    let value = rest.trim().parse().ok()?;
    Some(Sample { name, labels, value })
}

// ---------------------------------------------------------------------------
// Helpers

async fn get_without_token(api: &Api, target: &str) -> Reply {
    api.call(Method::GET, target, None, Body::None).await
}

fn introspect_target(application: &str) -> String {
    format!("/auth/introspect?applicationId={application}&action=applicationApiTokens.get")
}

/// A request with `Authorization` set to exactly this value.
async fn with_authorization(api: &Api, target: &str, authorization: &str) -> Reply {
    api.send(
        api.request(Method::GET, target, None)
            .header(reqwest::header::AUTHORIZATION, authorization),
    )
    .await
}

/// RFC 3339 with milliseconds, as the API takes dates.
fn api_date(at: SystemTime) -> String {
    DateTime::<Utc>::from(at).to_rfc3339_opts(SecondsFormat::Millis, true)
}

// ---------------------------------------------------------------------------
// /health and /ready

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_ready_answer_without_a_token() {
    each_server(|server| async move {
        let health = get_without_token(&server.api, "/health").await;
        assert_eq!(health.expect(200), &json!({"success": true}));
        let ready = get_without_token(&server.api, "/ready").await;
        assert_eq!(ready.expect(200), &json!({"ready": true}));
    })
    .await;
}

// ---------------------------------------------------------------------------
// /metrics

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_counted_by_route_template_method_and_status() {
    each_server(|server| async move {
        let api = &server.api;
        let admin = &server.admin_token;
        let app = api.create_application(admin, "metered").await;
        let token = api.new_app_token(admin, &app, "introspected").await;
        let before = Scrape::take(api).await;

        for _ in 0..3 {
            api.get(&introspect_target(&app), &token.secret).await.expect(200);
        }
        for _ in 0..2 {
            api.get(&token_path(&app, &token.id), admin).await.expect(200);
        }
        api.get(&token_path(&app, "not-an-id"), admin)
            .await
            .expect_error(400, "Validation");
        get_without_token(api, "/no/such/route/5f0000000000000000000000")
            .await
            .expect_error(404, "NotFound");
        let teapot = Method::from_bytes(b"BREW").unwrap();
        api.call(teapot, "/health", None, Body::None)
            .await
            .expect_error(405, "MethodNotAllowed");

        let after = Scrape::take(api).await;
        let rose = |labels: &[(&str, &str)]| after.value(REQUESTS, labels) - before.value(REQUESTS, labels);
        for (route, method, status, requests) in [
            (INTROSPECT_ROUTE, "GET", "200", 3.0),
            (TOKEN_ROUTE, "GET", "200", 2.0),
            (TOKEN_ROUTE, "GET", "400", 1.0),
            ("unmatched", "GET", "404", 1.0),
            ("/health", "other", "405", 1.0),
        ] {
            let labels = [("route", route), ("method", method), ("status", status)];
            assert_eq!(rose(&labels), requests, "{labels:?}");
        }

        // Labels name templates, never what the client put in the path.
        let routes = after.label_values(REQUESTS, "route");
        for route in &routes {
            assert!(
                route == "unmatched"
                    || route.starts_with('/') && !route.contains("5f00") && !route.contains("not-an-id"),
                "a route label from a raw path: {route:?} (all: {routes:?})"
            );
        }
        for id in [&app, &token.id] {
            assert!(!after.text.contains(id.as_str()), "an id in /metrics:\n{}", after.text);
        }
        let methods = after.label_values(REQUESTS, "method");
        assert!(!methods.iter().any(|method| method == "BREW"), "{methods:?}");

        // The latency histogram of the introspections.
        let introspect = [("route", INTROSPECT_ROUTE), ("method", "GET")];
        let count = format!("{DURATION}_count");
        assert_eq!(
            after.value(&count, &introspect) - before.value(&count, &introspect),
            3.0
        );
        let sum = format!("{DURATION}_sum");
        assert!(after.value(&sum, &introspect) > before.value(&sum, &introspect));
        let buckets = after.buckets(DURATION, &introspect);
        let bounds: Vec<f64> = buckets.iter().map(|(bound, _)| *bound).collect();
        let mut expected_bounds = LATENCY_BUCKETS.to_vec();
        expected_bounds.push(f64::INFINITY);
        assert_eq!(bounds, expected_bounds);
        assert!(
            buckets.windows(2).all(|pair| pair[0].1 <= pair[1].1),
            "buckets are cumulative: {buckets:?}"
        );
        let everything = |scrape: &Scrape| {
            scrape
                .buckets(DURATION, &introspect)
                .last()
                .map_or(0.0, |bucket| bucket.1)
        };
        assert_eq!(everything(&after) - everything(&before), 3.0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_failures_are_counted_by_reason() {
    each_server(|server| async move {
        let api = &server.api;
        let admin = &server.admin_token;
        let app = api.create_application(admin, "refusals").await;
        let deleted = api.new_app_token(admin, &app, "deleted").await;
        api.delete(&token_path(&app, &deleted.id), admin).await.expect(200);
        let inactive = api.new_app_token(admin, &app, "inactive").await;
        api.patch(&token_path(&app, &inactive.id), admin, &json!({"status": "inactive"}))
            .await
            .expect(200);
        let expires_at = SystemTime::now() + Duration::from_secs(2);
        let expiring = IssuedToken::from_created(
            &api.create_token(
                admin,
                &app,
                &json!({"name": "expiring", "expirationDate": api_date(expires_at)}),
            )
            .await,
        );
        let mut forged = deleted.secret.clone();
        forged.push('x');
        // Past the expiry by a margin, so the refusal cannot be for anything else.
        let wait = expires_at.duration_since(SystemTime::now()).unwrap_or_default() + Duration::from_millis(300);
        tokio::time::sleep(wait).await;

        let before = Scrape::take(api).await;
        let target = introspect_target(&app);
        let refusals: [(&str, Option<String>); 7] = [
            ("missing_header", None),
            ("malformed_header", Some(format!("Basic {}", inactive.secret))),
            ("bad_signature", Some(format!("Bearer {forged}"))),
            ("unknown_token", Some(format!("Bearer {}", deleted.secret))),
            // Again: this time the refusal comes from the cache, with its reason.
            ("unknown_token", Some(format!("Bearer {}", deleted.secret))),
            ("inactive", Some(format!("Bearer {}", inactive.secret))),
            ("expired", Some(format!("Bearer {}", expiring.secret))),
        ];
        for (reason, authorization) in &refusals {
            let reply = match authorization {
                None => get_without_token(api, &target).await,
                Some(authorization) => with_authorization(api, &target, authorization).await,
            };
            assert_eq!(reply.status, 401, "{reason}: {reply:?}");
        }

        let after = Scrape::take(api).await;
        let mut reasons: Vec<&str> = refusals.iter().map(|(reason, _)| *reason).collect();
        reasons.dedup();
        for reason in reasons {
            let expected = refusals.iter().filter(|(counted, _)| *counted == reason).count() as f64;
            let labels = [("reason", reason)];
            assert_eq!(
                after.value(AUTH_FAILURES, &labels) - before.value(AUTH_FAILURES, &labels),
                expected,
                "{reason}"
            );
        }
        let unauthorized = [("route", INTROSPECT_ROUTE), ("method", "GET"), ("status", "401")];
        assert_eq!(
            after.value(REQUESTS, &unauthorized) - before.value(REQUESTS, &unauthorized),
            refusals.len() as f64
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_cache_hits_and_misses_are_counted() {
    each_backend(|backend| async move {
        // Nothing goes stale during the test, so every repeat is a hit.
        let server = Server::start_with_env(&backend, &[("LATCHKEY_AUTH_CACHE_TTL_MS", "3600000")]);
        let api = &server.api;
        let app = api.create_application(&server.admin_token, "cached").await;
        let token = api.new_app_token(&server.admin_token, &app, "cached").await;

        let before = Scrape::take(api).await;
        for _ in 0..4 {
            api.get(&introspect_target(&app), &token.secret).await.expect(200);
        }
        let after = Scrape::take(api).await;
        let rose = |name: &str| after.value(name, &[]) - before.value(name, &[]);
        assert_eq!(rose(CACHE_MISSES), 1.0, "the first use reads the database");
        assert_eq!(rose(CACHE_HITS), 3.0, "the repeats do not");
        assert_eq!(after.value("latchkey_tokens_created_total", &[]), 1.0);
    })
    .await;
}

// ---------------------------------------------------------------------------
// Request ids and logs

/// The `x-request-id` of the response to `GET /health`, sending `sent` when given.
async fn health_request_id(api: &Api, sent: Option<&str>) -> String {
    let mut request = api.request(Method::GET, "/health", None);
    if let Some(id) = sent {
        request = request.header("x-request-id", id);
    }
    let response = request.send().await.expect("an answer from /health");
    assert_eq!(response.status(), 200);
    let id = response.headers().get("x-request-id").expect("an x-request-id");
    id.to_str().expect("a readable id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_a_request_id_and_echoes_the_clients() {
    each_server(|server| async move {
        let api = &server.api;
        let fresh = health_request_id(api, None).await;
        assert_eq!(fresh.len(), 32, "{fresh}");
        assert!(fresh.bytes().all(|byte| byte.is_ascii_hexdigit()), "{fresh}");
        assert_ne!(health_request_id(api, None).await, fresh, "ids are fresh per request");

        assert_eq!(
            health_request_id(api, Some("client-chosen.id:42")).await,
            "client-chosen.id:42"
        );
        let too_long = "x".repeat(129);
        let replaced = health_request_id(api, Some(&too_long)).await;
        assert_eq!(replaced.len(), 32, "an unusable id is replaced: {replaced}");

        // Errors carry one too, also for routes that do not exist.
        let unknown = api.request(Method::GET, "/nowhere", None).send().await.unwrap();
        assert_eq!(unknown.status(), 404);
        assert!(unknown.headers().contains_key("x-request-id"));
    })
    .await;
}

/// The request ids in a JSON log line's spans.
fn request_ids_of(line: &Value) -> Vec<&str> {
    let spans = line["spans"].as_array().map(Vec::as_slice).unwrap_or_default();
    spans
        .iter()
        .chain(std::iter::once(&line["span"]))
        .filter_map(|span| span["request_id"].as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_request_ids_and_never_a_token() {
    each_backend(|backend| async move {
        let server = Server::start_with_env(&backend, &[("LATCHKEY_LOG", "trace"), ("LATCHKEY_LOG_FORMAT", "json")]);
        let api = &server.api;
        let admin = &server.admin_token;

        // Traffic that handles tokens every way: created, used, refused, changed, deleted.
        let app = api.create_application(admin, "logged").await;
        let token = api.new_app_token(admin, &app, "logged").await;
        let client_id = "operations-test-client-id";
        let reply = api
            .send(
                api.request(Method::GET, &introspect_target(&app), Some(&token.secret))
                    .header("x-request-id", client_id),
            )
            .await;
        reply.expect(200);
        let mut forged = token.secret.clone();
        forged.push('x');
        api.get("/auth/introspect", &forged)
            .await
            .expect_error(401, "Unauthorized");
        with_authorization(api, "/auth/introspect", &format!("Basic {}", token.secret))
            .await
            .expect_error(401, "Unauthorized");
        api.patch(&token_path(&app, &token.id), admin, &json!({"status": "inactive"}))
            .await
            .expect(200);
        api.get("/auth/introspect", &token.secret)
            .await
            .expect_error(401, "Unauthorized");
        api.delete(&token_path(&app, &token.id), admin).await.expect(200);
        api.get(&tokens_path(&app), admin).await.expect(200);
        let server_id = health_request_id(api, None).await;
        // Lines are written before their response is sent, in order, so once
        // the last request's line is read, every earlier one is too.
        let last_id = health_request_id(api, Some("operations-test-last")).await;
        server.wait_for_log(&last_id, WAIT_LIMIT);
        let log = server.log();

        let mut ids_seen = Vec::new();
        for line in log.lines().filter(|line| !line.starts_with("latchkey: ")) {
            let parsed: Value =
                serde_json::from_str(line).unwrap_or_else(|error| panic!("not a JSON log line ({error}): {line}"));
            assert!(parsed.is_object() && parsed["level"].is_string(), "{line}");
            ids_seen.extend(request_ids_of(&parsed).into_iter().map(str::to_string));
        }
        for id in [client_id, &server_id] {
            assert!(
                ids_seen.iter().any(|seen| seen == id),
                "no line in request {id}:\n{log}"
            );
        }

        // No token, nor the payload (its random nonce) or signature of one:
        // not the issued token, not its forgery, and not the admin's outside
        // the one banner line that shows it on first start.
        let secret_parts = |token: &str| -> Vec<String> { token.split('.').skip(1).map(str::to_string).collect() };
        for part in secret_parts(&token.secret).iter().chain(&secret_parts(&forged)) {
            assert!(!log.contains(part.as_str()), "a token in the log:\n{log}");
        }
        for line in log.lines().filter(|line| !line.starts_with("latchkey: admin token: ")) {
            for part in secret_parts(admin) {
                assert!(!line.contains(&part), "the admin token in the log: {line}");
            }
        }
    })
    .await;
}

// ---------------------------------------------------------------------------
// SIGTERM

/// Whether a line of the text log is at WARN or ERROR: `<time> <LEVEL> <target>: …`.
fn is_warning_or_error(line: &str) -> bool {
    matches!(line.split_whitespace().nth(1), Some("WARN" | "ERROR"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_request_in_flight_finish_then_exits_0() {
    each_backend(|backend| async move {
        let mut server = Server::start(&backend);
        let app = server.api.create_application(&server.admin_token, "draining").await;

        // A create whose body is sent but for its last byte: the request is
        // in its handler, waiting, for as long as the test likes.
        let body = br#"{"name": "in flight at SIGTERM"}"#;
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            tokens_path(&app),
            server.api.addr,
            server.admin_token,
            body.len()
        );
        let mut held = tokio::net::TcpStream::connect(server.api.addr)
            .await
            .expect("connecting");
        held.write_all(head.as_bytes()).await.unwrap();
        held.write_all(&body[..body.len() - 1]).await.unwrap();

        // In flight: the held request, and the scrape asking.
        let waiting_since = std::time::Instant::now();
        while Scrape::take(&server.api).await.value(IN_FLIGHT, &[]) < 2.0 {
            assert!(
                waiting_since.elapsed() < WAIT_LIMIT,
                "the held request never reached a handler"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        server.terminate();
        server.wait_for_log("shutting down", WAIT_LIMIT);
        // However long the request takes, the server waits for it.
        tokio::time::sleep(HOLD_AFTER_SIGTERM).await;
        assert!(server.is_running(), "the server exited with a request in flight");
        held.write_all(&body[body.len() - 1..]).await.unwrap();
        let mut response = Vec::new();
        tokio::time::timeout(WAIT_LIMIT, held.read_to_end(&mut response))
            .await
            .expect("the held request is answered after SIGTERM")
            .expect("reading the answer");
        let reply = Reply::parse_raw("POST (held over SIGTERM)".into(), &response);
        let created = reply.expect(201);
        assert_eq!(created["name"], "in flight at SIGTERM");

        let status = server.wait_for_exit(WAIT_LIMIT);
        assert_eq!(status.code(), Some(0), "{status:?}; log:\n{}", server.log());
        let log = server.log();
        let loud: Vec<&str> = log.lines().filter(|line| is_warning_or_error(line)).collect();
        assert!(loud.is_empty(), "a clean shutdown logged:\n{}", loud.join("\n"));

        // And what it answered was done: the token is there after a restart.
        let restarted = Server::start(&backend);
        let reread = restarted
            .api
            .get(&token_path(&app, &id_of(created)), &restarted.admin_token)
            .await;
        assert_eq!(reread.expect(200)["name"], "in flight at SIGTERM");
    })
    .await;
}
