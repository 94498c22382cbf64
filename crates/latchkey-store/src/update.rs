//! The rule of a token update, applied by every backend inside the update's
//! transaction to the row as it is at that moment (locked), so no other
//! write can slip between the check and the write it allows.

use latchkey_core::model::{Status, TokenRecord};
use latchkey_core::scope::{escalations, TargetOwner};
use latchkey_core::validate::TokenPatch;

/// Who updates a token: what their own token may do on the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Updater {
    /// The caller's scopes.
    pub scope: Vec<String>,
    /// Who owns the application (`all.Organization` acts only on organizations').
    pub owner: TargetOwner,
}

/// What an update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenUpdate {
    Updated(TokenRecord),
    /// No such token in that application.
    NotFound,
    /// Refused: the update would re-activate a token granting these scopes,
    /// which the updater could not have created (spec section 5).
    Escalation(Vec<String>),
}

/// How `patch`, applied by `updater` to `current`, moves the application's
/// count of active tokens; or the scopes that forbid it.
pub fn active_count_change(current: &TokenRecord, patch: &TokenPatch, updater: &Updater) -> Result<i64, Vec<String>> {
    match patch.status {
        Some(Status::Active) if current.status == Status::Inactive => {
            let withheld = escalations(&current.scope, &updater.scope, updater.owner);
            if withheld.is_empty() {
                Ok(1)
            } else {
                Err(withheld.into_iter().map(String::from).collect())
            }
        }
        Some(Status::Inactive) if current.status == Status::Active => Ok(-1),
        _ => Ok(0),
    }
}
