//! The verifier feed (spec 1.6): what a service needs to check an
//! application's tokens itself: the ids of its revoked tokens, and a long
//! poll of what changes.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use latchkey_core::model::Status;
use latchkey_core::scope::TargetOwner;
use latchkey_core::time::now_millis;
use latchkey_core::validate::path_id;
use latchkey_core::Id;
use latchkey_store::changes::{LogPosition, AUTH_CHANGES_PER_READ};
use latchkey_store::revoked::MAX_REVOKED_PER_PAGE;
use latchkey_store::AuthChange;
use serde::Serialize;
use tokio::time::Instant;

use super::{action, json, query_pairs, PathParams};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

const DEFAULT_PER_PAGE: u32 = 10_000;
const DEFAULT_WAIT_SECONDS: u64 = 20;
const MAX_WAIT_SECONDS: u64 = 30;
/// More token changes than this in one answer become one `application`
/// change: re-reading the revoked list is cheaper than a status per token.
const MAX_TOKEN_CHANGES: usize = 1_000;

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevokedPage {
    #[schema(value_type = String)]
    application_id: Id,
    /// `user` or `organization`: scopes such as `all.User` depend on it.
    owner_type: &'static str,
    /// Where the feed stood just before this page was read.
    cursor: String,
    #[schema(value_type = Vec<String>)]
    revoked: Vec<Id>,
    /// The `after` of the next page, or `null` on the last.
    #[schema(value_type = Option<String>)]
    next: Option<Id>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChangesPage {
    /// Pass it to the next call.
    cursor: String,
    changes: Vec<Change>,
}

#[derive(Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Change {
    /// The token was deactivated, deleted or re-activated; `revoked` is its
    /// state when the answer was read.
    Token {
        #[serde(rename = "tokenId")]
        #[schema(value_type = String)]
        token_id: Id,
        revoked: bool,
    },
    /// Many tokens changed at once, or the application was deleted: read
    /// the revoked list again.
    Application,
    /// A signing key was added or retired: read the JWKS again.
    Keys,
}

/// One query parameter, parsed, or `None` when absent.
fn param<T>(
    pairs: &[(String, String)],
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
    expected: &str,
) -> ApiResult<Option<T>> {
    match pairs.iter().find(|(key, _)| key == name) {
        None => Ok(None),
        Some((_, value)) => parse(value)
            .map(Some)
            .ok_or_else(|| ApiError::validation(format!("{name} must be {expected}"))),
    }
}

fn number_in<T: std::str::FromStr + PartialOrd>(low: T, high: T) -> impl Fn(&str) -> Option<T> {
    move |text| text.parse().ok().filter(|value| *value >= low && *value <= high)
}

fn owner_type_name(owner: TargetOwner) -> &'static str {
    match owner {
        TargetOwner::User => "user",
        TargetOwner::Organization => "organization",
    }
}

#[utoipa::path(
    get,
    path = "/applications/{applicationId}/verifier/revoked",
    operation_id = "getRevokedApiTokens",
    tag = "Verifier feed",
    summary = "List the ids of an application's revoked API tokens",
    description = "A Latchkey extension (spec 1.6): the ids of the application's inactive tokens and of its deleted tokens that have not expired, in id order, with the feed cursor a verifier follows from.",
    params(
        crate::openapi::ApplicationPath,
        ("after" = Option<String>, Query, description = "The `next` of the previous page.", pattern = "^[0-9a-fA-F]{24}$"),
        ("perPage" = Option<u32>, Query, description = "Ids per page, 1 to 100000 (default 10000).", minimum = 1, maximum = 100000),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of revoked token ids.", body = RevokedPage),
        crate::openapi::ApplicationErrors,
    ),
)]
pub async fn revoked(
    State(state): State<AppState>,
    principal: Principal,
    PathParams(application): PathParams<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let (application, owner) = principal
        .authorize(&state, &application, &action("applicationApiTokens.get"))
        .await?;
    let pairs = query_pairs(&query);
    let after = match pairs.iter().find(|(key, _)| key == "after") {
        None => None,
        Some((_, value)) => Some(path_id("after", value)?),
    };
    let per_page = param(
        &pairs,
        "perPage",
        number_in(1, MAX_REVOKED_PER_PAGE),
        "a whole number from 1 to 100000",
    )?
    .unwrap_or(DEFAULT_PER_PAGE);
    // Taken before the page is read: whatever changes while the verifier
    // reads its pages is in the feed after this cursor.
    let cursor = state.store.auth_changes(None).await?.position;
    let mut revoked = state
        .store
        .revoked_tokens(application, after, per_page + 1, now_millis())
        .await?;
    let next = (revoked.len() > per_page as usize).then(|| {
        revoked.truncate(per_page as usize);
        revoked[revoked.len() - 1]
    });
    let page = RevokedPage {
        application_id: application,
        owner_type: owner_type_name(owner),
        cursor: cursor.to_string(),
        revoked,
        next,
    };
    Ok(json(StatusCode::OK, &page))
}

#[utoipa::path(
    get,
    path = "/applications/{applicationId}/verifier/changes",
    operation_id = "getApiTokenChanges",
    tag = "Verifier feed",
    summary = "Wait for changes that turn an application's tokens refused or accepted",
    description = "A Latchkey extension (spec 1.6): a long poll. Answers as soon as something changed for the application after `cursor`, or after `wait` seconds with no changes.",
    params(
        crate::openapi::ApplicationPath,
        ("cursor" = Option<String>, Query, description = "The `cursor` of the previous answer or of the revoked list; none: from now.", pattern = "^[0-9]{1,19}(\\.[0-9]{1,19}~[0-9]{1,19})*$"),
        ("wait" = Option<u64>, Query, description = "Seconds to wait for a change, 0 to 30 (default 20).", minimum = 0, maximum = 30),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changes after the cursor, and the next cursor.", body = ChangesPage),
        crate::openapi::FeedErrors,
    ),
)]
pub async fn changes(
    State(state): State<AppState>,
    principal: Principal,
    PathParams(application): PathParams<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let (application, _) = principal
        .authorize(&state, &application, &action("applicationApiTokens.get"))
        .await?;
    let pairs = query_pairs(&query);
    let cursor = param(
        &pairs,
        "cursor",
        |text| text.parse::<LogPosition>().ok(),
        "a cursor the feed gave",
    )?;
    let wait = param(
        &pairs,
        "wait",
        number_in(0, MAX_WAIT_SECONDS),
        "a whole number of seconds from 0 to 30",
    )?
    .unwrap_or(DEFAULT_WAIT_SECONDS);
    let deadline = Instant::now() + Duration::from_secs(wait);
    let mut cursor = match cursor {
        Some(cursor) => cursor,
        None => state.store.auth_changes(None).await?.position,
    };
    let mut follower_reads = state.change_log_reads.subscribe();
    loop {
        // Marked seen before this read: a follower read that finds changes
        // after it wakes the wait below.
        follower_reads.borrow_and_update();
        let read = state.store.auth_changes(Some(&cursor)).await?;
        if read.expired {
            return Err(ApiError::gone(
                "the cursor is older than the feed keeps: read the revoked list again",
            ));
        }
        cursor = read.position;
        let relevant = Relevant::of(&read.changes, application);
        if !relevant.is_empty() {
            let changes = relevant.resolve(&state, application).await?;
            return Ok(json(
                StatusCode::OK,
                &ChangesPage {
                    cursor: cursor.to_string(),
                    changes,
                },
            ));
        }
        if read.changes.len() == AUTH_CHANGES_PER_READ {
            continue;
        }
        // Woken when this instance's follower (crate::feed) finds changes:
        // no polling of the database while waiting.
        let moved = tokio::time::timeout_at(deadline, follower_reads.changed()).await;
        if !matches!(moved, Ok(Ok(()))) {
            let page = ChangesPage {
                cursor: cursor.to_string(),
                changes: Vec::new(),
            };
            return Ok(json(StatusCode::OK, &page));
        }
    }
}

/// What of a read of the change log concerns one application.
#[derive(Default)]
struct Relevant {
    tokens: BTreeSet<Id>,
    application: bool,
    keys: bool,
}

impl Relevant {
    fn of(changes: &[AuthChange], application: Id) -> Relevant {
        let mut relevant = Relevant::default();
        for change in changes {
            match change {
                AuthChange::Token { id, owner, .. } if *owner == application => {
                    relevant.tokens.insert(*id);
                }
                AuthChange::Application(id) if *id == application => relevant.application = true,
                AuthChange::Keys => relevant.keys = true,
                _ => {}
            }
        }
        if relevant.tokens.len() > MAX_TOKEN_CHANGES {
            relevant.tokens.clear();
            relevant.application = true;
        }
        relevant
    }

    fn is_empty(&self) -> bool {
        self.tokens.is_empty() && !self.application && !self.keys
    }

    /// The changes, each token's with its state as it is now: read after
    /// the entries, it is at least as new as they are.
    async fn resolve(self, state: &AppState, application: Id) -> ApiResult<Vec<Change>> {
        let ids: Vec<Id> = self.tokens.into_iter().collect();
        let statuses: HashMap<Id, Status> = state
            .store
            .token_statuses(application, &ids)
            .await?
            .into_iter()
            .collect();
        let mut changes: Vec<Change> = ids
            .into_iter()
            .map(|id| Change::Token {
                token_id: id,
                revoked: statuses.get(&id) != Some(&Status::Active),
            })
            .collect();
        changes.extend(self.application.then_some(Change::Application));
        changes.extend(self.keys.then_some(Change::Keys));
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_applications_own_changes_are_relevant() {
        let (app, other) = (Id::generate(1), Id::generate(2));
        let token = |owner| AuthChange::Token {
            digest: [0; 32],
            id: Id::generate(3),
            owner,
        };
        let relevant = Relevant::of(
            &[token(other), AuthChange::Application(other), AuthChange::User(app)],
            app,
        );
        assert!(relevant.is_empty());
        let relevant = Relevant::of(&[token(app), AuthChange::Keys], app);
        assert_eq!(
            (relevant.tokens.len(), relevant.application, relevant.keys),
            (1, false, true)
        );
    }

    #[test]
    fn too_many_token_changes_become_one_application_change() {
        let app = Id::generate(1);
        let changes: Vec<AuthChange> = (0..=MAX_TOKEN_CHANGES)
            .map(|_| AuthChange::Token {
                digest: [0; 32],
                id: Id::generate(3),
                owner: app,
            })
            .collect();
        let relevant = Relevant::of(&changes, app);
        assert!(relevant.tokens.is_empty() && relevant.application);
    }
}
