//! The pure core of Latchkey: everything that decides, nothing that waits.
//!
//! Ids, scopes and their rules, glob filters, request validation, token minting
//! and verification. No database, no network, no files: the storage and HTTP
//! crates call into this one.

pub mod audit;
pub mod audit_list;
pub mod glob;
pub mod id;
pub mod list;
pub mod master_key;
pub mod model;
pub mod scope;
pub mod time;
pub mod token;
pub mod validate;

pub use id::Id;
