//! A `201` means the token survives `kill -9` of the server the next instant
//! (spec section 7).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{each_backend, token_path, tokens_path, IssuedToken, Server};
use serde_json::json;
use tokio::task::JoinSet;

/// Clients creating tokens at the same time.
const WRITERS: usize = 8;
/// Creates each writer attempts at most: far more than happen before the
/// kill, so the kill always lands mid-stream, yet the loop ends by itself.
const CREATES_PER_WRITER: usize = 500;
/// The kill comes once this many creates have been answered `201`.
const KILL_AFTER: usize = 48;
/// How long the writers get to reach `KILL_AFTER`.
const RAMP_LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_created_token_survives_sigkill() {
    each_backend(|backend| async move {
        let mut server = Server::start(&backend);
        let admin = server.admin_token.clone();
        let app = server.api.create_application(&admin, "durable").await;

        let acknowledged: Arc<Mutex<Vec<IssuedToken>>> = Arc::default();
        let mut writers = JoinSet::new();
        for writer in 0..WRITERS {
            let (api, admin, app, acknowledged) =
                (server.api.clone(), admin.clone(), app.clone(), acknowledged.clone());
            writers.spawn(async move {
                for n in 0..CREATES_PER_WRITER {
                    let body = json!({ "name": format!("durable-{writer}-{n:03}") });
                    let request = api
                        .request(reqwest::Method::POST, &tokens_path(&app), Some(&admin))
                        .json(&body);
                    // Once the server is killed, requests fail: the writer is done.
                    let Ok(response) = request.send().await else { return };
                    if response.status() != 201 {
                        return;
                    }
                    // Only a complete 201 body counts as acknowledged.
                    let Ok(body) = response.json().await else { return };
                    acknowledged.lock().unwrap().push(IssuedToken::from_created(&body));
                }
            });
        }

        let ramp = Instant::now();
        while acknowledged.lock().unwrap().len() < KILL_AFTER {
            assert!(
                ramp.elapsed() < RAMP_LIMIT,
                "the writers did not get {KILL_AFTER} creates through"
            );
            assert!(
                !writers.is_empty(),
                "every writer stopped before the kill:\n{}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
            while writers.try_join_next().is_some() {}
        }
        server.kill();
        while let Some(writer) = writers.join_next().await {
            writer.expect("a writer task");
        }
        let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
        assert!(acknowledged.len() >= KILL_AFTER);
        assert!(
            acknowledged.len() < WRITERS * CREATES_PER_WRITER,
            "the writers finished before the kill, so it was not mid-stream"
        );

        let restarted = Server::start(&backend);
        let api = &restarted.api;
        for token in &acknowledged {
            let reply = api.get(&token_path(&app, &token.id), &admin).await;
            assert_eq!(
                reply.status, 200,
                "token {} got a 201 but was lost: {reply:?}",
                token.id
            );
            assert!(
                api.authenticates(&token.secret).await,
                "{token:?} got a 201 but does not authenticate"
            );
        }
        let listing = api.get(&tokens_path(&app), &admin).await;
        let total = listing.expect(200)["totalCount"].as_u64().unwrap();
        assert!(
            total >= acknowledged.len() as u64,
            "{total} listed, {} acknowledged",
            acknowledged.len()
        );
    })
    .await;
}
