//! `latchkey tokens list|create|get|update|delete|revoke`

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use latchkey_client::{
    ApiToken, ApiTokenPatch, ApplicationApiTokenPost, Client, CreatorType, TokenFilterField, TokenListParams,
    TokenSortField, TokenStatus,
};
use latchkey_core::time::{now_millis, parse_duration, DURATION_FORMS};
use serde::Serialize;

use super::table::{date, full_date, Column, Item};
use super::{deleted, list, show, Output, PageArgs, Remote};

#[derive(clap::Args, Debug)]
pub struct TokensCommand {
    #[command(flatten)]
    remote: Remote,
    #[command(subcommand)]
    action: TokensAction,
}

fn parse_status(text: &str) -> Result<TokenStatus, String> {
    match text {
        "active" => Ok(TokenStatus::Active),
        "inactive" => Ok(TokenStatus::Inactive),
        _ => Err("expected one of: active, inactive".to_string()),
    }
}

/// `--unused-for SPAN`: the instant SPAN ago. A span reaching back past
/// the epoch means every token never used (no use is that old).
fn parse_unused_for(text: &str) -> Result<DateTime<Utc>, String> {
    let span = parse_duration(text).ok_or_else(|| format!("expected {DURATION_FORMS}"))?;
    let since = now_millis().saturating_sub(span).max(0);
    DateTime::from_timestamp_millis(since).ok_or_else(|| format!("expected {DURATION_FORMS}"))
}

/// `--created-before WHEN`: 2024-01-01T00:00:00Z, 2024-01-01 (the start of
/// that day, UTC), or a span ago (90d, 12h, 30m).
fn parse_created_before(text: &str) -> Result<DateTime<Utc>, String> {
    let forms = || format!("expected 2024-01-01T00:00:00Z, 2024-01-01, or a span ago: {DURATION_FORMS}");
    if let Some(span) = parse_duration(text) {
        let at = now_millis().saturating_sub(span).max(0);
        return DateTime::from_timestamp_millis(at).ok_or_else(forms);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map(|start| start.and_utc())
        .ok_or_else(forms)
}

#[derive(Subcommand, Debug)]
enum TokensAction {
    /// List an application's API tokens.
    List {
        /// The application's id.
        #[arg(long, value_name = "ID")]
        app: String,
        /// Sort by: name, status, id, creationDate, lastUpdated, expirationDate,
        /// lastUsed (never-used first).
        #[arg(long)]
        sort_field: Option<TokenSortField>,
        /// Filter on: name or status (with --filter).
        #[arg(long)]
        filter_field: Option<TokenFilterField>,
        /// Only tokens not used for this long (never-used ones included):
        /// 90d, 12h, 30m.
        #[arg(long, value_name = "SPAN", value_parser = parse_unused_for)]
        unused_for: Option<DateTime<Utc>>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Create an API token; prints its secret once (only it with --output token).
    Create {
        /// The id of the application the token is for.
        #[arg(long, value_name = "ID")]
        app: String,
        /// The token's name.
        #[arg(long)]
        name: String,
        /// What the token is for.
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
        /// A scope the token holds (repeatable); all.Application when none is given.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        #[arg(long, value_name = "WHEN", value_parser = crate::expiry::parse, help = crate::expiry::HELP)]
        expires: Option<DateTime<Utc>>,
        /// The token's status: active (the default) or inactive.
        #[arg(long, value_parser = parse_status)]
        status: Option<TokenStatus>,
    },
    /// Show one API token, with every scope.
    Get {
        /// The application's id.
        #[arg(long, value_name = "ID")]
        app: String,
        /// The token's id.
        #[arg(long)]
        id: String,
    },
    /// Change a token's name, description or status.
    Update {
        /// The application's id.
        #[arg(long, value_name = "ID")]
        app: String,
        /// The token's id.
        #[arg(long)]
        id: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// A new description.
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
        /// active, or inactive to revoke the token until it is made active again.
        #[arg(long, value_parser = parse_status)]
        status: Option<TokenStatus>,
    },
    /// Deactivate (or with --delete, delete) every token of an application
    /// that matches: all of --filter, --created-before and --unused-for that
    /// are given. One request, one transaction.
    Revoke {
        /// The application's id.
        #[arg(long, value_name = "ID")]
        app: String,
        /// A glob over --filter-field: `*` matches any run of characters, case-insensitively.
        #[arg(long, value_name = "GLOB")]
        filter: Option<String>,
        /// What --filter matches: name (the default) or status.
        #[arg(long, default_value = "name")]
        filter_field: TokenFilterField,
        /// Only tokens created before: 2024-01-01T00:00:00Z, 2024-01-01, or 90d ago.
        #[arg(long, value_name = "WHEN", value_parser = parse_created_before)]
        created_before: Option<DateTime<Utc>>,
        /// Only tokens not used for this long (never-used ones included): 90d, 12h, 30m.
        #[arg(long, value_name = "SPAN", value_parser = parse_unused_for)]
        unused_for: Option<DateTime<Utc>>,
        /// Every token of the application, when nothing above narrows them.
        #[arg(long)]
        all: bool,
        /// Delete the tokens instead of deactivating them.
        #[arg(long)]
        delete: bool,
        /// Change nothing: print how many tokens would be revoked, and their ids.
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete (revoke for good) an API token.
    Delete {
        /// The application's id.
        #[arg(long, value_name = "ID")]
        app: String,
        /// The token's id.
        #[arg(long)]
        id: String,
    },
}

fn status_text(status: Option<TokenStatus>) -> &'static str {
    match status {
        Some(TokenStatus::Active) => "active",
        Some(TokenStatus::Inactive) => "inactive",
        None => "",
    }
}

fn creator_text(creator: CreatorType) -> &'static str {
    match creator {
        CreatorType::ApiToken => "apiToken",
        CreatorType::User => "user",
        CreatorType::Flow => "flow",
    }
}

/// The first scope, and how many more.
fn scope_summary(scope: &[String]) -> String {
    match scope {
        [] => String::new(),
        [only] => only.clone(),
        [first, rest @ ..] => format!("{first} +{}", rest.len()),
    }
}

impl Item for ApiToken {
    const COLUMNS: &'static [Column] = &[
        Column::fixed("ID"),
        Column::flexible("NAME"),
        Column::fixed("STATUS"),
        Column::flexible("SCOPE"),
        Column::fixed("LAST USED"),
        Column::fixed("EXPIRES"),
        // A narrow terminal leaves it out before cutting names to nothing.
        Column::optional("CREATED"),
    ];

    fn id(&self) -> &str {
        &self.id
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            status_text(self.status).to_string(),
            scope_summary(&self.scope),
            date(self.last_used, "never"),
            date(self.expiration_date, "never"),
            date(self.creation_date, ""),
        ]
    }

    fn fields(&self) -> Vec<(&'static str, Vec<String>)> {
        let creator = match (&self.creator_type, &self.creator_name, &self.creator_id) {
            (Some(kind), Some(name), Some(id)) => vec![format!("{} {name} ({id})", creator_text(*kind))],
            _ => vec![],
        };
        vec![
            ("id", vec![self.id.clone()]),
            ("name", vec![self.name.clone()]),
            ("description", self.description.iter().cloned().collect()),
            ("status", vec![status_text(self.status).to_string()]),
            ("scope", self.scope.clone()),
            ("expirationDate", full_date(self.expiration_date, "never")),
            ("creationDate", full_date(self.creation_date, "")),
            ("lastUpdated", full_date(self.last_updated, "")),
            ("lastUsed", full_date(self.last_used, "never")),
            ("creator", creator),
        ]
    }
}

impl TokensCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        let TokensCommand { remote, action } = self;
        let client = remote.client(matches!(action, TokensAction::Create { .. }))?;
        action
            .run(&client, remote.output)
            .await
            .map_err(|error| remote.explain(error))
    }
}

impl TokensAction {
    async fn run(self, client: &Client, output: Output) -> anyhow::Result<()> {
        match self {
            TokensAction::List {
                app,
                sort_field,
                filter_field,
                unused_for,
                page,
            } => {
                let params = TokenListParams {
                    sort_field,
                    sort_direction: page.sort_direction,
                    page: page.page,
                    per_page: page.per_page,
                    filter_field,
                    filter: page.filter,
                    last_used_before: unused_for,
                    created_before: None,
                };
                let tokens = client.application_api_tokens();
                list(
                    tokens.get(&app, &params),
                    tokens.pager(&app, &params),
                    page.all,
                    "tokens",
                    output,
                )
                .await?;
            }
            TokensAction::Create {
                app,
                name,
                description,
                scopes,
                expires,
                status,
            } => {
                let post = ApplicationApiTokenPost {
                    name,
                    description,
                    expiration_date: expires,
                    scope: (!scopes.is_empty()).then_some(scopes),
                    status,
                };
                let token = client.application_api_tokens().post(&app, &post).await?;
                let secret = || token.token.as_deref().context("the server sent no secret");
                match output {
                    Output::Token => println!("{}", super::printable(secret()?)),
                    Output::Table => {
                        show(&token, output)?;
                        println!(
                            "\nThe token's secret follows. It will not be shown again; store it now:\n{}",
                            super::printable(secret()?)
                        );
                    }
                    Output::Json | Output::Id => show(&token, output)?,
                }
            }
            TokensAction::Get { app, id } => {
                show(&client.application_api_token().get(&app, &id).await?, output)?;
            }
            TokensAction::Update {
                app,
                id,
                name,
                description,
                status,
            } => {
                let patch = ApiTokenPatch {
                    name,
                    description,
                    status,
                };
                show(&client.application_api_token().patch(&app, &id, &patch).await?, output)?;
            }
            TokensAction::Revoke {
                app,
                filter,
                filter_field,
                created_before,
                unused_for,
                all,
                delete,
                dry_run,
            } => {
                let params = TokenListParams {
                    filter_field: filter.is_some().then_some(filter_field),
                    filter,
                    last_used_before: unused_for,
                    created_before,
                    ..TokenListParams::new()
                };
                let narrowed = params.filter.is_some() || unused_for.is_some() || created_before.is_some();
                if !narrowed && !all {
                    anyhow::bail!("give --filter, --created-before or --unused-for, or --all to revoke every token");
                }
                let tokens = client.application_api_tokens();
                let verb = if delete { "delete" } else { "deactivate" };
                if dry_run {
                    // The listing matches what the bulk call would; a
                    // deactivation changes only the tokens still active.
                    let listed = tokens.pager(&app, &params.clone().per_page(1000)).all().await?;
                    let ids: Vec<&str> = listed
                        .iter()
                        .filter(|token| delete || token.status == Some(TokenStatus::Active))
                        .map(|token| token.id.as_str())
                        .collect();
                    return print_revocation(ids.len() as u64, &format!("would {verb}"), Some(&ids), output);
                }
                let revoked = match delete {
                    true => tokens.delete_matching(&app, &params, all).await?,
                    false => tokens.deactivate_matching(&app, &params, all).await?,
                };
                print_revocation(revoked.count, &format!("{verb}d"), None, output)?;
            }
            TokensAction::Delete { app, id } => {
                let success = client.application_api_token().delete(&app, &id).await?;
                deleted(&success, &id, &format!("deleted token {id}"), output)?;
            }
        }
        Ok(())
    }
}

/// Prints how many tokens a revocation changed (or would, with their ids).
fn print_revocation(count: u64, done: &str, ids: Option<&[&str]>, output: Output) -> anyhow::Result<()> {
    #[derive(Serialize)]
    struct Report<'a> {
        count: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        ids: Option<&'a [&'a str]>,
    }
    match output {
        Output::Json => super::print_json(&Report { count, ids }),
        Output::Id | Output::Token => super::print_ids(ids.unwrap_or_default().iter().copied()),
        Output::Table => {
            println!("{done} {count} tokens");
            super::print_ids(ids.unwrap_or_default().iter().copied())
        }
    }
}
