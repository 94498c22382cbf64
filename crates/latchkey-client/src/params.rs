//! Typed listing parameters.

use chrono::{DateTime, Utc};

/// A value a listing parameter takes on the wire.
pub trait QueryValue: Copy {
    /// The wire spelling.
    fn as_str(self) -> &'static str;
}

macro_rules! query_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl QueryValue for $name {
            fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<$name, String> {
                match text {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(format!("expected one of: {}", [$($wire),+].join(", "))),
                }
            }
        }
    };
}

pub(crate) use query_enum;

query_enum!(
    /// What a token listing is sorted by.
    TokenSortField {
        /// By name, case-insensitively (the default).
        Name => "name",
        /// By status.
        Status => "status",
        /// By id (roughly creation order).
        Id => "id",
        /// By creation date.
        CreationDate => "creationDate",
        /// By last change.
        LastUpdated => "lastUpdated",
        /// By expiration; never-expiring tokens last.
        ExpirationDate => "expirationDate",
        /// By last use; never-used tokens first.
        LastUsed => "lastUsed",
    }
);

query_enum!(
    /// What an application listing is sorted by.
    ApplicationSortField {
        /// By name, case-insensitively (the default).
        Name => "name",
        /// By id.
        Id => "id",
        /// By creation date.
        CreationDate => "creationDate",
        /// By last change.
        LastUpdated => "lastUpdated",
    }
);

query_enum!(
    /// Sort direction.
    SortDirection {
        /// Ascending (the default).
        Asc => "asc",
        /// Descending.
        Desc => "desc",
    }
);

query_enum!(
    /// The token field a glob filter applies to.
    TokenFilterField {
        /// The name.
        Name => "name",
        /// The status.
        Status => "status",
    }
);

query_enum!(
    /// The application field a glob filter applies to.
    ApplicationFilterField {
        /// The name.
        Name => "name",
    }
);

/// Listing parameters; `None` leaves a parameter to the server's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams<S, F> {
    /// What to sort by.
    pub sort_field: Option<S>,
    /// Which way.
    pub sort_direction: Option<SortDirection>,
    /// Which page, from 0.
    pub page: Option<u64>,
    /// Items per page, 1 to 1000.
    pub per_page: Option<u32>,
    /// The field `filter` applies to.
    pub filter_field: Option<F>,
    /// A glob: `*` matches any run of characters, case-insensitively.
    pub filter: Option<String>,
    /// Token listings only: tokens last used before this instant, and those
    /// never used.
    pub last_used_before: Option<DateTime<Utc>>,
    /// Token listings only: tokens created before this instant.
    pub created_before: Option<DateTime<Utc>>,
}

/// Parameters of a token listing.
pub type TokenListParams = ListParams<TokenSortField, TokenFilterField>;
/// Parameters of an application listing.
pub type ApplicationListParams = ListParams<ApplicationSortField, ApplicationFilterField>;

impl<S, F> Default for ListParams<S, F> {
    fn default() -> Self {
        ListParams {
            sort_field: None,
            sort_direction: None,
            page: None,
            per_page: None,
            filter_field: None,
            filter: None,
            last_used_before: None,
            created_before: None,
        }
    }
}

impl<S: QueryValue, F: QueryValue> ListParams<S, F> {
    /// No parameters: the server's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sort by `field`.
    pub fn sort_field(mut self, field: S) -> Self {
        self.sort_field = Some(field);
        self
    }

    /// Sort in `direction`.
    pub fn sort_direction(mut self, direction: SortDirection) -> Self {
        self.sort_direction = Some(direction);
        self
    }

    /// Return page `page` (from 0).
    pub fn page(mut self, page: u64) -> Self {
        self.page = Some(page);
        self
    }

    /// Return `per_page` items per page.
    pub fn per_page(mut self, per_page: u32) -> Self {
        self.per_page = Some(per_page);
        self
    }

    /// Keep only items whose `field` matches the glob `filter`.
    pub fn filter(mut self, field: F, filter: impl Into<String>) -> Self {
        self.filter_field = Some(field);
        self.filter = Some(filter.into());
        self
    }

    /// The query-string pairs.
    pub(crate) fn to_query(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        if let Some(field) = self.sort_field {
            query.push(("sortField", field.as_str().to_string()));
        }
        if let Some(direction) = self.sort_direction {
            query.push(("sortDirection", direction.as_str().to_string()));
        }
        if let Some(page) = self.page {
            query.push(("page", page.to_string()));
        }
        if let Some(per_page) = self.per_page {
            query.push(("perPage", per_page.to_string()));
        }
        if let Some(field) = self.filter_field {
            query.push(("filterField", field.as_str().to_string()));
        }
        if let Some(filter) = &self.filter {
            query.push(("filter", filter.clone()));
        }
        if let Some(before) = self.last_used_before {
            query.push(("lastUsedBefore", before.timestamp_millis().to_string()));
        }
        if let Some(before) = self.created_before {
            query.push(("createdBefore", before.timestamp_millis().to_string()));
        }
        query
    }
}

impl TokenListParams {
    /// Keep only tokens last used before `before`, and those never used.
    pub fn last_used_before(mut self, before: DateTime<Utc>) -> Self {
        self.last_used_before = Some(before);
        self
    }

    /// Keep only tokens created before `before`.
    pub fn created_before(mut self, before: DateTime<Utc>) -> Self {
        self.created_before = Some(before);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_in_wire_spelling() {
        let params = TokenListParams::new()
            .sort_field(TokenSortField::ExpirationDate)
            .sort_direction(SortDirection::Desc)
            .page(2)
            .per_page(10)
            .filter(TokenFilterField::Name, "my*token")
            .last_used_before(DateTime::from_timestamp_millis(1_700_000_000_123).unwrap());
        let query = params.to_query();
        assert_eq!(
            query,
            [
                ("sortField", "expirationDate".to_string()),
                ("sortDirection", "desc".to_string()),
                ("page", "2".to_string()),
                ("perPage", "10".to_string()),
                ("filterField", "name".to_string()),
                ("filter", "my*token".to_string()),
                ("lastUsedBefore", "1700000000123".to_string()),
            ]
        );
        assert!(TokenListParams::new().to_query().is_empty());
        assert_eq!(
            "creationDate".parse::<TokenSortField>(),
            Ok(TokenSortField::CreationDate)
        );
        assert!("color".parse::<TokenSortField>().unwrap_err().contains("name, status"));
    }
}
