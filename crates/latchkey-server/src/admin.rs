//! Setting a database up and minting user tokens: shared by `serve` (its
//! first start) and the administrator's commands.

use latchkey_core::audit::AuditEntry;
use latchkey_core::master_key::{to_stored, MasterKey};
use latchkey_core::model::{Creator, CreatorType, Status, TokenOwnerType, User};
use latchkey_core::time::{now_millis, Millis};
use latchkey_core::token::{generate_key, NewToken, Signer};
use latchkey_store::audit::token_written;

use crate::keys::Loaded;
use latchkey_store::{Store, StoreResult};
use serde_json::{json, Value};

pub const ADMIN_USER: &str = "admin";
pub const DEFAULT_USER_SCOPE: &str = "all.User";

/// The signing keys, opened with the master key when there is one (see
/// [`latchkey_core::master_key`]); on an empty database, first creates one,
/// encrypted when there is a master key.
pub async fn load_keys(store: &dyn Store, master_key: Option<&MasterKey>) -> StoreResult<Loaded> {
    let now = now_millis();
    let candidate = to_stored(generate_key(now, now), master_key);
    Loaded::open(store.signing_keys_or_insert(candidate).await?, master_key)
}

/// The audit entry of an operator's command (`latchkey admin …`, a first
/// start): no actor, Losant-style names for what it did, and what was asked.
pub fn by_operator(resource: &str, action: &str, request_body: Value) -> AuditEntry {
    AuditEntry {
        request_body,
        ..AuditEntry::draft(now_millis(), None, resource, action)
    }
}

/// Mints and stores a token of `user`; returns the secret. Audited as
/// `userApiTokens`/`post` by the operator.
pub async fn issue_user_token(
    store: &dyn Store,
    signer: &Signer,
    user: &User,
    name: &str,
    scope: Vec<String>,
    expiration_date: Option<Millis>,
) -> StoreResult<String> {
    let new = NewToken {
        owner_type: TokenOwnerType::User,
        owner_id: user.id,
        creator: Creator {
            kind: CreatorType::User,
            id: user.id,
            name: user.name.clone(),
        },
        name: name.to_string(),
        description: String::new(),
        scope,
        status: Status::Active,
        expiration_date,
    };
    let asked = json!({"user": user.name, "name": new.name, "scope": new.scope});
    let (record, secret) = signer.issue(new, now_millis());
    let audit = token_written(&by_operator("userApiTokens", "post", asked), 201, &record);
    store.insert_tokens(std::slice::from_ref(&record), &audit).await?;
    Ok(secret)
}

/// On a database without an `admin` user, creates it and returns a new admin
/// token (scope `all.User`); `None` when the database was set up before.
pub async fn bootstrap(store: &dyn Store, signer: &Signer) -> StoreResult<Option<String>> {
    let (admin, created) = store.user_or_create(ADMIN_USER, now_millis()).await?;
    if !created {
        return Ok(None);
    }
    let token = issue_user_token(
        store,
        signer,
        &admin,
        "admin (first start)",
        vec![DEFAULT_USER_SCOPE.into()],
        None,
    )
    .await?;
    Ok(Some(token))
}
