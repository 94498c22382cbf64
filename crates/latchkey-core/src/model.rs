//! The records Latchkey keeps and their JSON wire form (`schemas/`).

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::id::Id;
use crate::scope::TargetOwner;
use crate::time::{to_wire, Millis};

/// SHA-256 of a token's text: all the database holds of the secret.
pub type Digest = [u8; 32];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenOwnerType {
    Application,
    User,
}

impl TokenOwnerType {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenOwnerType::Application => "application",
            TokenOwnerType::User => "user",
        }
    }

    pub fn parse(text: &str) -> Option<TokenOwnerType> {
        match text {
            "application" => Some(TokenOwnerType::Application),
            "user" => Some(TokenOwnerType::User),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreatorType {
    ApiToken,
    User,
}

impl CreatorType {
    pub fn as_str(self) -> &'static str {
        match self {
            CreatorType::ApiToken => "apiToken",
            CreatorType::User => "user",
        }
    }

    pub fn parse(text: &str) -> Option<CreatorType> {
        match text {
            "apiToken" => Some(CreatorType::ApiToken),
            "user" => Some(CreatorType::User),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Inactive,
}

impl Status {
    pub const ALL: [Status; 2] = [Status::Active, Status::Inactive];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Inactive => "inactive",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        match text {
            "active" => Some(Status::Active),
            "inactive" => Some(Status::Inactive),
            _ => None,
        }
    }
}

/// Who made a token: an API token over HTTP, or a user through the admin CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creator {
    pub kind: CreatorType,
    pub id: Id,
    pub name: String,
}

/// An API token as stored: everything but the secret, plus its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: Id,
    pub owner_type: TokenOwnerType,
    pub owner_id: Id,
    pub creator: Creator,
    pub name: String,
    pub description: String,
    pub scope: Vec<String>,
    pub status: Status,
    pub creation_date: Millis,
    pub last_updated: Millis,
    pub expiration_date: Option<Millis>,
    pub digest: Digest,
    /// When the token last authenticated a request, as far as the store
    /// knows (uses are written in batches); `None` if never.
    pub last_used: Option<Millis>,
}

impl TokenRecord {
    pub fn is_expired(&self, now: Millis) -> bool {
        self.expiration_date.is_some_and(|at| at <= now)
    }

    /// The wire form without the secret.
    pub fn to_wire(&self) -> ApiToken<'_> {
        ApiToken {
            record: self,
            last_used: self.last_used,
            secret: None,
        }
    }

    /// The wire form of the create response, the one place the secret appears.
    pub fn to_wire_with_secret<'a>(&'a self, secret: &'a str) -> ApiToken<'a> {
        ApiToken {
            record: self,
            last_used: self.last_used,
            secret: Some(secret),
        }
    }

    /// The wire form without `lastUsed`, for a record as an authentication
    /// cache holds it: its last use is as old as the read that cached it.
    pub fn to_wire_without_last_use(&self) -> ApiToken<'_> {
        ApiToken {
            record: self,
            last_used: None,
            secret: None,
        }
    }
}

/// The API Token of `schemas/apiToken.json`.
pub struct ApiToken<'a> {
    record: &'a TokenRecord,
    last_used: Option<Millis>,
    secret: Option<&'a str>,
}

impl ApiToken<'_> {
    fn field_count(&self) -> usize {
        12 + usize::from(self.record.expiration_date.is_some())
            + usize::from(self.last_used.is_some())
            + usize::from(self.secret.is_some())
    }

    /// Writes the fields into an open map, so callers can append their own.
    pub fn serialize_fields<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        let record = self.record;
        map.serialize_entry("id", &record.id)?;
        map.serialize_entry("apiTokenId", &record.id)?;
        map.serialize_entry("ownerId", &record.owner_id)?;
        map.serialize_entry("ownerType", record.owner_type.as_str())?;
        map.serialize_entry("creatorId", &record.creator.id)?;
        map.serialize_entry("creatorType", record.creator.kind.as_str())?;
        map.serialize_entry("creatorName", &record.creator.name)?;
        map.serialize_entry("name", &record.name)?;
        map.serialize_entry("description", &record.description)?;
        map.serialize_entry("creationDate", &to_wire(record.creation_date))?;
        map.serialize_entry("lastUpdated", &to_wire(record.last_updated))?;
        if let Some(last_used) = self.last_used {
            map.serialize_entry("lastUsed", &to_wire(last_used))?;
        }
        if let Some(expiration) = record.expiration_date {
            map.serialize_entry("expirationDate", &to_wire(expiration))?;
        }
        map.serialize_entry("scope", &record.scope)?;
        map.serialize_entry("status", record.status.as_str())?;
        if let Some(secret) = self.secret {
            map.serialize_entry("token", secret)?;
        }
        Ok(())
    }
}

impl Serialize for ApiToken<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.field_count()))?;
        self.serialize_fields(&mut map)?;
        map.end()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppOwnerType {
    User,
    Organization,
}

impl AppOwnerType {
    pub fn as_str(self) -> &'static str {
        match self {
            AppOwnerType::User => "user",
            AppOwnerType::Organization => "organization",
        }
    }

    pub fn parse(text: &str) -> Option<AppOwnerType> {
        match text {
            "user" => Some(AppOwnerType::User),
            "organization" => Some(AppOwnerType::Organization),
            _ => None,
        }
    }

    pub fn as_target(self) -> TargetOwner {
        match self {
            AppOwnerType::User => TargetOwner::User,
            AppOwnerType::Organization => TargetOwner::Organization,
        }
    }
}

/// An application: just enough to own tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub id: Id,
    pub name: String,
    pub description: String,
    pub owner_type: AppOwnerType,
    pub owner_id: Id,
    pub creation_date: Millis,
    pub last_updated: Millis,
}

impl Serialize for Application {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(8))?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("applicationId", &self.id)?;
        map.serialize_entry("name", &self.name)?;
        map.serialize_entry("description", &self.description)?;
        map.serialize_entry("ownerId", &self.owner_id)?;
        map.serialize_entry("ownerType", self.owner_type.as_str())?;
        map.serialize_entry("creationDate", &to_wire(self.creation_date))?;
        map.serialize_entry("lastUpdated", &to_wire(self.last_updated))?;
        map.end()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Id,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: Id,
    pub name: String,
    pub members: Vec<Id>,
}

/// An Ed25519 signing key's 32-byte seed, in clear; wiped from memory when dropped.
pub type Seed = zeroize::Zeroizing<[u8; 32]>;

/// An Ed25519 signing key: its key id, when it signs, and its seed — in
/// clear (`StoredKey`, which signs and verifies), or as the database keeps
/// it (`StoredKey<StoredSeed>`).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey<S = Seed> {
    pub kid: String,
    pub seed: S,
    pub created_at: Millis,
    /// From when it may sign: a rotated-in key signs only once every
    /// instance has had time to learn it ([`crate::token::KEY_PROPAGATION`]).
    pub signs_from: Millis,
    /// When it was retired: tokens it signed are refused from then on.
    pub retired_at: Option<Millis>,
}

impl<S> StoredKey<S> {
    /// The same key with its seed in another form (sealed, opened).
    pub fn with_seed<T>(self, seed: T) -> StoredKey<T> {
        StoredKey {
            kid: self.kid,
            seed,
            created_at: self.created_at,
            signs_from: self.signs_from,
            retired_at: self.retired_at,
        }
    }
}

impl<S> std::fmt::Debug for StoredKey<S> {
    /// Never shows the seed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("signs_from", &self.signs_from)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

/// A seed as the database keeps it (see [`crate::master_key`]).
#[derive(Clone, PartialEq, Eq)]
pub enum StoredSeed {
    /// Whoever reads the database can sign with it.
    Clear(Seed),
    /// Encrypted with the master key: useless without it.
    Sealed(SealedSeed),
}

/// A seed encrypted with the master key, as [`crate::master_key`] lays it out.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSeed(pub Vec<u8>);
