//! Follows Latchkey's verifier feed (spec 1.6) for each application: starts
//! from the JWKS and every page of the revoked list, keeping the first
//! page's cursor, then long polls the changes from that cursor. A watcher
//! logs when an application's feed goes stale and when it recovers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use latchkey_core::model::AppOwnerType;
use latchkey_core::token::KeyRing;
use latchkey_core::Id;
use reqwest::RequestBuilder;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tokio::task::AbortHandle;

use crate::checked::CheckedKeys;
use crate::metrics::Counters;
use crate::revocations::Revocations;
use crate::{Application, Shared, View};

/// Ids per page of the revoked list (the server's default).
const PAGE_SIZE: u32 = 10_000;
/// The longest a read other than a long poll may take.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How much longer than its wait a long poll may take to answer.
const POLL_MARGIN: Duration = Duration::from_secs(3);
/// Waits between failed reads: doubling from the first to the last, so an
/// outage costs Latchkey little and a recovery is seen within a second.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_LAST: Duration = Duration::from_secs(1);
/// How long after a `keys` change every instance publishes the new keys.
const KEYS_SETTLE: Duration = Duration::from_secs(1);
/// How often the watcher looks at each feed's age.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);

/// The feed's tasks, stopped when the last [`crate::Verifier`] clone goes.
pub(crate) struct Tasks(Vec<AbortHandle>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

pub(crate) fn spawn(shared: &Arc<Shared>) -> Tasks {
    let mut tasks: Vec<AbortHandle> = shared
        .applications
        .keys()
        .map(|&id| tokio::spawn(follow(Arc::clone(shared), id)).abort_handle())
        .collect();
    tasks.push(tokio::spawn(watch(Arc::clone(shared))).abort_handle());
    Tasks(tasks)
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum FeedError {
    #[error("Latchkey cannot be reached: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("Latchkey refuses the reader token ({0})")]
    ReaderRefused(u16),
    #[error("the application is not found: deleted, or out of the reader token's reach")]
    NotFound,
    #[error("the cursor is older than the feed keeps, or not one")]
    StartOver,
    #[error("Latchkey answered {0}")]
    Status(u16),
    #[error("Latchkey's answer is not the feed's: {0}")]
    Body(String),
}

#[derive(Deserialize)]
struct RevokedPage {
    #[serde(rename = "ownerType")]
    owner_type: String,
    cursor: String,
    revoked: Vec<Id>,
    next: Option<Id>,
}

#[derive(Deserialize)]
struct ChangesPage {
    cursor: String,
    changes: Vec<Change>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Change {
    Token {
        #[serde(rename = "tokenId")]
        token_id: Id,
        revoked: bool,
    },
    Application,
    Keys,
    /// A kind this verifier does not know: whatever it says, reading the
    /// keys and the revoked list again accounts for it.
    #[serde(other)]
    Unknown,
}

/// What a read of the feed came to.
enum Step {
    /// Everything up to this cursor is applied.
    Applied(String),
    /// The application is gone (`404`).
    Deleted,
}

/// Follows one application's feed for as long as the verifier lives.
async fn follow(shared: Arc<Shared>, id: Id) {
    let application = &shared.applications[&id];
    let mut cursor: Option<String> = None;
    let mut retry = RETRY_FIRST;
    let mut reader_refused = false;
    loop {
        let step = match &cursor {
            None => start_over(&shared, id, application).await,
            Some(cursor) => poll(&shared, id, application, cursor).await,
        };
        match step {
            Ok(Step::Applied(next)) => {
                cursor = Some(next);
                shared.mark_fresh(application);
                retry = RETRY_FIRST;
                if std::mem::take(&mut reader_refused) {
                    tracing::info!(application = %id, "Latchkey accepts the reader token again");
                }
                continue;
            }
            Ok(Step::Deleted) => {
                application.view.store(Arc::new(View::Deleted));
                tracing::warn!(application = %id, "{}: refusing all its tokens from now on", FeedError::NotFound);
                return;
            }
            Err(FeedError::StartOver) => {
                tracing::info!(application = %id, "{}: reading the revoked list again", FeedError::StartOver);
                cursor = None;
                continue;
            }
            Err(FeedError::ReaderRefused(status)) => {
                // It can no longer vouch for anything: stale at once.
                Shared::mark_unvouched(application);
                if !std::mem::replace(&mut reader_refused, true) {
                    tracing::error!(application = %id, "{}: treating the feed as stale", FeedError::ReaderRefused(status));
                }
            }
            Err(error) => tracing::debug!(application = %id, %error, "a read of the feed failed; retrying"),
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(RETRY_LAST);
    }
}

/// Reads the keys and the whole revoked list; the cursor to follow from.
async fn start_over(shared: &Shared, id: Id, application: &Application) -> Result<Step, FeedError> {
    read_keys(shared).await?;
    read_revoked(shared, id, application).await
}

/// One long poll of the changes after `cursor`, applied.
async fn poll(shared: &Shared, id: Id, application: &Application, cursor: &str) -> Result<Step, FeedError> {
    let wait = shared.poll_wait.as_secs().to_string();
    let request = reader_get(shared, &format!("/applications/{id}/verifier/changes"))
        .query(&[("cursor", cursor), ("wait", &wait)])
        .timeout(shared.poll_wait + POLL_MARGIN);
    let page: ChangesPage = match read(shared, request).await {
        Err(FeedError::NotFound) => return Ok(Step::Deleted),
        page => page?,
    };
    let (mut tokens, mut keys, mut list) = (Vec::new(), false, false);
    for change in page.changes {
        match change {
            Change::Token { token_id, revoked } => tokens.push((token_id, revoked)),
            Change::Keys => keys = true,
            Change::Application => list = true,
            Change::Unknown => (keys, list) = (true, true),
        }
    }
    if keys {
        // The instance answering the JWKS may not have re-read the keys yet;
        // every instance does within 500 ms (spec 6), so read again after.
        read_keys(shared).await?;
        tokio::time::sleep(KEYS_SETTLE).await;
        read_keys(shared).await?;
    }
    if list {
        // Read after this answer, the list is newer than its token changes.
        return match read_revoked(shared, id, application).await? {
            Step::Applied(_) => Ok(Step::Applied(page.cursor)),
            Step::Deleted => Ok(Step::Deleted),
        };
    }
    if !tokens.is_empty() {
        if let View::Followed { owner, revoked } = &**application.view.load() {
            let revoked = revoked.with(&tokens);
            application
                .view
                .store(Arc::new(View::Followed { owner: *owner, revoked }));
        }
    }
    Ok(Step::Applied(page.cursor))
}

/// Reads every page of the revoked list into the application's view; the
/// first page's cursor, from which the feed holds whatever changed since.
async fn read_revoked(shared: &Shared, id: Id, application: &Application) -> Result<Step, FeedError> {
    let path = format!("/applications/{id}/verifier/revoked");
    let page_size = PAGE_SIZE.to_string();
    let mut revoked = HashSet::new();
    let mut cursor = None;
    let mut after: Option<Id> = None;
    loop {
        let mut request = reader_get(shared, &path).query(&[("perPage", &page_size)]);
        if let Some(after) = after {
            request = request.query(&[("after", after.to_string())]);
        }
        let page: RevokedPage = match read(shared, request.timeout(READ_TIMEOUT)).await {
            Err(FeedError::NotFound) => return Ok(Step::Deleted),
            page => page?,
        };
        let cursor = cursor.get_or_insert(page.cursor);
        revoked.extend(page.revoked);
        after = page.next;
        if after.is_none() {
            let owner = AppOwnerType::parse(&page.owner_type)
                .ok_or_else(|| FeedError::Body(format!("the owner type {:?}", page.owner_type)))?
                .as_target();
            let revoked = Revocations::new(revoked);
            application.view.store(Arc::new(View::Followed { owner, revoked }));
            return Ok(Step::Applied(cursor.clone()));
        }
    }
}

/// Reads the JWKS into the verifier's ring. One read at a time, so an
/// older answer never replaces a newer one.
pub(crate) async fn read_keys(shared: &Shared) -> Result<(), FeedError> {
    let _reading = shared.keys_read.lock().await;
    read_keys_alone(shared).await
}

/// [`read_keys`], for a caller that holds `keys_read`.
pub(crate) async fn read_keys_alone(shared: &Shared) -> Result<(), FeedError> {
    let request = shared
        .http
        .get(format!("{}/.well-known/jwks.json", shared.url))
        .timeout(READ_TIMEOUT);
    let jwks: serde_json::Value = read(shared, request).await?;
    let ring = KeyRing::from_jwks(&jwks).map_err(|invalid| FeedError::Body(invalid.to_string()))?;
    if ring.kids() != shared.keys.load().ring().kids() {
        shared.keys.store(Arc::new(CheckedKeys::new(ring)));
    }
    Ok(())
}

fn reader_get(shared: &Shared, path: &str) -> RequestBuilder {
    shared
        .http
        .get(format!("{}{path}", shared.url))
        .bearer_auth(&shared.reader.0)
}

/// Sends a request and reads its JSON answer, counting the read.
async fn read<T: DeserializeOwned>(shared: &Shared, request: RequestBuilder) -> Result<T, FeedError> {
    let answer = answer(request).await;
    let counter = match answer {
        Ok(_) => &shared.counters.feed_reads,
        Err(_) => &shared.counters.feed_errors,
    };
    Counters::count(counter);
    answer
}

async fn answer<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, FeedError> {
    let response = request.header("Accept", "application/json").send().await?;
    match response.status().as_u16() {
        200 => response
            .json()
            .await
            .map_err(|error| FeedError::Body(error.to_string())),
        status @ (401 | 403) => Err(FeedError::ReaderRefused(status)),
        404 => Err(FeedError::NotFound),
        400 | 410 => Err(FeedError::StartOver),
        status => Err(FeedError::Status(status)),
    }
}

/// Logs each application's feed going stale (past the bound without a
/// good answer) and recovering.
async fn watch(shared: Arc<Shared>) {
    let mut ticks = tokio::time::interval(WATCH_INTERVAL);
    // Per application: whether the last log said stale; none logged yet.
    let mut said_stale: HashMap<Id, bool> = HashMap::new();
    let consequence = match shared.introspect_when_stale {
        true => "checking each of its tokens with /auth/introspect",
        false => "refusing its tokens (503)",
    };
    loop {
        ticks.tick().await;
        for (id, application) in &shared.applications {
            if matches!(**application.view.load(), View::Deleted) {
                continue;
            }
            let stale = !shared.is_fresh(application);
            let before = said_stale.get(id).copied();
            // A feed that never answered is stale only once the bound is up.
            if stale && before != Some(true) && (before.is_some() || shared.started.elapsed() > shared.stale_after) {
                tracing::warn!(
                    application = %id,
                    bound = ?shared.stale_after,
                    "no good answer from Latchkey's verifier feed within the bound: {consequence}"
                );
                said_stale.insert(*id, true);
            } else if !stale && before != Some(false) {
                match before {
                    Some(true) => {
                        tracing::info!(application = %id, "Latchkey's verifier feed answers again: verifying its tokens locally")
                    }
                    _ => tracing::info!(application = %id, "following Latchkey's verifier feed"),
                }
                said_stale.insert(*id, false);
            }
        }
    }
}
