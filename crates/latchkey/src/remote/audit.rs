//! `latchkey audit list|get`: an organization's or one application's audit
//! log, read over HTTP.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use clap::Subcommand;
use latchkey_client::{
    AuditLog, AuditLogFilter, AuditLogListParams, AuditMatch, AuditSortField, Client, RequestMatch, SortDirection,
};
use latchkey_core::time::{now_millis, parse_duration, parse_rfc3339, Millis};
use serde_json::Value;

use super::table::{date, full_date, Column, Item};
use super::{list, show, Output, Remote};

#[derive(clap::Args, Debug)]
pub struct AuditCommand {
    #[command(flatten)]
    remote: Remote,
    #[command(subcommand)]
    action: AuditAction,
}

/// Whose audit log: an organization's or one application's.
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
struct Whose {
    /// The organization's id: its whole log (you must be a member).
    #[arg(long, value_name = "ID")]
    org: Option<String>,
    /// The application's id: the entries about it.
    #[arg(long, value_name = "ID")]
    app: Option<String>,
}

/// The forms `--start` and `--end` take, for messages.
const WHEN_FORMS: &str =
    "an RFC 3339 date-time (2030-01-01T00:00:00Z), a date (2030-01-01, UTC) or a time ago (7d, 12h, 90m)";

/// An instant as a person gives it: an RFC 3339 date-time, a plain date
/// (its first millisecond, or with `day_end` its last, UTC), or a whole
/// number of days, hours or minutes before now.
fn parse_when(text: &str, day_end: bool) -> Result<DateTime<Utc>, String> {
    let at: Option<Millis> = parse_rfc3339(text)
        .or_else(|| {
            let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
            let time = match day_end {
                true => NaiveTime::from_hms_milli_opt(23, 59, 59, 999)?,
                false => NaiveTime::MIN,
            };
            Some(day.and_time(time).and_utc().timestamp_millis())
        })
        .or_else(|| parse_duration(text).map(|span| now_millis().saturating_sub(span)));
    at.and_then(DateTime::from_timestamp_millis)
        .filter(|at| at.timestamp_millis() >= 0)
        .ok_or_else(|| format!("expected {WHEN_FORMS}, not before 1970"))
}

fn parse_start(text: &str) -> Result<DateTime<Utc>, String> {
    parse_when(text, false)
}

fn parse_end(text: &str) -> Result<DateTime<Utc>, String> {
    parse_when(text, true)
}

#[derive(Subcommand, Debug)]
enum AuditAction {
    /// List audit log entries, newest first unless sorted otherwise.
    List {
        #[command(flatten)]
        whose: Whose,
        /// Sort by: creationDate (the default), responseStatus, actorName.
        #[arg(long)]
        sort_field: Option<AuditSortField>,
        /// Sort direction: asc, or desc (the default).
        #[arg(long)]
        sort_direction: Option<SortDirection>,
        /// Page number, from 0.
        #[arg(long)]
        page: Option<u64>,
        /// Items per page, 1 to 1000 (100 when absent).
        #[arg(long)]
        per_page: Option<u32>,
        /// Follow every page and print one combined result.
        #[arg(long)]
        all: bool,
        /// Only entries from then on: 2030-01-01T00:00:00Z, 2030-01-01 (its start, UTC), or 7d, 12h, 90m ago.
        #[arg(long, value_name = "WHEN", value_parser = parse_start)]
        start: Option<DateTime<Utc>>,
        /// Only entries until then: 2030-01-01T00:00:00Z, 2030-01-01 (its end, UTC), or 7d, 12h, 90m ago.
        #[arg(long, value_name = "WHEN", value_parser = parse_end)]
        end: Option<DateTime<Utc>>,
        /// Only entries by this actor, a token's or a user's id (repeatable).
        #[arg(long = "actor", value_name = "ID")]
        actors: Vec<String>,
        /// Only entries about this API token, by id (repeatable).
        #[arg(long = "api-token", value_name = "ID")]
        api_tokens: Vec<String>,
        /// Only requests on this resource: applicationApiTokens, applicationApiToken, applications, application (repeatable).
        #[arg(long = "resource", value_name = "RESOURCE")]
        resources: Vec<String>,
        /// Only requests of this action: post, patch, delete (repeatable).
        #[arg(long = "action", value_name = "ACTION")]
        actions: Vec<String>,
        /// Only entries answered with this HTTP status (repeatable).
        #[arg(long = "status", value_name = "CODE")]
        statuses: Vec<u16>,
    },
    /// Show one audit log entry, whole.
    Get {
        #[command(flatten)]
        whose: Whose,
        /// The entry's id.
        #[arg(long)]
        id: String,
    },
}

/// Items matching any of `ids`.
fn by_id(ids: Vec<String>) -> Vec<AuditMatch> {
    ids.into_iter()
        .map(|id| AuditMatch {
            id: Some(id),
            ..AuditMatch::default()
        })
        .collect()
}

/// Request items matching one of `resources` and one of `actions`, either
/// unrestricted when none is given.
fn requests(resources: Vec<String>, actions: Vec<String>) -> Vec<RequestMatch> {
    let resources: Vec<Option<String>> = match resources.is_empty() {
        true => vec![None],
        false => resources.into_iter().map(Some).collect(),
    };
    let actions: Vec<Option<String>> = match actions.is_empty() {
        true => vec![None],
        false => actions.into_iter().map(Some).collect(),
    };
    resources
        .iter()
        .flat_map(|resource| {
            actions.iter().map(|action| RequestMatch {
                resource: resource.clone(),
                action: action.clone(),
            })
        })
        .filter(|item| item.resource.is_some() || item.action.is_some())
        .collect()
}

/// `name (id)`, `name`, `id`, or no line at all.
fn named(name: &Option<String>, id: &Option<String>) -> Vec<String> {
    match (name, id) {
        (Some(name), Some(id)) => vec![format!("{name} ({id})")],
        (Some(name), None) => vec![name.clone()],
        (None, Some(id)) => vec![id.clone()],
        (None, None) => vec![],
    }
}

/// A JSON value of the entry on one line.
fn compact(value: Option<&Value>) -> Vec<String> {
    value.map(Value::to_string).into_iter().collect()
}

impl Item for AuditLog {
    const COLUMNS: &'static [Column] = &[
        Column::fixed("ID"),
        Column::fixed("CREATED"),
        Column::fixed("STATUS"),
        Column::fixed("REQUEST"),
        Column::flexible("ACTOR"),
        Column::flexible("TARGET"),
    ];

    fn id(&self) -> &str {
        &self.id
    }

    fn cells(&self) -> Vec<String> {
        let target = self
            .secondary_target_name
            .as_ref()
            .or(self.primary_target_name.as_ref())
            .cloned()
            .unwrap_or_default();
        vec![
            self.id.clone(),
            date(self.creation_date, ""),
            self.response_status
                .map(|status| status.to_string())
                .unwrap_or_default(),
            request_text(self),
            self.actor_name.clone().unwrap_or_default(),
            target,
        ]
    }

    fn fields(&self) -> Vec<(&'static str, Vec<String>)> {
        let actor = named(&self.actor_name, &self.actor_id);
        let actor = match &self.actor_type {
            Some(kind) => actor.iter().map(|actor| format!("{kind} {actor}")).collect(),
            None => actor,
        };
        let extra = |field: &str| compact(self.extra.get(field));
        let text = |field: &str| {
            let value = self.extra.get(field).and_then(Value::as_str);
            value.map(String::from).into_iter().collect::<Vec<_>>()
        };
        vec![
            ("id", vec![self.id.clone()]),
            ("creationDate", full_date(self.creation_date, "")),
            ("orgId", self.org_id.iter().cloned().collect()),
            ("application", named(&self.primary_target_name, &self.primary_target_id)),
            (
                "apiToken",
                named(&self.secondary_target_name, &self.secondary_target_id),
            ),
            ("actor", actor),
            ("request", vec![request_text(self)]),
            ("requestPathParams", extra("requestPathParams")),
            ("requestQueryParams", extra("requestQueryParams")),
            ("requestBody", extra("requestBody")),
            (
                "responseStatus",
                self.response_status.iter().map(u16::to_string).collect(),
            ),
            ("responseBody", extra("responseBody")),
            ("sourceIp", text("sourceIp")),
            ("userAgent", text("userAgent")),
        ]
    }
}

/// `resource action`, as Losant names them.
fn request_text(entry: &AuditLog) -> String {
    let parts = [&entry.request_resource, &entry.request_action];
    let words: Vec<&str> = parts.iter().filter_map(|part| part.as_deref()).collect();
    words.join(" ")
}

impl AuditCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        let AuditCommand { remote, action } = self;
        let client = remote.client(false)?;
        action
            .run(&client, remote.output)
            .await
            .map_err(|error| remote.explain(error))
    }
}

impl AuditAction {
    async fn run(self, client: &Client, output: Output) -> anyhow::Result<()> {
        match self {
            AuditAction::List {
                whose,
                sort_field,
                sort_direction,
                page,
                per_page,
                all,
                start,
                end,
                actors,
                api_tokens,
                resources,
                actions,
                statuses,
            } => {
                let params = AuditLogListParams {
                    sort_field,
                    sort_direction,
                    page,
                    per_page,
                    start,
                    end,
                    filter: AuditLogFilter {
                        primary_target: Vec::new(),
                        secondary_target: by_id(api_tokens),
                        actor: by_id(actors),
                        request: requests(resources, actions),
                        response_code: statuses,
                    },
                };
                match (whose.org, whose.app) {
                    (Some(org), _) => {
                        let logs = client.audit_logs();
                        list(
                            logs.get(&org, &params),
                            logs.pager(&org, &params),
                            all,
                            "entries",
                            output,
                        )
                        .await
                    }
                    (None, Some(app)) => {
                        let logs = client.application_audit_logs();
                        list(
                            logs.get(&app, &params),
                            logs.pager(&app, &params),
                            all,
                            "entries",
                            output,
                        )
                        .await
                    }
                    (None, None) => unreachable!("clap requires --org or --app"),
                }
            }
            AuditAction::Get { whose, id } => {
                let entry = match (whose.org, whose.app) {
                    (Some(org), _) => client.audit_log().get(&org, &id).await?,
                    (None, Some(app)) => client.application_audit_log().get(&app, &id).await?,
                    (None, None) => unreachable!("clap requires --org or --app"),
                };
                show(&entry, output)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_takes_a_date_time_a_day_or_a_time_ago() {
        let at = |text: &str, end: bool| parse_when(text, end).map(|at| at.timestamp_millis());
        assert_eq!(at("2016-06-13T06:00:00+02:00", false), Ok(1_465_790_400_000));
        assert_eq!(at("2016-06-13", false), Ok(1_465_776_000_000));
        assert_eq!(at("2016-06-13", true), Ok(1_465_862_399_999));
        let week_ago = now_millis() - 7 * 86_400_000;
        let parsed = at("7d", false).unwrap();
        assert!((week_ago - 60_000..=week_ago + 60_000).contains(&parsed), "{parsed}");
        for bad in ["", "yesterday", "7", "-7d", "1969-12-31", "99999999999999d"] {
            assert!(parse_when(bad, false).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn resources_and_actions_combine_into_request_items() {
        let strings = |texts: &[&str]| texts.iter().map(|text| text.to_string()).collect::<Vec<_>>();
        assert!(requests(vec![], vec![]).is_empty());
        let items = requests(strings(&["applicationApiToken", "application"]), strings(&["patch"]));
        let pairs: Vec<(Option<&str>, Option<&str>)> = items
            .iter()
            .map(|item| (item.resource.as_deref(), item.action.as_deref()))
            .collect();
        assert_eq!(
            pairs,
            [
                (Some("applicationApiToken"), Some("patch")),
                (Some("application"), Some("patch"))
            ]
        );
        let actions_only = requests(vec![], strings(&["post", "delete"]));
        assert_eq!(actions_only.len(), 2);
        assert!(actions_only.iter().all(|item| item.resource.is_none()));
    }
}
