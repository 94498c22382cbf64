//! Audit log listing parameters (Losant's `auditLogs` Get): sorting, paging,
//! a time range and `auditLogFilter`, as Losant's clients send them.
//!
//! `auditLogFilter` arrives in bracket notation, one pair per field of each
//! item: `auditLogFilter[actor][0][id]=…&auditLogFilter[responseCode][0]=403`.
//! Items of one kind are alternatives (any may match); kinds must all match;
//! every field given in one item must match. Each kind holds at most
//! [`MAX_FILTER_ITEMS`] items and each text at most [`MAX_FILTER_TEXT_CHARS`]
//! characters, so what a request can make the server hold is bounded.

use std::collections::BTreeMap;

use crate::id::Id;
use crate::list::{offset, one_of, per_page, sort_direction, whole_number, SortDirection};
use crate::time::Millis;
use crate::validate::Invalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditSortField {
    CreationDate,
    ResponseStatus,
    ActorName,
}

impl AuditSortField {
    pub const ALL: [AuditSortField; 3] = [
        AuditSortField::CreationDate,
        AuditSortField::ResponseStatus,
        AuditSortField::ActorName,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditSortField::CreationDate => "creationDate",
            AuditSortField::ResponseStatus => "responseStatus",
            AuditSortField::ActorName => "actorName",
        }
    }
}

/// Losant's default page size for audit logs.
pub const AUDIT_PER_PAGE: u32 = 100;

/// Most items one kind of `auditLogFilter` may hold: as many as the query
/// string parser Losant's own API uses (`qs`) reads as an array.
pub const MAX_FILTER_ITEMS: usize = 20;

/// Longest text a filter item may hold (`auditLogFilter.json`'s maximum).
pub const MAX_FILTER_TEXT_CHARS: usize = 1024;

/// The types `auditLogFilter.json` allows for a primary target.
pub const PRIMARY_TARGET_TYPES: &[&str] = &["Application", "Dashboard", "OrgInvite"];

/// The types `auditLogFilter.json` allows for a secondary target.
pub const SECONDARY_TARGET_TYPES: &[&str] = &[
    "ApiToken",
    "ApplicationCertificateAuthority",
    "ApplicationCertificate",
    "ApplicationKey",
    "Dashboard",
    "DataTable",
    "Device",
    "DeviceRecipe",
    "Event",
    "ExperienceDomain",
    "ExperienceEndpoint",
    "ExperienceGroup",
    "ExperienceSlug",
    "ExperienceUser",
    "ExperienceVersion",
    "ExperienceView",
    "File",
    "Flow",
    "Integration",
    "Notebook",
    "Webhook",
];

/// The types `auditLogFilter.json` allows for an actor.
pub const ACTOR_TYPES: &[&str] = &["Application", "Device", "Flow", "User", "ApiToken"];

/// One item of a target or actor filter: every field given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamedMatch {
    pub id: Option<Id>,
    pub kind: Option<&'static str>,
    pub name: Option<String>,
}

/// One item of a request filter: every field given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMatch {
    pub resource: Option<String>,
    pub action: Option<String>,
}

/// `auditLogFilter`: an empty kind does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub primary_target: Vec<NamedMatch>,
    pub secondary_target: Vec<NamedMatch>,
    pub actor: Vec<NamedMatch>,
    pub request: Vec<RequestMatch>,
    pub response_code: Vec<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    pub sort_field: AuditSortField,
    pub sort_direction: SortDirection,
    pub page: u64,
    pub per_page: u32,
    /// Only entries created at or after this instant.
    pub start: Option<Millis>,
    /// Only entries created at or before this instant (before `start`:
    /// an empty range, not an error).
    pub end: Option<Millis>,
    pub filter: AuditFilter,
}

impl Default for AuditQuery {
    fn default() -> AuditQuery {
        AuditQuery {
            sort_field: AuditSortField::CreationDate,
            sort_direction: SortDirection::Desc,
            page: 0,
            per_page: AUDIT_PER_PAGE,
            start: None,
            end: None,
            filter: AuditFilter::default(),
        }
    }
}

const FILTER: &str = "auditLogFilter";

/// The kinds of `auditLogFilter`, in `auditLogFilter.json`'s order.
const KINDS: [&str; 5] = ["primaryTarget", "secondaryTarget", "actor", "request", "responseCode"];

impl AuditQuery {
    /// Rows to skip, or `None` when the page lies beyond any possible row.
    pub fn offset(&self) -> Option<i64> {
        offset(self.page, self.per_page)
    }

    /// Builds a query from the request's query-string pairs. Parameters it
    /// does not know (`_links`, `_embedded`, …) are ignored; one given twice
    /// is refused rather than guessed at.
    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<AuditQuery, Invalid> {
        let mut query = AuditQuery::default();
        let mut seen: Vec<&str> = Vec::new();
        let mut filter = FilterItems::default();
        for (key, value) in pairs {
            if key.starts_with(FILTER) {
                filter.add(key, value)?;
                continue;
            }
            let known = ["sortField", "sortDirection", "page", "perPage", "start", "end"];
            let Some(&key) = known.iter().find(|known| **known == key) else {
                continue;
            };
            if seen.contains(&key) {
                return Err(Invalid::new(format!("{key} may be given only once")));
            }
            seen.push(key);
            match key {
                "sortField" => query.sort_field = one_of(key, value, &AuditSortField::ALL, AuditSortField::as_str)?,
                "sortDirection" => query.sort_direction = sort_direction(value)?.unwrap_or(SortDirection::Desc),
                "page" => query.page = whole_number(key, value, "from 0 to 18446744073709551615")?,
                "perPage" => query.per_page = per_page(value)?,
                "start" => query.start = Some(epoch_millis(key, value)?),
                _ => query.end = Some(epoch_millis(key, value)?),
            }
        }
        query.filter = filter.finish()?;
        Ok(query)
    }
}

fn epoch_millis(parameter: &str, value: &str) -> Result<Millis, Invalid> {
    let range = "of milliseconds since the Unix epoch, from 0 to 9223372036854775807";
    let millis = whole_number(parameter, value, range)?;
    Millis::try_from(millis).map_err(|_| Invalid::new(format!("{parameter} must be a whole number {range}")))
}

/// The fields of `auditLogFilter` as they arrive, by kind and item index.
#[derive(Default)]
struct FilterItems {
    /// `(kind, index) → field → value`; `responseCode` items have field `""`.
    fields: BTreeMap<(usize, usize), BTreeMap<&'static str, String>>,
}

/// How to send the filter, for refusals of anything else.
const BRACKETS: &str = "auditLogFilter is sent in bracket notation: auditLogFilter[KIND][INDEX][FIELD]=VALUE \
    (KIND primaryTarget, secondaryTarget or actor with FIELD id, type or name; request with FIELD resource or \
    action), or auditLogFilter[responseCode][INDEX]=CODE";

impl FilterItems {
    /// Takes one pair whose key starts with `auditLogFilter`.
    fn add(&mut self, key: &str, value: &str) -> Result<(), Invalid> {
        let parts = bracketed(&key[FILTER.len()..]).ok_or_else(|| Invalid::new(BRACKETS))?;
        let (kind, index, field) = match parts[..] {
            [kind, index, field] => (kind, index, field),
            [kind @ "responseCode", index] => (kind, index, ""),
            _ => return Err(Invalid::new(BRACKETS)),
        };
        let kind = KINDS
            .iter()
            .position(|known| *known == kind)
            .ok_or_else(|| Invalid::new(format!("{FILTER}'s kinds are: {}", KINDS.join(", "))))?;
        let fields: &[&'static str] = match KINDS[kind] {
            "request" => &["resource", "action"],
            "responseCode" => &[""],
            _ => &["id", "type", "name"],
        };
        let field = *fields
            .iter()
            .find(|known| **known == field)
            .ok_or_else(|| Invalid::new(BRACKETS))?;
        let decimal = !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit());
        let index = decimal
            .then(|| index.parse::<usize>().ok())
            .flatten()
            .filter(|index| *index < MAX_FILTER_ITEMS)
            .ok_or_else(|| {
                Invalid::new(format!(
                    "{FILTER}[{}] may hold at most {MAX_FILTER_ITEMS} items, numbered from 0",
                    KINDS[kind]
                ))
            })?;
        let item = self.fields.entry((kind, index)).or_default();
        if item.insert(field, value.to_string()).is_some() {
            return Err(Invalid::new(format!(
                "{} may be given only once",
                field_name(kind, index, field)
            )));
        }
        Ok(())
    }

    /// The filter, every value checked.
    fn finish(self) -> Result<AuditFilter, Invalid> {
        let mut filter = AuditFilter::default();
        for ((kind, index), fields) in self.fields {
            let text = |field: &'static str| -> Result<Option<String>, Invalid> {
                fields
                    .get(field)
                    .map(|value| {
                        if value.chars().count() > MAX_FILTER_TEXT_CHARS {
                            let name = field_name(kind, index, field);
                            return Err(Invalid::new(format!(
                                "{name} must be at most {MAX_FILTER_TEXT_CHARS} characters"
                            )));
                        }
                        Ok(value.clone())
                    })
                    .transpose()
            };
            let named = |types: &[&'static str]| -> Result<NamedMatch, Invalid> {
                let id = fields
                    .get("id")
                    .map(|id| {
                        id.parse::<Id>().map_err(|_| {
                            Invalid::new(format!(
                                "{} must be 24 hexadecimal characters",
                                field_name(kind, index, "id")
                            ))
                        })
                    })
                    .transpose()?;
                let kind_name = field_name(kind, index, "type");
                let kind = fields
                    .get("type")
                    .map(|value| one_of(&kind_name, value, types, |name| name))
                    .transpose()?;
                Ok(NamedMatch {
                    id,
                    kind,
                    name: text("name")?,
                })
            };
            match KINDS[kind] {
                "primaryTarget" => filter.primary_target.push(named(PRIMARY_TARGET_TYPES)?),
                "secondaryTarget" => filter.secondary_target.push(named(SECONDARY_TARGET_TYPES)?),
                "actor" => filter.actor.push(named(ACTOR_TYPES)?),
                "request" => filter.request.push(RequestMatch {
                    resource: text("resource")?,
                    action: text("action")?,
                }),
                _ => {
                    let name = field_name(kind, index, "");
                    let code = whole_number(&name, &fields[""], "from 100 to 599")
                        .ok()
                        .filter(|code| (100..=599).contains(code))
                        .ok_or_else(|| Invalid::new(format!("{name} must be a whole number from 100 to 599")))?;
                    filter.response_code.push(code as u16);
                }
            }
        }
        Ok(filter)
    }
}

/// `auditLogFilter[kind][index][field]`, as a message names it.
fn field_name(kind: usize, index: usize, field: &str) -> String {
    match field {
        "" => format!("{FILTER}[{}][{index}]", KINDS[kind]),
        field => format!("{FILTER}[{}][{index}][{field}]", KINDS[kind]),
    }
}

/// The parts of `[a][b][c]`, or `None` unless `text` is only such parts.
fn bracketed(text: &str) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (part, after) = rest.strip_prefix('[')?.split_once(']')?;
        parts.push(part);
        rest = after;
    }
    (!parts.is_empty()).then_some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &[(&str, &str)]) -> Result<AuditQuery, String> {
        AuditQuery::parse(query.iter().copied()).map_err(|e| e.message().to_string())
    }

    #[test]
    fn losants_defaults() {
        let query = parse(&[("_links", "true"), ("_embedded", "true"), ("_actions", "false")]).unwrap();
        assert_eq!(query, AuditQuery::default());
        assert_eq!(
            (query.sort_field, query.sort_direction, query.per_page),
            (AuditSortField::CreationDate, SortDirection::Desc, 100)
        );
        assert_eq!(
            parse(&[("sortDirection", "")]).unwrap().sort_direction,
            SortDirection::Desc
        );
    }

    #[test]
    fn accepted_values() {
        let query = parse(&[
            ("sortField", "actorName"),
            ("sortDirection", "ASC"),
            ("page", "3"),
            ("perPage", "1000"),
            ("start", "1465790400000"),
            ("end", "1465790400000"),
        ])
        .unwrap();
        assert_eq!(query.sort_field, AuditSortField::ActorName);
        assert_eq!(query.sort_direction, SortDirection::Asc);
        assert_eq!((query.page, query.per_page), (3, 1000));
        assert_eq!(
            (query.start, query.end),
            (Some(1_465_790_400_000), Some(1_465_790_400_000))
        );
        assert_eq!(query.offset(), Some(3000));
    }

    #[test]
    fn the_filter_in_bracket_notation() {
        let id = "575ec8687ae143cd83dc4a97";
        let query = parse(&[
            ("auditLogFilter[primaryTarget][0][type]", "Dashboard"),
            ("auditLogFilter[primaryTarget][1][type]", "Application"),
            ("auditLogFilter[primaryTarget][1][id]", id),
            ("auditLogFilter[actor][0][name]", "ingest"),
            ("auditLogFilter[request][0][resource]", "applicationApiTokens"),
            ("auditLogFilter[request][0][action]", "post"),
            ("auditLogFilter[responseCode][0]", "201"),
            ("auditLogFilter[responseCode][19]", "404"),
            ("auditLogFilter[secondaryTarget][3][id]", id),
        ])
        .unwrap();
        let filter = query.filter;
        assert_eq!(
            filter.primary_target,
            [
                NamedMatch {
                    kind: Some("Dashboard"),
                    ..NamedMatch::default()
                },
                NamedMatch {
                    id: Some(id.parse().unwrap()),
                    kind: Some("Application"),
                    name: None,
                },
            ]
        );
        assert_eq!(filter.actor[0].name.as_deref(), Some("ingest"));
        assert_eq!(
            filter.request,
            [RequestMatch {
                resource: Some("applicationApiTokens".into()),
                action: Some("post".into()),
            }]
        );
        assert_eq!(filter.response_code, [201, 404]);
        assert_eq!(filter.secondary_target.len(), 1, "indexes need not be dense");
    }

    #[test]
    fn refusals_name_the_parameter() {
        let long = "x".repeat(1025);
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("sortField", "name")],
                "sortField must be one of: creationDate, responseStatus, actorName",
            ),
            (&[("sortDirection", "up")], "sortDirection must be one of: asc, desc"),
            (&[("perPage", "0")], "perPage must be a whole number from 1 to 1000"),
            (&[("perPage", "1001")], "perPage must be a whole number from 1 to 1000"),
            (&[("page", "-1")], "page must be a whole number"),
            (
                &[("start", "2016-06-13")],
                "start must be a whole number of milliseconds",
            ),
            (&[("end", "-5")], "end must be a whole number of milliseconds"),
            (
                &[("end", "9223372036854775808")],
                "end must be a whole number of milliseconds",
            ),
            (&[("start", "")], "start must be a whole number"),
            (&[("start", "1"), ("start", "2")], "start may be given only once"),
            (
                &[("auditLogFilter", "{}")],
                "auditLogFilter is sent in bracket notation",
            ),
            (
                &[("auditLogFilter[actor]", "x")],
                "auditLogFilter is sent in bracket notation",
            ),
            (
                &[("auditLogFilter[actor][0][color]", "x")],
                "auditLogFilter is sent in bracket notation",
            ),
            (
                &[("auditLogFilter[actor][0][id]x", "x")],
                "auditLogFilter is sent in bracket notation",
            ),
            (
                &[("auditLogFilterX", "x")],
                "auditLogFilter is sent in bracket notation",
            ),
            (
                &[("auditLogFilter[device][0][id]", "x")],
                "auditLogFilter's kinds are: primaryTarget",
            ),
            (
                &[("auditLogFilter[actor][20][name]", "x")],
                "auditLogFilter[actor] may hold at most 20 items",
            ),
            (
                &[("auditLogFilter[actor][x][name]", "x")],
                "auditLogFilter[actor] may hold at most 20 items",
            ),
            (
                &[("auditLogFilter[actor][99999999999999999999999][name]", "x")],
                "auditLogFilter[actor] may hold at most 20 items",
            ),
            (
                &[("auditLogFilter[actor][0][id]", "eyJhbGciOi.secret.x")],
                "auditLogFilter[actor][0][id] must be 24 hexadecimal characters",
            ),
            (
                &[("auditLogFilter[actor][0][type]", "Robot")],
                "auditLogFilter[actor][0][type] must be one of: Application, Device, Flow, User, ApiToken",
            ),
            (
                &[("auditLogFilter[primaryTarget][0][type]", "ApiToken")],
                "auditLogFilter[primaryTarget][0][type] must be one of: Application, Dashboard, OrgInvite",
            ),
            (
                &[("auditLogFilter[actor][0][name]", &long)],
                "auditLogFilter[actor][0][name] must be at most 1024",
            ),
            (
                &[("auditLogFilter[responseCode][0]", "99")],
                "auditLogFilter[responseCode][0] must be a whole number from 100 to 599",
            ),
            (
                &[("auditLogFilter[responseCode][0]", "")],
                "auditLogFilter[responseCode][0] must be a whole number from 100 to 599",
            ),
            (
                &[("auditLogFilter[responseCode][0][code]", "200")],
                "auditLogFilter is sent in bracket notation",
            ),
            (
                &[
                    ("auditLogFilter[request][0][resource]", "a"),
                    ("auditLogFilter[request][0][resource]", "b"),
                ],
                "auditLogFilter[request][0][resource] may be given only once",
            ),
        ];
        for (query, message) in cases {
            let error = parse(query).unwrap_err();
            assert!(error.starts_with(message), "{query:?}: {error}");
            assert!(!error.contains("secret"), "a refusal never quotes the value: {error}");
        }
    }
}
