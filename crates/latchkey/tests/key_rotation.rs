//! Signing-key rotation (`latchkey admin keys …`) on two instances sharing a
//! database: a rotation refuses nothing, a retirement is refused everywhere
//! within a second, and the last key that can sign stays.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use common::{cli, each_backend, run_cli, Api, IssuedToken, Server};
use serde_json::{json, Value};
use tokio::task::JoinSet;

/// The bound within which every instance refuses a retired key's tokens.
const RETIREMENT_BOUND: Duration = Duration::from_secs(1);

/// The `kid` in a token's header.
fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&B64.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_string()
}

/// `keys list` as (kid, state) pairs, oldest first.
fn keys(database: &str) -> Vec<(String, String)> {
    run_cli(&["admin", "keys", "list", "--database", database])
        .lines()
        .skip(1)
        .map(|line| {
            let mut words = line.split_whitespace();
            (words.next().unwrap().to_string(), words.next().unwrap().to_string())
        })
        .collect()
}

/// Waits until `kid` signs, by `keys list`.
async fn until_signing(database: &str, kid: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !keys(database).contains(&(kid.to_string(), "signing".to_string())) {
        assert!(
            Instant::now() < deadline,
            "{kid} never started signing: {:?}",
            keys(database)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn introspects(api: &Api, token: &str) -> u16 {
    api.get("/auth/introspect", token).await.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_refuses_no_token_on_any_instance() {
    each_backend(|backend| async move {
        let first = Server::start(&backend);
        let second = Server::start(&backend);
        let admin = first.admin_token.clone();
        let app = first.api.create_application(&admin, "rotation").await;
        let old_kid = kid_of(&admin);

        // Clients create on one instance and use at once on the other, both
        // ways, before, during and after the rotation.
        let stop = Arc::new(AtomicBool::new(false));
        let (checked, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let kids = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut clients = JoinSet::new();
        for client in 0..4 {
            let (maker, user) = match client % 2 {
                0 => (first.api.clone(), second.api.clone()),
                _ => (second.api.clone(), first.api.clone()),
            };
            let (admin, app, stop, checked, refused, kids) = (
                admin.clone(),
                app.clone(),
                stop.clone(),
                checked.clone(),
                refused.clone(),
                kids.clone(),
            );
            clients.spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let body = json!({"name": format!("rotating-{client}-{n}")});
                    let token = IssuedToken::from_created(&maker.create_token(&admin, &app, &body).await);
                    for api in [&user, &maker] {
                        checked.fetch_add(1, Ordering::Relaxed);
                        if introspects(api, &token.secret).await != 200 {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    kids.lock().unwrap().push(kid_of(&token.secret));
                    n += 1;
                }
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let new_kid = run_cli(&["admin", "keys", "rotate", "--database", &backend.url]);
        until_signing(&backend.url, &new_kid).await;
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        stop.store(true, Ordering::Relaxed);
        while let Some(client) = clients.join_next().await {
            client.expect("a client");
        }

        let kids = kids.lock().unwrap().clone();
        assert!(
            kids.contains(&old_kid) && kids.contains(&new_kid),
            "the load spanned the rotation"
        );
        assert_eq!(kids.last(), Some(&new_kid), "new tokens are signed by the new key");
        assert_eq!(
            refused.load(Ordering::Relaxed),
            0,
            "of {} checks",
            checked.load(Ordering::Relaxed)
        );
        // Tokens of the old key still work everywhere; both keys are published.
        for api in [&first.api, &second.api] {
            assert_eq!(introspects(api, &admin).await, 200);
            let published = api.get("/.well-known/jwks.json", &admin).await.expect(200).to_string();
            assert!(
                published.contains(&old_kid) && published.contains(&new_kid),
                "{published}"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_key_is_refused_by_every_instance_within_a_second() {
    each_backend(|backend| async move {
        let first = Server::start(&backend);
        let second = Server::start(&backend);
        let admin = first.admin_token.clone();
        let app = first.api.create_application(&admin, "retirement").await;
        let old = first.api.new_app_token(&admin, &app, "old").await;
        let old_kid = kid_of(&old.secret);
        // Cached on both instances, so the test sees cached answers go.
        for api in [&first.api, &second.api] {
            for _ in 0..3 {
                assert_eq!(introspects(api, &old.secret).await, 200);
            }
        }

        // The only key that can sign cannot be retired.
        let refused = cli(
            &["admin", "keys", "retire", "--database", &backend.url, "--kid", &old_kid],
            &[],
        );
        assert_eq!(refused.code, Some(1));
        assert!(refused.stderr.contains("last one that can sign"), "{}", refused.stderr);

        let new_kid = run_cli(&["admin", "keys", "rotate", "--database", &backend.url]);
        until_signing(&backend.url, &new_kid).await;
        let fresh_admin = run_cli(&["admin-token", "--database", &backend.url]);
        assert_eq!(kid_of(&fresh_admin), new_kid);
        // The old key may go once the new one has signed for 2 s, when no
        // instance signs with the old one any more.
        tokio::time::sleep(Duration::from_millis(2_000)).await;
        let new = first.api.new_app_token(&fresh_admin, &app, "new").await;
        assert_eq!(kid_of(&new.secret), new_kid, "the server signs with the new key by now");

        let retired = Instant::now();
        let said = run_cli(&["admin", "keys", "retire", "--database", &backend.url, "--kid", &old_kid]);
        assert!(said.starts_with("retired"), "{said}");
        for api in [&first.api, &second.api] {
            while introspects(api, &old.secret).await != 401 {
                assert!(
                    retired.elapsed() < RETIREMENT_BOUND * 5,
                    "the retired key's token is still accepted"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let waited = retired.elapsed();
            assert!(
                waited <= RETIREMENT_BOUND,
                "the retirement took {waited:?} to reach an instance"
            );
            assert_eq!(
                introspects(api, &new.secret).await,
                200,
                "the new key's token still works"
            );
            let published = api
                .get("/.well-known/jwks.json", &new.secret)
                .await
                .expect(200)
                .to_string();
            assert!(
                !published.contains(&old_kid) && published.contains(&new_kid),
                "{published}"
            );
        }
        assert_eq!(
            keys(&backend.url),
            [
                (old_kid.clone(), "retired".to_string()),
                (new_kid.clone(), "signing".to_string())
            ]
        );
        let again = cli(
            &["admin", "keys", "retire", "--database", &backend.url, "--kid", &old_kid],
            &[],
        );
        assert!(again.stderr.contains("retired already"), "{}", again.stderr);
        let audit = common::audit_documents(&backend.url).await;
        assert!(audit
            .iter()
            .any(|entry| entry["requestResource"] == "signingKey" && entry["requestBody"]["kid"] == old_kid.as_str()));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_unknown_keys_reread_the_ring_at_most_once_a_second() {
    each_backend(|backend| async move {
        let server = Server::start(&backend);
        let admin = server.admin_token.clone();
        let reads = || async {
            let metrics = server
                .api
                .request(reqwest::Method::GET, "/metrics", None)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            metrics
                .lines()
                .find_map(|line| line.strip_prefix("latchkey_key_ring_reads_total "))
                .and_then(|count| count.trim().parse::<u64>().ok())
                .expect("the key ring read counter")
        };
        // A well-formed token naming a key nobody has.
        let (_, payload_and_signature) = admin.split_once('.').unwrap();
        let header = B64.encode(r#"{"alg":"EdDSA","typ":"JWT","kid":"no-such-key"}"#);
        let before = reads().await;
        let started = Instant::now();
        for n in 0..200 {
            // Each a different token text, so none is answered from the cache.
            let forged = format!("{header}.{payload_and_signature}{n}");
            assert_eq!(introspects(&server.api, &forged).await, 401);
        }
        let elapsed = started.elapsed();
        let extra = reads().await - before;
        // The periodic re-read (every 500 ms) and at most one more a second.
        let allowed = 2 * (elapsed.as_millis() as u64 / 500 + 1) + 1;
        assert!(extra <= allowed, "{extra} reads in {elapsed:?} (allowed {allowed})");
    })
    .await;
}

/// A kid is base64url, so one in 64 starts with `-`: the command line must
/// take it as the value of `--kid`, not as an option.
#[test]
fn a_kid_starting_with_a_hyphen_is_a_kid() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("keys.db").display());
    let retired = cli(
        &[
            "admin",
            "keys",
            "retire",
            "--database",
            &database,
            "--kid",
            "-S72Yv8Nox",
        ],
        &[],
    );
    assert!(!retired.success);
    assert!(
        retired.stderr.contains("there is no such key"),
        "the kid was not taken as one: {}",
        retired.stderr
    );
}
