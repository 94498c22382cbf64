//! What the audit log is told of HTTP requests.
//!
//! A change's entry is drafted here from the request ([`draft`]) and handed
//! to the store, which completes and inserts it in the change's own
//! transaction. A refused attempt at a change (`403`, `404`) by an
//! authenticated caller is recorded after the response, through a bounded
//! queue written in batches ([`AuditLog`]); [`AuditLog::flush`] on shutdown
//! writes what is queued. Unauthenticated refusals (`401`) are not entries:
//! anyone could fill the disk with them. [`unauthenticated`] summarises them.

pub mod unauthenticated;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use latchkey_core::audit::{redact, redact_fields, redact_text, ActorType, AuditEntry, Named, TargetType};
use latchkey_core::model::Application;
use latchkey_core::time::{now_millis, Millis};
use latchkey_store::Store;
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot};

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::metrics::Metrics;
use crate::state::AppState;

/// Where a request came from, as the audit log records it.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The peer's address (a proxy's, behind one: no forwarding header is
    /// trusted, as any client could send one).
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Longest user agent kept; the rest is cut.
const MAX_USER_AGENT_CHARS: usize = 512;

/// The address of the peer that sent the request, when the server was
/// started with connection info (it is, by `latchkey serve`).
pub fn peer_ip(parts: &Parts) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip())
}

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Origin, Self::Rejection> {
        let source_ip = peer_ip(parts).map(|ip| ip.to_string());
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| redact_text(agent.chars().take(MAX_USER_AGENT_CHARS).collect()));
        Ok(Origin { source_ip, user_agent })
    }
}

/// Request bodies larger than this are recorded by their size only.
const MAX_KEPT_BODY_BYTES: usize = 16 * 1024;

/// The body as an entry keeps it: its JSON, redacted; by its size when it
/// is large; `null` when it is not JSON (such a request is refused `400`,
/// which is not recorded, before any change).
fn kept_body(body: Option<&Bytes>) -> Value {
    match body {
        None => Value::Object(Map::new()),
        Some(body) if body.len() > MAX_KEPT_BODY_BYTES => json!({ "omitted": format!("{} bytes", body.len()) }),
        Some(body) => serde_json::from_slice(body).map(redact).unwrap_or(Value::Null),
    }
}

/// The query string's pairs as an object (a repeated key keeps its last value).
fn query_object(query: &[(String, String)]) -> Map<String, Value> {
    let pairs = query
        .iter()
        .map(|(key, value)| (key.clone(), Value::String(value.clone())));
    redact_fields(pairs.collect())
}

/// What a request asks for, as Losant names it, and where from.
pub struct Request<'a> {
    pub resource: &'static str,
    pub action: &'static str,
    /// The route's path parameters, by their names in the route.
    pub path: &'a [(&'static str, &'a str)],
    pub query: &'a [(String, String)],
    pub body: Option<&'a Bytes>,
}

/// The entry of `request` by `principal`: the token that acts is the actor.
pub fn draft(principal: &Principal, origin: &Origin, request: Request<'_>) -> AuditEntry {
    let token = &principal.token;
    let actor = Named {
        kind: ActorType::ApiToken,
        id: token.id,
        name: token.name.clone(),
    };
    let path = request
        .path
        .iter()
        .map(|(name, value)| (name.to_string(), Value::String(value.to_string())))
        .collect();
    AuditEntry {
        request_path_params: path,
        request_query_params: query_object(request.query),
        request_body: kept_body(request.body),
        source_ip: origin.source_ip.clone(),
        user_agent: origin.user_agent.clone(),
        ..AuditEntry::draft(now_millis(), Some(actor), request.resource, request.action)
    }
}

/// `entry` about `application`, and its organization when one owns it.
pub fn about(entry: &mut AuditEntry, application: &Application) {
    entry.org_id =
        (application.owner_type == latchkey_core::model::AppOwnerType::Organization).then_some(application.owner_id);
    entry.application = Some(Named {
        kind: TargetType::Application,
        id: application.id,
        name: application.name.clone(),
    });
}

/// Runs `work`, which completes `entry` as it learns what the request is
/// about and hands it to the store with the change; a refusal it returns
/// (`403`, `404`) is recorded with the entry as far as `work` got.
pub async fn audited<T>(
    state: &AppState,
    mut entry: AuditEntry,
    work: impl AsyncFnOnce(&mut AuditEntry) -> ApiResult<T>,
) -> ApiResult<T> {
    let result = work(&mut entry).await;
    state.audit.record_refusal(entry, &result);
    result
}

/// Most refusals waiting to be written; past it they are counted as dropped
/// (`latchkey_audit_refusals_dropped_total`), so a flood costs bounded memory.
const QUEUE_CAPACITY: usize = 10_000;
/// Most refusals written in one transaction.
const BATCH: usize = 500;

enum Queued {
    Refusal(Box<AuditEntry>),
    /// Answered once everything queued before it is written.
    Flush(oneshot::Sender<()>),
}

/// The queue of refusals, written by a task of its own.
#[derive(Clone)]
pub struct AuditLog {
    queue: mpsc::Sender<Queued>,
    metrics: std::sync::Arc<Metrics>,
}

impl AuditLog {
    /// Starts the writer task (on the current tokio runtime).
    pub fn start(store: std::sync::Arc<dyn Store>, metrics: std::sync::Arc<Metrics>) -> AuditLog {
        let (queue, mut receiver) = mpsc::channel::<Queued>(QUEUE_CAPACITY);
        tokio::spawn(async move {
            let mut received = Vec::with_capacity(BATCH);
            while receiver.recv_many(&mut received, BATCH).await > 0 {
                let mut refusals = Vec::with_capacity(received.len());
                let mut flushes = Vec::new();
                for queued in received.drain(..) {
                    match queued {
                        Queued::Refusal(entry) => refusals.push(*entry),
                        Queued::Flush(done) => flushes.push(done),
                    }
                }
                if !refusals.is_empty() {
                    if let Err(error) = store.append_audit(&refusals).await {
                        tracing::error!(%error, count = refusals.len(), "audit log: refusals could not be written");
                    }
                }
                for done in flushes {
                    let _ = done.send(());
                }
            }
        });
        AuditLog { queue, metrics }
    }

    /// Records the refusal `result` carries, if it is one the log keeps:
    /// a `403` or `404`, completed into `entry`.
    pub fn record_refusal<T>(&self, entry: AuditEntry, result: &ApiResult<T>) {
        let Err(error) = result else {
            return;
        };
        if !matches!(error.status.as_u16(), 403 | 404) {
            return;
        }
        let entry = AuditEntry {
            response_status: error.status.as_u16(),
            response_body: json!({"type": error.kind, "message": error.message}),
            ..entry
        };
        if self.queue.try_send(Queued::Refusal(Box::new(entry))).is_err() {
            self.metrics.audit_refusals_dropped.inc();
        }
    }

    /// Waits until every refusal queued before this call is written, or
    /// `limit` passes.
    pub async fn flush(&self, limit: Duration) {
        let (done, written) = oneshot::channel();
        if self.queue.send(Queued::Flush(done)).await.is_ok() {
            let _ = tokio::time::timeout(limit, written).await;
        }
    }
}

/// Deletes entries older than `retention`, now and then every `interval`,
/// in batches of bounded size so no transaction grows with the backlog.
pub fn spawn_retention(store: std::sync::Arc<dyn Store>, retention: Duration, interval: Duration) {
    const PRUNE_BATCH: u32 = 10_000;
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        loop {
            ticks.tick().await;
            let before: Millis = now_millis() - retention.as_millis() as Millis;
            loop {
                match store.prune_audit_logs(before, PRUNE_BATCH).await {
                    Ok(deleted) if deleted == u64::from(PRUNE_BATCH) => continue,
                    Ok(_) => break,
                    Err(error) => {
                        tracing::warn!(%error, "audit log: old entries could not be pruned");
                        break;
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_kept_redacted_and_bounded() {
        let jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        let body = Bytes::from(format!(r#"{{"name": "x", "description": "{jwt}"}}"#));
        assert_eq!(
            kept_body(Some(&body)),
            json!({"name": "x", "description": latchkey_core::audit::REDACTED})
        );
        assert_eq!(kept_body(Some(&Bytes::from_static(b"not json"))), Value::Null);
        let large = Bytes::from(format!(r#"{{"name": "{}"}}"#, "x".repeat(MAX_KEPT_BODY_BYTES)));
        assert_eq!(
            kept_body(Some(&large)),
            json!({"omitted": format!("{} bytes", large.len())})
        );
        assert_eq!(kept_body(None), json!({}));
    }

    #[test]
    fn query_values_shaped_like_tokens_are_redacted() {
        let jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        let query = [
            ("filter".to_string(), "my*".to_string()),
            ("oops".to_string(), jwt.to_string()),
        ];
        assert_eq!(
            Value::Object(query_object(&query)),
            json!({"filter": "my*", "oops": latchkey_core::audit::REDACTED})
        );
    }
}
