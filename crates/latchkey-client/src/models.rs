//! The wire format (`schemas/`). Fields the server adds that a model does not
//! name are ignored, so newer servers never break older clients.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Dates as the API writes them: UTC with milliseconds, `2016-06-13T04:00:00.000Z`.
pub(crate) mod wire_date {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(date: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
        match date {
            Some(date) => serializer.serialize_str(&date.to_rfc3339_opts(SecondsFormat::Millis, true)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<DateTime<Utc>>::deserialize(deserializer)
    }
}

/// Whether a token works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenStatus {
    /// The token authenticates.
    Active,
    /// The token is refused until re-activated.
    Inactive,
}

/// What owns a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OwnerType {
    /// An application token.
    Application,
    /// A user token.
    User,
    /// An organization (applications only).
    Organization,
}

/// What created a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CreatorType {
    /// Another API token, over HTTP.
    ApiToken,
    /// A user.
    User,
    /// A Losant workflow.
    Flow,
}

/// An API Token (`schemas/apiToken.json`). Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    /// The token's id.
    pub id: String,
    /// The same id, under Losant's other name for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_token_id: Option<String>,
    /// The owning application's (or user's) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// What owns the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_type: Option<OwnerType>,
    /// Who created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_id: Option<String>,
    /// What kind of thing created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_type: Option<CreatorType>,
    /// The creator's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_name: Option<String>,
    /// The token's name.
    pub name: String,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When it was made.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "wire_date")]
    pub creation_date: Option<DateTime<Utc>>,
    /// When it last changed.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "wire_date")]
    pub last_updated: Option<DateTime<Utc>>,
    /// When it last authenticated a request (within seconds); `None` if never.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "wire_date")]
    pub last_used: Option<DateTime<Utc>>,
    /// When it stops working; `None` if never.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "wire_date")]
    pub expiration_date: Option<DateTime<Utc>>,
    /// What it may do.
    #[serde(default)]
    pub scope: Vec<String>,
    /// Whether it works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TokenStatus>,
    /// The secret: only in the response that created the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Fields this model does not name, kept as the server sent them.
    #[serde(flatten, default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}
impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured, so that a new field cannot be left out unnoticed.
        let ApiToken {
            id,
            api_token_id,
            owner_id,
            owner_type,
            creator_id,
            creator_type,
            creator_name,
            name,
            description,
            creation_date,
            last_updated,
            last_used,
            expiration_date,
            scope,
            status,
            token,
            extra,
        } = self;
        f.debug_struct("ApiToken")
            .field("id", id)
            .field("api_token_id", api_token_id)
            .field("owner_id", owner_id)
            .field("owner_type", owner_type)
            .field("creator_id", creator_id)
            .field("creator_type", creator_type)
            .field("creator_name", creator_name)
            .field("name", name)
            .field("description", description)
            .field("creation_date", creation_date)
            .field("last_updated", last_updated)
            .field("last_used", last_used)
            .field("expiration_date", expiration_date)
            .field("scope", scope)
            .field("status", status)
            .field("token", &token.as_ref().map(|_| "<redacted>"))
            .field("extra", extra)
            .finish()
    }
}

/// A page of API tokens (`schemas/apiTokens.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiTokens {
    /// The tokens of this page.
    pub items: Vec<ApiToken>,
    /// How many items this page holds.
    #[serde(default)]
    pub count: u64,
    /// How many tokens match in all.
    #[serde(default)]
    pub total_count: u64,
    /// The page size.
    #[serde(default)]
    pub per_page: u64,
    /// This page's number, from 0.
    #[serde(default)]
    pub page: u64,
    /// The glob filtered by, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// The field filtered on, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_field: Option<String>,
    /// The field sorted by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_field: Option<String>,
    /// The sort direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_direction: Option<String>,
    /// The application the tokens belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    /// The owner of the tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// The kind of owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_type: Option<OwnerType>,
    /// Fields this model does not name, kept as the server sent them.
    #[serde(flatten, default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}
/// The body that creates an application token (`schemas/applicationApiTokenPost.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationApiTokenPost {
    /// Required, 1 to 255 characters.
    pub name: String,
    /// Up to 32767 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When it stops working; never when `None`. Cannot be changed later.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "wire_date")]
    pub expiration_date: Option<DateTime<Utc>>,
    /// Scope names; `None` means `["all.Application"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<String>>,
    /// `Active` when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TokenStatus>,
}

/// Changes to a token (`schemas/apiTokenPatch.json`); `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiTokenPatch {
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Deactivate or re-activate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TokenStatus>,
}

/// `{"success": true, "count": N}`: how many tokens a bulk change
/// deactivated or deleted (a Latchkey extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    /// Always `true` on success.
    pub success: bool,
    /// How many tokens the call revoked.
    pub count: u64,
}

/// `{"success": true}` (`schemas/success.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Success {
    /// Always `true` on success.
    pub success: bool,
}

/// An application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// Its id.
    pub id: String,
    /// The same id, under Losant's other name for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    /// Its name.
    pub name: String,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The owning user's or organization's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// Whether a user or an organization owns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_type: Option<OwnerType>,
    /// When it was made.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "wire_date")]
    pub creation_date: Option<DateTime<Utc>>,
    /// When it last changed.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "wire_date")]
    pub last_updated: Option<DateTime<Utc>>,
    /// Fields this model does not name, kept as the server sent them.
    #[serde(flatten, default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}
/// A page of applications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Applications {
    /// The applications of this page.
    pub items: Vec<Application>,
    /// How many items this page holds.
    #[serde(default)]
    pub count: u64,
    /// How many applications match in all.
    #[serde(default)]
    pub total_count: u64,
    /// The page size.
    #[serde(default)]
    pub per_page: u64,
    /// This page's number, from 0.
    #[serde(default)]
    pub page: u64,
    /// Fields this model does not name, kept as the server sent them.
    #[serde(flatten, default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}
/// The body that creates an application.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationPost {
    /// Required, 1 to 255 characters.
    pub name: String,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The organization that will own it; the calling user when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
}

/// Changes to an application; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationPatch {
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A page of any listing, as the pager sees it.
pub trait Listing {
    /// What the listing lists.
    type Item;
    /// The items of this page.
    fn into_items(self) -> Vec<Self::Item>;
    /// The items of this page, borrowed.
    fn items(&self) -> &[Self::Item];
    /// This page's number.
    fn page(&self) -> u64;
    /// The page size.
    fn per_page(&self) -> u64;
    /// Items on this page.
    fn count(&self) -> u64;
    /// Items in all pages.
    fn total_count(&self) -> u64;
    /// Appends a later page's items to this one (`count` follows).
    fn absorb(&mut self, later: Self);
}

macro_rules! listing {
    ($page:ty, $item:ty) => {
        impl Listing for $page {
            type Item = $item;
            fn into_items(self) -> Vec<$item> {
                self.items
            }
            fn items(&self) -> &[$item] {
                &self.items
            }
            fn page(&self) -> u64 {
                self.page
            }
            fn per_page(&self) -> u64 {
                self.per_page
            }
            fn count(&self) -> u64 {
                self.items.len() as u64
            }
            fn total_count(&self) -> u64 {
                self.total_count
            }
            fn absorb(&mut self, later: Self) {
                self.items.extend(later.items);
                self.count = self.items.len() as u64;
            }
        }
    };
}

listing!(ApiTokens, ApiToken);
listing!(Applications, Application);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_server_form_and_ignores_unknown_fields() {
        let token: ApiToken = serde_json::from_str(
            r#"{"id":"575ec8687ae143cd83dc4a97","name":"n","scope":["all.Application"],"status":"active",
                "creationDate":"2016-06-13T04:00:00.000Z","ownerType":"application","creatorType":"flow",
                "somethingNew":{"nested":true}}"#,
        )
        .unwrap();
        assert_eq!(token.status, Some(TokenStatus::Active));
        assert_eq!(token.creator_type, Some(CreatorType::Flow));
        assert_eq!(token.creation_date.unwrap().timestamp(), 1_465_790_400);
        let again = serde_json::to_value(&token).unwrap();
        assert_eq!(again["somethingNew"]["nested"], true);
        assert_eq!(again["creationDate"], "2016-06-13T04:00:00.000Z");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let token: ApiToken =
            serde_json::from_str(r#"{"id":"575ec8687ae143cd83dc4a97","name":"n","token":"eyJsecret.value.here"}"#)
                .unwrap();
        let debug = format!("{token:?}");
        assert!(!debug.contains("eyJsecret"), "{debug}");
        assert!(
            debug.contains("<redacted>") && debug.contains("575ec8687ae143cd83dc4a97"),
            "{debug}"
        );
    }

    #[test]
    fn posts_only_what_is_set() {
        let post = ApplicationApiTokenPost {
            name: "x".into(),
            ..Default::default()
        };
        assert_eq!(serde_json::to_string(&post).unwrap(), r#"{"name":"x"}"#);
    }
}
