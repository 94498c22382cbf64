//! The server keeps only a digest of each token: no token, nor its
//! signature, is ever written to the database files or the log, nor returned
//! by any endpoint after its create response (spec section 6).

mod common;

use std::path::Path;

use common::{each_backend, run_cli, signature_segment, token_path, tokens_path, Api, Jwt, Reply, Server};
use serde_json::json;

/// Byte strings that must appear nowhere but in the create response: the
/// token, its signature segment as text, and the signature's raw bytes.
fn secrets_of(token: &str) -> Vec<Vec<u8>> {
    vec![
        token.as_bytes().to_vec(),
        signature_segment(token).as_bytes().to_vec(),
        Jwt::decode(token).signature,
    ]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// The reply does not carry `token` or any secret.
#[track_caller]
fn assert_no_secret_in_reply(reply: &Reply, tokens: &[String]) {
    if let Some(body) = &reply.json {
        assert!(body.get("token").is_none(), "a token field after creation: {reply:?}");
        for item in body["items"].as_array().into_iter().flatten() {
            assert!(item.get("token").is_none(), "a token field in a listing: {reply:?}");
        }
    }
    for token in tokens {
        assert!(
            !reply.text.contains(signature_segment(token)),
            "a secret in a reply: {reply:?}"
        );
    }
}

/// Exercises every endpoint with each token, returning the replies of
/// everything but the creates.
async fn use_everything(api: &Api, admin: &str, app: &str, tokens: &[(String, String)]) -> Vec<Reply> {
    let mut replies = Vec::new();
    for (id, secret) in tokens {
        replies.push(api.get(&tokens_path(app), secret).await);
        replies.push(api.get(&tokens_path(app), admin).await);
        replies.push(api.get(&token_path(app, id), secret).await);
        replies.push(api.get("/auth/introspect", secret).await);
        let introspect = format!("/auth/introspect?applicationId={app}&action=applicationApiTokens.get");
        replies.push(api.get(&introspect, secret).await);
        replies.push(api.get("/applications", admin).await);
        replies.push(
            api.patch(&token_path(app, id), admin, &json!({ "description": "patched" }))
                .await,
        );
        // Errors: a bad id, a bad parameter, a bad body, a wrong route.
        replies.push(api.get(&token_path(app, "nope"), secret).await);
        replies.push(api.get(&format!("{}?perPage=0", tokens_path(app)), secret).await);
        replies.push(api.post(&tokens_path(app), secret, &json!({ "name": 5 })).await);
        replies.push(api.get("/nowhere", secret).await);
    }
    replies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_is_kept_in_the_database_files_the_log_or_later_replies() {
    each_backend(|backend| async move {
        // The most verbose log there is: whatever the server could leak, it
        // would leak here.
        let server = Server::start_with_env(&backend, &[("LATCHKEY_LOG", "trace")]);
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "secrets").await;
        let canary = format!("canary-{app}");

        let mut tokens = Vec::new();
        for (n, extra) in [
            json!({}),
            json!({ "status": "inactive" }),
            json!({ "expirationDate": "2099-12-31T23:59:59.999Z" }),
        ]
        .into_iter()
        .enumerate()
        {
            let mut body = json!({ "name": format!("{canary}-{n}") });
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            let created = api.create_token(admin, &app, &body).await;
            tokens.push((
                created["id"].as_str().unwrap().to_string(),
                created["token"].as_str().unwrap().to_string(),
            ));
        }
        let cli_token = run_cli(&["admin-token", "--database", &backend.url, "--scope", "all.User.read"]);
        tokens.push((
            Jwt::decode(&cli_token).payload["jti"].as_str().unwrap().to_string(),
            cli_token,
        ));

        let mut replies = use_everything(api, admin, &app, &tokens).await;
        // One token deleted, so a deletion's traces are scanned too.
        let (deleted_id, deleted) = &tokens[0];
        replies.push(api.delete(&token_path(&app, deleted_id), admin).await);
        replies.push(api.get("/auth/introspect", deleted).await);

        let mut secrets: Vec<String> = tokens.iter().map(|(_, secret)| secret.clone()).collect();
        secrets.push(admin.to_string());
        for reply in &replies {
            reply.expect_well_formed();
            assert_no_secret_in_reply(reply, &secrets);
        }

        // Scanned while the server runs, so recent writes still sit in the
        // write-ahead log rather than only in the main file.
        let files = backend.database_files();
        if backend.is_file_backed() {
            assert!(!files.is_empty(), "no database files found");
            let all_bytes: Vec<u8> = files.iter().flat_map(|file| std::fs::read(file).unwrap()).collect();
            // The scan looks at the right bytes: the names are in there.
            assert!(
                contains(&all_bytes, canary.as_bytes()),
                "the token names are not in {files:?}"
            );
        }
        for file in &files {
            assert_file_free_of(file, &secrets);
        }

        // The log: the server prints the admin token of a new database on
        // purpose, once, on its own line; nothing else may hold a secret.
        let log = server.log();
        assert!(
            log.contains("/auth/introspect"),
            "the trace log shows no requests:\n{log}"
        );
        let log_without_admin_line: String = log
            .lines()
            .filter(|line| !line.starts_with("latchkey: admin token: "))
            .collect::<Vec<_>>()
            .join("\n");
        for secret in &secrets {
            for needle in secrets_of(secret).iter().take(2) {
                assert!(
                    !contains(log_without_admin_line.as_bytes(), needle),
                    "the log holds a token secret:\n{log_without_admin_line}"
                );
            }
        }
    })
    .await;
}

#[track_caller]
fn assert_file_free_of(file: &Path, tokens: &[String]) {
    let bytes = std::fs::read(file).unwrap();
    for token in tokens {
        for needle in secrets_of(token) {
            assert!(
                !contains(&bytes, &needle),
                "{} holds (part of) the token {token}",
                file.display()
            );
        }
    }
}
