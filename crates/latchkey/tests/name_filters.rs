//! Name filters on real databases (spec 1.1): each backend's SQL (`LIKE` over
//! the stored folded name, narrowed to an index range) lists exactly the
//! tokens a plain reference matcher picks, for names and globs with the
//! characters that make folding and `LIKE` hard.

mod common;

use std::collections::BTreeSet;

use common::{each_server, percent_encode, tokens_path};
use serde_json::json;

/// Names whose lowercase depends on context (`Σ` at a word's end), grows
/// (`İ`), has no single-letter capital (`ß`), is shared with ASCII (`K`, the
/// Kelvin sign), or holds what SQL `LIKE` treats specially.
const NAMES: [&str; 18] = [
    "ΟΔΟΣ",
    "οδος",
    "ΟΔΟΣΑ",
    "Σίσυφος",
    "İstanbul",
    "istanbul",
    "Straße",
    "STRASSE",
    "50% off",
    "50_off",
    "a\\b",
    "a_b",
    "a%b",
    "\u{212a}elvin",
    "kelvin",
    "star*name",
    "Ünïcödé 🦀",
    "plain",
];

/// Globs written by hand: every special character, and sigma in each form.
const HAND_WRITTEN: [&str; 24] = [
    "οδος",
    "ΟΔΟΣ*",
    "*σ",
    "*ς",
    "*Σ*",
    "οδοσ?",
    "i*",
    "İ*",
    "*ß*",
    "*SS*",
    "*%*",
    "50%*",
    "*_*",
    "5_*",
    "a\\b",
    "a\\*",
    "*\\*",
    "a?b",
    "k*",
    "K*",
    "*🦀",
    "star*",
    "*",
    "**",
];

/// The spec's case folding: each character's Unicode lowercase, final sigma as sigma.
fn fold(text: &str) -> Vec<char> {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ς' { 'σ' } else { c })
        .collect()
}

/// Whether the glob matches all of `name`: `*` any run, all else itself, folded.
fn reference_matches(glob: &str, name: &str) -> bool {
    let (glob, name) = (fold(glob), fold(name));
    // rest[j]: the glob from the current position matches name[j..].
    let mut rest = vec![false; name.len() + 1];
    rest[name.len()] = true;
    for &c in glob.iter().rev() {
        let mut next = vec![false; name.len() + 1];
        for j in (0..=name.len()).rev() {
            next[j] = if c == '*' {
                rest[j] || (j < name.len() && next[j + 1])
            } else {
                j < name.len() && name[j] == c && rest[j + 1]
            };
        }
        rest = next;
    }
    rest[0]
}

/// Globs cut from the names: a piece of each, re-cased or not, with `*` on
/// either side, picked by a fixed-seed generator so every run is the same.
fn cut_globs() -> Vec<String> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |below: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % below as u64) as usize
    };
    let mut globs = Vec::new();
    for name in NAMES {
        for _ in 0..3 {
            let chars: Vec<char> = name.chars().collect();
            let start = next(chars.len());
            let end = start + 1 + next(chars.len() - start);
            let piece: String = chars[start..end].iter().collect();
            let piece = match next(3) {
                0 => piece.to_uppercase(),
                1 => piece.to_lowercase(),
                _ => piece,
            };
            let before = if start > 0 || next(2) == 0 { "*" } else { "" };
            let after = if end < chars.len() || next(2) == 0 { "*" } else { "" };
            globs.push(format!("{before}{piece}{after}"));
        }
    }
    globs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_filters_list_what_the_reference_matcher_picks() {
    each_server(|server| async move {
        let (api, admin) = (&server.api, server.admin_token.as_str());
        let app = api.create_application(admin, "name filters").await;
        for name in NAMES {
            api.create_token(admin, &app, &json!({ "name": name })).await;
        }
        let globs = HAND_WRITTEN.iter().map(|glob| glob.to_string()).chain(cut_globs());
        let mut wrong = Vec::new();
        for glob in globs {
            let target = format!(
                "{}?filterField=name&filter={}&perPage=1000",
                tokens_path(&app),
                percent_encode(&glob)
            );
            let reply = api.get(&target, admin).await;
            let body = reply.expect(200);
            let listed: BTreeSet<&str> = body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| item["name"].as_str().unwrap())
                .collect();
            let expected: BTreeSet<&str> = NAMES
                .into_iter()
                .filter(|name| reference_matches(&glob, name))
                .collect();
            assert_eq!(body["totalCount"], listed.len(), "{glob:?}: {reply:?}");
            if listed != expected {
                wrong.push(format!("{glob:?}: listed {listed:?}, expected {expected:?}"));
            }
        }
        assert!(
            wrong.is_empty(),
            "filters that listed the wrong names:\n{}",
            wrong.join("\n")
        );
    })
    .await;
}
