//! Many creates at the same instant: none lost, none doubled, all usable.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{each_server, tokens_path, IssuedToken};
use serde_json::json;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

const CREATES: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_concurrent_creates_all_land_exactly_once() {
    each_server(|server| async move {
        let api = &server.api;
        let admin = &server.admin_token;
        let app = api.create_application(admin, "concurrent").await;

        // Every task waits at the barrier, so the requests leave together
        // and reach the server while the others are still being handled.
        let barrier = Arc::new(Barrier::new(CREATES));
        let mut creates = JoinSet::new();
        for n in 0..CREATES {
            let (api, admin, app, barrier) = (api.clone(), admin.clone(), app.clone(), barrier.clone());
            creates.spawn(async move {
                barrier.wait().await;
                let body = json!({ "name": format!("concurrent-{n:02}") });
                let reply = api.post(&tokens_path(&app), &admin, &body).await;
                (n, reply)
            });
        }
        let mut issued = Vec::new();
        while let Some(joined) = creates.join_next().await {
            let (n, reply) = joined.expect("the create task");
            let body = reply.expect(201);
            assert_eq!(body["name"], format!("concurrent-{n:02}"), "{reply:?}");
            issued.push(IssuedToken::from_created(body));
        }

        let ids: BTreeSet<String> = issued.iter().map(|token| token.id.clone()).collect();
        let secrets: BTreeSet<&str> = issued.iter().map(|token| token.secret.as_str()).collect();
        assert_eq!(ids.len(), CREATES, "duplicated ids among {issued:?}");
        assert_eq!(secrets.len(), CREATES, "duplicated secrets");
        for id in &ids {
            assert!(
                id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                "not a lowercase 24-hex id: {id}"
            );
        }

        let listing = api.get(&tokens_path(&app), admin).await;
        let listing = listing.expect(200);
        assert_eq!(listing["totalCount"], CREATES, "{listing}");
        assert_eq!(listing["count"], CREATES, "{listing}");
        let listed: BTreeSet<String> = listing["items"].as_array().unwrap().iter().map(common::id_of).collect();
        assert_eq!(listed, ids, "the listing differs from what was created");

        // Pages of 10 walk the same set without repeating or skipping.
        let mut paged = Vec::new();
        for page in 0..4 {
            let target = format!("{}?perPage=10&page={page}", tokens_path(&app));
            let reply = api.get(&target, admin).await;
            paged.extend(reply.expect(200)["items"].as_array().unwrap().iter().map(common::id_of));
        }
        assert_eq!(paged.len(), CREATES, "pages repeat or skip: {paged:?}");
        assert_eq!(paged.into_iter().collect::<BTreeSet<_>>(), ids);

        for token in &issued {
            let reply = api.get("/auth/introspect", &token.secret).await;
            assert_eq!(reply.expect(200)["id"], token.id.as_str(), "{reply:?}");
            api.get(&tokens_path(&app), &token.secret).await.expect(200);
        }
    })
    .await;
}
