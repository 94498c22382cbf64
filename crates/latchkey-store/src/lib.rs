//! The storage trait: everything Latchkey keeps goes through [`Store`], so a
//! backend (SQLite, PostgreSQL) can be swapped without touching the HTTP layer.

use async_trait::async_trait;
use latchkey_core::audit::AuditEntry;
use latchkey_core::audit_list::AuditQuery;
use latchkey_core::list::{ListQuery, Page};
use latchkey_core::master_key::{KeyError, MasterKey};
use latchkey_core::model::{
    AppOwnerType, Application, Digest, Organization, Status, StoredKey, StoredSeed, TokenRecord, User,
};
use latchkey_core::time::Millis;
use latchkey_core::validate::{ApplicationPatch, TokenPatch};
use latchkey_core::Id;

/// A token found by its digest, with what authenticating it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub token: TokenRecord,
    /// For an application token, who owns its application; `None` when the
    /// application is gone (or for a user token).
    pub application_owner: Option<AppOwnerType>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A unique name is already taken (users, organizations).
    #[error("{0} already exists")]
    Conflict(String),
    /// Something referred to is missing (an organization's member, say).
    #[error("{0}")]
    Missing(String),
    /// The database itself failed or is unreachable.
    #[error("database error: {0}")]
    Database(String),
    /// The application tokens were inserted for does not exist.
    #[error("the application does not exist")]
    ApplicationMissing,
    /// The database's schema is newer than this program knows.
    #[error(
        "the database schema is version {found}, newer than this latchkey understands ({supported}); upgrade latchkey"
    )]
    SchemaTooNew { found: i64, supported: i64 },
    /// The stored signing keys cannot be used with the master key given, or
    /// without one.
    #[error(transparent)]
    SigningKeys(#[from] KeyError),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Succeeds when the database answers a trivial query (for `/ready`).
    async fn ping(&self) -> StoreResult<()>;

    /// Brings the query planner's statistics up to date after a bulk load
    /// (`admin seed`), so the first listings after it are planned well.
    async fn refresh_statistics(&self) -> StoreResult<()>;

    /// Every signing key as stored, oldest first. When there is none, stores
    /// `candidate` first, so concurrent first starts agree on one key.
    async fn signing_keys_or_insert(&self, candidate: StoredKey<StoredSeed>)
        -> StoreResult<Vec<StoredKey<StoredSeed>>>;
    /// Every signing key as stored, oldest first, retired ones too.
    async fn signing_keys(&self) -> StoreResult<Vec<StoredKey<StoredSeed>>>;
    /// Adds a key (a rotation), and inserts `audit`.
    async fn add_signing_key(&self, key: &StoredKey<StoredSeed>, audit: &AuditEntry) -> StoreResult<()>;
    /// Encrypts with `master` every key stored in clear, in one transaction,
    /// as [`master_key::seal_clear_keys`] says (failing, changing nothing,
    /// when a key encrypted already does not open with `master`); inserts
    /// `audit` when it encrypted any. Returns how many it encrypted.
    ///
    /// [`master_key::seal_clear_keys`]: latchkey_core::master_key::seal_clear_keys
    async fn encrypt_signing_keys(&self, master: &MasterKey, audit: &AuditEntry) -> StoreResult<usize>;
    /// Retires key `kid` at `now` if [`keys::retirement`] allows it, checked
    /// on the keys as they are when written, in one atomic step; inserts
    /// `audit` when it does.
    async fn retire_signing_key(&self, kid: &str, now: Millis, audit: &AuditEntry) -> StoreResult<KeyRetirement>;

    /// The user named `name`, created now if missing; `true` when created.
    async fn user_or_create(&self, name: &str, now: Millis) -> StoreResult<(User, bool)>;
    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>>;
    /// Fails with `Conflict` when the name is taken. Inserts `audit` with it.
    async fn create_user(&self, user: &User, now: Millis, audit: &AuditEntry) -> StoreResult<()>;
    /// Fails with `Conflict` when the name is taken. Logs a
    /// [`AuthChange::User`] for each member. Inserts `audit` with it.
    async fn create_organization(&self, org: &Organization, now: Millis, audit: &AuditEntry) -> StoreResult<()>;
    /// The organizations `user` is a member of.
    async fn organizations_of(&self, user: Id) -> StoreResult<Vec<Id>>;

    /// Inserts `audit` with it.
    async fn create_application(&self, app: &Application, audit: &AuditEntry) -> StoreResult<()>;
    async fn application(&self, id: Id) -> StoreResult<Option<Application>>;
    /// Applications owned by any of `owners`.
    async fn list_applications(&self, owners: &[Id], query: &ListQuery) -> StoreResult<Page<Application>>;
    /// Inserts `audit`, completed by [`audit::application_written`], when
    /// the application existed.
    async fn update_application(
        &self,
        id: Id,
        patch: &ApplicationPatch,
        now: Millis,
        audit: &AuditEntry,
    ) -> StoreResult<Option<Application>>;
    /// Deletes the application and all its tokens; `false` when it did not
    /// exist. Logs an [`AuthChange::Application`], and inserts `audit`
    /// completed by [`audit::application_deleted`]. A token being inserted meanwhile
    /// either lands first and is deleted with it, or fails.
    async fn delete_application(&self, id: Id, audit: &AuditEntry) -> StoreResult<bool>;

    /// Inserts tokens, and `audit`, in one durable transaction; returns once
    /// committed. Fails with [`StoreError::ApplicationMissing`], inserting
    /// nothing, when an application token's application does not exist
    /// (say, was deleted since the caller looked).
    async fn insert_tokens(&self, tokens: &[TokenRecord], audit: &AuditEntry) -> StoreResult<()>;
    /// The token whose secret has this digest, of any owner, with what its
    /// authentication needs, in one read.
    async fn credential_by_digest(&self, digest: &Digest) -> StoreResult<Option<Credential>>;
    /// The token `id` if it belongs to `application`.
    async fn token(&self, application: Id, id: Id) -> StoreResult<Option<TokenRecord>>;
    async fn list_tokens(&self, application: Id, query: &ListQuery) -> StoreResult<Page<TokenRecord>>;
    /// Applies `patch` if [`update::active_count_change`] allows it for
    /// `updater` on the token as it is when written, in one atomic step.
    /// Logs an [`AuthChange::Token`] and inserts `audit`, completed by
    /// [`audit::token_written`], when the token changed.
    async fn update_token(
        &self,
        application: Id,
        id: Id,
        patch: &TokenPatch,
        updater: &Updater,
        now: Millis,
        audit: &AuditEntry,
    ) -> StoreResult<TokenUpdate>;
    /// Deactivates or deletes, per `revocation`, every token of `application`
    /// that `query` matches (its filter, `createdBefore` and `lastUsedBefore`;
    /// its order and page are ignored), in one transaction that moves the
    /// kept counts, logs one [`AuthChange::Application`] (every instance
    /// forgets the application's cached authentications, however many
    /// tokens changed) and inserts `audit` completed by
    /// [`audit::tokens_revoked`]. Returns how many tokens it revoked (a
    /// deactivation counts only tokens that were active), or `None` when the
    /// application does not exist.
    async fn revoke_tokens(
        &self,
        application: Id,
        query: &ListQuery,
        revocation: sql::Revocation,
        now: Millis,
        audit: &AuditEntry,
    ) -> StoreResult<Option<u64>>;
    /// Deletes the token, leaving its tombstone (see [`revoked`]); returns
    /// what it was, so caches can forget it. Logs an [`AuthChange::Token`]
    /// and inserts `audit`, completed by [`audit::token_deleted`].
    async fn delete_token(&self, application: Id, id: Id, audit: &AuditEntry) -> StoreResult<Option<TokenRecord>>;
    /// One page of the application's revoked token ids (see [`revoked`]),
    /// in id order after `after`, at most `limit`, as of `now`.
    async fn revoked_tokens(&self, application: Id, after: Option<Id>, limit: u32, now: Millis)
        -> StoreResult<Vec<Id>>;
    /// The status of each of `ids` that is still a token of `application`.
    async fn token_statuses(&self, application: Id, ids: &[Id]) -> StoreResult<Vec<(Id, Status)>>;

    /// Appends entries that record no change of their own (refusals), in
    /// one transaction.
    async fn append_audit(&self, entries: &[AuditEntry]) -> StoreResult<()>;
    /// Deletes at most `limit` audit entries created before `before`, oldest
    /// first; returns how many it deleted.
    async fn prune_audit_logs(&self, before: Millis, limit: u32) -> StoreResult<u64>;
    /// One page of the audit entries in `scope` that `query` matches, each
    /// the entry's wire form as stored, with the count of all that match
    /// (see [`audit_list`]).
    async fn list_audit_logs(&self, scope: AuditScope, query: &AuditQuery) -> StoreResult<Page<AuditDocument>>;
    /// The wire form of the audit entry `id`, if it is in `scope`.
    async fn audit_entry(&self, scope: AuditScope, id: Id) -> StoreResult<Option<AuditDocument>>;

    /// Records when tokens were last used: each `(token, at)` moves the
    /// token's last use to `at` unless it is later already, so the latest
    /// use any instance saw wins and a last use never moves back. One
    /// statement for the whole batch; tokens since deleted are skipped.
    /// Neither `lastUpdated` nor the change log moves.
    async fn record_token_uses(&self, uses: &[(Id, Millis)]) -> StoreResult<()>;

    /// The authentication change log after `from` (see [`changes`]).
    /// Without a position: no entries, and the position where a reader
    /// starting now begins.
    async fn auth_changes(&self, from: Option<&changes::LogPosition>) -> StoreResult<AuthChanges>;
}

pub mod audit;
pub mod audit_list;
pub mod changes;
pub mod copy;
pub mod keys;
pub mod revoked;
pub mod sql;
pub mod update;

pub use audit_list::{AuditDocument, AuditScope};
pub use changes::{AuthChange, AuthChanges};
pub use keys::KeyRetirement;
pub use update::{TokenUpdate, Updater};
