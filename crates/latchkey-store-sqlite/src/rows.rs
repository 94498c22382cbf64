//! Rows to records.

use latchkey_core::model::{
    AppOwnerType, Application, Creator, CreatorType, Status, StoredKey, StoredSeed, TokenOwnerType, TokenRecord,
};
use latchkey_core::time::Millis;
use latchkey_core::Id;
use latchkey_store::keys::stored_seed;
use latchkey_store::sql::{expiration_date, last_use, scope_names};
use latchkey_store::Credential;
use rusqlite::types::Type;
use rusqlite::{Error, Row};

fn corrupt(index: usize, what: &str) -> Error {
    Error::FromSqlConversionFailure(index, Type::Text, format!("not {what}").into())
}

pub fn id_at(row: &Row<'_>, index: usize) -> rusqlite::Result<Id> {
    row.get::<_, String>(index)?
        .parse()
        .map_err(|_| corrupt(index, "an id"))
}

fn parsed<T>(row: &Row<'_>, index: usize, parse: fn(&str) -> Option<T>, what: &str) -> rusqlite::Result<T> {
    parse(&row.get::<_, String>(index)?).ok_or_else(|| corrupt(index, what))
}

pub fn status_at(row: &Row<'_>, index: usize) -> rusqlite::Result<Status> {
    parsed(row, index, Status::parse, "a status")
}

pub fn token_from_row(row: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    let scope: String = row.get(8)?;
    let expires: Millis = row.get(12)?;
    Ok(TokenRecord {
        id: id_at(row, 0)?,
        owner_type: parsed(row, 1, TokenOwnerType::parse, "an owner type")?,
        owner_id: id_at(row, 2)?,
        creator: Creator {
            kind: parsed(row, 3, CreatorType::parse, "a creator type")?,
            id: id_at(row, 4)?,
            name: row.get(5)?,
        },
        name: row.get(6)?,
        description: row.get(7)?,
        scope: scope_names(&scope),
        status: status_at(row, 9)?,
        creation_date: row.get(10)?,
        last_updated: row.get(11)?,
        expiration_date: expiration_date(expires),
        digest: row.get::<_, [u8; 32]>(13)?,
        last_used: last_use(row.get(14)?),
    })
}

/// A token row followed by its application's owner type (`credential_select`).
pub fn credential_from_row(row: &Row<'_>) -> rusqlite::Result<Credential> {
    let owner: Option<String> = row.get(15)?;
    let application_owner = match owner {
        None => None,
        Some(text) => Some(AppOwnerType::parse(&text).ok_or_else(|| corrupt(15, "an owner type"))?),
    };
    Ok(Credential {
        token: token_from_row(row)?,
        application_owner,
    })
}

pub fn application_from_row(row: &Row<'_>) -> rusqlite::Result<Application> {
    Ok(Application {
        id: id_at(row, 0)?,
        owner_type: parsed(row, 1, AppOwnerType::parse, "an owner type")?,
        owner_id: id_at(row, 2)?,
        name: row.get(3)?,
        description: row.get(4)?,
        creation_date: row.get(5)?,
        last_updated: row.get(6)?,
    })
}

pub fn key_from_row(row: &Row<'_>) -> rusqlite::Result<StoredKey<StoredSeed>> {
    let cipher: Option<String> = row.get(5)?;
    Ok(StoredKey {
        kid: row.get(0)?,
        seed: stored_seed(row.get_ref(1)?.as_blob()?, cipher.as_deref()).ok_or_else(|| corrupt(1, "a seed"))?,
        created_at: row.get(2)?,
        signs_from: row.get(3)?,
        retired_at: row.get(4)?,
    })
}
