//! Listing parameters (spec 1.1 and 1.4): parsing, defaults and the messages
//! for values outside what each listing accepts.

use crate::glob::Glob;
use crate::time::Millis;
use crate::validate::Invalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    Name,
    Status,
    Id,
    CreationDate,
    LastUpdated,
    ExpirationDate,
    /// Never-used tokens sort as used infinitely early.
    LastUsed,
}

impl SortField {
    pub fn as_str(self) -> &'static str {
        match self {
            SortField::Name => "name",
            SortField::Status => "status",
            SortField::Id => "id",
            SortField::CreationDate => "creationDate",
            SortField::LastUpdated => "lastUpdated",
            SortField::ExpirationDate => "expirationDate",
            SortField::LastUsed => "lastUsed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortDirection {
    Asc,
    Desc,
}

impl SortDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            SortDirection::Asc => "asc",
            SortDirection::Desc => "desc",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterField {
    Name,
    Status,
}

impl FilterField {
    pub fn as_str(self) -> &'static str {
        match self {
            FilterField::Name => "name",
            FilterField::Status => "status",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub field: FilterField,
    pub glob: Glob,
}

/// What a listing accepts: token listings and application listings differ.
pub struct Listing {
    sort_fields: &'static [SortField],
    filter_fields: &'static [FilterField],
    /// Whether `lastUsedBefore` and `createdBefore` are parameters (tokens only).
    filters_token_dates: bool,
}

pub const TOKEN_LISTING: Listing = Listing {
    sort_fields: &[
        SortField::Name,
        SortField::Status,
        SortField::Id,
        SortField::CreationDate,
        SortField::LastUpdated,
        SortField::ExpirationDate,
        SortField::LastUsed,
    ],
    filter_fields: &[FilterField::Name, FilterField::Status],
    filters_token_dates: true,
};

pub const APPLICATION_LISTING: Listing = Listing {
    sort_fields: &[
        SortField::Name,
        SortField::Id,
        SortField::CreationDate,
        SortField::LastUpdated,
    ],
    filter_fields: &[FilterField::Name],
    filters_token_dates: false,
};

pub const MAX_PER_PAGE: u32 = 1000;

/// Longest accepted filter glob: four times the longest name, far beyond any
/// useful glob, and far below the databases' own limits (SQLite refuses a
/// `LIKE` pattern over 50,000 bytes, which would otherwise surface as a 5xx).
pub const MAX_FILTER_CHARS: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub sort_field: SortField,
    pub sort_direction: SortDirection,
    pub page: u64,
    pub per_page: u32,
    pub filter: Option<Filter>,
    /// Only tokens last used before this instant, never-used ones included.
    pub last_used_before: Option<Millis>,
    /// Only tokens created before this instant.
    pub created_before: Option<Millis>,
}

impl Default for ListQuery {
    fn default() -> ListQuery {
        ListQuery {
            sort_field: SortField::Name,
            sort_direction: SortDirection::Asc,
            page: 0,
            per_page: MAX_PER_PAGE,
            filter: None,
            last_used_before: None,
            created_before: None,
        }
    }
}

impl ListQuery {
    /// Rows to skip, or `None` when the page lies beyond any possible row.
    pub fn offset(&self) -> Option<i64> {
        offset(self.page, self.per_page)
    }
}

/// Rows before page `page` of `per_page` rows, or `None` when the page lies
/// beyond any possible row.
pub(crate) fn offset(page: u64, per_page: u32) -> Option<i64> {
    page.checked_mul(u64::from(per_page))
        .and_then(|offset| i64::try_from(offset).ok())
}

/// One page of a listing, with the count of everything that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total_count: u64,
}

pub(crate) fn one_of<T: Copy>(
    parameter: &str,
    value: &str,
    accepted: &[T],
    name: impl Fn(T) -> &'static str,
) -> Result<T, Invalid> {
    accepted
        .iter()
        .copied()
        .find(|candidate| name(*candidate) == value)
        .ok_or_else(|| {
            let names: Vec<&str> = accepted.iter().map(|candidate| name(*candidate)).collect();
            Invalid::new(format!("{parameter} must be one of: {}", names.join(", ")))
        })
}

pub(crate) fn whole_number(parameter: &str, value: &str, range: &str) -> Result<u64, Invalid> {
    let invalid = || Invalid::new(format!("{parameter} must be a whole number {range}"));
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    value.parse().map_err(|_| invalid())
}

/// `sortDirection`: `asc` or `desc`, any case; `None` when empty (the
/// listing's default then applies).
pub(crate) fn sort_direction(value: &str) -> Result<Option<SortDirection>, Invalid> {
    match value.to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "asc" => Ok(Some(SortDirection::Asc)),
        "desc" => Ok(Some(SortDirection::Desc)),
        _ => Err(Invalid::new("sortDirection must be one of: asc, desc")),
    }
}

/// `perPage`: 1 to [`MAX_PER_PAGE`].
pub(crate) fn per_page(value: &str) -> Result<u32, Invalid> {
    let range = "from 1 to 1000";
    let per_page = whole_number("perPage", value, range)?;
    if !(1..=u64::from(MAX_PER_PAGE)).contains(&per_page) {
        return Err(Invalid::new(format!("perPage must be a whole number {range}")));
    }
    Ok(per_page as u32)
}

/// An instant parameter: milliseconds since the Unix epoch, not negative.
fn instant(parameter: &str, value: &str) -> Result<Millis, Invalid> {
    let range = "of milliseconds since the Unix epoch, from 0 to 9223372036854775807";
    let millis = whole_number(parameter, value, range)?;
    Millis::try_from(millis).map_err(|_| Invalid::new(format!("{parameter} must be a whole number {range}")))
}

/// What a bulk revocation (`PATCH` or `DELETE` on an application's tokens)
/// acts on: the tokens its listing parameters match. `all=true` must say so
/// when nothing narrows them, so a request that lost its filter on the way
/// (a typo in `filterField`, a blank `filter`) revokes nothing.
pub fn bulk_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<ListQuery, Invalid> {
    let pairs: Vec<(&str, &str)> = pairs.into_iter().collect();
    let query = TOKEN_LISTING.parse(pairs.iter().copied())?;
    let mut all = None;
    for (key, value) in pairs {
        if key == "all" {
            if all.is_some() {
                return Err(Invalid::new("all may be given only once"));
            }
            all = Some(match value {
                "true" => true,
                "false" => false,
                _ => return Err(Invalid::new("all must be true or false")),
            });
        }
    }
    let narrowed = query.filter.is_some() || query.last_used_before.is_some() || query.created_before.is_some();
    if !narrowed && all != Some(true) {
        return Err(Invalid::new(
            "a bulk change needs filterField and filter, createdBefore or lastUsedBefore; all=true to act on every token",
        ));
    }
    Ok(query)
}

impl Listing {
    /// Builds a query from the request's query-string pairs. Parameters the
    /// listing does not know (`_links`, `_embedded`, …) are ignored; a known
    /// one given twice is refused rather than guessed at.
    pub fn parse<'a>(&self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<ListQuery, Invalid> {
        let mut seen: Vec<&str> = Vec::new();
        let mut query = ListQuery::default();
        let (mut filter_field, mut filter) = (None, None);
        for (key, value) in pairs {
            let known = [
                "sortField",
                "sortDirection",
                "page",
                "perPage",
                "filterField",
                "filter",
                "lastUsedBefore",
                "createdBefore",
            ];
            let Some(&key) = known.iter().find(|known| **known == key) else {
                continue;
            };
            if matches!(key, "lastUsedBefore" | "createdBefore") && !self.filters_token_dates {
                continue;
            }
            if seen.contains(&key) {
                return Err(Invalid::new(format!("{key} may be given only once")));
            }
            seen.push(key);
            match key {
                "sortField" => query.sort_field = one_of(key, value, self.sort_fields, SortField::as_str)?,
                "sortDirection" => query.sort_direction = sort_direction(value)?.unwrap_or(SortDirection::Asc),
                "page" => query.page = whole_number(key, value, "from 0 to 18446744073709551615")?,
                "perPage" => query.per_page = per_page(value)?,
                "filterField" if !value.trim().is_empty() => {
                    filter_field = Some(one_of(key, value, self.filter_fields, FilterField::as_str)?)
                }
                "filter" if !value.trim().is_empty() => {
                    if value.chars().count() > MAX_FILTER_CHARS {
                        return Err(Invalid::new(format!(
                            "filter must be at most {MAX_FILTER_CHARS} characters"
                        )));
                    }
                    filter = Some(Glob::new(value))
                }
                "lastUsedBefore" => query.last_used_before = Some(instant(key, value)?),
                "createdBefore" => query.created_before = Some(instant(key, value)?),
                _ => {}
            }
        }
        if let (Some(field), Some(glob)) = (filter_field, filter) {
            query.filter = Some(Filter { field, glob });
        }
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &[(&str, &str)]) -> Result<ListQuery, String> {
        TOKEN_LISTING
            .parse(query.iter().copied())
            .map_err(|e| e.message().to_string())
    }

    #[test]
    fn defaults() {
        let query = parse(&[("_links", "true"), ("_embedded", "true"), ("_actions", "false")]).unwrap();
        assert_eq!(query, ListQuery::default());
    }

    #[test]
    fn accepted_values() {
        let query = parse(&[
            ("sortField", "expirationDate"),
            ("sortDirection", "DESC"),
            ("page", "18446744073709551615"),
            ("perPage", "1000"),
            ("filterField", "status"),
            ("filter", "act*"),
            ("lastUsedBefore", "9223372036854775807"),
        ])
        .unwrap();
        assert_eq!(query.sort_field, SortField::ExpirationDate);
        assert_eq!(query.last_used_before, Some(Millis::MAX));
        assert_eq!(query.sort_direction, SortDirection::Desc);
        assert_eq!(query.page, u64::MAX);
        assert_eq!(query.offset(), None);
        assert_eq!(query.filter.unwrap().field, FilterField::Status);
        assert_eq!(
            parse(&[("sortDirection", "")]).unwrap().sort_direction,
            SortDirection::Asc
        );
        assert_eq!(
            parse(&[("sortField", "lastUsed")]).unwrap().sort_field,
            SortField::LastUsed
        );
        let apps = APPLICATION_LISTING.parse([("lastUsedBefore", "x")]).unwrap();
        assert_eq!(apps, ListQuery::default(), "applications ignore lastUsedBefore");
    }

    #[test]
    fn a_bulk_change_needs_a_narrowing_parameter_or_all() {
        let bulk = |pairs: &[(&str, &str)]| bulk_query(pairs.iter().copied()).map_err(|e| e.message().to_string());
        assert!(bulk(&[]).unwrap_err().contains("all=true"));
        assert!(
            bulk(&[("filter", "ci-*")]).is_err(),
            "a filter without its field is no filter"
        );
        assert!(bulk(&[("filterField", "name"), ("filter", " ")]).is_err());
        assert!(bulk(&[("all", "false")]).is_err());
        assert_eq!(bulk(&[("all", "yes")]).unwrap_err(), "all must be true or false");
        assert_eq!(bulk(&[("all", "true")]).unwrap(), ListQuery::default());
        let named = bulk(&[("filterField", "name"), ("filter", "ci-*")]).unwrap();
        assert_eq!(named.filter.unwrap().field, FilterField::Name);
        assert_eq!(bulk(&[("createdBefore", "5")]).unwrap().created_before, Some(5));
        assert_eq!(bulk(&[("lastUsedBefore", "5")]).unwrap().last_used_before, Some(5));
    }

    #[test]
    fn filtering_needs_both_non_blank() {
        assert_eq!(parse(&[("filterField", "name")]).unwrap().filter, None);
        assert_eq!(parse(&[("filter", "x*")]).unwrap().filter, None);
        assert_eq!(parse(&[("filterField", " "), ("filter", "x")]).unwrap().filter, None);
        assert!(parse(&[("filterField", "bogus"), ("filter", "")]).is_err());
    }

    #[test]
    fn refusals_name_the_parameter_and_its_values() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("sortField", "color")],
                "sortField must be one of: name, status, id, creationDate, lastUpdated, expirationDate, lastUsed",
            ),
            (&[("sortField", "")], "sortField must be one of"),
            (&[("sortDirection", "up")], "sortDirection must be one of: asc, desc"),
            (&[("page", "-1")], "page must be a whole number"),
            (&[("page", "1.5")], "page must be a whole number"),
            (&[("page", "18446744073709551616")], "page must be a whole number"),
            (&[("page", "")], "page must be a whole number"),
            (&[("perPage", "0")], "perPage must be a whole number from 1 to 1000"),
            (&[("perPage", "1001")], "perPage must be a whole number from 1 to 1000"),
            (&[("perPage", "+5")], "perPage must be a whole number from 1 to 1000"),
            (
                &[("filterField", "description"), ("filter", "x")],
                "filterField must be one of: name, status",
            ),
            (&[("page", "1"), ("page", "2")], "page may be given only once"),
            (
                &[("lastUsedBefore", "-1")],
                "lastUsedBefore must be a whole number of milliseconds since the Unix epoch",
            ),
            (&[("lastUsedBefore", "")], "lastUsedBefore must be a whole number"),
            (
                &[("lastUsedBefore", "9223372036854775808")],
                "lastUsedBefore must be a whole number",
            ),
            (
                &[("lastUsedBefore", "2030-01-01")],
                "lastUsedBefore must be a whole number",
            ),
            (
                &[("filterField", "name"), ("filter", &"*a".repeat(513))],
                "filter must be at most 1024 characters",
            ),
        ];
        for (query, message) in cases {
            let error = parse(query).unwrap_err();
            assert!(error.starts_with(message), "{query:?}: {error}");
        }
        let apps = APPLICATION_LISTING.parse([("sortField", "status")]).unwrap_err();
        assert_eq!(
            apps.message(),
            "sortField must be one of: name, id, creationDate, lastUpdated"
        );
    }
}

/// Properties of [`Listing::parse`] against a reference written from the
/// spec's table (1.1, 1.4): any pairs parse without a panic, into what the
/// table says or into a refusal naming the parameter.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    const KNOWN: [&str; 8] = [
        "sortField",
        "sortDirection",
        "page",
        "perPage",
        "filterField",
        "filter",
        "lastUsedBefore",
        "createdBefore",
    ];
    const TOKEN_SORTS: [&str; 7] = [
        "name",
        "status",
        "id",
        "creationDate",
        "lastUpdated",
        "expirationDate",
        "lastUsed",
    ];
    const APPLICATION_SORTS: [&str; 4] = ["name", "id", "creationDate", "lastUpdated"];

    /// Why the table refuses a query: a parameter given twice, or a value
    /// it does not accept (the first such pair, in order).
    #[derive(Debug)]
    enum Refused {
        Twice(String),
        Value(String),
    }

    /// What the spec's table says one listing makes of the pairs.
    fn reference(
        sorts: &[&str],
        filter_fields: &[&str],
        filters_token_dates: bool,
        pairs: &[(String, String)],
    ) -> Result<ListQuery, Refused> {
        let mut query = ListQuery::default();
        let mut given: Vec<&str> = Vec::new();
        let (mut filter_field, mut filter) = (None, None);
        let whole_number = |value: &str| -> Option<u64> {
            let decimal = !value.is_empty() && value.chars().all(|c| c.is_ascii_digit());
            decimal.then(|| value.parse().ok()).flatten()
        };
        for (key, value) in pairs {
            let key = key.as_str();
            if !KNOWN.contains(&key) || (matches!(key, "lastUsedBefore" | "createdBefore") && !filters_token_dates) {
                continue;
            }
            if given.contains(&key) {
                return Err(Refused::Twice(key.to_string()));
            }
            given.push(key);
            let refused = || Refused::Value(key.to_string());
            match key {
                "sortField" => {
                    let accepted = sorts.contains(&value.as_str());
                    query.sort_field = sort_field_named(value).filter(|_| accepted).ok_or_else(refused)?;
                }
                "sortDirection" if value.is_empty() || value.eq_ignore_ascii_case("asc") => {
                    query.sort_direction = SortDirection::Asc
                }
                "sortDirection" if value.eq_ignore_ascii_case("desc") => query.sort_direction = SortDirection::Desc,
                "sortDirection" => return Err(refused()),
                "page" => query.page = whole_number(value).ok_or_else(refused)?,
                "perPage" => {
                    let per_page = whole_number(value).filter(|n| (1..=1000).contains(n));
                    query.per_page = per_page.ok_or_else(refused)? as u32;
                }
                "lastUsedBefore" => {
                    let before = whole_number(value).filter(|n| *n <= i64::MAX as u64);
                    query.last_used_before = Some(before.ok_or_else(refused)? as i64);
                }
                "createdBefore" => {
                    let before = whole_number(value).filter(|n| *n <= i64::MAX as u64);
                    query.created_before = Some(before.ok_or_else(refused)? as i64);
                }
                _ if value.trim().is_empty() => {}
                "filterField" => {
                    let accepted = filter_fields.contains(&value.as_str());
                    let field = match value.as_str() {
                        "name" => Some(FilterField::Name),
                        "status" => Some(FilterField::Status),
                        _ => None,
                    };
                    filter_field = Some(field.filter(|_| accepted).ok_or_else(refused)?);
                }
                _ => {
                    if value.chars().count() > 1024 {
                        return Err(refused());
                    }
                    filter = Some(value.clone());
                }
            }
        }
        if let (Some(field), Some(pattern)) = (filter_field, filter) {
            query.filter = Some(Filter {
                field,
                glob: Glob::new(&pattern),
            });
        }
        Ok(query)
    }

    fn sort_field_named(name: &str) -> Option<SortField> {
        Some(match name {
            "name" => SortField::Name,
            "status" => SortField::Status,
            "id" => SortField::Id,
            "creationDate" => SortField::CreationDate,
            "lastUpdated" => SortField::LastUpdated,
            "expirationDate" => SortField::ExpirationDate,
            "lastUsed" => SortField::LastUsed,
            _ => return None,
        })
    }

    fn a_key() -> impl Strategy<Value = String> {
        let likely: Vec<String> = KNOWN
            .iter()
            .chain(&["_links", "_embedded", "SORTFIELD", "page "])
            .map(|key| key.to_string())
            .collect();
        prop_oneof![8 => prop::sample::select(likely), 1 => any::<String>()]
    }

    fn a_value() -> impl Strategy<Value = String> {
        let likely: Vec<String> = TOKEN_SORTS
            .iter()
            .chain(&["asc", "DESC", "Desc", "desc ", "", " ", "\t", "status", "description"])
            .chain(&[
                "0",
                "1",
                "1000",
                "1001",
                "007",
                "+5",
                "-1",
                "1.5",
                "١",
                "18446744073709551615",
            ])
            .chain(&["18446744073709551616", "99999999999999999999999", "a*", "*", "Σ*"])
            .chain(&["9223372036854775807", "9223372036854775808"])
            .map(|value| value.to_string())
            .collect();
        prop_oneof![
            8 => prop::sample::select(likely),
            2 => "[0-9]{0,22}",
            1 => any::<String>(),
            1 => "[a*]{1020,1030}",
        ]
    }

    fn some_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
        prop::collection::vec((a_key(), a_value()), 0..8)
    }

    fn check(
        listing: &Listing,
        sorts: &[&str],
        filter_fields: &[&str],
        pairs: &[(String, String)],
    ) -> Result<(), TestCaseError> {
        let parsed = listing.parse(pairs.iter().map(|(key, value)| (key.as_str(), value.as_str())));
        let expected = reference(sorts, filter_fields, listing.filters_token_dates, pairs);
        match (parsed, expected) {
            (Ok(query), Ok(expected)) => prop_assert_eq!(query, expected),
            (Err(refusal), Err(Refused::Twice(parameter))) => {
                prop_assert_eq!(refusal.message(), format!("{parameter} may be given only once"));
            }
            (Err(refusal), Err(Refused::Value(parameter))) => {
                let message = refusal.message();
                prop_assert!(
                    message.starts_with(&format!("{parameter} ")),
                    "{:?} for {}",
                    message,
                    parameter
                );
                let accepted: &[&str] = match parameter.as_str() {
                    "sortField" => sorts,
                    "filterField" => filter_fields,
                    "sortDirection" => &["asc", "desc"],
                    _ => &[],
                };
                for value in accepted {
                    prop_assert!(message.contains(value), "{:?} does not name {}", message, value);
                }
            }
            (parsed, expected) => prop_assert!(false, "parsed {:?}, the table says {:?}", parsed, expected),
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn token_listing_agrees_with_the_table(pairs in some_pairs()) {
            check(&TOKEN_LISTING, &TOKEN_SORTS, &["name", "status"], &pairs)?;
        }

        #[test]
        fn application_listing_agrees_with_the_table(pairs in some_pairs()) {
            check(&APPLICATION_LISTING, &APPLICATION_SORTS, &["name"], &pairs)?;
        }
    }
}
