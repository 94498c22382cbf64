//! A bounded sweep of odd paths, query strings, headers and bodies: nothing a
//! client sends produces a 5xx, and every error is JSON `{type, message}`
//! (spec section 2). Where the spec or a recorded choice fixes the status,
//! the sweep checks it too.

mod common;

use common::{each_server, percent_encode, token_path, tokens_path, Body};
use reqwest::Method;

/// One request of the sweep and, when known, the status it must get.
struct Probe {
    method: Method,
    target: String,
    body: Option<Vec<u8>>,
    expect: Option<u16>,
}

fn probe(method: Method, target: impl Into<String>, expect: Option<u16>) -> Probe {
    Probe {
        method,
        target: target.into(),
        body: None,
        expect,
    }
}

fn get(target: impl Into<String>, expect: Option<u16>) -> Probe {
    probe(Method::GET, target, expect)
}

/// `unit` repeated to 48 KiB: long enough to stress parsers and SQL, short
/// enough to stay under HTTP's practical 64 KiB limit on a request target.
fn long(unit: &str) -> String {
    unit.repeat(48 * 1024 / unit.len())
}

/// `unit` repeated as often as fits in a query value of 60 000 bytes once
/// percent-encoded (as much as the request target can carry).
fn long_query_value(unit: &str) -> String {
    let encoded = percent_encode(unit);
    encoded.repeat(60_000 / encoded.len())
}

/// Query strings for a token listing, with the status each must get.
fn list_queries() -> Vec<(String, Option<u16>)> {
    let ok = Some(200);
    let bad = Some(400);
    let mut queries: Vec<(String, Option<u16>)> = vec![
        ("page=18446744073709551615".into(), ok),
        (
            "page=18446744073709551615&perPage=1000&sortField=expirationDate&sortDirection=desc".into(),
            ok,
        ),
        ("page=18446744073709551616".into(), bad),
        ("page=99999999999999999999999999999999".into(), bad),
        ("page=-1".into(), bad),
        ("page=1e3".into(), bad),
        ("page=0x10".into(), bad),
        ("page=%2B1".into(), bad),
        ("page=%201".into(), bad),
        ("page=".into(), bad),
        ("page=%00".into(), bad),
        ("page=%EF%BC%91".into(), bad), // a fullwidth digit one
        ("perPage=0".into(), bad),
        ("perPage=1001".into(), bad),
        ("perPage=1".into(), ok),
        ("perPage=1000".into(), ok),
        ("perPage=18446744073709551616".into(), bad),
        ("perPage=-0".into(), bad),
        ("sortField=".into(), bad),
        ("sortField=NAME".into(), bad),
        ("sortField=name%00".into(), bad),
        ("sortField=name&sortField=id".into(), bad),
        ("page=0&page=0".into(), bad),
        ("sortDirection=DeSc".into(), ok),
        ("sortDirection=".into(), ok),
        ("sortDirection=sideways".into(), bad),
        ("filterField=description&filter=x".into(), bad),
        ("filterField=&filter=x".into(), ok),
        ("filterField=name&filter=".into(), ok),
        ("filterField=name&filter=%00".into(), ok),
        ("filterField=name&filter=%FF%FE%C0%AF".into(), ok),
        ("filterField=name&filter=%ZZ%G%".into(), ok),
        ("filterField=name&filter=%25%5F%5C%5B%3F".into(), ok),
        ("filterField=status&filter=ACT*".into(), ok),
        ("_actions=false&_links=true&_embedded=true".into(), ok),
        ("unknown=1&%00=%00&=&&&".into(), ok),
        ("%FF=%FF".into(), ok),
    ];
    // The spec sets no longest glob: a very long one may be answered with
    // matches or refused, as long as it is not a 5xx.
    for unit in ["a", "*", "*a", "%", "_", "\\", "é", "🦀"] {
        queries.push((format!("filterField=name&filter={}", long_query_value(unit)), None));
    }
    // `*` needs no escaping in a query, so this glob is 60 000 bytes of
    // wildcards and letters: no literal prefix narrows the rows it must scan.
    queries.push((format!("filterField=name&filter={}", "*a".repeat(30_000)), None));
    queries.push((format!("sortField={}", long_query_value("x")), bad));
    queries.push((format!("page={}", long_query_value("9")), bad));
    queries.push((format!("unknown={}", long_query_value("\u{fffd}")), ok));
    queries
}

/// Paths that are not quite right.
fn odd_paths(app: &str, token_id: &str) -> Vec<(String, Option<u16>)> {
    let upper = app.to_uppercase();
    vec![
        (format!("/applications/{upper}/tokens"), Some(200)),
        (token_path(&upper, &token_id.to_uppercase()), Some(200)),
        (format!("/applications/{app}0/tokens"), Some(400)),
        (format!("/applications/{}/tokens", &app[1..]), Some(400)),
        (format!("/applications/{}g/tokens", &app[1..]), Some(400)),
        ("/applications/%00/tokens".into(), Some(400)),
        (format!("/applications/{}%00/tokens", &app[1..]), Some(400)),
        ("/applications/%FF%FE/tokens".into(), Some(400)),
        ("/applications/%C0%AF/tokens".into(), Some(400)),
        ("/applications/%ZZ/tokens".into(), Some(400)),
        ("/applications/%/tokens".into(), Some(400)),
        (format!("/applications/{}/tokens", long("a")), Some(400)),
        (token_path(app, "%00"), Some(400)),
        (token_path(app, &long("f")), Some(400)),
        (format!("/applications/{app}/tokens/"), None),
        (format!("/applications/{app}/tokens//"), None),
        (format!("/applications/{app}/tokens/{token_id}/extra"), Some(404)),
        (format!("/applications/{app}/../{app}/tokens"), None),
        (format!("//applications/{app}/tokens"), None),
        ("/applications/%2e%2e/tokens".into(), None),
        (format!("/{}", long("x")), Some(404)),
        ("/%00".into(), Some(404)),
        ("/%FF".into(), Some(404)),
    ]
}

/// Bodies for a token POST beyond the ones tests/bodies.rs checks.
fn odd_bodies() -> Vec<(Vec<u8>, Option<u16>)> {
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    vec![
        (nested.into_bytes(), Some(400)),
        (deep_object.into_bytes(), Some(400)),
        (br#"{"name": "\ud800"}"#.to_vec(), Some(400)),
        (br#"{"name": "a\u0000b"}"#.to_vec(), None),
        (b"{\"name\": \"\xff\xfe\"}".to_vec(), Some(400)),
        (b"\xef\xbb\xbf{\"name\": \"bom\"}".to_vec(), None),
        (br#"{"name": "x", "name": "y"}"#.to_vec(), None),
        (br#"{"name": "x", "description": 1e999}"#.to_vec(), Some(400)),
        (
            br#"{"name": "x", "scope": [], "status": "inactive"}"#.to_vec(),
            Some(400),
        ),
        (
            br#"{"name": "x", "scope": ["all.Application", "all.Application"]}"#.to_vec(),
            Some(400),
        ),
        (br#"{"name": "x", "scope": ["all.User"]}"#.to_vec(), Some(400)),
        (br#"{"name": "x", "scope": ["nonsense.*"]}"#.to_vec(), Some(400)),
        (
            br#"{"name": "x", "expirationDate": "2001-01-01T00:00:00.000Z"}"#.to_vec(),
            Some(400),
        ),
        (
            br#"{"name": "x", "expirationDate": "99999-01-01T00:00:00.000Z"}"#.to_vec(),
            None,
        ),
        (
            br#"{"name": "x", "expirationDate": "2099-02-30T00:00:00.000Z"}"#.to_vec(),
            Some(400),
        ),
        (br#"{"name": "x", "expirationDate": ""}"#.to_vec(), Some(400)),
        (
            format!(r#"{{"name": "x", "{}": 1}}"#, long("k")).into_bytes(),
            Some(400),
        ),
        (
            format!(r#"{{"name": "x", "scope": ["{}"]}}"#, long("s")).into_bytes(),
            Some(400),
        ),
        (
            format!(r#"{{"name": "x", "expirationDate": "{}"}}"#, long("9")).into_bytes(),
            Some(400),
        ),
        (vec![0u8; 1024], Some(400)),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_requests_never_get_a_5xx_and_errors_are_json() {
    each_server(|server| async move {
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "odd requests").await;
        // Tokens with names, so that filters and sorts have rows to work on.
        let token = api.new_app_token(admin, &app, &"a".repeat(255)).await;
        for name in ["%_\\[?", "é🦀", "x"] {
            api.new_app_token(admin, &app, name).await;
        }

        let mut probes = Vec::new();
        for (query, expect) in list_queries() {
            probes.push(get(format!("{}?{query}", tokens_path(&app)), expect));
            // The application listing shares the parsing but not every value.
            probes.push(get(format!("/applications?{query}"), None));
        }
        for (path, expect) in odd_paths(&app, &token.id) {
            probes.push(get(path, expect));
        }
        for (body, expect) in odd_bodies() {
            probes.push(Probe {
                body: Some(body),
                ..probe(Method::POST, tokens_path(&app), expect)
            });
        }
        let token_target = token_path(&app, &token.id);
        for method in [Method::PUT, Method::POST] {
            probes.push(probe(method, token_target.clone(), Some(405)));
        }
        probes.push(probe(Method::PUT, tokens_path(&app), Some(405)));
        // PATCH and DELETE on the collection are bulk revocations (spec 1.5),
        // refused without a filter that narrows them.
        for method in [Method::DELETE, Method::PATCH] {
            probes.push(probe(method, tokens_path(&app), Some(400)));
        }
        probes.push(probe(Method::OPTIONS, "/auth/introspect", None));
        probes.push(probe(Method::HEAD, tokens_path(&app), None));
        probes.push(probe(Method::from_bytes(b"BREW").unwrap(), tokens_path(&app), None));
        for query in [
            "applicationId=x&action=y",
            "applicationId=",
            "action=a.b",
            &format!("applicationId={app}&action=%00"),
        ] {
            probes.push(get(format!("/auth/introspect?{query}"), Some(400)));
        }

        // Every probe runs; the failure then lists all that went wrong.
        let mut problems = Vec::new();
        for probe in probes {
            let body = match probe.body {
                Some(bytes) => Body::Raw(bytes, Some("application/json")),
                None => Body::None,
            };
            let reply = api.call(probe.method.clone(), &probe.target, Some(admin), body).await;
            let result = if probe.method == Method::HEAD {
                // A HEAD reply has no body to check.
                (reply.status < 500).then_some(()).ok_or_else(|| "a 5xx".to_string())
            } else {
                reply.well_formed()
            };
            let result = result.and_then(|()| match probe.expect {
                Some(status) if status != reply.status => Err(format!("expected {status}")),
                _ => Ok(()),
            });
            if let Err(problem) = result {
                problems.push(format!("{problem}: {reply:?}"));
            }
        }
        assert!(
            problems.is_empty(),
            "{} odd requests went wrong:\n{}",
            problems.len(),
            problems.join("\n")
        );

        // The server still answers.
        api.get(&tokens_path(&app), admin).await.expect(200);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_bytes_no_client_would_send_get_json_answers() {
    each_server(|server| async move {
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "raw").await;
        let host = api.addr;
        let request = |head: &[u8]| {
            let mut bytes = head.to_vec();
            bytes.extend_from_slice(format!("\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes());
            bytes
        };
        let with_auth = |path: &[u8], auth: &[u8]| {
            let mut head = b"GET ".to_vec();
            head.extend_from_slice(path);
            head.extend_from_slice(b" HTTP/1.1\r\nAuthorization: ");
            head.extend_from_slice(auth);
            request(&head)
        };
        let bearer = format!("Bearer {admin}");
        let list = tokens_path(&app);

        // Valid HTTP that reaches the application: JSON answers.
        let odd_but_valid: Vec<(Vec<u8>, u16)> = vec![
            // Header values may carry bytes that are not UTF-8 (obs-text).
            (with_auth(list.as_bytes(), b"Bearer \xff\xfe\xfd"), 401),
            (with_auth(list.as_bytes(), b"\xc0\xaf"), 401),
            (with_auth(list.as_bytes(), format!("Bearer\t{admin}").as_bytes()), 200),
            // Unknown routes are 404 even without a token.
            (request(b"GET /nowhere HTTP/1.1"), 404),
            (request(b"GET /applications HTTP/1.1"), 401),
            (request(b"GET /applications HTTP/1.0"), 401),
        ];
        for (bytes, status) in odd_but_valid {
            let reply = api.raw(bytes).await;
            reply.expect_well_formed();
            assert_eq!(reply.status, status, "{reply:?}");
        }

        // A request target with raw bytes over 0x7e is not HTTP (RFC 9112
        // 3.2): the HTTP parser refuses it before any route runs, so no JSON
        // is promised, but it must still be a client error, not a 5xx.
        let not_http = [
            with_auth(b"/applications/\xff\xfe/tokens", bearer.as_bytes()),
            with_auth(&[list.as_bytes(), b"?page=\xff"].concat(), bearer.as_bytes()),
        ];
        for bytes in not_http {
            let reply = api.raw(bytes).await;
            assert!((400..500).contains(&reply.status), "{reply:?}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_official_clients_send_is_accepted() {
    each_server(|server| async move {
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "clients").await;
        let token = api.new_app_token(admin, &app, "client").await;
        // The Python client's query parameters and the headers both clients send.
        let with_client_headers = |method: Method, target: &str| {
            api.request(
                method,
                &format!("{target}?_actions=false&_links=true&_embedded=true"),
                Some(admin),
            )
            .header("Accept-Version", "^1.31.0")
            .header("losantdomain", "example.losant.com")
        };
        for target in [
            tokens_path(&app),
            token_path(&app, &token.id),
            "/auth/introspect".to_string(),
        ] {
            api.send(with_client_headers(Method::GET, &target)).await.expect(200);
        }
        // A body on GET is ignored, whatever it holds.
        let get_with_body = with_client_headers(Method::GET, &tokens_path(&app)).body("{not json");
        api.send(get_with_body).await.expect(200);
        // The npm client sends `{}` with every DELETE; it is ignored.
        let delete = with_client_headers(Method::DELETE, &token_path(&app, &token.id))
            .header("Content-Type", "application/json")
            .body("{}");
        assert_eq!(
            api.send(delete).await.expect(200),
            &serde_json::json!({ "success": true })
        );
    })
    .await;
}
