//! Rows to records.

use latchkey_core::model::{
    AppOwnerType, Application, Creator, CreatorType, Status, StoredKey, StoredSeed, TokenOwnerType, TokenRecord,
};
use latchkey_core::time::Millis;
use latchkey_core::Id;
use latchkey_store::keys::stored_seed;
use latchkey_store::sql::{expiration_date, last_use, scope_names};
use latchkey_store::{Credential, StoreError};
use tokio_postgres::Row;

fn corrupt(column: &str) -> StoreError {
    StoreError::Database(format!("column {column} holds a value latchkey did not write"))
}

fn parsed<T>(row: &Row, column: &str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    parse(row.try_get::<_, &str>(column).map_err(crate::database)?).ok_or_else(|| corrupt(column))
}

pub fn id_at(row: &Row, column: &str) -> Result<Id, StoreError> {
    parsed(row, column, |text| text.parse().ok())
}

pub fn status_at(row: &Row, column: &str) -> Result<Status, StoreError> {
    parsed(row, column, Status::parse)
}

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, column: &str) -> Result<T, StoreError> {
    row.try_get(column).map_err(crate::database)
}

pub fn token_from_row(row: &Row) -> Result<TokenRecord, StoreError> {
    let scope: &str = get(row, "scope")?;
    let expires: Millis = get(row, "expires_at")?;
    let digest: &[u8] = get(row, "digest")?;
    Ok(TokenRecord {
        id: id_at(row, "id")?,
        owner_type: parsed(row, "owner_type", TokenOwnerType::parse)?,
        owner_id: id_at(row, "owner_id")?,
        creator: Creator {
            kind: parsed(row, "creator_type", CreatorType::parse)?,
            id: id_at(row, "creator_id")?,
            name: get(row, "creator_name")?,
        },
        name: get(row, "name")?,
        description: get(row, "description")?,
        scope: scope_names(scope),
        status: status_at(row, "status")?,
        creation_date: get(row, "created_at")?,
        last_updated: get(row, "updated_at")?,
        expiration_date: expiration_date(expires),
        digest: digest.try_into().map_err(|_| corrupt("digest"))?,
        last_used: last_use(get(row, "last_used")?),
    })
}

/// A token row with its application's owner type (`credential_select`).
pub fn credential_from_row(row: &Row) -> Result<Credential, StoreError> {
    let owner: Option<&str> = get(row, "application_owner")?;
    let application_owner = match owner {
        None => None,
        Some(text) => Some(AppOwnerType::parse(text).ok_or_else(|| corrupt("application_owner"))?),
    };
    Ok(Credential {
        token: token_from_row(row)?,
        application_owner,
    })
}

pub fn application_from_row(row: &Row) -> Result<Application, StoreError> {
    Ok(Application {
        id: id_at(row, "id")?,
        owner_type: parsed(row, "owner_type", AppOwnerType::parse)?,
        owner_id: id_at(row, "owner_id")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        creation_date: get(row, "created_at")?,
        last_updated: get(row, "updated_at")?,
    })
}

pub fn key_from_row(row: &Row) -> Result<StoredKey<StoredSeed>, StoreError> {
    Ok(StoredKey {
        kid: get(row, "kid")?,
        seed: stored_seed(get(row, "seed")?, get(row, "seed_cipher")?).ok_or_else(|| corrupt("seed"))?,
        created_at: get(row, "created_at")?,
        signs_from: get(row, "signs_from")?,
        retired_at: get(row, "retired_at")?,
    })
}
