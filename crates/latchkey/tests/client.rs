//! The Rust client (`latchkey-client`) against a live server: every resource
//! method, every listing parameter, the pager, and errors decoded.

mod common;

use std::collections::HashSet;

use common::{each_server, Server, UNKNOWN_ID};
use latchkey_client::{
    ApiTokenPatch, ApplicationApiTokenPost, ApplicationListParams, ApplicationPatch, ApplicationPost,
    ApplicationSortField, Client, Error, OwnerType, SortDirection, TokenFilterField, TokenListParams, TokenSortField,
    TokenStatus,
};

fn client(server: &Server, token: &str) -> Client {
    Client::builder()
        .base_url(&server.api.base)
        .token(token)
        .losant_domain("example.com")
        .build()
        .expect("a client")
}

async fn new_application(client: &Client, name: &str) -> String {
    let post = ApplicationPost {
        name: name.into(),
        ..Default::default()
    };
    client
        .applications()
        .post(&post)
        .await
        .expect("the application is created")
        .id
}

async fn new_token(client: &Client, app: &str, name: &str, status: Option<TokenStatus>) -> String {
    let post = ApplicationApiTokenPost {
        name: name.into(),
        status,
        ..Default::default()
    };
    client
        .application_api_tokens()
        .post(app, &post)
        .await
        .expect("the token is created")
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_resource_method_round_trips() {
    each_server(|server| async move {
        let admin = client(&server, &server.admin_token);

        let post = ApplicationPost {
            name: "Client App".into(),
            description: Some("for the client".into()),
            org_id: None,
        };
        let app = admin.applications().post(&post).await.unwrap();
        assert_eq!(app.owner_type, Some(OwnerType::User));
        assert_eq!(app.application_id.as_deref(), Some(app.id.as_str()));
        let listed = admin.applications().get(&ApplicationListParams::new()).await.unwrap();
        assert!(listed.items.iter().any(|listed| listed.id == app.id));
        assert_eq!(admin.application().get(&app.id).await.unwrap().name, "Client App");
        let patch = ApplicationPatch {
            name: Some("Renamed".into()),
            description: None,
        };
        let renamed = admin.application().patch(&app.id, &patch).await.unwrap();
        assert_eq!(
            (renamed.name.as_str(), renamed.description.as_deref()),
            ("Renamed", Some("for the client"))
        );

        let expires = chrono::Utc::now() + chrono::Duration::days(30);
        let post = ApplicationApiTokenPost {
            name: "typed".into(),
            description: Some("made by the Rust client".into()),
            expiration_date: Some(expires),
            scope: Some(vec!["applicationApiTokens.get".into(), "device.*".into()]),
            status: Some(TokenStatus::Active),
        };
        let created = admin.application_api_tokens().post(&app.id, &post).await.unwrap();
        let secret = created.token.clone().expect("the create response carries the secret");
        assert_eq!(created.scope, ["applicationApiTokens.get", "device.*"]);
        assert_eq!(
            created.expiration_date.unwrap().timestamp_millis(),
            expires.timestamp_millis()
        );
        assert_eq!(created.owner_id.as_deref(), Some(app.id.as_str()));

        let read = admin.application_api_token().get(&app.id, &created.id).await.unwrap();
        assert_eq!(read.token, None, "only the create response holds the secret");
        assert_eq!(read.name, "typed");

        // The new token works through the client too, within its scope.
        let holder = client(&server, &secret);
        let page = holder
            .application_api_tokens()
            .get(&app.id, &TokenListParams::new())
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);

        let patch = ApiTokenPatch {
            name: Some("retyped".into()),
            status: Some(TokenStatus::Inactive),
            description: None,
        };
        let patched = admin
            .application_api_token()
            .patch(&app.id, &created.id, &patch)
            .await
            .unwrap();
        assert_eq!(
            (patched.name.as_str(), patched.status),
            ("retyped", Some(TokenStatus::Inactive))
        );
        let refused = holder
            .application_api_tokens()
            .get(&app.id, &TokenListParams::new())
            .await
            .unwrap_err();
        assert_eq!(refused.status(), Some(401));

        assert!(
            admin
                .application_api_token()
                .delete(&app.id, &created.id)
                .await
                .unwrap()
                .success
        );
        let gone = admin
            .application_api_token()
            .get(&app.id, &created.id)
            .await
            .unwrap_err();
        assert_eq!((gone.status(), gone.kind()), (Some(404), Some("NotFound")));

        assert!(admin.application().delete(&app.id).await.unwrap().success);
        assert_eq!(admin.application().get(&app.id).await.unwrap_err().status(), Some(404));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listing_parameter_is_sent_and_honoured() {
    each_server(|server| async move {
        let admin = client(&server, &server.admin_token);
        let app = new_application(&admin, "params").await;
        let names = ["bravo", "Alpha", "charlie", "alpha two", "Delta"];
        let mut ids = Vec::new();
        for (index, name) in names.iter().enumerate() {
            let status = (index % 2 == 1).then_some(TokenStatus::Inactive);
            ids.push(new_token(&admin, &app, name, status).await);
        }
        let tokens = admin.application_api_tokens();
        let names_of = |page: latchkey_client::ApiTokens| page.items.into_iter().map(|t| t.name).collect::<Vec<_>>();

        let by_name = tokens
            .get(&app, &TokenListParams::new().sort_field(TokenSortField::Name))
            .await
            .unwrap();
        assert_eq!(names_of(by_name), ["Alpha", "alpha two", "bravo", "charlie", "Delta"]);

        let desc = TokenListParams::new()
            .sort_field(TokenSortField::Id)
            .sort_direction(SortDirection::Desc);
        let by_id: Vec<String> = tokens
            .get(&app, &desc)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(by_id, ids.iter().rev().cloned().collect::<Vec<_>>());

        let second_page = TokenListParams::new()
            .sort_field(TokenSortField::Name)
            .per_page(2)
            .page(1);
        let page = tokens.get(&app, &second_page).await.unwrap();
        assert_eq!((page.page, page.per_page, page.count, page.total_count), (1, 2, 2, 5));
        assert_eq!(names_of(page), ["bravo", "charlie"]);

        let filtered = TokenListParams::new().filter(TokenFilterField::Name, "ALPHA*");
        let page = tokens.get(&app, &filtered).await.unwrap();
        assert_eq!(
            (page.filter.as_deref(), page.filter_field.as_deref()),
            (Some("ALPHA*"), Some("name"))
        );
        assert_eq!(names_of(page), ["Alpha", "alpha two"]);

        let inactive = TokenListParams::new().filter(TokenFilterField::Status, "inactive");
        let page = tokens.get(&app, &inactive).await.unwrap();
        assert_eq!(page.total_count, 2);
        assert!(page
            .items
            .iter()
            .all(|token| token.status == Some(TokenStatus::Inactive)));

        for field in [
            TokenSortField::Status,
            TokenSortField::CreationDate,
            TokenSortField::LastUpdated,
            TokenSortField::ExpirationDate,
        ] {
            let page = tokens
                .get(&app, &TokenListParams::new().sort_field(field))
                .await
                .unwrap();
            assert_eq!(page.items.len(), 5, "{field:?}");
        }

        let apps = admin.applications();
        let newest_first = ApplicationListParams::new()
            .sort_field(ApplicationSortField::CreationDate)
            .sort_direction(SortDirection::Desc)
            .per_page(1);
        let newest = apps.get(&newest_first).await.unwrap();
        assert_eq!(newest.items[0].id, app);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pager_walks_every_page_once() {
    each_server(|server| async move {
        let admin = client(&server, &server.admin_token);
        let app = new_application(&admin, "pager").await;
        let mut made = HashSet::new();
        for n in 0..23 {
            made.insert(new_token(&admin, &app, &format!("token {n:02}"), None).await);
        }
        let params = TokenListParams::new().per_page(5);

        let mut pager = admin.application_api_tokens().pager(&app, &params);
        let mut pages = 0;
        let mut seen = Vec::new();
        while let Some(page) = pager.next_page().await.unwrap() {
            assert_eq!(page.page, pages);
            pages += 1;
            seen.extend(page.items.into_iter().map(|token| token.id));
        }
        assert_eq!(pages, 5);
        assert_eq!(seen.len(), 23);
        assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), made);

        let all = admin.application_api_tokens().pager(&app, &params).all().await.unwrap();
        assert_eq!(all.len(), 23);
        let mut progress = Vec::new();
        let combined = admin
            .application_api_tokens()
            .pager(&app, &params)
            .combined(|fetched, total| progress.push((fetched, total)))
            .await
            .unwrap()
            .expect("a first page");
        assert_eq!((combined.count, combined.items.len()), (23, 23));
        assert_eq!(progress, [(5, 23), (10, 23), (15, 23), (20, 23), (23, 23)]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_keep_status_type_and_message() {
    each_server(|server| async move {
        let admin = client(&server, &server.admin_token);
        let app = new_application(&admin, "errors").await;

        let error = admin.application_api_token().get(&app, UNKNOWN_ID).await.unwrap_err();
        let Error::Api { status, body } = &error else {
            panic!("an API error, not {error:?}")
        };
        assert_eq!((*status, body.kind.as_str()), (404, "NotFound"));
        assert!(!body.message.is_empty());
        assert!(error.to_string().starts_with("404 NotFound: "), "{error}");

        let error = admin
            .application_api_tokens()
            .get(&app, &TokenListParams::new().per_page(0))
            .await
            .unwrap_err();
        assert_eq!((error.status(), error.kind()), (Some(400), Some("Validation")));
        let Error::Api { body, .. } = &error else {
            unreachable!()
        };
        assert!(body.message.contains("perPage"), "{}", body.message);

        let error = admin
            .application_api_tokens()
            .get("not-an-id", &TokenListParams::new())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), Some("Validation"));

        let stranger = client(&server, "not.a.token");
        let error = stranger
            .applications()
            .get(&ApplicationListParams::new())
            .await
            .unwrap_err();
        assert_eq!((error.status(), error.kind()), (Some(401), Some("Unauthorized")));

        let post = ApplicationApiTokenPost {
            name: String::new(),
            ..Default::default()
        };
        let error = admin.application_api_tokens().post(&app, &post).await.unwrap_err();
        assert_eq!(error.kind(), Some("Validation"));

        // Nothing listens here any more: a transport error, not an API error.
        let addr = server.api.addr;
        drop(server);
        let gone = Client::builder()
            .base_url(format!("http://{addr}"))
            .token("x")
            .build()
            .unwrap();
        let error = gone
            .applications()
            .get(&ApplicationListParams::new())
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Transport(_)), "{error:?}");
        assert_eq!(error.status(), None);
    })
    .await;
}
