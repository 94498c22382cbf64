//! Names and descriptions: lengths counted in Unicode scalar values (not
//! bytes, not UTF-16 units), and any text stored and returned exactly.

mod common;

use common::{each_server, id_of, percent_encode, token_path, tokens_path, Api};
use serde_json::{json, Value};

const MAX_NAME: usize = 255;
const MAX_DESCRIPTION: usize = 32767;

/// Units of text whose byte and UTF-16 lengths differ from their count of
/// scalar values: 2-byte, 3-byte and 4-byte (surrogate pair) characters, and
/// a letter plus a combining accent (two scalar values, one glyph).
const UNITS: [&str; 4] = ["é", "語", "🦀", "e\u{301}"];

/// `unit` repeated up to exactly `scalars` Unicode scalar values.
fn text_of(unit: &str, scalars: usize) -> String {
    unit.chars().cycle().take(scalars).collect()
}

/// Creates a token from `body`, then checks the create response, the single
/// read and the listing all return `field` exactly as sent.
async fn assert_round_trip(api: &Api, admin: &str, app: &str, body: Value, field: &str) {
    let sent = body[field].clone();
    let created = api.post(&tokens_path(app), admin, &body).await;
    let created = created.expect(201);
    assert_eq!(created[field], sent, "create response");
    let id = id_of(created);
    let read = api.get(&token_path(app, &id), admin).await;
    assert_eq!(read.expect(200)[field], sent, "read");
    let listing = api.get(&tokens_path(app), admin).await;
    let listed = listing.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["id"] == id.as_str())
        .cloned()
        .expect("the token is listed");
    assert_eq!(listed[field], sent, "listing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_up_to_255_scalar_values_are_kept_and_256_refused() {
    each_server(|server| async move {
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "names").await;
        for unit in UNITS {
            let longest = text_of(unit, MAX_NAME);
            assert_round_trip(api, admin, &app, json!({ "name": longest }), "name").await;

            let too_long = text_of(unit, MAX_NAME + 1);
            let reply = api.post(&tokens_path(&app), admin, &json!({ "name": too_long })).await;
            reply.expect_error(400, "Validation");
        }
        let reply = api.post(&tokens_path(&app), admin, &json!({ "name": "" })).await;
        reply.expect_error(400, "Validation");
        // Only the accepted names were stored.
        let listing = api.get(&tokens_path(&app), admin).await;
        assert_eq!(listing.expect(200)["totalCount"], UNITS.len());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn descriptions_up_to_32767_scalar_values_are_kept_and_32768_refused() {
    each_server(|server| async move {
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "descriptions").await;
        for unit in ["é", "🦀"] {
            let longest = json!({ "name": unit, "description": text_of(unit, MAX_DESCRIPTION) });
            assert_round_trip(api, admin, &app, longest, "description").await;

            let too_long = json!({ "name": unit, "description": text_of(unit, MAX_DESCRIPTION + 1) });
            let reply = api.post(&tokens_path(&app), admin, &too_long).await;
            reply.expect_error(400, "Validation");
        }
    })
    .await;
}

/// Text that trips up naive escaping in JSON, SQL, logs or HTML.
const AWKWARD: [&str; 10] = [
    r#"say "hi" and 'bye'"#,
    r"back\slash \\ and \u0041 and \n (literally)",
    "line one\nline two\r\nthree\tcolumns",
    "control \u{1} \u{1f} \u{7f} characters",
    "'; DROP TABLE tokens; --",
    r"100% of_the_ [glob] ? chars \ here",
    "</script><img src=x onerror=alert(1)>",
    "\u{feff}byte order mark, zero\u{200b}width, \u{202e}right-to-left",
    "  leading and trailing spaces  ",
    "{\"looks\": [\"like\", \"json\"]}",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_names_round_trip_exactly_through_create_patch_and_filter() {
    each_server(|server| async move {
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "awkward").await;
        for text in AWKWARD {
            assert_round_trip(api, admin, &app, json!({ "name": text, "description": text }), "name").await;
        }
        let listing = api.get(&tokens_path(&app), admin).await;
        let items = listing.expect(200)["items"].as_array().unwrap().clone();
        assert_eq!(items.len(), AWKWARD.len());
        for item in &items {
            assert_eq!(item["description"], item["name"], "{item}");
        }

        // A PATCH stores new awkward text just as exactly.
        let id = id_of(&items[0]);
        let renamed = format!("{}\n{}", AWKWARD[1], AWKWARD[0]);
        let reply = api
            .patch(&token_path(&app, &id), admin, &json!({ "name": renamed }))
            .await;
        assert_eq!(reply.expect(200)["name"], renamed.as_str());
        let read = api.get(&token_path(&app, &id), admin).await;
        assert_eq!(read.expect(200)["name"], renamed.as_str());

        // Filtering by a name without `*` finds exactly that token: `%`, `_`,
        // `[`, `?` and `\` match themselves (spec 1.1).
        let glob_chars = AWKWARD[5];
        let target = format!(
            "{}?filterField=name&filter={}",
            tokens_path(&app),
            percent_encode(glob_chars)
        );
        let filtered = api.get(&target, admin).await;
        let filtered = filtered.expect(200);
        assert_eq!(filtered["totalCount"], 1, "{filtered}");
        assert_eq!(filtered["items"][0]["name"], glob_chars);
    })
    .await;
}
